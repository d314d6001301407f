"""Classical priors as benchmark methods: ``bm3d``, ``tv`` and ``<prior>-<solver>``.

``bm3d`` and ``tv`` denoise ``y`` directly (denoising tasks). ``{tv,bm3d}-{idbp,admm,hqs}``
run the project's solvers (:mod:`pnp_internal.solvers`) with the project's priors
(:mod:`pnp_internal.priors`) and the task-dependent defaults of :func:`make_solver`
(iterations in :data:`ITERATIONS`):

========  ============================================  =====================================
kind      IDBP                                          HQS / ADMM
========  ============================================  =====================================
deblur    8 iterations, sigma_k = sigma_n + delta_k,    8 iterations, DPIR schedule (sigma
          delta_k log-spaced 49/255 -> 7.65/255,        49/255 -> noise, gamma_k = sigma_k^2
          eps = 100 sigma_n^2 (tuned with BM3D on       / (0.23 sigma_n^2)), x0 = y
          64x64 Set3C crops), x0 = y
sr        30 iterations, delta 12s/255 -> 1/255,       24 iterations, DPIR schedule ending
          eps = 0, x0 = bicubic(y)                      at max(noise, s/255), x0 = bicubic(y)
inpaint   30 iterations, delta 24/255 -> 2/255, eps 0,  24 iterations, DPIR schedule,
          x0 = interpolation of the known pixels        x0 = the same interpolation
cs        100 iterations, delta 49/255 -> 2/255, eps 0  100 iterations, DPIR schedule
========  ============================================  =====================================

SR: Tirer & Giryes end delta at s/255; ending at 1/255 measured better with the shipped gray
weights (full Set5 images bird/butterfly/head/woman on Y, 30 iterations: x2 36.72 -> 36.88 dB,
x3 32.69 -> 32.77; 0.5/255 or 50 iterations gave no more).

Inpainting starts from the normalised-convolution fill of the missing pixels (the solvers'
``init="auto"``): from ``A^+ y`` (zeros in the holes) the CNN prior gave 12-18 dB on 128x128
Set12 crops, from the fill 27-38 dB. CS from ``A^T y`` (a dim image, 8-10 dB) needs ~100
iterations with the CNN prior: on 64x64 Set12 crops 30 iterations gave 9-14 dB (IDBP) and
13-23 dB (HQS), 100 iterations 26-33 dB.

Names follow the design: ``<prior>-<solver>``; other families (``cnn-hqs``, ``ia-idbp``) can
reuse :func:`make_solver` with their own prior.

References
----------
.. [1] T. Tirer, R. Giryes, "Image Restoration by Iterative Denoising and Backward
   Projections", IEEE TIP 2019 (IDBP).
.. [2] K. Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser Prior", IEEE TPAMI
   2021 (DPIR's HQS schedule).
"""

from __future__ import annotations

import torch

from ..registry import register

PNP_KINDS = ("deblur", "sr", "inpaint", "cs")

#: (kind, solver) -> number of iterations.
ITERATIONS = {
    ("deblur", "idbp"): 8, ("deblur", "hqs"): 8, ("deblur", "admm"): 8,
    ("sr", "idbp"): 30, ("sr", "hqs"): 24, ("sr", "admm"): 24,
    ("inpaint", "idbp"): 30, ("inpaint", "hqs"): 24, ("inpaint", "admm"): 24,
    ("cs", "idbp"): 100, ("cs", "hqs"): 100, ("cs", "admm"): 100,
}

# IDBP for deblurring: the back-projection needs eps > 0 against the noise (the inverse of a blur
# amplifies it); delta decays as DPIR's sigma does.
_IDBP_DEBLUR = {"delta_start": 49 / 255, "delta_end": 7.65 / 255, "eps_per_noise_var": 100.0}


def _bicubic(y, scale):
    from deepinv.physics.functional import imresize_matlab

    return imresize_matlab(y, scale=scale)


def make_solver(prior, solver, problem):
    """The solver ``solver`` (``"idbp"``, ``"hqs"``, ``"admm"``) with the task's defaults.

    Returns
    -------
    (solver, x0)
        A configured :mod:`pnp_internal.solvers` instance and the initial estimate: bicubic
        upscaling of ``y`` (SR), ``y`` itself (deblurring), ``None`` = the solver's default
        ``init="auto"`` (inpainting: interpolation of the known pixels; CS: ``A_dagger(y)``).
    """
    from pnp_internal.solvers import ADMM, HQS, IDBP, schedules

    kind, noise = problem.kind, problem.noise_std
    n = ITERATIONS[(kind, solver)]
    if kind == "sr":
        x0 = _bicubic(problem.y, problem.scale)  # the IDBP and DPIR codes start from bicubic
    elif kind == "deblur":
        x0 = problem.y.clone()  # DPIR starts from y: A^+ y amplifies the noise
    else:
        x0 = None
    if solver == "idbp":
        if kind == "deblur":
            sched = schedules.IDBPDecay(_IDBP_DEBLUR["delta_start"], _IDBP_DEBLUR["delta_end"])
            eps = _IDBP_DEBLUR["eps_per_noise_var"] * max(noise, schedules.NOISE_FLOOR) ** 2
        elif kind == "sr":
            sched, eps = schedules.IDBPDecay(12 * problem.scale / 255, 1 / 255), 0.0
        elif kind == "cs":
            sched, eps = schedules.IDBPDecay(49 / 255, 2 / 255), 0.0
        else:
            sched, eps = schedules.IDBPDecay(), 0.0
        return IDBP(prior, noise_std=noise, max_iter=n, schedule=sched, eps=eps,
                    seed=problem.seed), x0
    sched = schedules.DPIR(sigma_end=max(noise, problem.scale / 255)) if kind == "sr" \
        else schedules.DPIR()
    cls = HQS if solver == "hqs" else ADMM
    return cls(prior, noise_std=noise, max_iter=n, schedule=sched, seed=problem.seed), x0


def _prior(name):
    from pnp_internal import priors

    return priors.BM3D() if name == "bm3d" else priors.TV()


def _denoiser_method(prior_name):
    def run(problem):
        with torch.no_grad():
            return _prior(prior_name)(problem.y, problem.noise_std)

    return run


def _pnp_method(prior_name, solver_name):
    def run(problem):
        solver, x0 = make_solver(_prior(prior_name), solver_name, problem)
        return solver.solve(problem.y, problem.operator, x0=x0).x

    return run


register("bm3d", kinds=("denoise",), description="BM3D (bm3d package; CBM3D on colour) on y")(
    _denoiser_method("bm3d")
)
register("tv", kinds=("denoise",), description="TV (ROF) denoising of y, lambda = 0.9 sigma")(
    _denoiser_method("tv")
)
for _p in ("tv", "bm3d"):
    for _s in ("idbp", "hqs", "admm"):
        register(
            f"{_p}-{_s}",
            kinds=PNP_KINDS,
            description=f"{_s.upper()} with the {_p.upper()} prior (task defaults in classical.py)",
        )(_pnp_method(_p, _s))
