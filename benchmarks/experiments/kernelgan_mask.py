"""KernelGAN's boundary penalty: the library's smooth mask ``1 - g / max g`` against the paper
code's (scaled by 30, zero inside the outer two-pixel ring), through ``cnn-hqs-kernelgan`` on
``sr-x2-aniso`` (seed 0). Prints one JSON row per image; the library's own rows are those of
the bench record ``blind_sr-x2-aniso_set14``.

    python benchmarks/experiments/kernelgan_mask.py paper ../shared/data/test/set14 [names]
"""

import sys, json, torch
import numpy as np
from pnp_internal.blind import kernelgan
from pnp_internal.operators import kernels
from pnp_internal.bench.runner import run_task, list_images

variant = sys.argv[1]
folder = sys.argv[2]
names = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else None
torch.set_num_threads(1)

def paper_mask(size, scale=30.0):
    g = kernels.gaussian(float(size), size=size).double()
    m = 1 - g / g.max()
    centre = size // 2 + size % 2
    margin = (size - centre) // 2 - 1
    m[margin:-margin, margin:-margin] = 0
    return (scale * m).float()

if variant in ("paper", "paper075"):
    kernelgan._penalty_mask = paper_mask
if variant in ("paper075",):
    def keep(k, n):
        k = k.clamp(min=0)
        if k.numel() > n:
            k = (k - 0.75 * torch.sort(k.flatten(), descending=True).values[n]).clamp(min=0)
        return k / k.sum()
    kernelgan._keep_largest = keep
files = [f.name for f in list_images(folder)] if names is None else names
for name in files:
    r = run_task("sr-x2-aniso", folder, ["cnn-hqs-kernelgan"], names=[name], seed=0, log=None)
    for row in r["rows"]:
        print(json.dumps({"variant": variant, "image": row["image"], "psnr": row["psnr"],
                          "kernel_error": row.get("kernel_error"), "s": row["seconds"]}), flush=True)
