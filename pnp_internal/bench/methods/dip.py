"""Deep Image Prior family: benchmark methods.

==============  ==========================================================================
name            what
==============  ==========================================================================
dip             :class:`~pnp_internal.solvers.DIP` with its defaults: CPU net (skip, width 32),
                lr 0.01, EMA 0.99, ES-WMV stop; Gaussian denoising with the SURE loss
                (noisy image as input, budget 1000), other tasks the MSE loss from a random
                code (budget 2500; reg. noise 0.03 for SR)
dip-mse         denoising with the paper's MSE loss from a random code (budget 2500), the
                ``dip`` of the other tasks
dip-tv          DIP (MSE loss) plus a TV term (weight 2e-3, not tuned)
deep-decoder    DIP with the Deep Decoder (k = 64, 5 upsamplings), no input perturbation
self2self       Self2Self on y (1000 steps, 32-prediction ensemble; denoising only)
dip-admm        PnP-ADMM (task defaults of ``classical.make_solver``) with DIPDenoiser
deepinv-dip     deepinv's ``DeepImagePrior`` with its ``ConvDecoder`` (256 channels) and its
                defaults: 2500 Adam steps at lr 0.01, no early stop (~2 s/step at 256x256)
==============  ==========================================================================
"""

from __future__ import annotations

import torch

from ..registry import register

_ALL = ("denoise", "deblur", "sr", "inpaint", "cs")


def _dip(problem, **options):
    from ...solvers import DIP
    if problem.kind == "sr":
        options.setdefault("reg_noise_std", 0.03)
    return DIP(seed=problem.seed, **options).solve(problem.y, problem.operator).x


@register("dip", kinds=_ALL, description="Deep Image Prior, CPU skip net, EMA, ES-WMV auto stop")
def dip(problem):
    return _dip(problem)


@register("dip-mse", kinds=("denoise",),
          description="Deep Image Prior with the paper's MSE loss (random code), ES-WMV")
def dip_mse(problem):
    return _dip(problem, loss="mse")


@register("dip-tv", kinds=_ALL, description="DIP + TV term (weight 2e-3), ES-WMV auto stop")
def dip_tv(problem):
    return _dip(problem, tv_weight=2e-3, loss="mse")


@register("deep-decoder", kinds=_ALL, description="Deep Decoder (Heckel & Hand 2019), ES-WMV")
def deep_decoder(problem):
    from ...priors import nets
    net = nets.DeepDecoder(problem.img_shape[0], channels=64, depth=5)
    return _dip(problem, net=net, reg_noise_std=0.0)


@register("self2self", kinds=("denoise",),
          description="Self2Self (Quan et al. 2020): 1000 steps, 32 dropout predictions")
def self2self(problem):
    from ...priors import Self2Self
    return Self2Self(seed=problem.seed).denoise(problem.y).clamp(0, 1)


@register("dip-admm", kinds=("deblur", "sr", "inpaint", "cs"),
          description="PnP-ADMM with DIPDenoiser (discrepancy stop, warm-started)")
def dip_admm(problem):
    from ...priors import DIPDenoiser
    from .classical import make_solver
    prior = DIPDenoiser(steps=300, warm_steps=50, seed=problem.seed)
    solver, x0 = make_solver(prior, "admm", problem)
    return solver.solve(problem.y, problem.operator, x0=x0).x


@register("deepinv-dip", kinds=_ALL,
          description="deepinv DeepImagePrior + ConvDecoder(256 ch), 2500 steps (its defaults)")
def deepinv_dip(problem):
    import deepinv as dinv
    torch.manual_seed(problem.seed)
    gen = dinv.models.ConvDecoder(img_size=tuple(problem.img_shape), in_size=(4, 4), channels=256)
    model = dinv.models.DeepImagePrior(gen, img_size=[256, 4, 4], iterations=2500,
                                       learning_rate=1e-2)
    return model(problem.y, problem.operator).detach()
