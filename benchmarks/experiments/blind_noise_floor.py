"""How the plug-and-play solvers should treat an estimated SR kernel: a sweep of the noise level
they assume (``ESTIMATED_KERNEL_NOISE``) for ``cnn-hqs`` and ``cnn-idbp``, and of IDBP's
back-projection regulariser ``eps``, with the default blind kernel (``BLIND_SR_KERNEL``), beside
the same solvers given the true kernel and the bicubic one. Meant for training images (these are
recipe numbers: never tune them on the test sets)::

    python benchmarks/experiments/blind_noise_floor.py sr-x2-aniso \
        --images ../shared/data/train/urban100 --last 8 --crop 256 \
        --out benchmarks/results/blind-floor_sr-x2-aniso_urban100-holdout.json

``--cache DIR`` keeps each image's estimated kernel, so a rerun only restores. One thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

import pnp_internal as pi
from pnp_internal import metrics, recipes
from pnp_internal.bench.runner import list_images, machine_info, provenance, write_record
from pnp_internal.bench.tasks import center_crop, get_task, image_seed
from pnp_internal.catalog.blind import estimate_kernel
from pnp_internal.catalog.registry import Problem
from pnp_internal.io import read_image
from pnp_internal.operators import Downsampling

#: Noise floors swept, in 1/255 units (the records `blind-floor_*` hold 0, 5.1, 7.65, 10.2, 15.3).
FLOORS = (0.5, 1.0, 1.5, 2.0, 2.55)
#: IDBP's ``eps`` swept (its recipe's SR value is 0, the exact projection) at these floors.
EPS = (0.01, 0.03, 0.1)
EPS_FLOORS = (1.0, 1.5)
METHODS = ("cnn-hqs", "cnn-idbp")
#: (label, method, noise floor in 1/255, solver options) with the estimated kernel.
CONFIGS = ([(f"{m} floor {f:g}", m, f, {}) for m in METHODS for f in FLOORS]
           + [(f"cnn-idbp eps {e:g}" + ("" if f == 2.55 else f" floor {f:g}"), "cnn-idbp", f,
               {"eps": e}) for f in EPS_FLOORS for e in EPS])


def _estimate(cache: Path | None, name: str, problem: Problem):
    """The default blind estimate for ``problem.y`` (kept in ``cache`` when given); the
    operator's kernel is not read."""
    path = cache / f"{name}.pt" if cache else None
    if path and path.is_file():
        return torch.load(path)
    info = estimate_kernel(problem)
    out = {"kernel": info["kernel"], "seconds": info["seconds"]}
    if path:
        torch.save(out, path)
    return out


def estimated_images(task, args):
    """``(file, x, degraded, true kernel, estimate)`` for each image of ``args.images`` (its
    ``--limit``/``--last``, ``--crop``), degraded with the seed the bench gives it, and the
    default blind estimate of its ``y`` (cached in ``args.cache``)."""
    for f in list_images(args.images, limit=getattr(args, "limit", None), last=args.last):
        x, _ = task.prepare(center_crop(read_image(f), args.crop))
        seed = image_seed(0, f.name)
        d = task.degrade(x, seed=seed)
        est = _estimate(args.cache, f"{args.task}_{args.crop}_{f.name}",
                        Problem(y=d.y, operator=d.operator, kind="sr", noise_std=task.noise_std,
                                scale=task.scale, seed=seed))
        yield f, x, d, d.operator.kernel.squeeze(), est


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True)
    p.add_argument("--last", type=int, default=None)
    p.add_argument("--crop", type=int, default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--cache", type=Path, default=None, help="folder for the estimated kernels")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    task = get_task(args.task)
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    record = {"experiment": "blind_noise_floor.py", "task": args.task, "images": args.images,
              "last": args.last, "crop": args.crop, "machine": machine_info(),
              "provenance": provenance(), "estimator": recipes.BLIND_SR_KERNEL.value,
              "configs": [c[0] for c in CONFIGS], "rows": []}
    for f, x, d, true, est in estimated_images(task, args):
        seed = image_seed(0, f.name)
        row = {"image": f.name, "kernel_error": metrics.kernel_error(est["kernel"], true),
               "kernel_seconds": est["seconds"]}
        runs = [(f"{m} {name}", m, k, 0.0, {}) for m in METHODS
                for name, k in (("true", true), ("bicubic", "bicubic"))]
        runs += [(label, m, est["kernel"], f, o) for label, m, f, o in CONFIGS]
        for label, method, k, floor, options in runs:
            op = Downsampling(task.scale, img_shape=tuple(x.shape[1:]), kernel=k,
                              padding="circular")
            res = pi.solve(d.y, op, method=method, noise_std=max(task.noise_std, floor / 255),
                           seed=seed, **options)
            row[label] = float(metrics.psnr(res.x.clamp(0, 1), x, **task.score_options)[0])
        print(json.dumps(row), flush=True)
        record["rows"].append(row)
    keys = [k for k in record["rows"][0] if k.startswith(METHODS)]
    record["mean"] = {k: statistics.mean(r[k] for r in record["rows"]) for k in keys}
    record["mean_kernel_error"] = statistics.mean(r["kernel_error"] for r in record["rows"])
    print(json.dumps(record["mean"], indent=1))
    print(f"wrote {write_record(args.out, record)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
