"""The common result contract of every solver (iterative PnP loops and direct internal methods)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


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
    """

    x: torch.Tensor
    n_iter: int
    converged: bool
    history: dict[str, list] = field(default_factory=dict)
    message: str = ""
