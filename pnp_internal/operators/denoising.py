"""Identity operator (denoising)."""

from __future__ import annotations

from .base import Operator, as_shape


class Denoising(Operator):
    r"""Identity ``y = x`` (the noise comes from :meth:`measure` or a deepinv noise model).

    Parameters
    ----------
    img_shape : tuple of int
        ``(C, H, W)``.

    Notes
    -----
    ``solve_AAt(r, eps) = r / (1 + eps)``, ``A_dagger(y) = y`` and
    ``prox_l2(z, y, gamma) = (z + gamma y) / (1 + gamma)``.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.operators import Denoising
    >>> op = Denoising(img_shape=(1, 8, 8))
    >>> y = op.measure(torch.zeros(1, 1, 8, 8), noise_std=0.1, seed=0)
    """

    def __init__(self, *, img_shape):
        img_shape = as_shape(img_shape)
        super().__init__(img_shape=img_shape, meas_shape=img_shape)

    def _A(self, x):
        return x.clone()

    def _At(self, y):
        return y.clone()

    def _closed_solve_AAt(self, r, eps, rcond):
        return r / (1.0 + eps)

    def _closed_prox(self, z, y, gamma):
        return (z + gamma * y) / (1.0 + gamma)
