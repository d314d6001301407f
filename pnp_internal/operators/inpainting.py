"""Inpainting (pixel masking) operator."""

from __future__ import annotations

import os

import torch

from . import masks as _masks
from .base import Operator, as_shape

__all__ = ["Inpainting", "fill_missing"]


def fill_missing(y: torch.Tensor, mask: torch.Tensor, *, max_sigma: float = 64.0) -> torch.Tensor:
    r"""Fill the missing pixels of ``y`` by normalised convolution (a smooth interpolation).

    Each missing pixel gets the Gaussian-weighted mean of the known pixels around it,
    :math:`(g_s * (m y)) / (g_s * m)`, with the smallest width :math:`s \in \{1, 2, 4, \dots\}`
    at which the known pixels carry enough weight (so random masks are filled locally and large
    holes from further away); pixels still unreached by ``max_sigma`` get the mean of the known
    ones. Known pixels are kept. This is the initial estimate of the plug-and-play solvers for
    inpainting: a denoiser cannot repair the zeros of ``A^+ y``, which are far outside the
    Gaussian noise it was trained on.

    Parameters
    ----------
    y : torch.Tensor
        ``(B, C, H, W)`` measurement (missing pixels arbitrary).
    mask : torch.Tensor
        Binary mask broadcastable to ``y`` (1 = known).
    max_sigma : float
        Largest Gaussian width tried, in pixels.

    References
    ----------
    H. Knutsson, C.-F. Westin, "Normalized and differential convolution", CVPR 1993.
    """
    import torchvision.transforms.functional as TF

    m = (mask > 0.5).to(y.dtype).expand_as(y)
    if not bool(m.any()):
        raise ValueError("the mask keeps no pixel: there is nothing to interpolate from")
    known = m.bool()
    out = torch.where(known, y, torch.zeros_like(y))
    todo = ~known
    s = 1.0
    flat_m, flat_ym = m.flatten(0, 1)[:, None], (y * m).flatten(0, 1)[:, None]
    while bool(todo.any()) and s <= max_sigma:
        k = min(2 * int(3 * s) + 1, 2 * (min(y.shape[-2:]) // 2) - 1)
        w = TF.gaussian_blur(flat_m, [k, k], [s, s]).view_as(y)
        v = TF.gaussian_blur(flat_ym, [k, k], [s, s]).view_as(y)
        ok = todo & (w > 0.05)
        out = torch.where(ok, v / w.clamp_min(1e-8), out)
        todo = todo & ~ok
        s *= 2
    if bool(todo.any()):
        mean = (y * m).sum((-2, -1), keepdim=True) / m.sum((-2, -1), keepdim=True).clamp_min(1)
        out = torch.where(todo, mean.expand_as(y), out)
    return out


class Inpainting(Operator):
    r"""Masking ``y = m * x`` with a binary mask ``m`` (1 = known pixel, 0 = missing).

    The measurement keeps the full image shape, missing pixels set to zero (as deepinv's
    ``Inpainting``), so ``meas_shape == img_shape`` and ``A = A^T = diag(m)``.

    Parameters
    ----------
    mask : torch.Tensor, numpy.ndarray, str or os.PathLike
        ``(H, W)`` (all channels) or ``(C, H, W)`` array of zeros and ones, or the path of a
        mask image (white = known), see :mod:`pnp_internal.operators.masks`.
    img_shape : tuple of int
        ``(C, H, W)``.

    Notes
    -----
    ``A A^T = diag(m)``, so ``solve_AAt(r, eps) = r / (1 + eps)`` on the known entries and
    ``r / eps`` on the missing ones (``0`` there when ``eps = 0``: the pseudo-inverse), the
    pseudo-inverse is ``A^+ y = m * y`` and
    ``prox_l2(z, y, gamma) = z + m * (y - z) * gamma / (1 + gamma)``.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.operators import Inpainting, masks
    >>> op = Inpainting(masks.random_mask(0.5, img_shape=(32, 32), seed=0),
    ...                 img_shape=(3, 32, 32))
    >>> y = op.measure(torch.rand(1, 3, 32, 32), noise_std=0.01, seed=0)
    """

    def __init__(self, mask, *, img_shape):
        img_shape = as_shape(img_shape)
        if isinstance(mask, (str, os.PathLike)):
            m = _masks.load(mask, img_shape=img_shape)
        else:
            m = _masks.from_array(mask, img_shape=img_shape)
        if m.ndim == 3 and m.shape[0] != img_shape[0]:
            raise ValueError(f"mask: expected {img_shape[0]} channels (or a 2-D mask) for "
                             f"img_shape={img_shape}, got shape {tuple(m.shape)}")
        if m.ndim == 2:
            m = m[None]
        super().__init__(img_shape=img_shape, meas_shape=img_shape)
        self.register_buffer("mask", m.to(torch.float32))

    @property
    def ratio(self) -> float:
        """Fraction of known entries."""
        return float(self.mask.mean())

    def _A(self, x):
        return x * self.mask

    def _At(self, y):
        return y * self.mask

    def _closed_solve_AAt(self, r, eps, rcond):
        if eps > 0:
            return r / (self.mask + eps)
        return r * self.mask

    def _closed_prox(self, z, y, gamma):
        return z + self.mask * (y - z) * (gamma / (1.0 + gamma))

    def interpolate(self, y: torch.Tensor) -> torch.Tensor:
        """Smooth interpolation of the missing pixels (:func:`fill_missing`), known ones kept."""
        return fill_missing(y, self.mask)

    def extra_repr(self) -> str:
        return f"known={self.ratio:.3f}, " + super().extra_repr()
