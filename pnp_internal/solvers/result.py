"""What every solver returns (:class:`Result`) and what its callback receives each iteration
(:class:`SolverState`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["Result", "SolverState"]


@dataclass
class Result:
    """Outcome of a solver run.

    Attributes
    ----------
    x : torch.Tensor
        The returned estimate, shape ``(B, C, H, W)``, values nominally in [0, 1].
    n_iter : int
        Number of iterations actually performed.
    converged : bool
        ``True`` when the stopping rule (tolerance, early stop) ended the run, ``False`` when
        the iteration cap or the divergence guard did.
    history : dict of str to list
        Per-iteration records, one list per key, all of length ``n_iter``: ``"seconds"``
        (cumulative wall time), ``"residual"`` (relative change or data misfit), ``"sigma"``
        (denoiser noise level, when the solver has one) and ``"psnr"`` (only when ``x_true``
        was given).
    message : str
        Why the run stopped, in words.
    precision : str
        Arithmetic of the network passes that ran: ``"fp32"`` or ``"bf16"`` (autocast), as
        decided by :func:`pnp_internal.precision.resolve` (``"fp32"`` when no network ran).
    noise_std : float or None
        The noise level the method used ([0, 1] scale): given, read from the operator's noise
        model, or estimated from ``y``.
    method : str
        The method's name (``"ia-idbp"``, ...) when run through :func:`pnp_internal.solve`
        by name, else the solver's class name.
    recipes : dict
        The recipe book's entries the run read, each with every setting
        (:func:`pnp_internal.recipes.reading`); filled in by :func:`pnp_internal.solve`.
    kernel : dict
        When the method chose the kernel itself (``*-kernelgan``, ``*-bicubic``, ``solve(...,
        kernel=...)``): ``{"kernel": (k, k) tensor, "source": how it was chosen, and for an
        estimate "confidence", "degenerate", "seconds"}``; empty otherwise.
    """

    x: torch.Tensor
    n_iter: int
    converged: bool
    history: dict[str, list] = field(default_factory=dict)
    message: str = ""
    precision: str = "fp32"
    noise_std: float | None = None
    method: str = ""
    recipes: dict = field(default_factory=dict)
    kernel: dict = field(default_factory=dict)


@dataclass
class SolverState:
    """What ``callback(state)`` receives after every iteration.

    Attributes
    ----------
    iteration : int
        Number of completed iterations (1 after the first).
    x : torch.Tensor
        The current estimate (do not modify it in place).
    sigma : float or None
        The denoiser level used at this iteration.
    residual : float
        Relative data misfit ``||A x - y|| / ||y||``.
    change : float
        Relative change ``||x_k - x_{k-1}|| / ||x_{k-1}||``.
    psnr : float or None
        PSNR (dB, estimate clipped to [0, 1]) against ``x_true`` when given.
    seconds : float
        Wall time since :meth:`Solver.solve` was called.
    """

    iteration: int
    x: torch.Tensor
    sigma: float | None
    residual: float
    change: float
    psnr: float | None
    seconds: float
