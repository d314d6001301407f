"""IDBP with a denoiser fine-tuned on the test image (IDBP-CNN-IA, Tirer & Giryes 2019).

Bicubic x2 super-resolution of a Set5 image (centre crop): IDBP with the shipped DRUNet-lite,
then IDBP with a copy of it fine-tuned on the low-resolution image itself (internal multi-scale
self-similarity), before the iterations. Prints PSNR (Y channel, border 2), the adaptation time
and the PSNR gain per second of adaptation.

    .venv/bin/python examples/idbp_image_adapted.py [--image PATH] [--crop 128] [--steps 24]

A few minutes on 2 CPU cores.
"""

import argparse
import time
from pathlib import Path

import torch

from pnp_internal import io, metrics
from pnp_internal import operators
from pnp_internal.priors import ImageAdapted, pretrained
from pnp_internal.solvers import IDBP, schedules

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "test" / "set5"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=str(DATA / "butterfly_GT.bmp"))
    ap.add_argument("--crop", type=int, default=128, help="centre crop side (0: whole image)")
    ap.add_argument("--steps", type=int, default=24, help="fine-tuning steps")
    ap.add_argument("--scale", type=int, default=2)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    x = io.read_image(args.image)
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    h, w = x.shape[-2:]
    c = min(h, w) if args.crop <= 0 else min(args.crop, h, w)
    c -= c % args.scale
    x = x[..., (h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c]
    s = args.scale
    op = operators.Downsampling(s, img_shape=tuple(x.shape[1:]))
    y = op.A(x)
    x0 = torch.nn.functional.interpolate(y, scale_factor=s, mode="bicubic", align_corners=False)
    net = pretrained("drunet-lite-color")
    print(f"image {Path(args.image).name} {c}x{c}, x{s}; weights: "
          f"{net.metadata.get('steps', '?')} training steps")

    def score(z):
        return float(metrics.psnr(z.clamp(0, 1), x, y_channel=True, border=s))

    def idbp(prior):
        solver = IDBP(prior, max_iter=30, schedule=schedules.IDBPDecay.for_scale(s), seed=0)
        t = time.perf_counter()
        out = solver.solve(y, op, x0=x0).x
        return out, time.perf_counter() - t

    print(f"bicubic          {score(x0):6.2f} dB")
    plain, t_plain = idbp(net)
    print(f"IDBP + CNN       {score(plain):6.2f} dB  {t_plain:6.1f} s")
    prior = ImageAdapted(net, steps=args.steps, seed=0)
    adapted, t_ad = idbp(prior)
    rep = prior.reports[0]
    gain = score(adapted) - score(plain)
    print(f"IDBP + CNN-IA    {score(adapted):6.2f} dB  {t_ad:6.1f} s  (adaptation "
          f"{rep.seconds:.1f} s, {rep.steps} steps, kept step {rep.best_step}, {rep.stopped})")
    print(f"gain {gain:+.2f} dB, {gain / max(rep.seconds, 1e-9):+.4f} dB per second of "
          "adaptation")


if __name__ == "__main__":
    main()
