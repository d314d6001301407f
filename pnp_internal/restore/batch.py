"""The batch loop of ``pnp-internal restore``: every image restored, reported and written
atomically; a file that fails is named in the summary and does not stop the others."""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import sys
from pathlib import Path
import time

import torch
from tqdm import tqdm

from .. import catalog, io, recipes
from ..api import resolve_tile, solve
from ..memory import check_fits
from ..noise import estimate_noise_std
from ..precision import resolve
from . import report, workers
from .jobs import Job, degradation, find_jobs, load_kernel
from .settings import Settings, UsageError, check, parse

__all__ = ["main", "run", "restore_many", "restore_one", "plan_one", "Context"]


def _device(settings: Settings) -> torch.device:
    if settings.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is visible to PyTorch; use --device cpu")
    return torch.device(settings.device)


def _noise(settings: Settings, y: torch.Tensor) -> tuple[float, str]:
    if settings.noise_std is not None:
        return settings.noise_std, "given (--noise)"
    sigma = estimate_noise_std(y)
    if not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"the noise level of this {y.shape[-1]}x{y.shape[-2]} image could not "
                         "be estimated; give it with --noise SIGMA (0-255 scale)")
    return sigma, "estimated (pnp_internal.noise.estimate_noise_std)"


def _method(settings: Settings) -> str:
    return settings.method or recipes.DEFAULT_METHOD[settings.task].value


def _resize_alpha(alpha, height: int, width: int):
    """The alpha channel resized (bicubic) to a super-resolved image's size."""
    if alpha is None or alpha.shape == (height, width):
        return alpha
    peak = 65535.0 if alpha.dtype.itemsize == 2 else 255.0
    a = torch.from_numpy(alpha.astype("float32") / peak)[None, None]
    a = torch.nn.functional.interpolate(a, size=(height, width), mode="bicubic",
                                        align_corners=False).clamp(0, 1)
    return (a[0, 0].numpy() * peak).round().astype(alpha.dtype)


class Context:
    """What the jobs share: the device, the kernel read once."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.device = _device(settings)
        given = settings.kernel not in (None, "auto", "bicubic")
        self.kernel = load_kernel(settings.kernel) if given else None


def plan_one(job: Job, ctx: Context) -> str:
    """One line of ``--dry-run``: what would be done with ``job`` (nothing is restored)."""
    s = ctx.settings
    image = io.load_image(job.source)
    c, h, w = image.x.shape[1:]
    deg = degradation(s, image.x, kernel=ctx.kernel, mask_file=s.mask)
    name = _method(s)
    shape = tuple(deg.operator.img_shape)
    entry = catalog.get(name)
    prec = resolve(s.precision, ctx.device).name
    if entry.memory != "cnn":
        check_fits(entry.memory, name, shape, device=ctx.device, precision=prec)
        tiles = "whole image (cannot tile; fits)"
    else:
        problem = catalog.Problem(y=image.x, operator=deg.operator, kind=s.task, noise_std=0.0,
                                  precision=s.precision)
        tile = resolve_tile(s.tile_size, problem)
        tiles = "whole image" if tile is None else f"tiles of {tile} px"
    noise = "auto" if s.noise_std is None else f"{s.noise}/255"
    alpha = " + alpha" if image.alpha is not None else ""
    return (f"{job.source} ({w}x{h}, {c} channel{'s' if c > 1 else ''}{alpha}, "
            f"{image.bit_depth}-bit) -> {job.output} ({shape[2]}x{shape[1]}): {s.task} with "
            f"{name}, noise {noise}, {tiles}, {ctx.device}, precision {prec}")


def restore_one(job: Job, ctx: Context) -> dict:
    """Restore one image: write its report, then its output (so an output on disk is always
    complete and reported). Returns the report."""
    s = ctx.settings
    image = io.load_image(job.source)
    y = image.x
    deg = degradation(s, y, kernel=ctx.kernel, mask_file=s.mask)
    sigma, source = _noise(s, y)
    name = _method(s)
    started = time.perf_counter()
    estimate = s.kernel == "auto"  # sr or deblur
    res = solve(y, deg.operator, method=name, noise_std=sigma, seed=s.seed, device=ctx.device,
                precision=s.precision, progress=not s.quiet, tile=s.tile_size,
                kernel="estimate" if estimate else None)
    seconds = time.perf_counter() - started
    x = deg.output(res.x).cpu()
    alpha = _resize_alpha(image.alpha, x.shape[-2], x.shape[-1])
    bit_depth = image.bit_depth
    if job.output.suffix.lower() not in (".png", ".tif", ".tiff"):  # JPEG, BMP: 8 bit, no alpha
        alpha, bit_depth = None, 8
    data = {
        "input": str(job.source), "output": str(job.output),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "image": {"width": y.shape[-1], "height": y.shape[-2], "channels": y.shape[1],
                  "alpha": image.alpha is not None, "bit_depth": image.bit_depth},
        "settings": {**{k: v for k, v in dataclasses.asdict(s).items()
                        if k not in ("inputs", "dry_run", "quiet")},
                     "device": str(ctx.device), "method": name},
        "operator": repr(deg.operator),
        "noise_std": sigma, "noise_std_255": sigma * 255, "noise_source": source,
        "method": res.method, "precision": res.precision, "iterations": res.n_iter,
        "converged": res.converged, "message": res.message, "seconds": seconds,
        "megapixels_per_second": x.shape[-1] * x.shape[-2] / 1e6 / seconds,
        "history": res.history, "recipes": res.recipes,
    }
    if res.kernel:
        data["kernel"] = {k: (v.tolist() if isinstance(v, torch.Tensor) else v)
                          for k, v in res.kernel.items()}
    if s.gt:
        truth = report.find_truth(s.gt, job.output.name)
        if truth is None:
            data["scores"] = {"error": f"no ground truth named like {job.output.name} in {s.gt}"}
        else:
            try:
                data["scores"] = report.scores(x, truth, border=s.scale or 0)
            except (OSError, ValueError) as err:
                data["scores"] = {"error": str(err)}
    report.write_json(job.report, data)
    if s.plot:
        report.plot(job.plot, y, x, res.history, f"{job.source.name}: {res.method}, "
                                                  f"{seconds:.1f} s")
    io.save_image(job.output, x, bit_depth=bit_depth, alpha=alpha)
    return data


def _row(job: Job, status: str, data: dict | None = None, error: str | None = None) -> dict:
    row = {"image": job.source.name, "status": status, "output": str(job.output)}
    if data:
        scores = data.get("scores", {})
        row.update(method=data["method"], noise_std_255=data["noise_std_255"],
                   seconds=data["seconds"], psnr=scores.get("psnr"), ssim=scores.get("ssim"))
    if error:
        row["error"] = error
    return row


def _engine(todo, settings: Settings):
    if settings.ray:
        return workers.on_ray(todo, settings, settings.ray,
                              cpus_per_task=settings.cpus_per_task or 1.0,
                              gpus_per_task=settings.gpus_per_task, retries=settings.retries)
    threads = int(settings.cpus_per_task) if settings.cpus_per_task else None
    if settings.workers > 1:
        return workers.processes(todo, settings, settings.workers, retries=settings.retries,
                                 threads=threads)
    return workers.serial(todo, settings, threads)


def _remove_partials(settings: Settings) -> None:
    io.remove_partials(settings.out)
    io.remove_partials(settings.out / "reports")


def run(settings: Settings) -> list[dict]:
    """Restore every image of ``settings``; one row per image (``status`` restored, skipped
    or failed, with the report's method, noise, seconds and scores), the summary written to
    ``OUT/reports/summary.json``."""
    jobs, errors = find_jobs(settings)
    _remove_partials(settings)
    rows, todo = [], []
    for job in jobs:
        if settings.skip_existing and job.output.is_file():
            rows.append(_row(job, "skipped (exists)"))
        else:
            todo.append(job)
    with tqdm(total=len(todo), desc="images", unit="image",
              disable=settings.quiet or not todo) as bar:
        for job, status, payload in _engine(todo, settings):
            bar.update(1)
            bar.set_postfix_str(job.source.name)
            if status == "restored":
                rows.append(_row(job, "restored", payload))
            else:
                rows.append(_row(job, "failed", error=payload))
                tqdm.write(f"{job.source}: failed: {payload}", file=sys.stderr)
    _remove_partials(settings)  # of a worker killed while it wrote
    rows += [{"image": item, "status": "failed", "error": why} for item, why in errors.items()]
    if rows:
        report.write_json(settings.out / "reports" / "summary.json",
                          {"settings": dataclasses.asdict(settings), "rows": rows})
    return rows


def restore_many(inputs, out, *, task: str, **options) -> list[dict]:
    """Restore many images from Python, as ``pnp-internal restore`` does.

    Parameters
    ----------
    inputs : str, path or list of them
        Image files, folders or globs.
    out : str or path
        Output folder (reports in ``out/reports``).
    task : {"denoise", "deblur", "sr", "inpaint"}
    **options
        Any other setting of :class:`~pnp_internal.restore.settings.Settings` under its
        field name: ``kernel``, ``scale``, ``mask``, ``noise``, ``method``, ``workers``,
        ``ray``, ``cpus_per_task``, ``gpus_per_task``, ``retries``, ``skip_existing``, ...

    Returns
    -------
    list of dict
        One row per image: ``image``, ``status``, ``output``, and for restored images
        ``method``, ``noise_std_255``, ``seconds``, ``psnr``/``ssim`` (with ``gt``).
    """
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    settings = Settings(inputs=tuple(str(i) for i in inputs), out=Path(out), task=task,
                        **{"quiet": True, **options})
    check(settings)
    return run(settings)


def main(argv=None) -> int:
    """``pnp-internal restore INPUT... --out DIR --task TASK [options]``; exit code 0 when
    every image was restored (or skipped), 1 when some failed, 2 for unusable settings."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = parse(argv)
        ctx = Context(settings)
    except (UsageError, OSError, ValueError) as err:
        print(f"pnp-internal restore: {err}", file=sys.stderr)
        return 2
    if settings.dry_run:
        jobs, errors = find_jobs(settings)
        for job in jobs:
            try:
                print(plan_one(job, ctx))
            except (OSError, ValueError, MemoryError) as err:
                errors[str(job.source)] = str(err)
        for item, why in errors.items():
            print(f"{item}: will fail: {why}")
        return 1 if errors else 0
    try:
        rows = run(settings)
    except KeyboardInterrupt:
        print("\ninterrupted; rerun with --skip-existing to finish the batch", file=sys.stderr)
        return 130
    failed = [r for r in rows if r["status"] == "failed"]
    print(report.summary_table(rows))
    done = sum(r["status"] == "restored" for r in rows)
    skipped = sum(r["status"].startswith("skipped") for r in rows)
    print(f"\n{done} restored, {skipped} skipped, {len(failed)} failed -> {settings.out}")
    for r in failed:
        print(f"failed: {r['image']}: {r['error']}", file=sys.stderr)
    return 1 if failed or not rows else 0
