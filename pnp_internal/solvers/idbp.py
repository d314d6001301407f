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

from .base import Solver
from .schedules import IDBPDecay


def _cg_AAt(operator, r: torch.Tensor, eps: float, *, max_iter: int = 100,
            tol: float = 1e-6) -> torch.Tensor:
    """Batched conjugate gradients for ``(A A^T + eps I) z = r`` (one system per batch item)."""

    def apply(v):
        return operator.A(operator.A_adjoint(v)) + eps * v

    def dot(a, b):
        return (a * b).flatten(1).sum(dim=1).view(-1, *([1] * (a.ndim - 1)))

    z = torch.zeros_like(r)
    res = r.clone()
    p = res.clone()
    rr = dot(res, res)
    stop = (tol ** 2) * rr.clamp_min(1e-30)
    for _ in range(max_iter):
        ap = apply(p)
        alpha = rr / dot(p, ap).clamp_min(1e-30)
        z = z + alpha * p
        res = res - alpha * ap
        rr_new = dot(res, res)
        if bool((rr_new <= stop).all()):
            break
        p = res + (rr_new / rr.clamp_min(1e-30)) * p
        rr = rr_new
    return z


def solve_AAt(operator, r: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """``(A A^T + eps I)^{-1} r`` for any linear operator.

    Uses :func:`pnp_internal.operators.base.solve_AAt` (closed forms for the project's
    operators, CG otherwise). Without that module (or for operators it rejects), falls back to
    the SVD form of deepinv's ``DecomposablePhysics`` (e.g. ``Inpainting``, ``Denoising``) and
    to batched conjugate gradients (100 iterations, tolerance 1e-6, as the IDBP authors).
    """
    try:
        from ..operators.base import solve_AAt as shared
    except ImportError:  # operators not available: local fallback
        shared = None
    if shared is not None:
        return shared(operator, r, eps)
    from deepinv.physics import DecomposablePhysics

    if isinstance(operator, DecomposablePhysics) and type(operator).__name__ in (
            "Inpainting", "Denoising", "Demosaicing"):
        mask = operator.mask
        d = (mask * mask if isinstance(mask, float) else (mask.conj() * mask).real) + eps
        z = operator.U_adjoint(r)
        if isinstance(d, float):
            return operator.U(z / d) if d > 0 else torch.zeros_like(r)
        return operator.U(torch.where(d > 0, z / torch.where(d > 0, d, 1.0), 0.0))
    return _cg_AAt(operator, r, eps)


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
    eps : float or "schedule"
        Regulariser :math:`\varepsilon` of the back-projection. ``"schedule"`` uses
        :math:`\varepsilon_k = 1 / \gamma_k` from the schedule, which makes IDBP coincide with
        HQS (see Notes).
    tol, progress, seed, divergence_factor
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
                 eps: float | str = 0.0, tol: float = 1e-5, progress: bool = False,
                 seed: int | None = 0, divergence_factor: float = 100.0):
        if prior is None:
            raise TypeError("IDBP needs a prior (a Prior, a deepinv Denoiser or f(x, sigma))")
        if isinstance(eps, str):
            if eps != "schedule":
                raise ValueError(f"eps must be a number >= 0 or 'schedule', got {eps!r}")
        elif isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0 \
                or not math.isfinite(eps):
            raise ValueError(f"eps must be a finite number >= 0 or 'schedule', got {eps!r}")
        super().__init__(prior, noise_std=noise_std, max_iter=max_iter,
                         schedule=IDBPDecay() if schedule is None else schedule, tol=tol,
                         progress=progress, seed=seed, divergence_factor=divergence_factor)
        self.eps = eps

    def back_project(self, operator, x: torch.Tensor, y: torch.Tensor, eps: float):
        r""":math:`x + A^\top (AA^\top + \varepsilon I)^{-1}(y - Ax)`."""
        return x + operator.A_adjoint(solve_AAt(operator, y - operator.A(x), eps))

    def step(self, it, k, sigma, gamma):
        eps = (1.0 / gamma if gamma and math.isfinite(gamma) else 0.0) \
            if self.eps == "schedule" else float(self.eps)
        x_tilde = self.back_project(it.operator, it.x, it.y, eps)   # x~ = x + A^T(AA^T+eI)^-1(y-Ax)
        it.x = self.denoise(x_tilde, sigma)                         # x  = D(x~, sigma_n + delta_k)
