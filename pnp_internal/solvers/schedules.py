r"""Per-iteration parameter schedules for the plug-and-play solvers.

A schedule is a small frozen dataclass called as ``schedule(n_iter, noise_std)``; it returns two
lists of length ``n_iter``: the denoiser noise levels :math:`\sigma_k` ([0, 1] scale) and the
data-step penalties :math:`\gamma_k` in deepinv's ``prox_l2`` convention,

.. math::

    \operatorname{prox}_{\gamma f}(z) = \arg\min_x \tfrac12\|Ax-y\|^2 + \tfrac{1}{2\gamma}\|x-z\|^2 .

Schedules
---------
:class:`Constant`
    :math:`\sigma_k = \sigma`, :math:`\gamma_k = \gamma` (classical PnP-ADMM / HQS).
:class:`DPIR`
    The DPIR schedule [1]_: :math:`\sigma_k` log-spaced from :math:`\sigma_1 = 49/255` down to the
    noise level, and the matching penalty. DPIR's HQS data step is
    :math:`\arg\min_x \|y - Ax\|^2 + \mu_k\sigma_n^2\|x - z\|^2` with
    :math:`\mu_k = \lambda / \sigma_k^2` (so the weight is :math:`\alpha_k = \lambda\sigma_n^2/\sigma_k^2`,
    ``rhos`` in the authors' code, :math:`\lambda = 0.23`). Dividing by 2 and matching with the
    convention above gives

    .. math:: \gamma_k = \frac{1}{\alpha_k} = \frac{\sigma_k^2}{\lambda\,\sigma_n^2},

    with :math:`\sigma_n` floored at 0.255/255 (as DPIR does) so noiseless problems stay finite.
:class:`IDBPDecay`
    IDBP's [2]_ noise levels :math:`\sigma_k = \sigma_n + \delta_k` with :math:`\delta_k`
    log-spaced from ``delta_start`` to ``delta_end``; for super-resolution by a factor ``s`` the
    authors use :math:`\delta` from ``12 s`` down to ``s`` on the 0-255 scale
    (:meth:`IDBPDecay.for_scale`). IDBP has no penalty: its :math:`\gamma_k` are ``inf``.

References
----------
.. [1] K. Zhang, Y. Li, W. Zuo, L. Zhang, L. Van Gool, R. Timofte, "Plug-and-Play Image
   Restoration with Deep Denoiser Prior", IEEE TPAMI 44(10), 2022.
.. [2] T. Tirer, R. Giryes, "Image Restoration by Iterative Denoising and Backward Projections",
   IEEE TIP 28(3), 2019 (arXiv 1710.06647); "Super-Resolution via Image-Adapted Denoising CNNs:
   Incorporating External and Internal Learning", IEEE SPL 2019.

Examples
--------
>>> from pnp_internal.solvers.schedules import DPIR
>>> sigmas, gammas = DPIR()(8, noise_std=2.55 / 255)
>>> round(sigmas[0] * 255, 2), round(sigmas[-1] * 255, 2)
(49.0, 2.55)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: DPIR's floor on the noise level used in the penalty (0.255 on the 0-255 scale).
NOISE_FLOOR = 0.255 / 255


def logspace(start: float, end: float, n: int) -> list[float]:
    """``n`` values from ``start`` to ``end`` (both > 0), equally spaced in log scale."""
    if n == 1:
        return [float(start)]
    a, b = math.log(start), math.log(end)
    return [math.exp(a + (b - a) * k / (n - 1)) for k in range(n)]


def _check_n(n_iter: int, noise_std: float) -> None:
    if not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be an int >= 1, got {n_iter!r}")
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0 (on the [0, 1] scale), got {noise_std}")


def _positive(name: str, value, *, allow_none=False, allow_zero=False) -> None:
    if value is None and allow_none:
        return
    if value is None or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")


@dataclass(frozen=True)
class Constant:
    """Constant denoiser level and penalty.

    Parameters
    ----------
    sigma : float or None
        Denoiser noise level ([0, 1] scale); ``None`` uses the measurement noise level.
    gamma : float
        Data-step penalty in deepinv's ``prox_l2`` convention (see the module docstring).
    """

    sigma: float | None = None
    gamma: float = 1.0

    def __post_init__(self):
        _positive("sigma", self.sigma, allow_none=True, allow_zero=True)
        _positive("gamma", self.gamma)

    def __call__(self, n_iter: int, noise_std: float = 0.0) -> tuple[list[float], list[float]]:
        _check_n(n_iter, noise_std)
        s = float(noise_std if self.sigma is None else self.sigma)
        return [s] * n_iter, [float(self.gamma)] * n_iter


@dataclass(frozen=True)
class DPIR:
    """DPIR's log-spaced decay of the denoiser level with the matching HQS penalty [1]_.

    Parameters
    ----------
    sigma_start : float
        First denoiser level, 49/255 in DPIR.
    sigma_end : float or None
        Last denoiser level; ``None`` uses ``max(noise_std, floor)`` (DPIR deblurring ends at the
        noise level; DPIR super-resolution ends at ``max(noise_std, s / 255)``).
    lam : float
        DPIR's :math:`\\lambda` (0.23) tying the penalty to :math:`\\sigma_k`.
    floor : float
        Lower bound of the noise level used both in the penalty and as the default end level.
    """

    sigma_start: float = 49.0 / 255
    sigma_end: float | None = None
    lam: float = 0.23
    floor: float = NOISE_FLOOR

    def __post_init__(self):
        _positive("sigma_start", self.sigma_start)
        _positive("sigma_end", self.sigma_end, allow_none=True)
        _positive("lam", self.lam)
        _positive("floor", self.floor)

    def __call__(self, n_iter: int, noise_std: float = 0.0) -> tuple[list[float], list[float]]:
        _check_n(n_iter, noise_std)
        noise = max(float(noise_std), self.floor)
        end = noise if self.sigma_end is None else float(self.sigma_end)
        sigmas = logspace(self.sigma_start, end, n_iter)
        gammas = [s * s / (self.lam * noise * noise) for s in sigmas]
        return sigmas, gammas


@dataclass(frozen=True)
class IDBPDecay:
    """IDBP's denoiser levels :math:`\\sigma_n + \\delta_k`, :math:`\\delta_k` log-spaced [2]_.

    Parameters
    ----------
    delta_start, delta_end : float
        First and last :math:`\\delta` ([0, 1] scale); equal values give a constant :math:`\\delta`.
    """

    delta_start: float = 12.0 * 2 / 255
    delta_end: float = 2.0 / 255

    def __post_init__(self):
        _positive("delta_start", self.delta_start)
        _positive("delta_end", self.delta_end)

    @classmethod
    def for_scale(cls, scale: int) -> "IDBPDecay":
        """The authors' super-resolution setting: :math:`\\delta` from ``12 s`` to ``s`` / 255."""
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale!r}")
        return cls(12.0 * scale / 255, float(scale) / 255)

    def __call__(self, n_iter: int, noise_std: float = 0.0) -> tuple[list[float], list[float]]:
        _check_n(n_iter, noise_std)
        sigmas = [float(noise_std) + d for d in logspace(self.delta_start, self.delta_end, n_iter)]
        return sigmas, [math.inf] * n_iter


def resolve(schedule, n_iter: int, noise_std: float) -> tuple[list[float], list[float]]:
    """Evaluate ``schedule`` (any callable ``(n_iter, noise_std) -> (sigmas, gammas)``) and check it."""
    if not callable(schedule):
        raise TypeError(
            f"schedule must be a schedule object such as Constant(), DPIR() or IDBPDecay(), "
            f"got {type(schedule).__name__}"
        )
    sigmas, gammas = schedule(n_iter, noise_std)
    sigmas, gammas = [float(s) for s in sigmas], [float(g) for g in gammas]
    if len(sigmas) != n_iter or len(gammas) != n_iter:
        raise ValueError(
            f"schedule {schedule!r} returned {len(sigmas)} sigmas and {len(gammas)} gammas for "
            f"{n_iter} iterations; expected {n_iter} of each"
        )
    if any(s < 0 or not math.isfinite(s) for s in sigmas):
        raise ValueError(f"schedule {schedule!r} gave a negative or non-finite sigma: {sigmas}")
    return sigmas, gammas
