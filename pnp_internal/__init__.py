"""pnp_internal: plug-and-play solvers and deep internal learning for linear inverse problems.

Public API (see ``DESIGN.md``): :func:`solve` and :func:`methods`, the recipe book
:mod:`recipes`, and the subpackages ``operators``, ``solvers``, ``priors``, ``blind``
(kernels estimated from the image itself), ``generative`` (a pretrained generator inverted
or adapted on the measurements), ``io`` and ``metrics``.
"""

from . import blind, generative, io, metrics, operators, priors, solvers
from . import recipes
from .api import methods, solve

__version__ = "0.1.0"

__all__ = ["solve", "methods", "recipes", "operators", "solvers", "priors", "blind",
           "generative", "io", "metrics", "__version__"]
