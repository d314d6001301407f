"""How close must a blind SR kernel be, and does the Gaussian family get there? For each image,
the true kernel, the anisotropic Gaussian closest to it (least squares: the DIV2KRK family
without its per-tap noise, what a perfect estimate restricted to Gaussians could give) and the
Gaussian whose downscaled copy of ``y`` best reproduces ``y``'s patches (the patch-recurrence
error of :class:`~pnp_internal.blind.PatchRecurrence` minimised over the three parameters,
Nelder-Mead from the best of 24 starts; the Gaussian family of FKP, Liang et al. 2021), each
inside ``zssr-fast``, ``cnn-idbp`` (exact projection, and with an estimate's margins) and
``cnn-hqs`` (at the task's noise, and at floors of 1 and 2.55 /255). ``--candidates estimate
"estimate gaussian"`` scores the library's default blind estimate (``BLIND_SR_KERNEL``) and the
Gaussian closest to it instead; ``--margins`` replaces the six runs by a sweep of the plug-and-play
margins (IDBP's ``eps`` and noise floor, HQS's floor), to find the best a kernel can do there::

    python benchmarks/experiments/gaussian_kernel_check.py sr-x2-aniso \
        --images ../shared/data/train/urban100 --last 8 --crop 256 \
        --out benchmarks/results/gaussian-kernel-check_sr-x2-aniso_urban100-holdout.json

One thread.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import torch
from scipy import optimize

import pnp_internal as pi
from pnp_internal import metrics, recipes
from pnp_internal.bench.runner import machine_info, provenance
from pnp_internal.bench.tasks import get_task
from pnp_internal.blind import PatchRecurrence
from pnp_internal.blind.recurrence import _luma
from pnp_internal.catalog.blind import estimate_kernel
from pnp_internal.catalog.registry import Problem
from pnp_internal.operators import Downsampling, kernels

from _harness import degraded_images, finish_record, folders_parser, parse_with_out

SIZE = 13
#: The kernels the script can score.
CANDIDATES = ("true", "closest gaussian", "recurrence gaussian", "estimate", "estimate gaussian")


def gaussian(params) -> torch.Tensor:
    """``(log variance 1, log variance 2, angle)`` -> the kernel centred on the x2 grid."""
    lam = np.exp(np.clip(params[:2], -5, 5))
    return kernels.centre_on_grid(kernels.anisotropic_gaussian(lam, params[2], SIZE), 2)


def closest_gaussian(kernel: torch.Tensor) -> torch.Tensor:
    """The Gaussian with the least kernel error to ``kernel`` (from its second moments)."""
    k = kernel.double() / kernel.sum()
    n = k.shape[0]
    yy, xx = torch.meshgrid(*(torch.arange(n, dtype=torch.float64),) * 2, indexing="ij")
    my, mx = (k * yy).sum(), (k * xx).sum()
    cxy = float((k * (xx - mx) * (yy - my)).sum())
    cov = np.array([[float((k * (xx - mx) ** 2).sum()), cxy], [cxy, float((k * (yy - my) ** 2).sum())]])
    w, v = np.linalg.eigh(cov)
    start = [math.log(w[1]), math.log(max(w[0], 1e-3)), math.atan2(v[1, 1], v[0, 1])]
    res = optimize.minimize(lambda p: metrics.kernel_error(gaussian(p), kernel), start,
                            method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-10})
    return gaussian(res.x)


def default_estimate(d, task, seed) -> torch.Tensor:
    """The library's default blind SR kernel of ``d.y`` (the operator's kernel is not read)."""
    problem = Problem(y=d.y, operator=d.operator, kind="sr", noise_std=task.noise_std,
                      scale=task.scale, seed=seed)
    return estimate_kernel(problem)["kernel"]


def recurrence_gaussian(y: torch.Tensor) -> torch.Tensor:
    """The Gaussian with the lowest patch-recurrence error on ``y``."""
    pr = PatchRecurrence(size=SIZE)
    img = _luma(y)
    queries, responses = pr._queries(img), pr._responses(img)

    def error(p):
        lam = np.exp(np.clip(p[:2], -5, 5))
        return pr._recurrence(queries, responses,
                              kernels.anisotropic_gaussian(lam, p[2], SIZE).double())[0]

    starts = [[math.log(v * math.sqrt(r)), math.log(v / math.sqrt(r)), a]
              for v in (0.5, 1.5, 3.5) for r in (1.0, 3.0)
              for a in (0.0, math.pi / 4, math.pi / 2, 3 * math.pi / 4)]
    best = min(starts, key=error)
    res = optimize.minimize(error, best, method="Nelder-Mead",
                            options={"xatol": 1e-3, "fatol": 1e-9, "maxiter": 300})
    return gaussian(res.x)


def main(argv=None) -> int:
    p = folders_parser(__doc__)
    p.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=CANDIDATES)
    p.add_argument("--margins", action="store_true", help="sweep the plug-and-play margins")
    args, argv = parse_with_out(p, argv)
    task = get_task(args.task)
    if task.scale != 2:
        p.error("the Gaussian fits are x2 kernels: use an x2 task")
    floor, eps = recipes.ESTIMATED_KERNEL_NOISE.value, recipes.ESTIMATED_KERNEL_EPS.value
    runs = (("zssr-fast", 0.0, {}), ("cnn-idbp", 0.0, {}), ("cnn-idbp margins", floor, {"eps": eps}),
            ("cnn-hqs", 0.0, {}), ("cnn-hqs floor 1", 1 / 255, {}), ("cnn-hqs floor 2.55", floor, {}))
    if args.margins:
        runs = tuple((f"cnn-idbp eps {e:g} floor {f:g}", f / 255, {"eps": e})
                     for e in (0.003, 0.01, 0.03) for f in (0, 0.5, 1))
        runs += tuple((f"cnn-hqs floor {f:g}", f / 255, {}) for f in (0.25, 0.5, 1, 1.5))
    record = {"experiment": "gaussian_kernel_check.py", "task": args.task, "images": args.images,
              "last": args.last, "crop": args.crop, "candidates": args.candidates,
              "runs": [r[0] for r in runs],
              "machine": machine_info(),
              "provenance": provenance(), "rows": []}
    cands = set(args.candidates)
    for label, _, seed, x, d in degraded_images(task, args.images, last=args.last, crop=args.crop):
        true = d.operator.kernel.squeeze()
        row, found = {"image": label}, {"true": true}
        if "recurrence gaussian" in cands:
            t0 = time.perf_counter()
            found["recurrence gaussian"] = recurrence_gaussian(d.y)
            row["recurrence gaussian seconds"] = time.perf_counter() - t0
        if cands & {"estimate", "estimate gaussian"}:
            t0 = time.perf_counter()
            found["estimate"] = default_estimate(d, task, seed)
            row["estimate seconds"] = time.perf_counter() - t0
        if "estimate gaussian" in cands:
            found["estimate gaussian"] = closest_gaussian(found["estimate"])
        if "closest gaussian" in cands:
            found["closest gaussian"] = closest_gaussian(true)
        for name in args.candidates:
            k = found[name]
            row[f"{name} kernel_error"] = metrics.kernel_error(k, true)
            op = Downsampling(task.scale, img_shape=tuple(x.shape[1:]), kernel=k,
                              padding="circular")
            for method_label, sigma, options in runs:
                res = pi.solve(d.y, op, method=method_label.split()[0], seed=seed,
                               noise_std=max(task.noise_std, sigma), **options)
                row[f"{name} {method_label}"] = float(
                    metrics.psnr(res.x.clamp(0, 1), x, **task.score_options)[0])
        print(json.dumps(row), flush=True)
        record["rows"].append(row)
    return finish_record(args.out, record)


if __name__ == "__main__":
    raise SystemExit(main())
