"""Baselines: the pseudo-inverse, bicubic interpolation, and deepinv's own PnP solvers.

``deepinv-dpir-bm3d`` and ``deepinv-admm-tv`` run :mod:`deepinv.optim` unchanged on the same
measurement and operator as the project's methods, so they are the reference each table is read
against.

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

# DPIR's floor on the noise level of noiseless problems (main_dpir_sr.py: max(0.255/255, sigma)).
_DPIR_SIGMA_FLOOR = 0.255 / 255


@register("pseudo-inverse", description="A^+ y (closed form where the operator has one)")
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
    kinds=("deblur", "sr", "inpaint", "cs"),
    description="deepinv.optim.DPIR (HQS, 8 iterations, sigma 49/255 -> noise) with deepinv's BM3D",
)
def deepinv_dpir_bm3d(problem):
    import deepinv as dinv

    sigma = max(problem.noise_std, _DPIR_SIGMA_FLOOR)
    model = dinv.optim.DPIR(sigma=sigma, denoiser=dinv.models.BM3D(), device=problem.y.device)
    with torch.no_grad():
        return model(problem.y, problem.operator)


def _admm_tv_lambda(problem):
    """Regularisation weight of ½||Ax − y||² + λ TV(x), tied to the noise level."""
    return max(problem.noise_std, 0.002)


@register(
    "deepinv-admm-tv",
    description="deepinv.optim.ADMM with TVPrior, lambda = max(noise, 0.002), 100 iterations",
)
def deepinv_admm_tv(problem):
    import deepinv as dinv

    model = dinv.optim.ADMM(
        data_fidelity=dinv.optim.L2(),
        prior=dinv.optim.TVPrior(n_it_max=20),
        lambda_reg=_admm_tv_lambda(problem),
        stepsize=1.0,
        max_iter=100,
        thres_conv=1e-5,
        early_stop=True,
    )
    with torch.no_grad():
        return model(problem.y, problem.operator, x_gt=None)
