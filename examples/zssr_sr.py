"""ZSSR bicubic super-resolution of one Set5 image, trained on the LR image alone.

Run: ``.venv/bin/python examples/zssr_sr.py [--image PATH] [--scale 2] [--kernel bicubic|gaussian]
[--method zssr-fast|zssr|zssr-gradual]``. ``zssr-fast`` (default) is the budget setting, under
a minute on 2 CPU cores at x2; ``zssr`` the official configurations (x2: six gradual stages,
about 90 s); the settings are the recipe book's (:mod:`pnp_internal.recipes`). Prints the PSNR
(Y channel, border = scale) of bicubic upscaling and of ZSSR, and the time. ``--kernel
gaussian`` degrades with a 7x7 Gaussian kernel of std 1.6 instead: ZSSR, given the true kernel,
learns to undo it (the "kernel-aware" case of the paper).

Reference: A. Shocher, N. Cohen, M. Irani, "Zero-Shot" Super-Resolution using Deep Internal
Learning, CVPR 2018.
"""

import argparse
import time
from pathlib import Path

import pnp_internal as pi
from pnp_internal import io, metrics, operators

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default=str(DATA / "test" / "set5" / "bird_GT.bmp"))
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--kernel", choices=("bicubic", "gaussian"), default="bicubic")
    p.add_argument("--method", choices=("zssr-fast", "zssr", "zssr-gradual"),
                   default="zssr-fast")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    x = io.read_image(args.image)
    s = args.scale
    x = x[..., : x.shape[-2] - x.shape[-2] % s, : x.shape[-1] - x.shape[-1] % s]  # modcrop
    kernel = "bicubic" if args.kernel == "bicubic" else operators.kernels.gaussian(1.6, size=7)
    op = operators.Downsampling(s, img_shape=tuple(x.shape[1:]), kernel=kernel)
    y = op.measure(x)

    score = dict(y_channel=True, border=s)
    up = pi.solve(y, op, method="bicubic").x.clamp(0, 1)
    print(f"{Path(args.image).name} x{s} ({args.kernel} kernel), LR {tuple(y.shape[-2:])}")
    print(f"bicubic upscaling : {float(metrics.psnr(up, x, **score)):.2f} dB")

    t0 = time.perf_counter()
    res = pi.solve(y, op, method=args.method, seed=args.seed, progress=True)
    dt = time.perf_counter() - t0
    print(f"{args.method:<18}: {float(metrics.psnr(res.x.clamp(0, 1), x, **score)):.2f} dB, "
          f"{res.n_iter} iterations, {dt:.0f} s, {res.precision} ({res.message})")


if __name__ == "__main__":
    main()
