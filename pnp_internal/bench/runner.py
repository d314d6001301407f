"""Run a benchmark task over a folder of images: ``pnp-internal bench TASK --images DIR ...``.

For every image (sorted by name, optionally the first ``--limit``, centre-cropped to ``--crop``)
the task makes one seeded measurement; every method restores it and is scored with PSNR/SSIM
(:mod:`pnp_internal.metrics`) and timed: ``seconds`` is the wall-clock time of
``run(problem)`` alone, ``cpu_seconds`` the process CPU time it used (all threads; a fairer
figure on a shared machine). The result is a JSON file

``{"task", "settings", "rows": [{"image", "method", "psnr", "ssim", "seconds"}],
"mean": {method: {"psnr", "ssim", "seconds"}}}``

and a markdown table printed on stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

from pnp_internal import io, metrics, recipes

from .registry import Problem, get_method, known_methods
from .tasks import TASKS, center_crop, get_task, image_seed, to_color, to_gray

__all__ = ["list_images", "run_task", "format_markdown", "machine_info", "provenance",
           "fresh_path", "write_record", "main"]


def list_images(folder, *, limit: int | None = None, last: int | None = None) -> list[Path]:
    """Image files of ``folder`` (png/jpg/bmp/tif), sorted by name, the first ``limit`` or the
    last ``last`` (the images ``train-denoiser --n-val last`` holds out of training).

    Files whose stem ends with ``_mask`` (inpainting masks stored beside their images) are
    skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--images: {str(folder)!r} is not a folder of images")
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in io.IMAGE_SUFFIXES and not p.stem.endswith("_mask")
    )
    if not files:
        raise ValueError(
            f"--images: no image files ({', '.join(io.IMAGE_SUFFIXES)}) in {str(folder)!r}"
        )
    if limit is not None and last is not None:
        raise ValueError("give --limit (the first images) or --last (the last ones), not both")
    for flag, n in (("--limit", limit), ("--last", last)):
        if n is not None and n < 1:
            raise ValueError(f"{flag} must be >= 1, got {n}")
    if limit is not None:
        files = files[:limit]
    if last is not None:
        files = files[-last:]
    return files


def _cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else the platform's word)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """Where and when a run happened (recorded in every JSON)."""
    from pnp_internal.precision import native_bf16

    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native_bf16(torch.device("cpu")),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def provenance() -> dict:
    """What produced a record: the project's commit and whether the tree had uncommitted
    changes (``None`` outside a git checkout) and the versions of the packages that compute."""
    import importlib.metadata as meta
    import subprocess

    root = Path(__file__).resolve().parents[2]

    def git(*args):
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                 timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    versions = {}
    for package in ("pnp_internal", "torch", "deepinv", "numpy", "scipy", "bm3d"):
        try:
            versions[package] = meta.version(package)
        except meta.PackageNotFoundError:
            versions[package] = None
    return {"commit": commit, "dirty": None if status is None else bool(status),
            "packages": versions}


def fresh_path(path) -> Path:
    """``path`` if no file is there, else the first free ``STEM-2.json``, ``STEM-3.json``, ...:
    a run never overwrites an earlier record."""
    path = candidate = Path(path)
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-run{n}{path.suffix}")
        n += 1
    return candidate


def write_record(path, record: dict) -> Path:
    """Write ``record`` as JSON at :func:`fresh_path` of ``path`` (folders made); its path."""
    out = fresh_path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return out


def _convert(x, channels):
    """``x`` with the channel count a method requires, and a note (``None`` if unchanged)."""
    if channels is None or x.shape[1] == channels:
        return x, None
    if channels == 1:
        return to_gray(x), "colour image converted to gray (BT.601 luma) for this gray-only method"
    return to_color(x), "gray image replicated on 3 channels for this colour-only method"


def _resolve_methods(task, names):
    methods = [get_method(n) for n in names]
    wrong = [m.name for m in methods if task.kind not in m.kinds]
    if wrong:
        raise ValueError(
            f"method(s) {', '.join(wrong)} do not apply to task {task.name!r} (kind "
            f"{task.kind!r}); methods for {task.kind}: {', '.join(known_methods(task.kind))}"
        )
    return methods


def run_task(
    task_name,
    images,
    methods,
    *,
    crop=None,
    limit=None,
    last=None,
    names=None,
    seed=0,
    data_root=None,
    precision="auto",
    log=print,
):
    """Run ``methods`` on ``task_name`` over the image folder ``images``.

    Parameters
    ----------
    task_name : str
        A name of :data:`pnp_internal.bench.tasks.TASKS`.
    images : path-like
        Folder of images.
    methods : list of str
        Registered method names (all must handle the task's kind).
    crop : int, optional
        Centre crop size.
    limit, last : int, optional
        Use the first ``limit`` or the last ``last`` images (sorted by name).
    names : collection of str, optional
        Use only the images with these file names (each keeps its degradation: a run of one
        image equals that image's part of a run over the folder).
    seed : int
        Run seed; each image's degradation is seeded by ``image_seed(seed, name)``.
    data_root : path-like, optional
        Shared data folder (for the Levin kernels).
    precision : {"auto", "fp32", "bf16"}
        Arithmetic of the networks (:func:`pnp_internal.precision.resolve`).
    log : callable
        Where progress lines and notes go (``print``; ``None`` for silence).

    Returns
    -------
    dict
        The result (see the module docstring), plus ``settings["notes"]`` and ``errors``.

    Raises
    ------
    ValueError
        Unknown task or method (listing the known ones), a method not made for the task, or
        an empty folder. A method that raises, or returns a wrong shape or NaN, does not stop
        the run: the message goes to ``result["errors"]`` (and ``main`` returns 1).
    """
    log = log or (lambda *a, **k: None)
    task = get_task(task_name)
    if not methods:
        raise ValueError(f"no methods given; known methods: {', '.join(known_methods())}")
    if crop is not None and crop < 8:
        raise ValueError(f"--crop must be >= 8 pixels, got {crop}")
    resolved = _resolve_methods(task, list(methods))
    files = list_images(images, limit=limit, last=last)
    positions = {path: index for index, path in enumerate(files)}
    if names is not None:
        missing = set(names) - {p.name for p in files}
        if missing:
            raise ValueError(f"no image named {', '.join(sorted(missing))} in {str(images)!r}")
        files = [p for p in files if p.name in names]
    settings = {
        "task_description": task.description,
        "kind": task.kind,
        "noise_std": task.noise_std,
        "scale": task.scale,
        "images": str(images),
        "n_images": len(files),
        "crop": crop,
        "limit": limit,
        "last": last,
        "seed": seed,
        "precision": precision,
        "precision_auto": _auto_precision(),
        "methods": [m.name for m in resolved],
        "scoring": task.score_options | {"clip": [0.0, 1.0]},
        "machine": machine_info(),
        "provenance": provenance(),
        "recipes": {},
        "kernels": {},
        "notes": [],
    }
    rows, errors = [], []
    for path in files:
        index = positions[path]
        x_true = center_crop(io.read_image(path), crop)
        x_true, notes = task.prepare(x_true)
        settings["notes"] += [f"{path.name}: {n}" for n in notes]
        s = image_seed(seed, path.name)
        degraded = {}  # channel count -> (x_ref, Degraded), so equal inputs are shared
        for method in resolved:
            x_ref, note = _convert(x_true, method.channels)
            if note:
                settings["notes"].append(f"{path.name} / {method.name}: {note}")
                log(f"note: {path.name} / {method.name}: {note}")
            c = x_ref.shape[1]
            if c not in degraded:
                degraded[c] = (x_ref, task.degrade(x_ref, seed=s, index=index, data_root=data_root))
            x_ref, d = degraded[c]
            if "kernel" in d.info:
                settings["kernels"][path.name] = d.info["kernel"]
            problem = Problem(
                y=d.y.clone(),
                operator=d.operator,
                noise_std=task.noise_std,
                kind=task.kind,
                task=task.name,
                img_shape=tuple(x_ref.shape[1:]),
                scale=task.scale,
                seed=s,
                precision=precision,
            )
            start, cpu_start = time.perf_counter(), time.process_time()
            try:
                with recipes.reading() as read:
                    x_hat = method.run(problem)
                settings["recipes"].setdefault(method.name, {}).update(read)
                seconds = time.perf_counter() - start
                cpu_seconds = time.process_time() - cpu_start
                kernel = _kernel_row(x_hat, d.operator)
                x_hat = _check_estimate(getattr(x_hat, "x", x_hat), x_ref, method.name)
            except Exception as err:  # noqa: BLE001 - one failing method must not lose the run
                message = f"{path.name} / {method.name}: {type(err).__name__}: {err}"
                errors.append(message)
                log(f"error: {message}")
                continue
            opts = task.score_options
            scored, extra = (x_hat, x_ref), {}
            if task.blind:
                half = d.operator.kernel.shape[-1] // 2
                scored = metrics.align_up_to_shift(x_hat, x_ref, half)
                fine = metrics.align_up_to_subpixel_shift(x_hat, x_ref, half)
                extra = {"psnr_subpixel": float(metrics.psnr(*fine, **opts)[0])}
            row = {
                "image": path.name,
                "method": method.name,
                "psnr": float(metrics.psnr(*scored, **opts)[0]),
                "ssim": float(metrics.ssim(*scored, **opts)[0]),
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
            } | extra | kernel
            rows.append(row)
            log(
                f"{task.name} {path.name} {method.name}: {row['psnr']:.2f} dB, "
                f"SSIM {row['ssim']:.4f}, {seconds:.1f} s"
            )
    result = {"task": task.name, "settings": settings, "rows": rows, "mean": mean_rows(rows)}
    if errors:
        result["errors"] = errors
    return result


def _auto_precision() -> str:
    from pnp_internal.precision import resolve

    return resolve("auto", torch.device("cpu")).name


def _kernel_row(result, operator) -> dict:
    """For a method that chose its kernel (``Result.kernel``): the shift-aligned error against
    the operator's true kernel, and for an estimate its confidence, the seconds the estimation
    took and whether it was reused from an earlier method on the same image (then the row's
    ``seconds`` leave it out), and the guard's residual ratio and verdict where it ran."""
    chosen = getattr(result, "kernel", None)
    true = getattr(operator, "kernel", None)
    if not chosen or true is None:
        return {}
    row = {"kernel_error": metrics.kernel_error(chosen["kernel"], true)}
    if "confidence" in chosen:
        row["kernel_confidence"] = chosen["confidence"]
    if "seconds" in chosen:
        row["kernel_seconds"] = chosen["seconds"]
        row["kernel_reused"] = bool(chosen.get("reused"))
    if "residual_ratio" in chosen:  # the blind SR guard's test (catalog.blind.guarded)
        row["kernel_residual_ratio"] = chosen["residual_ratio"]
        row["kernel_guarded"] = "estimate" in chosen
    return row


def _check_estimate(x_hat, x_ref, name):
    if not isinstance(x_hat, torch.Tensor):
        raise TypeError(f"method {name!r} returned {type(x_hat).__name__}, expected a tensor")
    x_hat = x_hat.detach()
    if x_hat.ndim == 3:
        x_hat = x_hat[None]
    if tuple(x_hat.shape) != tuple(x_ref.shape):
        raise ValueError(
            f"method {name!r} returned shape {tuple(x_hat.shape)}, expected {tuple(x_ref.shape)}"
        )
    if not torch.isfinite(x_hat).all():
        raise ValueError(f"method {name!r} returned NaN or Inf values")
    return x_hat.float().cpu().clamp(0.0, 1.0)


def mean_rows(rows):
    """Per method: the mean PSNR, SSIM, seconds (and sub-pixel PSNR, kernel error) of its
    rows, and their count."""
    mean = {}
    for name in dict.fromkeys(r["method"] for r in rows):
        sub = [r for r in rows if r["method"] == name]
        keys = ["psnr", "ssim", "seconds", "cpu_seconds"]
        keys += [k for k in ("psnr_subpixel", "kernel_error") if all(k in r for r in sub)]
        mean[name] = {k: sum(r[k] for r in sub) / len(sub) for k in keys} | {"n": len(sub)}
    return mean


def _fmt(v, digits):
    return "inf" if math.isinf(v) else f"{v:.{digits}f}"


def format_markdown(result, *, per_image=False, heading=True) -> str:
    """Markdown table of a result: mean PSNR / SSIM / seconds per method (and per image)."""
    lines = [
        f"### {result['task']}: {result['settings']['task_description']}",
        "",
    ] if heading else []
    lines += [
        f"images: `{result['settings']['images']}` ({result['settings']['n_images']}"
        f", crop {result['settings']['crop']}, seed {result['settings']['seed']})",
        "",
        "| method | PSNR (dB) | SSIM | seconds/image | CPU s/image |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, m in sorted(result["mean"].items(), key=lambda kv: -kv[1]["psnr"]):
        lines.append(
            f"| {name} | {_fmt(m['psnr'], 2)} | {m['ssim']:.4f} | {m['seconds']:.2f} "
            f"| {m.get('cpu_seconds', float('nan')):.2f} |"
        )
    if per_image and result["rows"]:
        lines += ["", "| image | method | PSNR (dB) | SSIM | seconds |", "|---|---|---:|---:|---:|"]
        for r in result["rows"]:
            lines.append(
                f"| {r['image']} | {r['method']} | {_fmt(r['psnr'], 2)} | {r['ssim']:.4f} "
                f"| {r['seconds']:.2f} |"
            )
    for e in result.get("errors", []):
        lines.append(f"\nerror: {e}")
    return "\n".join(lines)


def _parser():
    p = argparse.ArgumentParser(
        prog="pnp-internal bench",
        description="Run benchmark methods on a task over a folder of images.",
        epilog="tasks: " + ", ".join(TASKS),
    )
    p.add_argument("task", help="task name (" + ", ".join(TASKS) + ")")
    p.add_argument("--images", required=True, help="folder of png/jpg/bmp/tif images")
    p.add_argument("--methods", required=True, help="comma-separated method names")
    p.add_argument("--out", help="JSON file to write")
    p.add_argument("--crop", type=int, default=None, help="centre crop size in pixels")
    p.add_argument("--limit", type=int, default=None, help="use the first N images (sorted)")
    p.add_argument("--last", type=int, default=None,
                   help="use the last N images (sorted): the validation images that "
                        "train-denoiser holds out of every training folder with --n-val N")
    p.add_argument("--seed", type=int, default=0, help="degradation seed (default 0)")
    p.add_argument("--data", default=None, help="shared data folder (Levin kernels)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="network arithmetic (auto: bf16 only where the CPU/GPU has it natively)")
    p.add_argument("--per-image", action="store_true", help="also print per-image rows")
    p.add_argument("--quiet", action="store_true", help="print only the table")
    return p


def main(argv=None) -> int:
    """Command line entry point; returns 0 on success, 1 if a method failed, 2 on bad input."""
    args = _parser().parse_args(argv)
    names = [n.strip() for n in args.methods.split(",") if n.strip()]
    try:
        result = run_task(
            args.task,
            args.images,
            names,
            crop=args.crop,
            limit=args.limit,
            last=args.last,
            seed=args.seed,
            data_root=args.data,
            precision=args.precision,
            log=None if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True)),
        )
    except ValueError as err:
        print(f"pnp-internal bench: {err}", file=sys.stderr)
        return 2
    if args.out:
        out = write_record(args.out, result)
        if str(out) != str(args.out):
            print(f"pnp-internal bench: {args.out} exists; the record went to {out}",
                  file=sys.stderr)
    print(format_markdown(result, per_image=args.per_image))
    return 1 if result.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
