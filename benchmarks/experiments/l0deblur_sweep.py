"""Recipe numbers of the blind deblurring kernel estimate (:class:`pnp_internal.blind.L0Deblur`):
its starting L0 weight ``lam`` (one value, or the most confident of several) and the noise level
``cnn-hqs`` should assume with the estimated kernel, beside ``cnn-hqs`` given the true kernel and
a wrong guess (the 25x25 Gaussian of std 1.6); PSNR after the best integer shift and (keys
ending in ``subpixel``) after the best quarter-pixel shift. Meant for training images (these are recipe
numbers: never tune them on the test sets)::

    python benchmarks/experiments/l0deblur_sweep.py deblur-levin-blind \
        --images ../shared/data/train/gray400 --last 16 --crop 256 \
        --out benchmarks/results/l0deblur-sweep_deblur-levin-blind_gray400-last16.json

Each image gets the Levin kernel of its position, as in the benchmark. One thread
(``--threads``).
"""

from __future__ import annotations

import json

import torch

import pnp_internal as pi
from pnp_internal import metrics
from pnp_internal.bench.runner import list_images, machine_info, provenance
from pnp_internal.bench.tasks import center_crop, gaussian_kernel, get_task, image_seed
from pnp_internal.blind import L0Deblur
from pnp_internal.io import read_image
from pnp_internal.operators import Blur

from _harness import experiment_parser, finish_record

#: Starting L0 weights, each alone; then the most confident of each set in ``CHOICES``.
LAMS = (2e-3, 4e-3, 7e-3, 1e-2, 1.5e-2, 2e-2, 3e-2)
CHOICES = ((4e-3, 1e-2, 2e-2), (2e-3, 4e-3, 7e-3, 1e-2, 1.5e-2, 2e-2, 3e-2),
           (4e-3, 7e-3, 1e-2, 1.5e-2, 2e-2))
#: Noise levels assumed by cnn-hqs with an estimated kernel, in 1/255 (1: the true level).
FLOORS = (1.0, 1.5, 2.55)
KERNEL_SIZE, ALTERNATIONS = 27, 10


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument("--crop", type=int, default=None)
    args = p.parse_args(argv)
    if not args.out:
        p.error("--out is required (the record's path)")
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    record = {"experiment": "l0deblur_sweep.py", "task": args.task, "images": args.images,
              "last": args.last, "crop": args.crop, "machine": machine_info(),
              "provenance": provenance(), "kernel_size": KERNEL_SIZE,
              "alternations": ALTERNATIONS, "rows": []}
    for index, f in enumerate(list_images(args.images, last=args.last)):
        x, _ = task.prepare(center_crop(read_image(f), args.crop))
        seed = image_seed(0, f.name)
        d = task.degrade(x, seed=seed, index=index)
        true = d.operator.kernel.squeeze()
        shift = true.shape[-1] // 2
        shape = tuple(x.shape[1:])

        def score(kernel, sigma, x=x, d=d, shift=shift, shape=shape, seed=seed):
            """PSNR after the best integer shift and after the best quarter-pixel one."""
            res = pi.solve(d.y, Blur(kernel, img_shape=shape, padding="circular"),
                           method="cnn-hqs", noise_std=sigma, seed=seed)
            out = res.x.clamp(0, 1)
            return (float(metrics.psnr(*metrics.align_up_to_shift(out, x, shift))[0]),
                    float(metrics.psnr(*metrics.align_up_to_subpixel_shift(out, x, shift))[0]))

        row = {"image": f.name, "kernel": d.info.get("kernel")}
        row["true"], row["true subpixel"] = score(true, task.noise_std)
        row["gaussian guess"], row["gaussian guess subpixel"] = score(
            gaussian_kernel(25, 1.6)[0, 0], task.noise_std)
        estimates = {lam: L0Deblur(KERNEL_SIZE, lam=lam, alternations=ALTERNATIONS).estimate(d.y)
                     for lam in LAMS}
        scores = {}
        for lam, est in estimates.items():
            name = f"lam {lam:g}"
            row[f"{name} kernel_error"] = metrics.kernel_error(est.kernel, true)
            row[f"{name} confidence"] = est.confidence
            row[f"{name} seconds"] = est.seconds
            for floor in FLOORS:
                scores[lam, floor] = score(est.kernel, floor / 255)
                row[f"{name} noise {floor:g}"], row[f"{name} noise {floor:g} subpixel"] = \
                    scores[lam, floor]
        for lams in CHOICES:  # L0Deblur(lam=lams) keeps the most confident of these runs
            lam = max(lams, key=lambda v: estimates[v].confidence)
            name = "lam " + "|".join(f"{v:g}" for v in lams)
            row[f"{name} kernel_error"] = row[f"lam {lam:g} kernel_error"]
            for floor in FLOORS:
                row[f"{name} noise {floor:g}"], row[f"{name} noise {floor:g} subpixel"] = \
                    scores[lam, floor]
        print(json.dumps(row), flush=True)
        record["rows"].append(row)
    return finish_record(args.out, record)


if __name__ == "__main__":
    raise SystemExit(main())
