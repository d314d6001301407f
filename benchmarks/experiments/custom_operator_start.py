"""The initial estimate on an operator the library does not recognise.

A user's forward model built with ``operators.from_functions``: a 7-pixel horizontal motion blur
followed by 2x decimation (both axes), optional noise. The script restores centre crops of
real images with the TV and CNN priors inside HQS, starting from the solver's ``init="auto"``
(``A^+ y`` or the regularised pseudo-inverse, columns "auto") and from the normalised adjoint
``A^T y / A^T 1`` (``pnp_internal.catalog.pnp.normalised_adjoint``), and prints the PSNR.

    .venv/bin/python benchmarks/experiments/custom_operator_start.py [--noise 2.55] [--crop 128]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

import pnp_internal as pi
from pnp_internal import operators
from pnp_internal.bench.runner import list_images, machine_info
from pnp_internal.bench.tasks import center_crop, default_data_root
from pnp_internal.catalog.pnp import normalised_adjoint


def motion_then_decimate(img_shape, length=7):
    """``from_functions`` operator: horizontal box blur of ``length`` px, then keep 1 pixel in
    2 along both axes."""
    c, h, w = img_shape
    k = torch.full((c, 1, 1, length), 1.0 / length)
    pad = length // 2

    def A(x):
        return F.conv2d(F.pad(x, (pad, pad, 0, 0), mode="circular"), k, groups=c)[..., ::2, ::2]

    def At(y):
        up = torch.zeros(y.shape[0], c, h, w, dtype=y.dtype)
        up[..., ::2, ::2] = y
        out = F.conv_transpose2d(up, k, groups=c)
        # the adjoint of the circular padding folds the overhang back
        res = out[..., pad:pad + w].clone()
        res[..., :pad] += out[..., pad + w:]
        res[..., -pad:] += out[..., :pad]
        return res

    return operators.from_functions(A, At, img_shape=img_shape,
                                    meas_shape=(c, (h + 1) // 2, (w + 1) // 2))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", default=str(default_data_root() / "test" / "set12"))
    p.add_argument("--limit", type=int, default=4)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--noise", type=float, default=2.55, help="noise std on the 0-255 scale")
    p.add_argument("--out", help="JSON record of the rows")
    args = p.parse_args(argv)
    sigma = args.noise / 255
    print("| image | TV auto | CNN auto | TV adjoint | CNN adjoint | adjoint start |")
    print("|---|---:|---:|---:|---:|---:|")
    means = []
    for path in list_images(args.images, limit=args.limit):
        x = center_crop(pi.io.read_image(path), args.crop)
        op = motion_then_decimate(tuple(x.shape[1:]))
        y = op.measure(x, noise_std=sigma, seed=0)
        x0 = normalised_adjoint(y, op)
        dagger = pi.solvers.HQS(pi.priors.TV(), noise_std=sigma).initial_estimate(y, op)  # A^+ y
        row = []
        for x_init in (dagger, x0):
            for prior in ("tv", "cnn"):
                res = pi.solve(y, op, prior=prior, solver="hqs", noise_std=sigma, x0=x_init)
                row.append(float(pi.metrics.psnr(res.x, x)))
        start = float(pi.metrics.psnr(x0.clamp(0, 1), x))
        means.append(row + [start])
        print(f"| {path.name} | " + " | ".join(f"{v:.2f}" for v in row) + f" | {start:.2f} |")
    mean = [sum(c) / len(c) for c in zip(*means)]
    print("| mean | " + " | ".join(f"{v:.2f}" for v in mean) + " |")
    if args.out:
        cols = ["tv-auto", "cnn-auto", "tv-adjoint", "cnn-adjoint", "adjoint-start"]
        Path(args.out).write_text(json.dumps({
            "experiment": "custom_operator_start", "settings": vars(args) | {
                "machine": machine_info(), "operator": "7-px motion blur, then 2x decimation"},
            "rows": [dict(zip(cols, r)) for r in means],
            "mean": dict(zip(cols, mean))}, indent=1) + "\n")


if __name__ == "__main__":
    main()
