"""Meta-learned internal methods: MZSR for SR.

======  ==================================================================================
name    what
======  ==================================================================================
mzsr    :class:`~pnp_internal.meta.MZSR`: the shipped meta-learned start adapted by 10 SGD
        steps on the image's own pair (``steps=`` changes it); the bicubic start (a bicubic
        operator) takes its own learning rates (``recipes.MZSR_BICUBIC``)
mzsr-1  the same with one step
======  ==================================================================================
"""

from __future__ import annotations

from .. import recipes
from ..meta import MZSR
from ..meta.mzsr import takes_bicubic_start
from .registry import Problem, checked_options, register


def _mzsr(p: Problem, recipe, *, name: str):
    opts = {**recipe.options(), **checked_options(MZSR, p.options, method=name)}
    solver = MZSR(noise_std=p.noise_std, seed=p.seed, precision=p.precision,
                  progress=p.progress, **opts)
    return solver.solve(p.y, p.operator, x_true=p.x_true, callback=p.callback)


@register("mzsr", kinds=("sr",), target=MZSR, memory="zssr",
          description="MZSR (Soh et al. 2020): the meta-learned start, 10 SGD steps on y's own "
                      "pair")
def mzsr(p: Problem):
    bicubic_start = (takes_bicubic_start(getattr(p.operator, "factor", None),
                                         getattr(p.operator, "kernel_name", None))
                     and not {"weights", "net"} & set(p.options))
    return _mzsr(p, recipes.MZSR_BICUBIC if bicubic_start else recipes.MZSR, name="mzsr")


@register("mzsr-1", kinds=("sr",), target=MZSR, memory="zssr",
          description="MZSR with one SGD step")
def mzsr_1(p: Problem):
    return _mzsr(p, recipes.MZSR_ONE, name="mzsr-1")
