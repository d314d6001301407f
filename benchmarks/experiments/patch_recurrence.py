"""Kernel error of the cross-scale patch-recurrence estimate (:class:`PatchRecurrence`) against
the bicubic kernel, per image of a blind SR task (no SR is run); with ``--kernelgan``, also
KernelGAN's estimate (the bench's seed, so the kernel the ``-kernelgan`` methods used) and the
recurrence error (:meth:`PatchRecurrence.error`) of each candidate, to see whether the lowest
recurrence error picks the kernel closest to the true one, and the mean of the two estimates
(the ``-meankernel`` methods); ``--plot PNG`` draws every candidate beside the true kernel.

    python benchmarks/experiments/patch_recurrence.py sr-x2-aniso --images ../shared/data/test/set5
    python benchmarks/experiments/patch_recurrence.py sr-x2-aniso --images DIR --kernelgan \
        --plot benchmarks/plots/kernels_sr-x2-aniso_set5.png
"""

from __future__ import annotations

import argparse
import statistics

import torch

from pnp_internal import recipes
from pnp_internal.bench.runner import list_images
from pnp_internal.bench.tasks import center_crop, get_task, image_seed
from pnp_internal.blind import KernelGAN, PatchRecurrence
from pnp_internal.io import read_image
from pnp_internal.metrics import kernel_error
from pnp_internal.operators import kernels
from pnp_internal.operators.downsampling import matlab_bicubic_kernel

from _harness import plot_kernels


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True)
    p.add_argument("--every", type=int, default=1, help="every n-th image of the folder")
    p.add_argument("--crop", type=int, default=None, help="centre crop of larger images")
    p.add_argument("--smoothness", type=float, default=None)
    p.add_argument("--kernelgan", action="store_true",
                   help="also KernelGAN's estimate, the mean of the two estimates and every "
                        "candidate's recurrence error")
    p.add_argument("--plot", default=None, help="PNG of the true and estimated kernels")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    task = get_task(args.task)
    opts = {} if args.smoothness is None else {"smoothness": args.smoothness}
    bicubic = kernels.centre_on_grid(matlab_bicubic_kernel(task.scale)[0], task.scale)
    errors = {"recurrence": [], "bicubic": [], "kernelgan": [], "mean": [],
              "lowest recurrence error": []}
    drawn = []
    for f in list_images(args.images)[::args.every]:
        img = read_image(f)
        if args.crop and min(img.shape[-2:]) > args.crop:
            img = center_crop(img, args.crop)
        x, _ = task.prepare(img)
        seed = image_seed(0, f.name)
        d = task.degrade(x, seed=seed)
        estimator = PatchRecurrence(factor=task.scale, **opts)
        est = estimator.estimate(d.y)
        candidates = {"recurrence": est.kernel, "bicubic": bicubic}
        line = f"{f.name}: {est.seconds:.1f} s"
        if args.kernelgan:
            gan = KernelGAN(factor=task.scale, seed=seed, **recipes.KERNELGAN.options())
            candidates["kernelgan"] = gan.estimate(d.y).kernel
            candidates["mean"] = kernels.average(candidates["kernelgan"], est.kernel)
        for name, k in candidates.items():
            errors[name].append(kernel_error(k, d.operator.kernel))
            line += f"; {name} kernel error {errors[name][-1]:.4f}"
        if args.kernelgan and task.scale == 2:
            fits = {name: estimator.error(d.y, k) for name, k in candidates.items()
                    if name != "mean"}
            pick = min(fits, key=fits.get)
            errors["lowest recurrence error"].append(errors[pick][-1])
            line += "; recurrence error " + ", ".join(f"{n} {v:.3g}" for n, v in fits.items())
            line += f" -> {pick}"
        print(line, flush=True)
        drawn.append((f.stem, d.operator.kernel, candidates,
                      {name: v[-1] for name, v in errors.items() if name in candidates}))
    print("mean kernel error: " + ", ".join(f"{name} {statistics.mean(v):.4f}"
                                            for name, v in errors.items() if v)
          + f" over {len(errors['bicubic'])} images")
    if args.plot:
        plot_kernels(drawn, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
