r"""The weighted mean of two denoisers whose errors differ.

A CNN of bounded receptive field and a non-local method such as CBM3D [1]_ fail on different
images: the CNN where the image's repeats (windows of a facade, tiles, screentone) carry the
information, CBM3D on texture and fine detail. Their weighted mean is closer to the clean
image than either where they disagree, and costs the sum of the two (``benchmarks/notes/cnn.md``).

References
----------
.. [1] K. Dabov, A. Foi, V. Katkovnik, K. Egiazarian, "Color Image Denoising via Sparse 3D
   Collaborative Filtering with Grouping Constraint in Luminance-Chrominance Space", ICIP 2007.
"""

from __future__ import annotations

import torch

from .base import WrappedPrior, as_prior

__all__ = ["Blend"]


class Blend(WrappedPrior):
    r"""``weight * prior(x, sigma) + (1 - weight) * other(x, sigma)``.

    Parameters
    ----------
    prior : Prior, deepinv Denoiser or callable ``f(x, sigma)``
        The first denoiser; its adaptation hook and arithmetic are kept.
    other : Prior, deepinv Denoiser or callable ``f(x, sigma)``
        The second denoiser (for example :class:`~pnp_internal.priors.BM3D`).
    weight : float
        The weight of ``prior``, in [0, 1].

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.priors import Blend
    >>> x = torch.rand(1, 1, 8, 8)
    >>> out = Blend(lambda v, s: v, lambda v, s: 0 * v, weight=0.25)(x, 0.1)
    >>> torch.allclose(out, 0.25 * x)
    True
    """

    def __init__(self, prior, other, *, weight: float):
        super().__init__(prior)
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight is the first denoiser's share, in [0, 1]; got {weight}")
        self.other = as_prior(other)
        self.weight = float(weight)

    @property
    def name(self) -> str:
        return f"{self.weight:g} {self.prior.name} + {1 - self.weight:g} {self.other.name}"

    def forward(self, x: torch.Tensor, sigma, *args, **kwargs) -> torch.Tensor:
        first = self.prior(x, sigma)
        if self.weight == 1.0:
            return first
        second = self.other(x, sigma).to(dtype=first.dtype, device=first.device)
        return self.weight * first + (1.0 - self.weight) * second
