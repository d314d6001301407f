"""Deep Image Prior denoising (sigma = 25) with automatic early stopping (ES-WMV), on a CPU.

Runs the project's DIP on a 128x128 crop of the DIP paper's F16 image (or scikit-image's
astronaut if the data folder is absent) and prints the PSNR of the noisy input, of the
automatically stopped estimate and of the best iterate along the run (the oracle, which
needs the ground truth), with the iterations and seconds. A few minutes on 2 CPU cores.
The default loss is SURE (the noisy image is the network's input); ``--loss mse`` runs the
paper's DIP from a random code.

    python examples/dip_denoising.py [--size 128] [--max-iter N] [--loss auto] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import deepinv as dinv
import torch

from pnp_internal.metrics import psnr
from pnp_internal.solvers import DIP

F16 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "test" / "dip" / "denoising" / "F16_GT.png"


def clean_image(size: int) -> torch.Tensor:
    if F16.is_file():
        from pnp_internal.io import read_image
        x = read_image(F16)
    else:
        import numpy as np
        from skimage import data
        x = torch.from_numpy(data.astronaut().astype(np.float32) / 255).permute(2, 0, 1)[None]
    h, w = x.shape[-2:]
    return x[..., (h - size) // 2:(h - size) // 2 + size, (w - size) // 2:(w - size) // 2 + size].contiguous()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--max-iter", type=int, default=None,
                   help="default: the solver's (1000 with SURE, 2500 with MSE)")
    p.add_argument("--loss", default="auto", choices=["auto", "mse", "sure"])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1 if torch.get_num_threads() <= 2 else torch.get_num_threads())
    x = clean_image(args.size)
    sigma = 25 / 255
    op = dinv.physics.Denoising(dinv.physics.GaussianNoise(sigma))
    y = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(args.seed))
    t = time.perf_counter()
    res = DIP(max_iter=args.max_iter, loss=args.loss, seed=args.seed).solve(y, op, x_true=x)
    secs = time.perf_counter() - t
    hist = res.history["psnr"]
    best = max(range(len(hist)), key=hist.__getitem__)
    print(f"noisy input             {float(psnr(y.clamp(0, 1), x)):.2f} dB")
    print(f"DIP ({res.loss}), ES-WMV stop {float(psnr(res.x.clamp(0, 1), x)):.2f} dB  (iterate "
          f"{res.stop_iter}, ran {res.n_iter} iterations, {secs:.0f} s)")
    print(f"oracle along the run    {hist[best]:.2f} dB  (iterate {best})")
    print(res.message)


if __name__ == "__main__":
    main()
