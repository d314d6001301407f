"""Colour conversions: full-range BT.601 YCbCr (the JPEG convention), exactly invertible.

Super-resolution methods that work on the luminance only (IDBP-CNN: "SR is done on the Y
channel, chroma by bicubic") convert with :func:`rgb_to_ycbcr`, restore channel 0 with a gray
model and convert back with :func:`ycbcr_to_rgb`. Scores on "Y" in the SR literature use
MATLAB's studio-range ``rgb2ycbcr`` instead (:func:`pnp_internal.metrics.rgb_to_y`); the two
lumas are affine functions of each other.

References
----------
ITU-R BT.601; ITU-T T.871 (JPEG File Interchange Format), section 7.
"""

from __future__ import annotations

import torch

__all__ = ["rgb_to_ycbcr", "ycbcr_to_rgb"]

_FWD = ((0.299, 0.587, 0.114),
        (-0.168735892, -0.331264108, 0.5),
        (0.5, -0.418687589, -0.081312411))


def _check(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a (B, 3, H, W) tensor, got {got}")


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] -> YCbCr with Y in [0, 1] and Cb, Cr centred on 0.5."""
    _check(x, "x")
    m = torch.tensor(_FWD, dtype=x.dtype, device=x.device)
    out = torch.einsum("ij,bjhw->bihw", m, x)
    return out + torch.tensor((0.0, 0.5, 0.5), dtype=x.dtype, device=x.device).view(1, 3, 1, 1)


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr`."""
    _check(x, "x")
    m = torch.linalg.inv(torch.tensor(_FWD, dtype=torch.float64)).to(x.dtype).to(x.device)
    shift = torch.tensor((0.0, 0.5, 0.5), dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return torch.einsum("ij,bjhw->bihw", m, x - shift)
