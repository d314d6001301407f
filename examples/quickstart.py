"""Quickstart: restore a blurred, noisy image with one call, then with a configured solver.

Blurs a 128x128 colour crop of scikit-image's astronaut (Gaussian kernel of std 1.6, noise
2.55/255, the DPIR setting), then restores it

1. with :func:`pnp_internal.solve` and the recipe book's default for a blur (``cnn-hqs``: the
   shipped CNN inside HQS, 8 iterations, DPIR schedule),
2. with the TV prior inside the same solver, and
3. with a configured IDBP solver and the BM3D prior,

and prints PSNR and time of each against the pseudo-inverse.

Run: ``python examples/quickstart.py`` (about a minute on 2 CPU cores, mostly BM3D).
"""

import time

import numpy as np
import torch
from skimage import data

from pnp_internal import operators, priors, solvers
from pnp_internal import solve
from pnp_internal.metrics import psnr
from pnp_internal.solvers.schedules import IDBPDecay


def main():
    img = data.astronaut()[:256:2, 128:384:2].astype(np.float32) / 255.0   # 128x128 colour
    x = torch.from_numpy(img).permute(2, 0, 1)[None].contiguous()
    noise = 2.55 / 255
    op = operators.Blur(operators.kernels.gaussian(1.6), img_shape=tuple(x.shape[1:]))
    y = op.measure(x, noise_std=noise, seed=0)

    def report(name, est, seconds):
        print(f"{name:32s} PSNR {psnr(est.clamp(0, 1), x).item():6.2f} dB   {seconds:6.1f} s")

    report("blurred and noisy y", y, 0.0)
    t = time.perf_counter()
    report("pseudo-inverse A_dagger(y)", op.A_dagger(y), time.perf_counter() - t)

    # 1. one call, the recipe book's default method for a blur
    t = time.perf_counter()
    res = solve(y, op, noise_std=noise)
    report(f"solve()  [{res.method}]", res.x, time.perf_counter() - t)
    t = time.perf_counter()
    res = solve(y, op, prior="tv", noise_std=noise)
    report(f"solve(prior='tv')  [{res.method}]", res.x, time.perf_counter() - t)

    # 3. a configured solver: IDBP with BM3D, delta from 49/255 down to 2.55/255, eps = sigma_n
    solver = solvers.IDBP(priors.BM3D(), noise_std=noise, max_iter=8,
                          schedule=IDBPDecay(49 / 255, 2.55 / 255))
    t = time.perf_counter()
    res = solver.solve(y, op, x_true=x)
    report("IDBP + BM3D (8 iterations)", res.x, time.perf_counter() - t)
    print("PSNR per iteration:", " ".join(f"{p:.2f}" for p in res.history["psnr"]))


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
