"""deepinv's own blind deblurring (``deepinv.optim.BlindRL``) on the blind deblurring task.

Blind Richardson-Lucy (alternating multiplicative updates of the image and the kernel, the
image optionally regularised by total variation with the one-step-late rule) is the blind tool
deepinv ships that applies to a blurred image without trained weights
(``deepinv.models.KernelIdentificationNetwork`` needs downloaded ones). Its kernel is
centred and given to ``cnn-hqs`` with the noise floor of an estimated kernel
(``recipes.ESTIMATED_BLUR_NOISE``), as ``cnn-hqs-l0`` uses :class:`~pnp_internal.blind.L0Deblur`'s;
the rows also hold BlindRL's own image and the blurred image, each scored after the best
integer shift (the task's score)::

    python benchmarks/experiments/deepinv_blind_rl.py deblur-levin-blind \
        --images ../shared/data/test/set12 --iterations 1000 --kernel-steps 10 --tv 0.01 \
        --out benchmarks/results/deepinv-blindrl_deblur-levin-blind_set12.json

Each image gets the Levin kernel of its position, as in the benchmark. One thread
(``--threads``).
"""

from __future__ import annotations

import json
import time

import deepinv as dinv
import torch

import pnp_internal as pi
from pnp_internal import metrics, recipes
from pnp_internal.bench.runner import machine_info, provenance
from pnp_internal.bench.tasks import get_task
from pnp_internal.blind.l0deblur import _centred
from pnp_internal.operators import Blur

from _harness import degraded_images, experiment_parser, finish_record, parse_with_out

KERNEL_SIZE = 27


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument("--crop", type=int, default=None)
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--kernel-steps", type=int, default=10)
    p.add_argument("--tv", type=float, default=0.01, help="BlindRL's lambda_reg_x (0: no TV)")
    args, argv = parse_with_out(p, argv)
    task = get_task(args.task)
    floor = max(task.noise_std, recipes.ESTIMATED_BLUR_NOISE.value)
    record = {"experiment": "deepinv_blind_rl.py", "task": args.task, "images": args.images,
              "limit": args.limit, "last": args.last, "crop": args.crop,
              "iterations": args.iterations, "kernel_steps": args.kernel_steps, "tv": args.tv,
              "kernel_size": KERNEL_SIZE, "noise_assumed": floor, "machine": machine_info(),
              "provenance": provenance(), "rows": []}
    for _, name, seed, x, d in degraded_images(task, [args.images], limit=args.limit, last=args.last,
                                       crop=args.crop):
        true = d.operator.kernel.squeeze()
        shift = true.shape[-1] // 2

        def score(img, x=x, shift=shift):
            return float(metrics.psnr(*metrics.align_up_to_shift(img.clamp(0, 1), x, shift))[0])

        t0 = time.perf_counter()
        model = dinv.optim.BlindRL(x_prior=dinv.optim.TVPrior() if args.tv else None,
                                   lambda_reg_x=args.tv, kernel_size=KERNEL_SIZE, use_fft=True,
                                   max_iter=args.iterations, k_steps=args.kernel_steps)
        with torch.no_grad():  # Richardson-Lucy needs y > 0
            x_rl, k = model(d.y.clamp(min=1e-4))
        k = _centred(k.squeeze().double()).float()
        seconds = time.perf_counter() - t0
        res = pi.solve(d.y, Blur(k, img_shape=tuple(x.shape[1:]), padding="circular"),
                       method="cnn-hqs", noise_std=floor, seed=seed)
        row = {"image": name, "kernel": d.info.get("kernel"),
               "cnn-hqs-blindrl": score(res.x), "blindrl": score(x_rl), "blurred": score(d.y),
               "kernel_error": metrics.kernel_error(k, true), "kernel_seconds": seconds}
        print(json.dumps(row), flush=True)
        record["rows"].append(row)
    return finish_record(args.out, record)


if __name__ == "__main__":
    raise SystemExit(main())
