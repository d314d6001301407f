r"""Plug-and-play ADMM (Venkatakrishnan, Bouman & Wohlberg; Chan, Wang & Elgendy).

Scaled-form ADMM on :math:`\min_x f(x) + g(v)` s.t. :math:`x = v`, with
:math:`f(x) = \tfrac12\|Ax - y\|^2` and the proximal step of :math:`g` replaced by a denoiser:

.. math::

    x_k &= \operatorname{prox}_{\gamma_k f}(v_{k-1} - u_{k-1}),\\
    v_k &= D(x_k + u_{k-1}, \sigma_k),\\
    u_k &= u_{k-1} + x_k - v_k.

:math:`\gamma_k` is the inverse of the augmented-Lagrangian penalty :math:`\rho_k`; when it
changes between iterations the scaled dual is rescaled, :math:`u \leftarrow u\,\gamma_{k}/\gamma_{k-1}`
(Boyd et al. 2011, sec. 3.4.1), so that the unscaled multiplier is continuous. The returned
estimate is :math:`v` (the denoised variable).
"""

from __future__ import annotations

import torch

from .base import Solver
from .hqs import check_penalties
from .schedules import DPIR


class ADMM(Solver):
    r"""Plug-and-play ADMM [1]_ [2]_ with the operator's ``prox_l2`` as data step.

    Parameters
    ----------
    prior : Prior, deepinv Denoiser or callable
        The denoiser :math:`D(x, \sigma)`.
    noise_std : float
        Noise level :math:`\sigma_n` of ``y`` ([0, 1] scale).
    max_iter : int
        Number of iterations.
    schedule : schedule object, optional
        Denoiser levels and penalties :math:`\gamma_k = 1/\rho_k`; default
        :class:`~pnp_internal.solvers.schedules.DPIR` (a continuation: :math:`\rho_k` grows as
        :math:`\sigma_k` decays, as in Chan et al.); ``Constant(sigma, gamma)`` gives classical
        PnP-ADMM.
    tol, progress, seed, divergence_factor, init
        See :class:`~pnp_internal.solvers.base.Solver`.

    References
    ----------
    .. [1] S. V. Venkatakrishnan, C. A. Bouman, B. Wohlberg, "Plug-and-Play Priors for Model Based
       Reconstruction", GlobalSIP 2013.
    .. [2] S. H. Chan, X. Wang, O. A. Elgendy, "Plug-and-Play ADMM for Image Restoration:
       Fixed-Point Convergence and Applications", IEEE TCI 3(1), 2017.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.solvers import ADMM
    >>> from pnp_internal.priors import TV
    >>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> from pnp_internal import operators
    >>> op = operators.Blur(operators.kernels.gaussian(1.0), img_shape=(1, 32, 32))
    >>> res = ADMM(TV(), noise_std=0.01, max_iter=10).solve(op.A(x), op)
    >>> res.x.shape
    torch.Size([1, 1, 32, 32])
    """

    def __init__(self, prior, *, noise_std: float = 0.0, max_iter: int = 20, schedule=None,
                 tol: float = 1e-5, progress: bool = False, seed: int | None = 0,
                 divergence_factor: float = 100.0, init: str = "auto"):
        if prior is None:
            raise TypeError("ADMM needs a prior (a Prior, a deepinv Denoiser or f(x, sigma))")
        super().__init__(prior, noise_std=noise_std, max_iter=max_iter,
                         schedule=DPIR() if schedule is None else schedule, tol=tol,
                         progress=progress, seed=seed, divergence_factor=divergence_factor,
                         init=init)
        check_penalties("ADMM", self.schedule, max_iter, self.noise_std)

    def setup(self, it):
        it.u = torch.zeros_like(it.x)   # scaled dual variable
        it.gamma = None                 # previous penalty, to rescale u when it changes

    def step(self, it, k, sigma, gamma):
        if it.gamma is not None and gamma != it.gamma:
            it.u = it.u * (gamma / it.gamma)
        it.gamma = gamma
        x = it.operator.prox_l2(it.x - it.u, it.y, gamma)   # x_k = prox_{gamma f}(v - u)
        v = self.denoise(x + it.u, sigma)                   # v_k = D(x_k + u, sigma_k)
        it.u = it.u + x - v                                 # u_k = u + x_k - v_k
        it.x = v
