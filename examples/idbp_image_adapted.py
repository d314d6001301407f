"""IDBP with a denoiser fine-tuned on the test image (IDBP-CNN-IA, Tirer & Giryes 2019).

Bicubic x2 super-resolution of a Set5 image (centre crop): IDBP with the shipped DRUNet-lite,
then IDBP with a copy of it fine-tuned on the low-resolution image itself (internal multi-scale
self-similarity), before the iterations: ``solve(method="cnn-idbp")`` against
``solve(method="ia-idbp")`` with the recipe book's settings. Prints PSNR (Y channel, border 2)
and the time of each.

    .venv/bin/python examples/idbp_image_adapted.py [--image PATH] [--crop 128]

A few minutes on 2 CPU cores.
"""

import argparse
import time
from pathlib import Path

import pnp_internal as pi
from pnp_internal import io, metrics, operators

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "test" / "set5"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=str(DATA / "butterfly_GT.bmp"))
    ap.add_argument("--crop", type=int, default=128, help="centre crop side (0: whole image)")
    ap.add_argument("--scale", type=int, default=2)
    args = ap.parse_args(argv)
    x = io.read_image(args.image)
    h, w = x.shape[-2:]
    s = args.scale
    c = min(h, w) if args.crop <= 0 else min(args.crop, h, w)
    c -= c % s
    x = x[..., (h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c]
    op = operators.Downsampling(s, img_shape=tuple(x.shape[1:]))
    y = op.measure(x)
    print(f"image {Path(args.image).name} {c}x{c}, x{s}")

    def score(z):
        return float(metrics.psnr(z.clamp(0, 1), x, y_channel=True, border=s))

    results = {}
    for method in ("bicubic", "cnn-idbp", "ia-idbp"):
        t = time.perf_counter()
        results[method] = res = pi.solve(y, op, method=method, seed=0)
        print(f"{method:<10} {score(res.x):6.2f} dB  {time.perf_counter() - t:6.1f} s")
    gain = score(results["ia-idbp"].x) - score(results["cnn-idbp"].x)
    print(f"image adaptation: {gain:+.2f} dB over the plain CNN prior")


if __name__ == "__main__":
    main()
