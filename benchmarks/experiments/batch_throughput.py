"""Images per minute of ``pnp-internal restore`` on one worker (with 2 torch threads, and with
1), ``--workers 2`` and ``--ray auto``, on a folder of 16 Kodak24 crops of 128x128 super-resolved
x2 to 256x256 by the default SR method (ia-idbp: the CNN adapted to each image, about ten
seconds each).

Each configuration is the real command in a subprocess, timed from start to exit (process
start, model loading, Ray start-up included). Writes ``benchmarks/results/batch-throughput.json``
(never over an earlier record)::

    python benchmarks/experiments/batch_throughput.py [--images 16] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pnp_internal import io, operators
from pnp_internal.bench.runner import fresh_path, machine_info, provenance

ROOT = Path(__file__).resolve().parents[2]
KODAK = ROOT.parent / "shared" / "data" / "test" / "kodak24"
CONFIGS = {"1 worker": [], "1 worker, 1 thread": ["--cpus-per-task", "1"],
           "--workers 2": ["--workers", "2"],
           "--ray auto (2 CPUs, 1 per task)": ["--ray", "auto", "--cpus-per-task", "1"]}


def make_batch(folder: Path, n: int) -> None:
    files = sorted(KODAK.glob("*.png"))
    for i in range(n):
        x = io.read_image(files[i % len(files)])[..., 100:356, 200:456]
        sr = operators.Downsampling(2, img_shape=x.shape[1:])
        io.save_image(folder / f"{i:02d}.png", sr.measure(x))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        make_batch(src, args.images)
        for name, flags in CONFIGS.items():
            for repeat in range(args.repeats):
                out = Path(tmp) / "out"
                shutil.rmtree(out, ignore_errors=True)
                cmd = [sys.executable, "-m", "pnp_internal.cli", "restore", str(src), "--out",
                       str(out), "--task", "sr", "--scale", "2", "--noise", "0",
                       "--quiet", *flags]
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True)
                wall = time.perf_counter() - t0
                if proc.returncode != 0:
                    raise RuntimeError(f"{name} failed:\n{proc.stdout}\n{proc.stderr}")
                summary = json.loads((out / "reports" / "summary.json").read_text())
                per_image = [r["seconds"] for r in summary["rows"]]
                rows.append({"configuration": name, "repeat": repeat, "wall_seconds": wall,
                             "images_per_minute": 60 * args.images / wall,
                             "mean_seconds_per_image_in_worker": sum(per_image) / len(per_image),
                             "command": " ".join(cmd[2:]).replace(str(src), "IN").replace(
                                 str(out), "OUT")})
                print(f"{name}: {wall:.1f} s, {rows[-1]['images_per_minute']:.1f} images/min",
                      flush=True)
    base = min(r["wall_seconds"] for r in rows if r["configuration"] == "1 worker")
    for r in rows:
        r["speedup_over_1_worker"] = base / r["wall_seconds"]
    out = fresh_path(ROOT / "benchmarks" / "results" / "batch-throughput.json")
    out.write_text(json.dumps({"experiment": "batch_throughput.py", "images": args.images,
                               "machine": machine_info(), "provenance": provenance(),
                               "rows": rows}, indent=1) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
