r"""Plug-and-play half-quadratic splitting (HQS), as in DPIR (Zhang et al.).

Each iteration takes a data step and a denoising step:

.. math::

    x_k &= \operatorname{prox}_{\gamma_k f}(z_{k-1})
         = \arg\min_x \tfrac12\|Ax - y\|^2 + \tfrac{1}{2\gamma_k}\|x - z_{k-1}\|^2,\\
    z_k &= D(x_k, \sigma_k).

The data step is the operator's ``prox_l2(z, y, gamma)`` (deepinv's convention, closed form
where the operator has one). With the default :class:`~pnp_internal.solvers.schedules.DPIR`
schedule, :math:`\sigma_k` decays log-spaced from 49/255 to the noise level and
:math:`\gamma_k = \sigma_k^2 / (\lambda \sigma_n^2)`, :math:`\lambda = 0.23` (DPIR's
:math:`\alpha_k = \lambda\sigma_n^2/\sigma_k^2` is :math:`1/\gamma_k`).
"""

from __future__ import annotations

import math

from .base import Solver
from .schedules import DPIR, resolve


def check_penalties(solver, schedule, max_iter, noise_std) -> None:
    """Raise ``ValueError`` unless every penalty of ``schedule`` is finite and > 0."""
    _, gammas = resolve(schedule, max_iter, noise_std)
    if any(not (g > 0 and math.isfinite(g)) for g in gammas):
        raise ValueError(
            f"{solver} needs finite penalties gamma > 0 from its schedule; {schedule!r} gives "
            f"{gammas[:3]}...; use schedules.DPIR() or schedules.Constant(sigma, gamma=...)")


class HQS(Solver):
    r"""Plug-and-play half-quadratic splitting [1]_ (DPIR's iteration without the augmentation).

    Parameters
    ----------
    prior : Prior, deepinv Denoiser or callable
        The denoiser :math:`D(x, \sigma)`.
    noise_std : float
        Noise level :math:`\sigma_n` of ``y`` ([0, 1] scale).
    max_iter : int
        Number of iterations (DPIR: 8 for deblurring, 24 for super-resolution).
    schedule : schedule object, optional
        Denoiser levels and penalties; default :class:`~pnp_internal.solvers.schedules.DPIR`.
    tol, progress, seed, divergence_factor, init
        See :class:`~pnp_internal.solvers.base.Solver`.

    References
    ----------
    .. [1] K. Zhang, Y. Li, W. Zuo, L. Zhang, L. Van Gool, R. Timofte, "Plug-and-Play Image
       Restoration with Deep Denoiser Prior", IEEE TPAMI 44(10):6360-6376, 2022.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.solvers import HQS
    >>> from pnp_internal.priors import TV
    >>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> from pnp_internal import operators
    >>> op = operators.Blur(operators.kernels.gaussian(1.0), img_shape=(1, 32, 32))
    >>> res = HQS(TV(), noise_std=0.01, max_iter=8).solve(op.A(x), op)
    >>> res.n_iter
    8
    """

    def __init__(self, prior, *, noise_std: float = 0.0, max_iter: int = 8, schedule=None,
                 tol: float = 1e-5, progress: bool = False, seed: int | None = 0,
                 divergence_factor: float = 100.0, init: str = "auto"):
        if prior is None:
            raise TypeError("HQS needs a prior (a Prior, a deepinv Denoiser or f(x, sigma))")
        super().__init__(prior, noise_std=noise_std, max_iter=max_iter,
                         schedule=DPIR() if schedule is None else schedule, tol=tol,
                         progress=progress, seed=seed, divergence_factor=divergence_factor,
                         init=init)
        check_penalties("HQS", self.schedule, max_iter, self.noise_std)

    def step(self, it, k, sigma, gamma):
        x = it.operator.prox_l2(it.x, it.y, gamma)   # x_k = prox_{gamma f}(z_{k-1})
        it.x = self.denoise(x, sigma)                 # z_k = D(x_k, sigma_k)
