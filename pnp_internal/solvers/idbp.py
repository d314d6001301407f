r"""IDBP: Iterative Denoising and Backward Projections (Tirer & Giryes).

Each iteration back-projects the estimate onto the measurements and denoises:

.. math::

    \tilde x_k &= x_{k-1} + A^\top (A A^\top + \varepsilon I)^{-1} (y - A x_{k-1}),\\
    x_k &= D(\tilde x_k,\ \sigma_n + \delta_k).

With :math:`\varepsilon = 0` the first line is the orthogonal projection of :math:`x_{k-1}` onto
the affine set :math:`\{x : Ax = y\}`; :math:`\varepsilon > 0` regularises it for noisy or
ill-conditioned problems (the authors use 0 for ideal kernels, 0.04-0.05 otherwise). The solve
:math:`(AA^\top + \varepsilon I)^{-1} r` uses the operator's closed form when it has one
(mask, circular blur, circular downsampling, structured CS) and conjugate gradients otherwise,
through :func:`pnp_internal.operators.base.solve_AAt`.
"""

from __future__ import annotations

import math

import torch

from ..operators.base import solve_AAt as shared_solve_AAt
from .base import Solver
from .schedules import IDBPDecay


def solve_AAt(operator, r: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """``(A A^T + eps I)^{-1} r``: :func:`pnp_internal.operators.base.solve_AAt` (closed form
    for the project's operators and deepinv's mask-type physics, CG with 100 iterations and
    tolerance 1e-6, as the IDBP authors, otherwise)."""
    return shared_solve_AAt(operator, r, eps, max_iter=100, tol=1e-6)


class IDBP(Solver):
    r"""Iterative Denoising and Backward Projections [1]_ [2]_.

    Parameters
    ----------
    prior : Prior, deepinv Denoiser or callable
        The denoiser :math:`D(x, \sigma)`.
    noise_std : float
        Noise level :math:`\sigma_n` of ``y`` ([0, 1] scale).
    max_iter : int
        Number of iterations (30 in the authors' super-resolution code).
    schedule : schedule object, optional
        Denoiser levels; default ``IDBPDecay()`` (:math:`\delta` log-spaced from 24/255 to 2/255,
        the authors' setting for x2 super-resolution; use ``IDBPDecay.for_scale(s)`` for factor
        ``s``). Penalties ``gamma`` of the schedule are ignored unless ``eps="schedule"``.
    eps : float, "auto" or "schedule"
        Regulariser :math:`\varepsilon` of the back-projection. ``"auto"`` (default): 0 for
        noiseless ``y`` (exact projection, the authors' choice for ideal kernels) and
        ``noise_std`` otherwise (bounds the noise amplification of ill-conditioned operators
        such as blurs). ``"schedule"`` uses
        :math:`\varepsilon_k = 1 / \gamma_k` from the schedule, which makes IDBP coincide with
        HQS (see Notes).
    tol, progress, seed, divergence_factor, init
        See :class:`~pnp_internal.solvers.base.Solver`.

    Notes
    -----
    The back-projection equals HQS's data step :math:`\operatorname{prox}_{\gamma f}(x)` with
    :math:`\varepsilon = 1/\gamma`, since :math:`(A^\top A + \varepsilon I)^{-1}(A^\top y +
    \varepsilon x) = x + A^\top(AA^\top + \varepsilon I)^{-1}(y - Ax)`. IDBP's difference is a
    fixed, small :math:`\varepsilon` together with the inflated denoiser level
    :math:`\sigma_n + \delta_k`. The returned estimate is the last denoised iterate.

    References
    ----------
    .. [1] T. Tirer, R. Giryes, "Image Restoration by Iterative Denoising and Backward
       Projections", IEEE TIP 28(3):1220-1234, 2019 (arXiv 1710.06647).
    .. [2] T. Tirer, R. Giryes, "Super-Resolution via Image-Adapted Denoising CNNs: Incorporating
       External and Internal Learning", IEEE SPL 26(7), 2019 (arXiv 1811.12866).

    Examples
    --------
    >>> import torch, deepinv as dinv
    >>> from pnp_internal.solvers import IDBP
    >>> from pnp_internal.priors import TV
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <...>
    >>> x = torch.rand(1, 1, 32, 32)
    >>> op = dinv.physics.Inpainting(img_size=(1, 32, 32), mask=0.5, rng=torch.Generator().manual_seed(0))
    >>> res = IDBP(TV(), max_iter=10).solve(op.A(x), op)
    >>> res.n_iter <= 10
    True
    """

    def __init__(self, prior, *, noise_std: float = 0.0, max_iter: int = 30, schedule=None,
                 eps: float | str = "auto", tol: float = 1e-5, progress: bool = False,
                 seed: int | None = 0, divergence_factor: float = 100.0, init: str = "auto"):
        if prior is None:
            raise TypeError("IDBP needs a prior (a Prior, a deepinv Denoiser or f(x, sigma))")
        if isinstance(eps, str):
            if eps not in ("auto", "schedule"):
                raise ValueError(f"eps must be a number >= 0, 'auto' or 'schedule', got {eps!r}")
        elif isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0 \
                or not math.isfinite(eps):
            raise ValueError(f"eps must be a finite number >= 0, 'auto' or 'schedule', got {eps!r}")
        super().__init__(prior, noise_std=noise_std, max_iter=max_iter,
                         schedule=IDBPDecay() if schedule is None else schedule, tol=tol,
                         progress=progress, seed=seed, divergence_factor=divergence_factor,
                         init=init)
        self.eps = eps

    def back_project(self, operator, x: torch.Tensor, y: torch.Tensor, eps: float):
        r""":math:`x + A^\top (AA^\top + \varepsilon I)^{-1}(y - Ax)`."""
        return x + operator.A_adjoint(solve_AAt(operator, y - operator.A(x), eps))

    def step(self, it, k, sigma, gamma):
        if self.eps == "schedule":
            eps = 1.0 / gamma if gamma and math.isfinite(gamma) else 0.0
        elif self.eps == "auto":
            eps = self.noise_std
        else:
            eps = float(self.eps)
        x_tilde = self.back_project(it.operator, it.x, it.y, eps)   # x~ = x + A^T(AA^T+eI)^-1(y-Ax)
        it.x = self.denoise(x_tilde, sigma)                         # x  = D(x~, sigma_n + delta_k)
