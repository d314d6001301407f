"""Meta-learned starting points for internal learning: MZSR (Soh et al., CVPR 2020).

:class:`MZSR` adapts a meta-trained ZSSR network to one LR image in a few gradient steps;
``pnp-internal train-meta`` (:mod:`pnp_internal.meta.training`) trains the start on external
images over a family of SR kernels (:class:`KernelFamily`).
"""

from .family import KernelFamily, resampler_for
from .mzsr import MZSR, load_start, save_start

__all__ = ["MZSR", "KernelFamily", "resampler_for", "load_start", "save_start"]
