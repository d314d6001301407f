"""The weight of the CNN in ``cnn-x8-wiener`` and ``cnn-x8-cbm3d``: its self-ensemble blended
with a second, non-local denoiser.

For each image (the task's seeded noise, as ``pnp-internal bench``, after ``--crop``), the
shipped one-call CNN's self-ensemble ``D(y)`` and the second denoiser ``S(y)``: with ``--second
wiener`` BM3D's collaborative Wiener stage piloted by ``D(y)``
(:func:`pnp_internal.priors.collaborative_wiener.collaborative_wiener`), with ``--second
cbm3d`` CBM3D's two stages (:class:`pnp_internal.priors.BM3D`). Then the PSNR of ``b D + (1 - b)
S`` for each ``--blends`` value ``b`` (1 is ``cnn-x8``, 0 the second denoiser alone). Meant for
held-out training images (``--last``), so that the weight is not chosen on a test set. Prints
the mean per weight and per folder, and writes the per-image numbers, the machine and the commit
to ``--out``.

Run: ``python benchmarks/experiments/denoiser_blend.py denoise-s25 --images
../shared/data/train/urban100 ../shared/data/train/color80 --last 8 --crop 256 --blends 0 0.3
0.4 0.5 0.6 0.7 0.8 1 --second wiener --out
benchmarks/results/wiener-blend_denoise-s25_holdout.json`` (and ``--second cbm3d --out
benchmarks/results/cbm3d-blend_denoise-s25_holdout.json``); gray: ``--images
../shared/data/train/gray400 ../shared/data/train/urban100 ../shared/data/train/color80 --gray``
(the files gray training holds out).
"""

from __future__ import annotations

import json
import statistics
import time

import torch
from _harness import degraded_images, folders_parser

from pnp_internal.bench.runner import machine_info, provenance
from pnp_internal.bench.tasks import get_task
from pnp_internal.catalog.pnp import shipped_cnn
from pnp_internal.metrics import psnr
from pnp_internal.priors import BM3D, SelfEnsemble
from pnp_internal.priors.collaborative_wiener import collaborative_wiener


def main(argv=None) -> int:
    p = folders_parser(__doc__)
    p.add_argument("--blends", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    p.add_argument("--second", choices=("wiener", "cbm3d"), default="wiener")
    p.add_argument("--gray", action="store_true", help="the images' BT.601 luma (the gray CNN)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    rows = []
    for label, _, _, x, deg in degraded_images(task, args.images, last=args.last, crop=args.crop,
                                         gray=args.gray):
        t0 = time.perf_counter()
        with torch.no_grad():
            pilot = SelfEnsemble(shipped_cnn(x.shape[1], one_call=True))(
                deg.y, task.noise_std).clamp(0, 1)
        t1 = time.perf_counter()
        if args.second == "wiener":
            second = torch.from_numpy(collaborative_wiener(
                deg.y[0].double().numpy(), pilot[0].double().numpy(), task.noise_std))
        else:
            second = BM3D()(deg.y, task.noise_std)[0].double()
        t2 = time.perf_counter()
        row = {"image": label, "seconds_cnn_x8": t1 - t0,
               f"seconds_{args.second}": t2 - t1, "psnr": {}}
        for b in args.blends:
            out = (b * pilot[0].double() + (1 - b) * second).clamp(0, 1)[None].float()
            row["psnr"][str(b)] = float(psnr(out, x, **task.score_options))
        rows.append(row)
        print(row, flush=True)
    mean = {str(b): statistics.mean(r["psnr"][str(b)] for r in rows) for b in args.blends}
    per_folder = {f: {str(b): statistics.mean(r["psnr"][str(b)] for r in rows
                                               if r["image"].startswith(f + "/"))
                      for b in args.blends} for f in args.images}
    print("mean PSNR per CNN weight:", {k: round(v, 3) for k, v in mean.items()})
    for f, m in per_folder.items():
        print(f, {k: round(v, 3) for k, v in m.items()})
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"task": args.task, "second": args.second, "gray": args.gray,
                       "images": args.images,
                       "last": args.last,
                       "crop": args.crop, "rows": rows, "mean_psnr": mean,
                       "mean_psnr_per_folder": per_folder, "machine": machine_info(),
                       "provenance": provenance()}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
