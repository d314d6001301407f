"""Direct internal methods: DIP, DIP-TV, Deep Decoder on any operator; ZSSR for SR.

==============  ==========================================================================
name            what
==============  ==========================================================================
dip             :class:`~pnp_internal.solvers.DIP`, ES-WMV stop; Gaussian denoising with the
                SURE loss, other kinds the MSE loss (reg. noise 0.03 for SR)
dip-mse         denoising with the paper's MSE loss from a random code
dip-tv          DIP (MSE) plus a TV term
deep-decoder    DIP with the Deep Decoder (k = 64, 5 upsamplings), no input perturbation
zssr            the official configurations: x2 bicubic through six gradual stages at the stage
                budget; x4 and above gradual with the paper's budget; else one jump
zssr-gradual    the official gradual stages with the paper's budget at every factor
zssr-fast       x2 bicubic: 1.5x1.5 then x2 (crops 80); x4 and above: zssr's stages at the
                stage budget; else one jump with crops 80
==============  ==========================================================================
"""

from __future__ import annotations

from .. import recipes
from ..solvers import DIP, ZSSR
from .registry import Problem, checked_options, register

_ALL = ("denoise", "deblur", "sr", "inpaint", "cs", "other")


def _dip(p: Problem, recipe, net=None, *, name: str):
    opts = {**recipe.options(), **checked_options(DIP, p.options, method=name)}
    opts.setdefault("sigma", p.noise_std if p.noise_std > 0 else None)
    solver = DIP(net, seed=p.seed, precision=p.precision, progress=p.progress,
                 device=p.y.device, **opts)
    return solver.solve(p.y, p.operator, x_true=p.x_true, callback=p.callback)


@register("dip", kinds=_ALL, target=DIP, memory="dip",
          description="Deep Image Prior, CPU skip net, EMA, ES-WMV automatic stop")
def dip(p: Problem):
    return _dip(p, recipes.DIP_SR if p.kind == "sr" else recipes.DIP_DEFAULT, name="dip")


@register("dip-mse", kinds=("denoise",), target=DIP, memory="dip",
          description="Deep Image Prior with the paper's MSE loss (random code), ES-WMV")
def dip_mse(p: Problem):
    return _dip(p, recipes.DIP_MSE, name="dip-mse")


@register("dip-tv", kinds=_ALL, target=DIP, memory="dip",
          description="DIP + TV term, ES-WMV automatic stop")
def dip_tv(p: Problem):
    return _dip(p, recipes.DIP_TV, name="dip-tv")


@register("deep-decoder", kinds=_ALL, target=DIP, memory="dip",
          description="Deep Decoder (Heckel & Hand 2019), ES-WMV automatic stop")
def deep_decoder(p: Problem):
    from ..priors import nets

    cfg = recipes.DEEP_DECODER.value
    net = nets.DeepDecoder(p.channels, channels=cfg["channels"], depth=cfg["depth"])
    return _dip(p, recipes.DIPRecipe(reg_noise_std=cfg["reg_noise_std"],
                                      max_iter=cfg.get("max_iter")), net,
                name="deep-decoder")


def _zssr(p: Problem, recipe, gradual, *, name: str):
    opts = {**recipe.options(), **checked_options(ZSSR, p.options, method=name)}
    solver = ZSSR(gradual=gradual, noise_std=p.noise_std, seed=p.seed, precision=p.precision,
                  progress=p.progress, **opts)
    return solver.solve(p.y, p.operator, x_true=p.x_true, callback=p.callback)


def _large(p: Problem) -> bool:
    return (p.scale or 1) >= 4


def _bicubic_x2(p: Problem) -> bool:
    return p.scale == 2 and getattr(p.operator, "kernel_name", None) == "bicubic"


@register("zssr", kinds=("sr",), target=ZSSR, memory="zssr",
          description="ZSSR (Shocher et al. 2018), the official configurations: x2 bicubic six "
                      "gradual stages at the stage budget; x4+ gradual, paper budget; else one "
                      "jump")
def zssr(p: Problem):
    if _bicubic_x2(p):
        return _zssr(p, recipes.ZSSR_STAGE, True, name="zssr")
    return _zssr(p, recipes.ZSSR_PAPER, _large(p), name="zssr")


@register("zssr-gradual", kinds=("sr",), target=ZSSR, memory="zssr",
          description="ZSSR, the official gradual stages with the paper's budget per stage")
def zssr_gradual(p: Problem):
    return _zssr(p, recipes.ZSSR_PAPER, True, name="zssr-gradual")


@register("zssr-fast", kinds=("sr",), target=ZSSR, memory="zssr",
          description="ZSSR budget setting: x2 bicubic 1.5x1.5 then x2 (crops 80); x4+ "
                      "zssr's stages at the stage budget; else one jump with crops 80")
def zssr_fast(p: Problem):
    if _large(p):
        return _zssr(p, recipes.ZSSR_STAGE, True, name="zssr-fast")
    if _bicubic_x2(p):
        return _zssr(p, recipes.ZSSR_FAST, [1.5], name="zssr-fast")
    return _zssr(p, recipes.ZSSR_FAST, False, name="zssr-fast")
