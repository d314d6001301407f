r"""The mean of several priors, each adapted to the image in turn.

Two fine-tunings of the same CNN on the same image that differ only in their random crops,
noise and hold-out (their seeds) end at different weights, and their restorations differ by
up to a few tenths of a dB on one image. The mean of their outputs keeps what both learnt and
halves the variance of what each picked up by chance, as averaging the members of an ensemble
does [1]_; it costs the sum of the adaptations (``benchmarks/notes/off-distribution.md``).

References
----------
.. [1] B. Lakshminarayanan, A. Pritzel, C. Blundell, "Simple and Scalable Predictive
   Uncertainty Estimation using Deep Ensembles", NeurIPS 2017.
"""

from __future__ import annotations

import math

import torch

from .base import AdaptContext, Prior, as_prior

__all__ = ["MeanOfPriors"]


class MeanOfPriors(Prior):
    r"""``mean_k prior_k(x, sigma)``, each prior's adaptation hook called in turn.

    Parameters
    ----------
    priors : sequence of Prior, deepinv Denoiser or callable ``f(x, sigma)``
        At least one; those with an adaptation hook must share their ``adapt_every``. Give
        adapted priors their own seeds (``ImageAdapted(seed=...)``), or they learn the same,
        and their own flips/rotations of the image (``SelfEnsemble(prior,
        transforms=orientation_group(k, n))``, as the SR recipe does; one each costs no
        more calls than none).

    Attributes
    ----------
    reports : list of FinetuneReport
        The reports of every member that keeps them, in order.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.priors import MeanOfPriors
    >>> x = torch.rand(1, 1, 8, 8)
    >>> out = MeanOfPriors([lambda v, s: v, lambda v, s: 0 * v])(x, 0.1)
    >>> torch.allclose(out, 0.5 * x)
    True
    """

    def __init__(self, priors):
        super().__init__()
        members = [as_prior(p) for p in priors]
        if not members:
            raise ValueError("MeanOfPriors needs at least one prior, got none")
        periods = {m.adapt_every for m in members}
        if len(periods) > 1:
            raise ValueError(f"the priors adapt at different periods (adapt_every "
                             f"{sorted(periods, key=str)}); the solver has one schedule: give "
                             "them the same adapt_every")
        self.priors = torch.nn.ModuleList(members)
        self.adapt_every = periods.pop()

    @property
    def name(self) -> str:
        return f"mean of {len(self.priors)}: " + ", ".join(p.name for p in self.priors)

    @property
    def precision_used(self):
        """The arithmetic of the first member that says (``None`` if none does)."""
        return next((u for p in self.priors
                     if (u := getattr(p, "precision_used", None)) is not None), None)

    @property
    def reports(self) -> list:
        return [r for p in self.priors for r in getattr(p, "reports", [])]

    @property
    def seconds(self) -> float:
        """Total wall time the members spent adapting."""
        return math.fsum(getattr(p, "seconds", 0.0) for p in self.priors)

    def adapt(self, context: AdaptContext) -> None:
        for prior in self.priors:
            prior.adapt(context)

    def forward(self, x: torch.Tensor, sigma, *args, **kwargs) -> torch.Tensor:
        total = None
        for prior in self.priors:
            out = prior(x, sigma)
            total = out if total is None else total + out.to(dtype=total.dtype)
        return total / len(self.priors)
