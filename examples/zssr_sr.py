"""ZSSR bicubic super-resolution of one Set5 image, trained on the LR image alone.

Run: ``.venv/bin/python examples/zssr_sr.py [--image PATH] [--scale 2] [--kernel bicubic|gaussian]
[--full] [--gradual]``. By default it uses the budget setting (``zssr-fast``: crops 80, <= 800
iterations, under a minute on 2 CPU cores at x2); ``--full`` uses the paper's settings (crops
128, <= 3000); ``--gradual`` goes through the official intermediate scales (x2: 1x1.5 ... 2x1.5,
then 2x2, about 6x the time, the best quality; x4: the same, then x2 on the x2 output).
Prints the PSNR (Y channel, border = scale) of bicubic upscaling and of ZSSR, and the time.
``--kernel gaussian`` degrades with a 7x7 Gaussian kernel of std 1.6 instead of bicubic: ZSSR,
given the true kernel, learns to undo it (the "kernel-aware" case of the paper).

Reference: A. Shocher, N. Cohen, M. Irani, "Zero-Shot" Super-Resolution using Deep Internal
Learning, CVPR 2018.
"""

import argparse
import time
from pathlib import Path

import torch

from pnp_internal import io, metrics, operators
from pnp_internal.bench.methods.zssr import ZSSR_FAST_SETTINGS, ZSSR_SETTINGS
from pnp_internal.solvers import ZSSR
from pnp_internal.solvers.zssr_data import Resampler

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default=str(DATA / "test" / "set5" / "bird_GT.bmp"))
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--kernel", choices=("bicubic", "gaussian"), default="bicubic")
    p.add_argument("--full", action="store_true", help="the paper's settings (slower)")
    p.add_argument("--gradual", action="store_true", help="intermediate scales (slower)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    x = io.read_image(args.image)
    s = args.scale
    x = x[..., : x.shape[-2] - x.shape[-2] % s, : x.shape[-1] - x.shape[-1] % s]  # modcrop
    kernel = "bicubic" if args.kernel == "bicubic" else operators.kernels.gaussian(1.6, size=7)
    op = operators.Downsampling(s, img_shape=tuple(x.shape[1:]), kernel=kernel)
    y = op.A(x)

    score = dict(y_channel=True, border=s)
    up = Resampler(op, tuple(x.shape[1:])).up(y, x.shape[-2:]).clamp(0, 1)
    print(f"{Path(args.image).name} x{s} ({args.kernel} kernel), LR {tuple(y.shape[-2:])}")
    print(f"bicubic upscaling : {float(metrics.psnr(up, x, **score)):.2f} dB")

    settings = ZSSR_SETTINGS if args.full else ZSSR_FAST_SETTINGS
    t0 = time.perf_counter()
    res = ZSSR(**settings, gradual=args.gradual, seed=args.seed, progress=True).solve(y, op)
    dt = time.perf_counter() - t0
    print(f"ZSSR ({'full' if args.full else 'fast'})       : "
          f"{float(metrics.psnr(res.x.clamp(0, 1), x, **score)):.2f} dB, {res.n_iter} iterations,"
          f" {dt:.0f} s ({res.message}); |A x - y|_max = {float((op.A(res.x) - y).abs().max()):.1e}")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
