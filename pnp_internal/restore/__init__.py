"""``pnp-internal restore``: restore one's own images from the command line.

``pnp-internal restore INPUT... --out DIR --task denoise|deblur|sr|inpaint [options]`` runs
:func:`pnp_internal.solve` with the recipe book's method for the task on every image, writes
each result with the input's name, size, channels, alpha and bit depth, and a JSON report per
image (``DIR/reports/NAME.json``). ``settings`` reads the flags and ``--config``, ``jobs``
finds the images and builds each forward model, ``batch`` runs them (``restore_many`` from
Python), ``workers`` spreads them over processes or a Ray cluster, ``report`` writes what the
user sees.
"""

from .batch import main, plan_one, restore_many, restore_one, run
from .settings import Settings, parse

__all__ = ["main", "run", "restore_many", "restore_one", "plan_one", "Settings", "parse"]
