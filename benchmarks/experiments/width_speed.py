"""Inference seconds of DRUNet-lite variants (widths ``nc``, blocks per level ``nb``) on one
256x256 colour image, 2 threads, float32 and bf16 (the issue's bound: 0.5 s on 2 cores).

    python benchmarks/experiments/width_speed.py
"""

import time

import torch

from pnp_internal.priors.cnn import CNNDenoiser

VARIANTS = (((32, 64, 128, 256), 2), ((32, 64, 128, 256), 3), ((32, 64, 128, 256), 4),
            ((48, 96, 192, 384), 2), ((64, 128, 256, 512), 2))


def main() -> None:
    torch.set_num_threads(2)
    x = torch.rand(1, 3, 256, 256)
    for nc, nb in VARIANTS:
        for precision in ("fp32", "bf16"):
            model = CNNDenoiser(3, nc=nc, nb=nb, precision=precision).eval()
            params = sum(p.numel() for p in model.parameters()) / 1e6
            with torch.no_grad():
                for _ in range(2):
                    model(x, 25 / 255)
                t = time.perf_counter()
                for _ in range(5):
                    model(x, 25 / 255)
            print(f"nc {nc} nb {nb}, {params:.2f} M parameters, {precision}: "
                  f"{(time.perf_counter() - t) / 5:.3f} s", flush=True)


if __name__ == "__main__":
    main()
