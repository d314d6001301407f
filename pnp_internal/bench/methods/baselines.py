"""Baselines: the pseudo-inverse, bicubic interpolation, and deepinv's own PnP solvers.

``deepinv-dpir-bm3d`` and ``deepinv-admm-tv`` run :mod:`deepinv.optim` unchanged on the same
measurement and operator as the project's methods, so they are the reference each table is read
against. deepinv's ``DPIR`` class (8 iterations from ``A^T y``) is registered for deblurring and
super-resolution only: on 50% inpainting and 25% CS it stays at 12-14 dB (a 64x64 Set12 check),
so ``deepinv-admm-tv`` is the deepinv baseline there.

References
----------
.. [1] K. Zhang, Y. Li, W. Zuo, L. Zhang, L. Van Gool, R. Timofte, "Plug-and-Play Image
   Restoration with Deep Denoiser Prior", IEEE TPAMI 2021 (DPIR).
.. [2] K. Dabov, A. Foi, V. Katkovnik, K. Egiazarian, "Image denoising by sparse 3-D
   transform-domain collaborative filtering", IEEE TIP 2007 (BM3D).
.. [3] S. Boyd et al., "Distributed optimization and statistical learning via the alternating
   direction method of multipliers", 2011 (ADMM).
"""

from __future__ import annotations

import torch

from ..registry import register

# Noise level given to deepinv's DPIR on noiseless problems: its penalty already uses
# max(0.01, sigma), and 0.01 also scored best among 0.255/255, 2.55/255 and 0.01 on Set12 x2 SR.
_DPIR_SIGMA_FLOOR = 0.01


@register(
    "pseudo-inverse",
    description="A^+ y (closed form where the operator has one; y itself for denoising)",
)
def pseudo_inverse(problem):
    with torch.no_grad():
        return problem.operator.A_dagger(problem.y)


@register("bicubic", kinds=("sr",), description="MATLAB-style bicubic upscaling of y")
def bicubic(problem):
    from deepinv.physics.functional import imresize_matlab

    with torch.no_grad():
        return imresize_matlab(problem.y, scale=problem.scale)


@register(
    "deepinv-dpir-bm3d",
    kinds=("deblur", "sr"),
    description="deepinv.optim.DPIR (HQS, 8 iterations, sigma 49/255 -> noise) with deepinv's BM3D",
)
def deepinv_dpir_bm3d(problem):
    import deepinv as dinv

    sigma = max(problem.noise_std, _DPIR_SIGMA_FLOOR)
    model = dinv.optim.DPIR(sigma=sigma, denoiser=dinv.models.BM3D(), device=problem.y.device)
    with torch.no_grad():
        return model(problem.y, problem.operator)


#: kind -> (lambda, stepsize) of deepinv's ADMM-TV on ½||Ax − y||² + λ TV(x), chosen on a grid
#: (λ in 0.002..0.1, stepsize in 1, 10, 100) over 64x64 crops of Set3C / Set5 / Set12; for
#: denoising λ = sigma (the ROF rule of thumb).
ADMM_TV_SETTINGS = {
    "deblur": (0.002, 10.0),
    "sr": (0.002, 10.0),
    "inpaint": (0.002, 100.0),
    "cs": (0.002, 100.0),
}


@register(
    "deepinv-admm-tv",
    description="deepinv.optim.ADMM with deepinv's TVPrior, 100 iterations (settings per kind)",
)
def deepinv_admm_tv(problem):
    import deepinv as dinv

    lam, step = ADMM_TV_SETTINGS.get(problem.kind, (problem.noise_std, 1.0))
    model = dinv.optim.ADMM(
        data_fidelity=dinv.optim.L2(),
        prior=dinv.optim.TVPrior(n_it_max=20),
        lambda_reg=lam,
        stepsize=step,
        max_iter=100,
        thres_conv=1e-5,
        early_stop=True,
    )
    with torch.no_grad():
        return model(problem.y, problem.operator)
