"""Common mistakes of a new user, and what the library does with each.

128x128 centre crop of Set12 ``08.png`` (Gaussian blur 1.6, noise 2.55/255 unless said), the
cases of the "no silent wrong results" checklist: each line prints the PSNR obtained or the
message raised.

    .venv/bin/python benchmarks/experiments/safe_defaults.py
"""

from __future__ import annotations

import warnings

import torch

import pnp_internal as pi
from pnp_internal import operators as O
from pnp_internal.bench.tasks import center_crop, default_data_root

SIGMA = 2.55 / 255


def _psnr(x, ref):
    return f"{float(pi.metrics.psnr(x.clamp(0, 1), ref)):.2f} dB"


def _try(label, call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = call()
        except (ValueError, TypeError, OSError) as err:
            out = f"{type(err).__name__}: {err}"
    said = "; ".join(sorted({str(w.message)[:110] for w in caught}))
    print(f"| {label} | {out} | {said} |")


def main():
    x = center_crop(pi.io.read_image(default_data_root() / "test" / "set12" / "08.png"), 128)
    blur = O.Blur(O.kernels.gaussian(1.6, 25), img_shape=tuple(x.shape[1:]))
    y = blur.A(x) + SIGMA * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    print(f"input (blurred, noisy): {_psnr(y, x)}\n")
    print("| case | result | warnings |\n|---|---|---|")
    for m in ("tv-hqs", "cnn-hqs"):
        _try(f"noise_std left out, {m}", lambda m=m: _psnr(pi.solve(y, blur, method=m).x, x))
    den = O.Denoising(img_shape=tuple(x.shape[1:]))
    yd = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    _try("noise_std left out, denoising 0.1", lambda: _psnr(pi.solve(yd, den).x, x))
    _try("values in [0, 255]", lambda: pi.solve(y * 255, blur, noise_std=SIGMA))
    _try("noise_std=25 on [0, 1] data", lambda: pi.solve(y, blur, noise_std=25))
    _try("uint8 input", lambda: pi.solve((y * 255).clamp(0, 255).byte(), blur))
    bad = y.clone()
    bad[..., 5, 5] = float("nan")
    _try("NaN in y", lambda: pi.solve(bad, blur, noise_std=SIGMA))
    _try("read_image on a folder", lambda: pi.io.read_image(default_data_root()))
    yn = den.measure(x, noise_std=25 / 255, seed=0)
    _try("solvers.DIP on Denoising + measure (input "
         f"{_psnr(yn, x)})", lambda: _psnr(pi.solvers.DIP(seed=0).solve(yn, den).x, x))
    _try("DIPDenoiser inside HQS", lambda: _psnr(pi.solve(
        y, blur, prior=pi.priors.DIPDenoiser(steps=100, warm_steps=20), solver="hqs",
        noise_std=SIGMA).x, x))
    big = center_crop(pi.io.read_image(default_data_root() / "test" / "set12" / "08.png"), 152)
    k = O.kernels.gaussian(1.6, 25)
    photo = O.Blur(k, img_shape=tuple(big.shape[1:]), padding="valid").measure(
        big, noise_std=SIGMA, seed=0)  # 128x128: what a camera records
    circular = O.Blur(k, img_shape=tuple(photo.shape[1:]))
    _try("real photo, Blur(k, img_shape=y.shape) (circular)",
         lambda: _psnr(pi.solve(photo, circular, noise_std=SIGMA).x, big[..., 12:-12, 12:-12]))
    _try("real photo, Blur.for_image(y, k)", lambda: _psnr(pi.solve(
        photo, O.Blur.for_image(photo, k), noise_std=SIGMA).x[..., 12:-12, 12:-12],
        big[..., 12:-12, 12:-12]))
    raw = pi.solve(y, blur, method="cnn-hqs", noise_std=SIGMA, clamp=False).x
    _try("Result.x range (clamp=False / default)", lambda: (
        f"[{float(raw.min()):.3f}, {float(raw.max()):.3f}] / "
        f"[{float(raw.clamp(0, 1).min()):.3f}, {float(raw.clamp(0, 1).max()):.3f}]"))


if __name__ == "__main__":
    main()
