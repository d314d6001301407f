"""The noise level of an image, estimated with deepinv's estimators.

:func:`estimate_noise_std` is what :func:`pnp_internal.solve` and ``pnp-internal restore
--noise auto`` use when the noise level is not given. Its accuracy per noise level is
measured by ``benchmarks/experiments/noise_estimation.py`` (record ``noise-estimation``).
"""

from __future__ import annotations

import torch

__all__ = ["estimate_noise_std"]


def estimate_noise_std(y: torch.Tensor) -> float:
    """The standard deviation of white Gaussian noise in ``y`` ([0, 1] scale).

    Parameters
    ----------
    y : torch.Tensor
        A noisy image ``(1, C, H, W)`` in [0, 1].

    Returns
    -------
    float
        The estimate of deepinv's :class:`~deepinv.models.PatchCovarianceNoiseEstimator`
        (Chen, Zhu & Heng, "An Efficient Statistical Method for Image Noise Level
        Estimation", ICCV 2015).

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.noise import estimate_noise_std
    >>> x = torch.linspace(0, 1, 128).repeat(1, 1, 128, 1)
    >>> y = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    >>> round(estimate_noise_std(y), 2)
    0.1
    """
    import deepinv as dinv

    with torch.no_grad():
        return float(dinv.models.PatchCovarianceNoiseEstimator()(y.float()).flatten()[0])
