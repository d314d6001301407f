"""pnp_internal: plug-and-play solvers and deep internal learning for linear inverse problems.

Public API (see ``DESIGN.md``): :func:`solve`, and the subpackages ``operators``, ``solvers``,
``priors``, ``io`` and ``metrics``.
"""

__version__ = "0.1.0"
