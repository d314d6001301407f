"""MZSR's test-time learning rates: the recipe's schedule scaled by a factor, per start.

For each image (the task's seeded degradation, as ``pnp-internal bench``, after ``--crop``),
:class:`pnp_internal.meta.MZSR` from the shipped start that the operator's kernel selects, with
the recipe's steps, self-ensemble and back-projection and the learning rates of
:data:`pnp_internal.recipes.MZSR` times each ``--scales`` factor. Meant for held-out training
images (``--last``), so that the choice is not made on a test set. Prints the mean PSNR per
factor and writes the per-image numbers, the machine and the commit to ``--out``.

Run: ``python benchmarks/experiments/mzsr_lrs.py sr-x2 --images ../shared/data/train/color80
../shared/data/train/urban100 --last 8 --crop 256 --scales 1 2 4 8 16 --out
benchmarks/results/mzsr-lrs_sr-x2_holdout.json``
"""

from __future__ import annotations

import json
import statistics

import torch
from _harness import degraded_images, folders_parser

from pnp_internal import recipes
from pnp_internal.bench.runner import machine_info, provenance
from pnp_internal.bench.tasks import get_task
from pnp_internal.meta import MZSR
from pnp_internal.metrics import psnr


def main(argv=None) -> int:
    p = folders_parser(__doc__)
    p.add_argument("--scales", type=float, nargs="+", default=[1.0])
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    task, base = get_task(args.task), recipes.MZSR
    rows = []
    for label, _, _, x, deg in degraded_images(task, args.images, last=args.last, crop=args.crop):
        row = {"image": label, "psnr": {}}
        for s in args.scales:
            out = MZSR(steps=base.steps, lrs=tuple(s * v for v in base.lrs),
                       ensemble=base.ensemble, back_projection=base.back_projection,
                       seed=0).solve(deg.y, deg.operator).x
            row["psnr"][str(s)] = float(psnr(out, x, **task.score_options))
        rows.append(row)
        print(row, flush=True)
    mean = {str(s): statistics.mean(r["psnr"][str(s)] for r in rows) for s in args.scales}
    print("mean PSNR per lr factor:", {k: round(v, 3) for k, v in mean.items()})
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"task": args.task, "images": args.images, "last": args.last,
                       "crop": args.crop, "base_lrs": list(base.lrs), "rows": rows,
                       "mean_psnr": mean, "machine": machine_info(),
                       "provenance": provenance()}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
