"""Baselines: the pseudo-inverse, bicubic interpolation, and deepinv's own solvers and DIP.

``deepinv-dpir-bm3d``, ``deepinv-admm-tv`` and ``deepinv-dip`` run deepinv unchanged on the same
measurement and operator, so every table can be read against them. deepinv's ``DPIR`` (8
iterations from ``A^T y``) is registered for deblurring and SR only: on 50% inpainting and 25%
CS it stays at 12-14 dB (64x64 Set12), so ``deepinv-admm-tv`` is the deepinv baseline there.

References
----------
.. [1] K. Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser Prior", IEEE TPAMI
   2022 (DPIR).
.. [2] K. Dabov et al., "Image denoising by sparse 3-D transform-domain collaborative
   filtering", IEEE TIP 2007 (BM3D).
"""

from __future__ import annotations

import time

import torch

from .. import recipes
from ..solvers.base import Result
from .registry import Problem, register

_ALL = ("denoise", "deblur", "sr", "inpaint", "cs", "other")


def _timed(p: Problem, compute, message: str) -> Result:
    if p.options:
        raise TypeError(f"this baseline takes no options, got {', '.join(sorted(p.options))}")
    t0 = time.perf_counter()
    x = compute()
    history = {"seconds": [time.perf_counter() - t0]}
    return Result(x.detach(), 1, True, history, message)


@register("pseudo-inverse", kinds=_ALL,
          description="A^+ y (closed form where the operator has one; y itself for denoising)")
def pseudo_inverse(p: Problem) -> Result:
    with torch.no_grad():
        return _timed(p, lambda: p.operator.A_dagger(p.y), "A^+ y")


@register("bicubic", kinds=("sr",), description="MATLAB-style bicubic upscaling of y")
def bicubic(p: Problem) -> Result:
    from deepinv.physics.functional import imresize_matlab

    with torch.no_grad():
        return _timed(p, lambda: imresize_matlab(p.y, scale=p.scale), "bicubic upscaling")


@register("deepinv-dpir-bm3d", kinds=("deblur", "sr"),
          description="deepinv.optim.DPIR (HQS, 8 iterations) with deepinv's BM3D")
def deepinv_dpir_bm3d(p: Problem) -> Result:
    import deepinv as dinv

    sigma = max(p.noise_std, recipes.DPIR_SIGMA_FLOOR.value)
    model = dinv.optim.DPIR(sigma=sigma, denoiser=dinv.models.BM3D(), device=p.y.device)
    with torch.no_grad():
        return _timed(p, lambda: model(p.y, p.operator), "deepinv DPIR, 8 iterations")


@register("deepinv-admm-tv", kinds=_ALL,
          description="deepinv.optim.ADMM with deepinv's TVPrior, 100 iterations")
def deepinv_admm_tv(p: Problem) -> Result:
    import deepinv as dinv

    lam, step = recipes.ADMM_TV.value.get(p.kind, (p.noise_std, 1.0))
    model = dinv.optim.ADMM(data_fidelity=dinv.optim.L2(), prior=dinv.optim.TVPrior(n_it_max=20),
                            lambda_reg=lam, stepsize=step, max_iter=100, thres_conv=1e-5,
                            early_stop=True)
    with torch.no_grad():
        return _timed(p, lambda: model(p.y, p.operator), "deepinv ADMM-TV")


@register("deepinv-dip", kinds=_ALL, memory="dip",
          description="deepinv DeepImagePrior + ConvDecoder(256 ch), 2500 steps (its defaults)")
def deepinv_dip(p: Problem) -> Result:
    import deepinv as dinv

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(p.seed or 0)
        net = dinv.models.ConvDecoder(img_size=p.img_shape, in_size=(4, 4), channels=256)
        model = dinv.models.DeepImagePrior(net, img_size=[256, 4, 4], iterations=2500,
                                           learning_rate=1e-2)
        return _timed(p, lambda: model(p.y, p.operator), "deepinv DIP, 2500 steps")
