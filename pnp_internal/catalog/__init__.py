"""Every method by name: the families register themselves on import.

:func:`pnp_internal.solve` runs them (``method="ia-idbp"``), the benchmarks call ``solve``, and
:func:`pnp_internal.methods` lists them. Settings come from :mod:`pnp_internal.recipes`.
"""

from .registry import Method, Problem, get, names, register
from . import pnp  # noqa: F401  <prior>-<solver>
from . import denoisers  # noqa: F401  cnn, cnn-gaintuning, cnn-sure, bm3d, tv, self2self
from . import direct  # noqa: F401  dip, dip-tv, deep-decoder, zssr, zssr-fast, zssr-gradual
from . import baselines  # noqa: F401  pseudo-inverse, bicubic, deepinv-*
from . import blind  # noqa: F401  <sr>-kernelgan, <sr>-bicubic
from . import generative  # noqa: F401  csgm, iagan, iagan-bp
from . import meta  # noqa: F401  mzsr, mzsr-1

__all__ = ["Method", "Problem", "get", "names", "register"]
