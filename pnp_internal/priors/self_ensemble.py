"""Geometric self-ensemble: a denoiser averaged over the 8 flips and rotations of its input.

References
----------
.. [1] R. Timofte, R. Rothe, L. Van Gool, "Seven ways to improve example-based single image
   super resolution", CVPR 2016.
.. [2] B. Lim et al., "Enhanced Deep Residual Networks for Single Image Super-Resolution"
   (EDSR+), CVPRW 2017.
"""

from __future__ import annotations

import torch

from ..solvers.zssr_data import dihedral
from .base import WrappedPrior

__all__ = ["SelfEnsemble", "ORIENTATIONS", "orientation_group"]

#: The 8 flips/rotations (indices of :func:`~pnp_internal.solvers.zssr_data.dihedral`) in the
#: order they are handed to the copies of an ensemble: the identity, then the transform that
#: moves most from it (rows to columns), and so on.
ORIENTATIONS = (0, 5, 2, 7, 1, 6, 3, 4)


def orientation_group(k: int, n: int) -> tuple:
    """The ``k``-th group of ``n`` transforms of :data:`ORIENTATIONS`: what copy ``k`` of an
    ensemble sees when each copy averages ``n`` flips/rotations (``k = 0``, ``n = 1``: the
    image as it is)."""
    if n < 1 or (k + 1) * n > len(ORIENTATIONS):
        raise ValueError(f"{k + 1} copies of {n} flips/rotations each need {(k + 1) * n} of the "
                         f"8 there are: use fewer copies or fewer orientations per copy")
    return ORIENTATIONS[k * n:(k + 1) * n]


class SelfEnsemble(WrappedPrior):
    """``prior`` applied to flips/rotations of ``x`` (all 8 by default), each result turned
    back, averaged.

    A network is not exactly equivariant to flips and rotations; the mean of its 8 answers is,
    and is closer to the clean image (measured in ``benchmarks/notes/cnn.md``). It costs one
    call per transform.

    Parameters
    ----------
    prior : Prior, deepinv Denoiser or callable ``f(x, sigma)``
        The denoiser; its :meth:`~Prior.adapt` hook and ``adapt_every`` are kept. A noise-level
        map given as ``sigma`` is turned with the image.
    transforms : sequence of int, optional
        Which of the 8 (0-7, :func:`~pnp_internal.solvers.zssr_data.dihedral`; 0 the identity)
        to average; all 8 by default. One transform other than 0 makes ``prior`` see the image
        in that orientation only.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.priors import SelfEnsemble
    >>> shift = lambda x, sigma: torch.roll(x, 1, dims=-1)  # not flip-equivariant
    >>> x = torch.rand(1, 1, 8, 8)
    >>> out = SelfEnsemble(shift)(x, 0.1)
    >>> torch.allclose(SelfEnsemble(shift)(x.flip(-1), 0.1), out.flip(-1))
    True
    """

    def __init__(self, prior, transforms=range(8)):
        super().__init__(prior)
        self.transforms = tuple(int(k) for k in transforms)
        if not self.transforms or not set(self.transforms) <= set(range(8)):
            raise ValueError(f"transforms must be a non-empty subset of 0..7 (the 8 flips and "
                             f"rotations), got {transforms!r}")

    @property
    def name(self) -> str:
        if len(self.transforms) == 8:
            return f"{self.prior.name} x8 self-ensemble"
        return f"{self.prior.name} over transforms {list(self.transforms)}"

    def forward(self, x: torch.Tensor, sigma, *args, **kwargs) -> torch.Tensor:
        """The mean over the transforms of ``x`` (B, C, H, W) of the denoised, turned back."""
        level = torch.as_tensor(sigma)
        is_map = level.ndim == 4
        total = None
        for k in self.transforms:
            s = dihedral(level, k) if is_map else sigma
            out = dihedral(self.prior(dihedral(x, k), s), k, inverse=True)
            total = out if total is None else total + out
        return total / len(self.transforms)
