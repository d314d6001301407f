"""Meta-learned starting points for internal learning: MZSR (Soh et al., CVPR 2020).

:class:`MZSR` adapts a meta-trained ZSSR network to one LR image in a few gradient steps;
``pnp-internal train-meta`` (:mod:`pnp_internal.meta.training`) trains the start on external
images over a family of SR kernels (:class:`KernelFamily`). ``pnp-internal train-meta-prior``
(:mod:`pnp_internal.meta.prior_training`) meta-trains a start of the CNN prior that ``ia-idbp``
adapts to the image.
"""

from .family import KernelFamily, resampler_for
from .mzsr import MZSR, load_start, save_start

__all__ = ["MZSR", "KernelFamily", "resampler_for", "load_start", "save_start"]
