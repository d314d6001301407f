"""What ``pnp-internal restore`` costs: seconds per megapixel and peak memory per task with the
default method, tiled against untiled PSNR, memory per pixel of each method family, and one
large photo.

Each restoration runs the real command in a fresh subprocess on synthetic degradations of
Kodak24 images (a mosaic of them for sizes above one image), so the peak memory is the
process's own (``wait4``'s ``ru_maxrss``) and PSNR is measured against the clean image.

Usage (one part at a time; each writes ``benchmarks/results/<record>.json``)::

    python benchmarks/experiments/restore_cost.py speed     # record restore-speed
    python benchmarks/experiments/restore_cost.py tiling    # record tiled-vs-untiled
    python benchmarks/experiments/restore_cost.py memory    # record memory-per-pixel
    python benchmarks/experiments/restore_cost.py large     # record restore-large-photo
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from pnp_internal import io, metrics, operators
from pnp_internal.bench.runner import machine_info

ROOT = Path(__file__).resolve().parents[2]
KODAK = ROOT.parent / "shared" / "data" / "test" / "kodak24"
RESULTS = ROOT / "benchmarks" / "results"
TASK_FLAGS = {"denoise": ["--noise", "auto"], "deblur": ["--kernel", "gaussian:1.6:25"],
              "sr": ["--scale", "2"], "inpaint": []}


def mosaic(height: int, width: int) -> torch.Tensor:
    """A (1, 3, height, width) image tiled from the Kodak24 photos (no resampling)."""
    tiles = [io.read_image(p) for p in sorted(KODAK.glob("*.png"))]
    rows, y, i = [], 0, 0
    while y < height:
        row, x = [], 0
        while x < width:
            t = tiles[i % len(tiles)]
            i += 1
            row.append(t[..., :512, :512])
            x += 512
        rows.append(torch.cat(row, dim=-1)[..., :width])
        y += 512
    return torch.cat(rows, dim=-2)[..., :height, :]


def degrade(task: str, x: torch.Tensor, folder: Path) -> tuple[Path, list[str], torch.Tensor]:
    """Write the degraded image; return its path, the task flags and the truth to compare."""
    folder.mkdir(parents=True, exist_ok=True)
    flags = list(TASK_FLAGS[task])
    truth = x
    if task == "denoise":
        y = x + 25 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    elif task == "deblur":
        k = operators.kernels.gaussian(1.6, 25)
        blur = operators.Blur.for_image(x[..., 12:-12, 12:-12], k)
        y = blur.measure(x, noise_std=2.55 / 255, seed=0)
        truth = x[..., 12:-12, 12:-12]
        flags += ["--noise", "2.55"]
    elif task == "sr":
        y = operators.Downsampling(2, img_shape=x.shape[1:]).measure(x)
        flags += ["--noise", "0"]
    else:
        mask = operators.masks.random_mask(0.5, img_shape=x.shape[-2:], seed=0)
        io.save_image(folder / "mask.png", mask.float()[None])
        y = x * mask
        flags += ["--mask", str(folder / "mask.png"), "--noise", "0"]
    io.save_image(folder / "in.png", y.clamp(0, 1))
    return folder / "in.png", flags, truth


def run_cli(task: str, source: Path, flags: list[str], out: Path, extra=()) -> dict:
    """Run the command in a subprocess; its report, wall time and peak memory."""
    cmd = [sys.executable, "-m", "pnp_internal.cli", "restore", str(source), "--out", str(out),
           "--task", task, "--quiet", *flags, *extra]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{stdout}\n{stderr}")
    rep = json.loads((out / "reports" / f"{source.name}.json").read_text())
    return {"command": " ".join(cmd[2:]), "report": rep, "wall_seconds": wall,
            "peak_rss_gb": usage.ru_maxrss / 2**20}


def speed(sizes) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for side in sizes:
            x = mosaic(side, side)
            for task in TASK_FLAGS:
                source, flags, truth = degrade(task, x if task != "sr" else x, Path(tmp) / task)
                r = run_cli(task, source, flags, Path(tmp) / f"out-{task}")
                restored = io.read_image(Path(tmp) / f"out-{task}" / "in.png")
                rep = r["report"]
                mp = restored.shape[-1] * restored.shape[-2] / 1e6
                rows.append({"task": task, "side": side, "method": rep["method"],
                             "output_megapixels": mp, "seconds": rep["seconds"],
                             "seconds_per_megapixel": rep["seconds"] / mp,
                             "wall_seconds": r["wall_seconds"], "peak_rss_gb": r["peak_rss_gb"],
                             "psnr": float(metrics.psnr(restored, truth)),
                             "noise_std_255": rep["noise_std_255"], "precision": rep["precision"],
                             "command": r["command"]})
                print(json.dumps({k: v for k, v in rows[-1].items() if k != "command"}), flush=True)
    return {"rows": rows}


def tiling(tile: int, limit: int) -> dict:
    """Each task's default method on 512x512 Kodak crops, whole-image against tiled passes."""
    import pnp_internal as pi

    rows = []
    for path in sorted(KODAK.glob("*.png"))[:limit]:
        x = io.read_image(path)[..., :512, :512]
        with tempfile.TemporaryDirectory() as tmp:
            for task in TASK_FLAGS:
                source, flags, truth = degrade(task, x, Path(tmp) / task)
                y = io.read_image(source)
                from pnp_internal.restore.jobs import degradation, load_kernel
                from pnp_internal.restore.settings import parse

                s = parse([str(source), "--out", tmp, "--task", task, *flags])
                kernel = load_kernel(s.kernel) if task == "deblur" else None
                deg = degradation(s, y, kernel=kernel, mask_file=s.mask)
                sigma = s.noise_std if s.noise_std is not None else 25 / 255
                psnr = {}
                for name, t in (("whole", None), ("tiled", tile)):
                    res = pi.solve(y, deg.operator, noise_std=sigma, tile=t)
                    psnr[name] = float(metrics.psnr(deg.output(res.x), truth))
                rows.append({"image": path.name, "task": task, "method": res.method, **psnr,
                             "difference_db": psnr["tiled"] - psnr["whole"]})
                print(json.dumps(rows[-1]), flush=True)
    return {"tile": tile, "rows": rows,
            "max_abs_difference_db": max(abs(r["difference_db"]) for r in rows)}


_PROBE = """
import resource, sys, torch
torch.set_num_threads(2)
family, side, precision = sys.argv[1], int(sys.argv[2]), sys.argv[3]
import pnp_internal as pi
from pnp_internal import operators
x = torch.rand(1, 3, side, side)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if family == "cnn":
    from pnp_internal.catalog.pnp import shipped_cnn
    m = shipped_cnn(3, precision=precision, one_call=True)  # the largest shipped CNN
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        m(x, 0.1)
    pixels = side * side
elif family == "dip":
    op = operators.Denoising(img_shape=(3, side, side))
    pi.solve(x, op, method="dip-mse", noise_std=0.1, max_iter=3, precision=precision, tile=None)
    pixels = side * side
elif family == "zssr":
    op = operators.Downsampling(2, img_shape=(3, 2 * side, 2 * side))
    pi.solve(x, op, method="zssr-fast", noise_std=0.0, max_iter=20, min_iter=1,
             precision=precision)
    pixels = 4 * side * side
else:
    op = operators.Denoising(img_shape=(3, side, side))
    pi.solve(x, op, method="self2self", noise_std=0.1, steps=3, n_predictions=2,
             precision=precision)
    pixels = side * side
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((peak - base) * 1024 / pixels)
"""


def memory() -> dict:
    rows = []
    for family, sides in (("cnn", (512, 1024)), ("dip", (256, 512)), ("zssr", (256,)),
                          ("self2self", (512,))):
        for side in sides:
            for precision in (("fp32", "bf16") if family == "cnn" else ("fp32",)):
                out = subprocess.run([sys.executable, "-c", _PROBE, family, str(side), precision],
                                     capture_output=True, text=True, check=True)
                rows.append({"family": family, "side": side, "precision": precision,
                             "bytes_per_pixel": float(out.stdout.strip().splitlines()[-1])})
                print(json.dumps(rows[-1]), flush=True)
    return {"rows": rows}


def large(task: str, height: int, width: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        x = mosaic(height, width)
        source, flags, truth = degrade(task, x, Path(tmp) / task)
        r = run_cli(task, source, flags, Path(tmp) / "out")
        restored = io.read_image(Path(tmp) / "out" / "in.png")
        rep = r["report"]
        row = {"task": task, "height": height, "width": width, "method": rep["method"],
               "seconds": rep["seconds"], "wall_seconds": r["wall_seconds"],
               "peak_rss_gb": r["peak_rss_gb"], "psnr": float(metrics.psnr(restored, truth)),
               "psnr_observed": float(metrics.psnr(io.read_image(source), truth))
               if task in ("denoise", "deblur") and truth.shape == x.shape else None,
               "message": rep["message"], "precision": rep["precision"], "command": r["command"]}
        print(json.dumps(row), flush=True)
    return {"rows": [row]}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("part", choices=("speed", "tiling", "memory", "large"))
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    p.add_argument("--tile", type=int, default=128)
    p.add_argument("--limit", type=int, default=2, help="tiling: Kodak24 images used")
    p.add_argument("--task", default="denoise")
    p.add_argument("--height", type=int, default=3000)
    p.add_argument("--width", type=int, default=4000)
    args = p.parse_args(argv)
    record = {"speed": "restore-speed", "tiling": "tiled-vs-untiled",
              "memory": "memory-per-pixel", "large": f"restore-large-photo-{args.task}"}[args.part]
    body = {"speed": lambda: speed(args.sizes), "tiling": lambda: tiling(args.tile, args.limit),
            "memory": memory, "large": lambda: large(args.task, args.height, args.width)
            }[args.part]()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()
    data = {"experiment": f"restore_cost.py {' '.join(argv or sys.argv[1:])}".strip(),
            "commit": commit, "machine": machine_info(), **body}
    (RESULTS / f"{record}.json").write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {RESULTS / record}.json")


if __name__ == "__main__":
    main()
