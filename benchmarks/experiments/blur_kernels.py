"""The blur kernels that blind deblurring estimates (the recipe's
:class:`pnp_internal.blind.L0Deblur`, as ``cnn-hqs-l0`` and ``solve(kernel="estimate")`` use it)
beside the true ones, with the kernel error and the estimate's confidence per image::

    python benchmarks/experiments/blur_kernels.py deblur-levin-blind \
        --images ../shared/data/test/set12 \
        --plot benchmarks/plots/kernels_deblur-levin-blind_set12.png

No record: the table is printed (the kernel errors are also in the benchmark records of
``cnn-hqs-l0``). One thread.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from pnp_internal import recipes
from pnp_internal.bench.runner import list_images
from pnp_internal.bench.tasks import get_task, image_seed
from pnp_internal.blind import L0Deblur
from pnp_internal.io import read_image
from pnp_internal.metrics import kernel_error

from _harness import plot_kernels


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True)
    p.add_argument("--plot", default=None, help="PNG of the true and estimated kernels")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    task = get_task(args.task)
    drawn, errors = [], []
    for index, f in enumerate(list_images(args.images)):
        x, _ = task.prepare(read_image(f))
        d = task.degrade(x, seed=image_seed(0, f.name), index=index)
        true = d.operator.kernel.squeeze()
        est = L0Deblur(**recipes.L0_DEBLUR.options()).estimate(d.y)
        err = kernel_error(est.kernel, true)
        errors.append(err)
        print(f"{f.name} {d.info.get('kernel')}: kernel error {err:.4f}, confidence "
              f"{est.confidence:.3f}, {est.seconds:.1f} s", flush=True)
        drawn.append((f"{f.stem} {d.info.get('kernel')}", true, {"L0Deblur": est.kernel},
                      {"L0Deblur": err}))
    print(f"mean kernel error {statistics.mean(errors):.4f}")
    if args.plot:
        plot_kernels(drawn, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
