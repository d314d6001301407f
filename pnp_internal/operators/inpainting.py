"""Inpainting (pixel masking) operator."""

from __future__ import annotations

import os

import torch

from . import masks as _masks
from .base import Operator, as_shape


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

    def extra_repr(self) -> str:
        return f"known={self.ratio:.3f}, " + super().extra_repr()
