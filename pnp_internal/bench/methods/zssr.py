"""ZSSR benchmark methods: ``zssr`` (the paper's settings, one jump at x2), ``zssr-gradual`` (the
official gradual configuration, also at x2) and ``zssr-fast`` (a budget setting).

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
#: ZSSR default); gradual (x2 first) for factors >= 4. Set5 x2: 37.20 dB, 97 s per image on 2
#: idle cores; x4: 30.63 dB (benchmarks/EXPERIMENTS.md, session 5).
ZSSR_SETTINGS = dict(max_iter=3000, min_iter=256, crop=128, test_every=50, ensemble=True,
                     back_projection=10)

#: Budget setting: 96-pixel crops (about 1.8x cheaper steps), learning-rate decisions every 128
#: iterations, at most 800 iterations, no gradual stage. Set5 x2: 37.10 dB in 60 CPU-s per
#: image against 37.20 dB in 167 CPU-s for ``zssr`` (one thread each).
ZSSR_FAST_SETTINGS = dict(max_iter=800, min_iter=128, crop=96, test_every=25,
                          slope_window=128, ensemble=True, back_projection=10)


def _run(problem, settings, gradual):
    solver = ZSSR(**settings, gradual=gradual,
                  noise_std=problem.noise_std, seed=problem.seed)
    return solver.solve(problem.y, problem.operator).x


@register("zssr", kinds=("sr",),
          description="ZSSR (Shocher et al. 2018): paper settings, crops 128, <=3000 iterations, "
                      "ensemble + back-projection, gradual x2 first for x4")
def zssr(problem):
    return _run(problem, ZSSR_SETTINGS, gradual=(problem.scale or 1) >= 4)


@register("zssr-gradual", kinds=("sr",),
          description="ZSSR, the official gradual configuration: x2 through 1x1.5, 1.5x1, "
                      "1.5x1.5, 1.5x2, 2x1.5 (about 6x the time of zssr); x4 as zssr")
def zssr_gradual(problem):
    return _run(problem, ZSSR_SETTINGS, gradual=True)


@register("zssr-fast", kinds=("sr",),
          description="ZSSR budget setting: crops 96, <=800 iterations, ensemble + "
                      "back-projection, no gradual stage")
def zssr_fast(problem):
    return _run(problem, ZSSR_FAST_SETTINGS, gradual=False)


if "bicubic" not in METHODS:  # normally registered by .baselines
    from ...solvers.zssr_data import Resampler

    @register("bicubic", kinds=("sr",), description="cubic upscaling of y on the operator grid")
    def bicubic(problem):
        return Resampler(problem.operator, tuple(problem.img_shape)).up(
            problem.y, tuple(problem.img_shape[-2:]))
