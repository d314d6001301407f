"""Inpainting mask builders and loaders.

A mask is a float32 tensor of zeros and ones, 1 = known (observed) pixel, 0 = missing. The
builders return ``(H, W)`` masks (the same for every channel); :class:`Inpainting` also accepts
``(C, H, W)`` masks. ``img_shape`` may be ``(H, W)`` or ``(C, H, W)``.

Examples
--------
>>> from pnp_internal.operators import masks
>>> m = masks.random_mask(0.5, img_shape=(3, 32, 32), seed=0)
>>> m.shape, float(m.mean())
(torch.Size([32, 32]), 0.5)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["from_array", "load", "random_mask", "text_mask", "block_mask", "check_mask"]


def _hw(img_shape) -> tuple[int, int]:
    try:
        shape = tuple(int(s) for s in img_shape)
    except (TypeError, ValueError):
        raise TypeError(f"img_shape must be (H, W) or (C, H, W), got {img_shape!r}") from None
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"img_shape must be (H, W) or (C, H, W) of positive ints, got "
                         f"{img_shape!r}")
    return shape[-2], shape[-1]


def check_mask(mask: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Raise ``ValueError`` unless ``mask`` is a non-empty 0/1 array with a known pixel."""
    if mask.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(mask.shape)}); expected (H, W) or "
                         "(C, H, W)")
    if not bool(torch.isfinite(mask).all()):
        raise ValueError(f"{name} holds NaN/Inf values; expected zeros and ones")
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(f"{name} must hold only 0 (missing) and 1 (known), got values in "
                         f"[{float(mask.min()):g}, {float(mask.max()):g}]; binarise it, e.g. "
                         "mask > 0.5")
    if not bool(mask.any()):
        raise ValueError(f"{name} is all zeros: no pixel is known (1 = known, 0 = missing)")
    return mask


def from_array(array, *, img_shape=None) -> torch.Tensor:
    """A mask from a boolean or 0/1 array ``(H, W)`` or ``(C, H, W)``, checked against
    ``img_shape`` when given."""
    if isinstance(array, torch.Tensor):
        m = array.detach().to("cpu")
    else:
        m = torch.as_tensor(np.asarray(array))
    m = check_mask(m.to(torch.float32))
    if m.ndim not in (2, 3):
        raise ValueError(f"mask must be (H, W) or (C, H, W), got shape {tuple(m.shape)}")
    if img_shape is not None and tuple(m.shape[-2:]) != _hw(img_shape):
        raise ValueError(f"mask: expected spatial size {_hw(img_shape)} from img_shape="
                         f"{tuple(img_shape)}, got {tuple(m.shape[-2:])}")
    return m


def load(path, *, img_shape=None, threshold: float = 0.5) -> torch.Tensor:
    """A mask from an image file: white (gray value > ``threshold`` on [0, 1]) = known.

    Raises ``OSError`` for a missing or unreadable file.
    """
    from PIL import Image

    path = Path(os.fspath(path))
    if not path.is_file():
        raise OSError(f"mask file {str(path)!r} does not exist")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("1", "L", "F", "I") and not im.mode.startswith("I;16"):
                im = im.convert("L")
            mode_max = 65535.0 if im.mode.startswith("I") else 255.0
            arr = np.asarray(im if im.mode == "1" else im.convert("F"), np.float64)
    except OSError as exc:
        raise OSError(f"cannot read the mask image {str(path)!r}: {exc}") from exc
    if arr.dtype != bool and arr.max() > 1:
        arr = arr / mode_max
    return from_array(arr > threshold, img_shape=img_shape)


def random_mask(ratio: float, *, img_shape, seed: int | None = 0) -> torch.Tensor:
    """Exactly ``round(ratio * H * W)`` known pixels drawn uniformly at random.

    Parameters
    ----------
    ratio : float
        Fraction of known (kept) pixels, in (0, 1]; ``inpaint-50`` is ``ratio=0.5``.
    img_shape : tuple
        ``(H, W)`` or ``(C, H, W)``.
    seed : int or None
        Seed of the private generator (``None``: torch's global one).
    """
    if not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise ValueError(f"ratio (fraction of known pixels) must be in (0, 1], got {ratio!r}")
    h, w = _hw(img_shape)
    n_keep = max(1, round(ratio * h * w))
    gen = None if seed is None else torch.Generator().manual_seed(int(seed))
    idx = torch.randperm(h * w, generator=gen)[:n_keep]
    m = torch.zeros(h * w)
    m[idx] = 1.0
    return m.reshape(h, w)


def text_mask(text: str, *, img_shape, font_size: int | None = None,
              line_spacing: float = 1.5) -> torch.Tensor:
    """Text overlaid on the image (missing pixels), repeated line after line.

    Uses Pillow's default font (``ImageFont.load_default``, scalable when FreeType is
    available). ``font_size`` defaults to ``max(8, H // 10)``.
    """
    from PIL import Image, ImageDraw, ImageFont

    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    h, w = _hw(img_shape)
    size = font_size or max(8, h // 10)
    try:
        font = ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError, ImportError):  # old Pillow or no FreeType
        font = ImageFont.load_default()
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    step = max(1, int(size * line_spacing))
    line = (text + "  ") * (1 + w // max(1, size))
    for i, top in enumerate(range(step // 4, h, step)):
        draw.text((-(i * size) % max(1, size * 3), top), line, fill=0, font=font)
    m = torch.from_numpy(np.asarray(img) > 127).to(torch.float32)
    return check_mask(m, "text_mask")


def block_mask(size, *, img_shape, n_blocks: int = 1, seed: int | None = None) -> torch.Tensor:
    """Missing rectangular blocks.

    Parameters
    ----------
    size : int or (int, int)
        Block height and width in pixels.
    img_shape : tuple
        ``(H, W)`` or ``(C, H, W)``.
    n_blocks : int
        Number of blocks. With ``n_blocks=1`` and ``seed=None`` the block is centred;
        otherwise the top-left corners are drawn at random (blocks may overlap).
    seed : int or None
        Seed of the random positions.
    """
    h, w = _hw(img_shape)
    if isinstance(size, int):
        size = (size, size)
    bh, bw = (int(s) for s in size)
    if not (1 <= bh <= h and 1 <= bw <= w):
        raise ValueError(f"block size {size} must be at least 1 and fit in the image {h}x{w}")
    if not isinstance(n_blocks, int) or n_blocks < 1:
        raise ValueError(f"n_blocks must be a positive int, got {n_blocks!r}")
    m = torch.ones(h, w)
    if n_blocks == 1 and seed is None:
        tops, lefts = [(h - bh) // 2], [(w - bw) // 2]
    else:
        gen = torch.Generator().manual_seed(int(seed or 0))
        tops = torch.randint(0, h - bh + 1, (n_blocks,), generator=gen).tolist()
        lefts = torch.randint(0, w - bw + 1, (n_blocks,), generator=gen).tolist()
    for t, l in zip(tops, lefts):
        m[t:t + bh, l:l + bw] = 0.0
    return check_mask(m, "block_mask")
