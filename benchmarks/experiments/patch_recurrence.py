"""Kernel error of the cross-scale patch-recurrence estimate (:class:`PatchRecurrence`) against
the bicubic kernel, per image of a blind SR task (no SR is run).

    python benchmarks/experiments/patch_recurrence.py sr-x2-aniso --images ../shared/data/test/set5
"""

from __future__ import annotations

import argparse
import statistics

import torch

from pnp_internal.bench.runner import list_images
from pnp_internal.bench.tasks import center_crop, get_task, image_seed
from pnp_internal.blind import PatchRecurrence
from pnp_internal.io import read_image
from pnp_internal.metrics import kernel_error
from pnp_internal.operators.downsampling import matlab_bicubic_kernel


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True)
    p.add_argument("--every", type=int, default=1, help="every n-th image of the folder")
    p.add_argument("--crop", type=int, default=None, help="centre crop of larger images")
    p.add_argument("--smoothness", type=float, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    task = get_task(args.task)
    opts = {} if args.smoothness is None else {"smoothness": args.smoothness}
    bicubic, _ = matlab_bicubic_kernel(task.scale)
    est_errors, bic_errors = [], []
    for f in list_images(args.images)[::args.every]:
        img = read_image(f)
        if args.crop and min(img.shape[-2:]) > args.crop:
            img = center_crop(img, args.crop)
        x, _ = task.prepare(img)
        d = task.degrade(x, seed=image_seed(0, f.name))
        est = PatchRecurrence(factor=task.scale, **opts).estimate(d.y)
        est_errors.append(kernel_error(est.kernel, d.operator.kernel))
        bic_errors.append(kernel_error(bicubic, d.operator.kernel))
        print(f"{f.name}: kernel error {est_errors[-1]:.4f} (bicubic {bic_errors[-1]:.4f}), "
              f"confidence {est.confidence:.3f}, {est.seconds:.1f} s", flush=True)
    print(f"mean kernel error {statistics.mean(est_errors):.4f} "
          f"(bicubic {statistics.mean(bic_errors):.4f}) over {len(est_errors)} images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
