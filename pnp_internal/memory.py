"""How much memory a restoration needs, and the tile size that makes a large image fit.

The costs per pixel are the recipe book's :data:`~pnp_internal.recipes.MEMORY_PER_PIXEL`;
the free memory is read from the system (``MemAvailable`` on Linux) or from the GPU.
"""

from __future__ import annotations

import os

import torch

from . import recipes

__all__ = ["available_bytes", "needed_bytes", "auto_tile", "check_fits", "gigabytes"]


def gigabytes(n: float) -> str:
    return f"{n / 2**30:.1f} GB"


def available_bytes(device="cpu") -> int:
    """Free memory on ``device``: the GPU's free memory, or the system's available RAM."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def needed_bytes(family: str, pixels: int, precision: str = "fp32") -> int:
    """Peak bytes of ``family`` (a key of ``MEMORY_PER_PIXEL``) on ``pixels`` output pixels."""
    per_pixel = recipes.MEMORY_PER_PIXEL.value[family]
    if family == "cnn" and precision == "bf16":
        per_pixel //= 2
    return int(per_pixel * pixels)


def auto_tile(height: int, width: int, *, device="cpu", precision: str = "fp32",
              free: int | None = None) -> int | None:
    """The tile side for CNN passes on a ``height`` x ``width`` image, ``None`` when the whole
    image fits in :data:`~pnp_internal.recipes.TILE`'s share of the free memory."""
    cfg = recipes.TILE.value
    budget = cfg["budget"] * (available_bytes(device) if free is None else free)
    if needed_bytes("cnn", height * width, precision) <= budget:
        return None
    side = int((budget / needed_bytes("cnn", 1, precision)) ** 0.5) - 2 * cfg["margin"]
    side = min(cfg["max_tile"], side - side % 16)
    if side < 64:
        raise MemoryError(f"only {gigabytes(budget / cfg['budget'])} free on {device}: not "
                          "enough for a 64 px tile of the CNN; free memory or use a smaller image")
    return side


def check_fits(family: str, method: str, shape, *, device="cpu", precision: str = "fp32",
               free: int | None = None) -> None:
    """Refuse, before any work, an image that a method which cannot tile would not fit.

    Raises
    ------
    MemoryError
        Naming the method, the size it would need, what is free, and what to do instead.
    """
    pixels = int(shape[-1]) * int(shape[-2])
    need = needed_bytes(family, pixels, precision)
    free = available_bytes(device) if free is None else free
    if need > free:
        raise MemoryError(
            f"{method} cannot restore in tiles, and a {shape[-2]}x{shape[-1]} image needs about "
            f"{gigabytes(need)} with it where {gigabytes(free)} is free on {device}: crop or "
            "downscale the image, or use a CNN method (they tile: cnn-hqs, ia-idbp, cnn-admm)")
