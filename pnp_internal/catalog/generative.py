"""Generative priors on any linear operator, for 64x64 images (the generator's size).

==========  ===============================================================================
name        what
==========  ===============================================================================
csgm        :class:`~pnp_internal.generative.CSGM`: the code of the shipped generator that
            best explains ``y`` (random restarts)
iagan       :class:`~pnp_internal.generative.IAGAN`: CSGM's code, then the code and the
            generator's coarse layers adapted to ``y`` with a TV and a RED term, as many
            steps as a hold-out of ``y`` chooses, run again on all of ``y``
iagan-bp    ``iagan`` followed by the back-projection onto the measurements
==========  ===============================================================================
"""

from __future__ import annotations

from .. import recipes
from ..generative import CSGM, IAGAN
from .registry import Problem, checked_options, register

_ALL = ("denoise", "deblur", "sr", "inpaint", "cs", "other")


def _csgm(options: dict | None = None) -> CSGM:
    return CSGM(**{**recipes.CSGM.options(), **(options or {})})


@register("csgm", kinds=_ALL, target=CSGM, memory="dip",
          description="CSGM (Bora et al. 2017): the generator's best code, 64x64 images")
def csgm(p: Problem):
    opts = checked_options(CSGM, p.options, method="csgm")
    solver = _csgm({"seed": p.seed, "progress": p.progress, **opts})
    return solver.solve(p.y, p.operator, x_true=p.x_true)


def _iagan(p: Problem, back_projection: bool, name: str):
    opts = {**recipes.IAGAN.options(), **checked_options(IAGAN, p.options, method=name)}
    solver = IAGAN(csgm=_csgm({"seed": p.seed}), back_projection=back_projection,
                   noise_std=p.noise_std, seed=p.seed, progress=p.progress, **opts)
    return solver.solve(p.y, p.operator, x_true=p.x_true)


@register("iagan", kinds=_ALL, target=IAGAN, memory="dip",
          description="IAGAN (Hussein et al. 2020): CSGM, then the generator adapted to y, "
                      "64x64 images")
def iagan(p: Problem):
    return _iagan(p, False, "iagan")


@register("iagan-bp", kinds=_ALL, target=IAGAN, memory="dip",
          description="IAGAN followed by the back-projection onto the measurements")
def iagan_bp(p: Problem):
    return _iagan(p, True, "iagan-bp")
