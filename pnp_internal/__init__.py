"""pnp_internal: plug-and-play solvers and deep internal learning for linear inverse problems.

Public API (see ``DESIGN.md``): :func:`solve`, and the subpackages ``operators``, ``solvers``,
``priors``, ``io`` and ``metrics``.
"""

from . import io, metrics, operators, priors, solvers
from .api import solve

__version__ = "0.1.0"

__all__ = ["solve", "operators", "solvers", "priors", "io", "metrics", "__version__"]
