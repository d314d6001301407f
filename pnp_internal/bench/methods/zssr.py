"""ZSSR benchmark methods: ``zssr`` (the official configurations within 2 minutes per Set5
image at x2 on 2 CPU cores), ``zssr-gradual`` (the official gradual configuration with the
paper's budget per stage at every factor) and ``zssr-fast`` (a budget setting).

Which path each takes (bicubic = the operator's kernel is the MATLAB bicubic one):

============================  =============================  ===============================
case                          ``zssr``                       ``zssr-fast``
============================  =============================  ===============================
x2, bicubic                   six official stages, stage     1.5x1.5, then x2; stage budget
                              budget (crops 96)              with crops 80
x4 and above                  six stages to 2x2, paper       the same stages, stage budget
                              budget per stage, then x2      (crops 96)
other (x3, other kernels)     one jump, paper budget         one jump, crops 80
============================  =============================  ===============================

The official code, too, runs one jump with a given kernel (``X2_GIVEN_KERNEL_CONF``) and the
gradual ``X2_GRADUAL_IDEAL_CONF`` for the ideal bicubic case.

``bicubic`` (MATLAB-style upscaling) is registered by :mod:`.baselines`.

References
----------
.. [1] A. Shocher, N. Cohen, M. Irani, "Zero-Shot" Super-Resolution using Deep Internal
   Learning, CVPR 2018.
"""

from __future__ import annotations

from ...solvers.zssr import ZSSR
from ..registry import METHODS, register

#: The paper's settings: crops 128, up to 3000 iterations, learning-rate policy down to 1e-6,
#: 8-transform median ensemble, 10 back-projection steps, affine fathers half of the time (the
#: ZSSR default). One jump at x2: Set5 37.19 dB, 97 s per image on 2 idle cores (session 5).
#: Gradual x4 (the six official x2 stages, then x2 on the 2x2 output): Set5 31.45 dB, Set14
#: 28.05 dB at 265 / 382 CPU-s per image (session 8, with the dead-network check).
ZSSR_SETTINGS = dict(max_iter=3000, min_iter=256, crop=128, test_every=50, ensemble=True,
                     back_projection=10)

#: Budget of each stage of a gradual run: 96-pixel crops (about 1.8x cheaper steps),
#: learning-rate decisions every 128 iterations, at most 800 iterations. ``zssr`` at x2 (six
#: stages): Set5 37.40 dB, 83 s per image (at most 103 s) with 2 threads on the idle 2 cores
#: (session 8). ``zssr-fast`` at x4: Set5 31.31 dB, Set14 27.96 (session 6).
ZSSR_STAGE_SETTINGS = dict(max_iter=800, min_iter=128, crop=96, test_every=25,
                           slope_window=128, ensemble=True, back_projection=10)

#: ``zssr-fast`` below x4: the stage budget with 80-pixel crops. At x2 (1.5x1.5, then x2):
#: Set5 37.26 dB in 24 s per image, 29 % of ``zssr``'s time (session 8); one jump: 37.05 dB.
ZSSR_FAST_SETTINGS = dict(ZSSR_STAGE_SETTINGS, crop=80)


def _run(problem, settings, gradual):
    solver = ZSSR(**settings, gradual=gradual,
                  noise_std=problem.noise_std, seed=problem.seed)
    return solver.solve(problem.y, problem.operator).x


def _large(problem):
    return (problem.scale or 1) >= 4


def _bicubic_x2(problem):
    return problem.scale == 2 and getattr(problem.operator, "kernel_name", None) == "bicubic"


@register("zssr", kinds=("sr",),
          description="ZSSR (Shocher et al. 2018), official configurations: x2 bicubic six "
                      "gradual stages (800 iterations, crops 96 each); x4 and above gradual "
                      "with the paper's budget per stage; otherwise one jump, paper's budget")
def zssr(problem):
    if _bicubic_x2(problem):
        return _run(problem, ZSSR_STAGE_SETTINGS, gradual=True)
    return _run(problem, ZSSR_SETTINGS, gradual=_large(problem))


@register("zssr-gradual", kinds=("sr",),
          description="ZSSR, the official gradual configuration with the paper's budget per "
                      "stage: x2 through 1x1.5, 1.5x1, 1.5x1.5, 1.5x2, 2x1.5; x4 and above: the "
                      "same stages to 2x2, then x2 on its output (= zssr)")
def zssr_gradual(problem):
    return _run(problem, ZSSR_SETTINGS, gradual=True)


@register("zssr-fast", kinds=("sr",),
          description="ZSSR budget setting: x2 bicubic 1.5x1.5 then x2 (crops 80, <=800 "
                      "iterations each); x4 and above zssr's stages with crops 96, <=800 "
                      "iterations each; otherwise one jump with crops 80")
def zssr_fast(problem):
    if _large(problem):
        return _run(problem, ZSSR_STAGE_SETTINGS, gradual=True)
    if _bicubic_x2(problem):
        return _run(problem, ZSSR_FAST_SETTINGS, gradual=[1.5])
    return _run(problem, ZSSR_FAST_SETTINGS, gradual=False)


if "bicubic" not in METHODS:  # normally registered by .baselines
    from ...solvers.zssr_data import Resampler

    @register("bicubic", kinds=("sr",), description="cubic upscaling of y on the operator grid")
    def bicubic(problem):
        return Resampler(problem.operator, tuple(problem.img_shape)).up(
            problem.y, tuple(problem.img_shape[-2:]))
