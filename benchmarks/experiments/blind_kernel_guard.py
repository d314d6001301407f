"""Can the restoration tell a wrong SR kernel estimate from a right one? For each image, the
default blind kernel (``BLIND_SR_KERNEL``), the bicubic kernel and the true one, each inside
``cnn-hqs`` with the margins of an estimated kernel (``with_kernel_margins``), with the PSNR and
the measurement residual ``|y - A_k x_k|^2`` per entry (in (1/255)^2 units) that the restoration
``x_k`` leaves with its own kernel ``k``. A kernel too wide for ``y`` asks the restoration for
detail that the denoiser holds back, so its residual grows; a guard could keep the bicubic
kernel when the estimate's residual is far above the bicubic one's. Meant for training images
(recipe numbers: never tune them on the test sets)::

    python benchmarks/experiments/blind_kernel_guard.py sr-x2-aniso \
        --images ../shared/data/train/urban100 --last 8 --crop 256 --cache build/kernels \
        --out benchmarks/results/blind-guard_sr-x2-aniso_urban100-holdout.json

``--cache DIR`` keeps each image's estimated kernel (shared with ``blind_noise_floor.py``), so a
rerun only restores. One thread.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

import pnp_internal as pi
from pnp_internal import metrics, recipes
from pnp_internal.bench.runner import machine_info, provenance
from pnp_internal.bench.tasks import get_task, image_seed
from pnp_internal.operators import Downsampling

from _harness import experiment_parser, finish_record
from blind_noise_floor import estimated_images


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument("--crop", type=int, default=None)
    p.add_argument("--cache", type=Path, default=None, help="folder for the estimated kernels")
    args = p.parse_args(argv)
    if not args.out:
        p.error("--out is required (the record's path)")
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    floor = recipes.ESTIMATED_KERNEL_NOISE.value
    record = {"experiment": "blind_kernel_guard.py", "task": args.task, "images": args.images,
              "last": args.last, "limit": args.limit, "crop": args.crop,
              "machine": machine_info(), "provenance": provenance(),
              "estimator": recipes.BLIND_SR_KERNEL.value, "noise_floor": floor, "rows": []}
    for f, x, d, true, est in estimated_images(task, args):
        seed = image_seed(0, f.name)
        row = {"image": f.name, "kernel_error": metrics.kernel_error(est["kernel"], true),
               "bicubic_kernel_error": None, "kernel_seconds": est["seconds"]}
        for name, kernel, sigma in (("true", true, task.noise_std),
                                    ("true floor", true, max(task.noise_std, floor)),
                                    ("bicubic", "bicubic", max(task.noise_std, floor)),
                                    ("estimate", est["kernel"], max(task.noise_std, floor))):
            op = Downsampling(task.scale, img_shape=tuple(x.shape[1:]), kernel=kernel,
                              padding="circular")
            if name == "bicubic":
                row["bicubic_kernel_error"] = metrics.kernel_error(op.kernel.squeeze(), true)
            res = pi.solve(d.y, op, method="cnn-hqs", noise_std=sigma, seed=seed)
            row[f"{name} psnr"] = float(metrics.psnr(res.x.clamp(0, 1), x,
                                                     **task.score_options)[0])
            row[f"{name} residual"] = float(((op.A(res.x) - d.y) ** 2).mean()) * 255 ** 2
        print(json.dumps(row), flush=True)
        record["rows"].append(row)
    return finish_record(args.out, record)


if __name__ == "__main__":
    raise SystemExit(main())
