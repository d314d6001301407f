"""ZSSR benchmark methods: ``zssr`` (the paper's settings: one jump at x2 and x3, gradual from
x4), ``zssr-gradual`` (the official gradual configuration at every factor, x2 included) and
``zssr-fast`` (a budget setting).

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
#: ZSSR default). One jump: Set5 x2 37.19 dB, 97 s per image on 2 idle cores (session 5).
#: Gradual x4 (the six official x2 stages, then x2 on the 2x2 output): Set5 31.44 dB (session
#: 6), Set14: see benchmarks/EXPERIMENTS.md (session 7).
ZSSR_SETTINGS = dict(max_iter=3000, min_iter=256, crop=128, test_every=50, ensemble=True,
                     back_projection=10)

#: Budget of each stage of ``zssr-fast``'s gradual SR at x4 and above: 96-pixel crops (about
#: 1.8x cheaper steps), learning-rate decisions every 128 iterations, at most 800 iterations.
#: Set5 x4 31.31 dB at 223 CPU-s per image (44 % of ``zssr``'s 512), Set14 x4 27.96 (session 6).
ZSSR_STAGE_SETTINGS = dict(max_iter=800, min_iter=128, crop=96, test_every=25,
                           slope_window=128, ensemble=True, back_projection=10)

#: ``zssr-fast`` below x4: one jump with 80-pixel crops and the stage schedule. Set5 x2: 37.05
#: dB in 27 % of ``zssr``'s CPU time (benchmarks/EXPERIMENTS.md, session 6).
ZSSR_FAST_SETTINGS = dict(ZSSR_STAGE_SETTINGS, crop=80)


def _run(problem, settings, gradual):
    solver = ZSSR(**settings, gradual=gradual,
                  noise_std=problem.noise_std, seed=problem.seed)
    return solver.solve(problem.y, problem.operator).x


def _large(problem):
    return (problem.scale or 1) >= 4


@register("zssr", kinds=("sr",),
          description="ZSSR (Shocher et al. 2018) with the paper's settings: one jump below x4; "
                      "from x4 gradual (the official x2 stages, then x2 on the x2 output)")
def zssr(problem):
    return _run(problem, ZSSR_SETTINGS, gradual=_large(problem))


@register("zssr-gradual", kinds=("sr",),
          description="ZSSR, the official gradual configuration with the paper's settings: x2 "
                      "through 1x1.5, 1.5x1, 1.5x1.5, 1.5x2, 2x1.5 (about 6x the time of zssr); "
                      "x4 and above: the same stages to 2x2, then x2 on its output (= zssr)")
def zssr_gradual(problem):
    return _run(problem, ZSSR_SETTINGS, gradual=True)


@register("zssr-fast", kinds=("sr",),
          description="ZSSR budget setting: below x4 one jump with crops 80, <=800 iterations; "
                      "from x4 zssr's stages with crops 96, <=800 iterations per stage")
def zssr_fast(problem):
    if _large(problem):
        return _run(problem, ZSSR_STAGE_SETTINGS, gradual=True)
    return _run(problem, ZSSR_FAST_SETTINGS, gradual=False)


if "bicubic" not in METHODS:  # normally registered by .baselines
    from ...solvers.zssr_data import Resampler

    @register("bicubic", kinds=("sr",), description="cubic upscaling of y on the operator grid")
    def bicubic(problem):
        return Resampler(problem.operator, tuple(problem.img_shape)).up(
            problem.y, tuple(problem.img_shape[-2:]))
