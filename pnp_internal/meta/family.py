"""The degradation family MZSR is meta-trained on: SR kernels followed by decimation.

A task is one kernel: the bicubic kernel, or an isotropic or anisotropic Gaussian with direct
subsampling (LR pixel ``i`` is HR pixel ``factor * i`` of the blurred image), the degradations
of MZSR's benchmark [1]_. Every kernel becomes a
:class:`~pnp_internal.solvers.zssr_data.Resampler`, so training pairs are made by the same
downscaler and cubic upscaler that ZSSR and MZSR use on the test image.

References
----------
.. [1] J. W. Soh, S. Cho, N. I. Cho, "Meta-Transfer Learning for Zero-Shot Super-Resolution",
   CVPR 2020. https://arxiv.org/abs/2002.12213
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..operators import Downsampling, kernels
from ..solvers.zssr_data import Resampler

__all__ = ["KernelFamily", "resampler_for"]


def resampler_for(kernel, factor: int, *, channels: int = 3, size: int = 64) -> Resampler:
    """The :class:`Resampler` of ``Downsampling(factor, kernel=kernel)`` (reflected borders),
    usable on images of any size."""
    op = Downsampling(factor, img_shape=(channels, size, size), kernel=kernel,
                      padding="reflect")
    return Resampler(op, (channels, size, size))


@dataclass(frozen=True)
class KernelFamily:
    """Random SR kernels: bicubic with probability ``bicubic``, else a Gaussian, isotropic with
    probability ``isotropic`` (of the rest), standard deviations uniform in ``std_range`` (HR
    pixels; anisotropic: both axes drawn independently, rotated by a uniform angle).

    Examples
    --------
    >>> family = KernelFamily()
    >>> kernel, name = family.sample(np.random.default_rng(0))
    >>> name
    'gaussian(0.30)'
    """

    factor: int = 2
    bicubic: float = 0.2
    isotropic: float = 0.4
    std_range: tuple = (0.2, 2.6)

    def __post_init__(self):
        lo, hi = self.std_range
        if not (0 <= self.bicubic <= 1 and 0 <= self.isotropic <= 1 and 0 < lo <= hi):
            raise ValueError(f"need probabilities in [0, 1] and 0 < std_range[0] <= "
                             f"std_range[1]; got {self!r}")

    def sample(self, rng: np.random.Generator):
        """One kernel (``"bicubic"`` or a 2-D tensor) and a short name for it."""
        if rng.uniform() < self.bicubic:
            return "bicubic", "bicubic"
        lo, hi = self.std_range
        if rng.uniform() < self.isotropic:
            std = float(rng.uniform(lo, hi))
            return self.gaussian(std), f"gaussian({std:.2f})"
        sx, sy = (float(v) for v in rng.uniform(lo, hi, size=2))
        angle = float(rng.uniform(0, 180))
        return self.gaussian((sx, sy, angle)), f"gaussian({sx:.2f}, {sy:.2f}, {angle:.0f})"

    @staticmethod
    def gaussian(std) -> torch.Tensor:
        """A Gaussian kernel covering +-3 standard deviations (at least 3x3)."""
        top = std if isinstance(std, (int, float)) else max(std[0], std[1])
        return kernels.gaussian(std, size=2 * max(1, math.ceil(3 * top)) + 1)
