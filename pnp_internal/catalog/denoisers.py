"""Denoising methods applied to ``y`` directly: ``cnn``, ``cnn-x8`` (its geometric
self-ensemble), ``cnn-x8-wiener`` and ``cnn-x8-cbm3d`` (that blended with BM3D's Wiener stage
or with CBM3D), ``cnn-gaintuning``, ``cnn-sure`` (and ``cnn-sure-x8-wiener``),
``cnn-pilot-x8-wiener``, ``bm3d``, ``tv`` and ``self2self``.

``cnn-gaintuning`` (Mohan et al. 2021: per-channel gains) and ``cnn-sure`` (Metzler et al.
2018: here a low-rank update of every convolution) first fit the CNN of ``cnn``
(:data:`~pnp_internal.recipes.ONE_CALL_WEIGHTS`) to ``y`` with SURE
(:data:`~pnp_internal.recipes.GAINTUNING_DENOISE`, :data:`~pnp_internal.recipes.SURE_DENOISE`),
then denoise it once. ``cnn-pilot-x8-wiener`` trains the same update on ``cnn-x8-wiener``'s
result plus fresh noise instead (:class:`~pnp_internal.priors.PilotFineTuned`,
:data:`~pnp_internal.recipes.PILOT_DENOISE`).
"""

from __future__ import annotations

import time

import torch
from tqdm.auto import tqdm

from .. import recipes
from ..solvers.base import Result
from .pnp import shipped_cnn
from .registry import Problem, checked_options, register

__all__ = ["one_call"]


def one_call(p: Problem, denoiser, message: str, *, precision: str | None = None) -> Result:
    """``Result`` of a single call ``denoiser(y, noise_std)`` (clamped to [0, 1])."""
    t0 = time.perf_counter()
    with torch.no_grad():
        x = p.tiled(denoiser)(p.y, p.noise_std).clamp(0, 1)
    history = {"seconds": [time.perf_counter() - t0]}
    if p.x_true is not None:
        from ..metrics import psnr

        history["psnr"] = [float(psnr(x, p.x_true).mean())]
    used = precision or getattr(denoiser, "precision_used", None) or "fp32"
    return Result(x, 1, True, history, message, precision=used)


@register("cnn", kinds=("denoise",),
          description="the shipped DRUNet-lite (colour 8.16 M parameters, gray 4.25 M) on y at "
                      "the noise level")
def cnn(p: Problem) -> Result:
    if p.options:
        _no_options(p, "cnn")
    return one_call(p, _one_call_cnn(p), "one CNN call")


@register("cnn-x8", kinds=("denoise",),
          description="the shipped DRUNet-lite averaged over the 8 flips and rotations of y "
                      "(geometric self-ensemble: 8 calls)")
def cnn_x8(p: Problem) -> Result:
    from ..priors import SelfEnsemble

    if p.options:
        _no_options(p, "cnn-x8")
    return one_call(p, SelfEnsemble(_one_call_cnn(p)), "8 CNN calls, averaged")


@register("cnn-x8-wiener", kinds=("denoise",),
          description="cnn-x8 blended with BM3D's collaborative Wiener stage piloted by it "
                      "(non-local: the repeats a CNN cannot see)")
def cnn_x8_wiener(p: Problem) -> Result:
    if p.options:
        _no_options(p, "cnn-x8-wiener")
    prior, what = _x8_wiener(p, _one_call_cnn(p))
    return one_call(p, prior, f"8 CNN calls {what}")


def _x8_wiener(p: Problem, denoiser):
    """``denoiser`` as ``cnn-x8-wiener`` calls it (:func:`~pnp_internal.priors.x8_wiener`), and
    the words for it."""
    from ..priors import x8_wiener

    prior = x8_wiener(denoiser, p.channels)
    return prior, f"averaged, blended ({prior.blend}) with BM3D's Wiener stage piloted by them"


@register("cnn-x8-cbm3d", kinds=("denoise",),
          description="the weighted mean of cnn-x8 and CBM3D (their errors differ: the CNN's on "
                      "repeated structure, CBM3D's on texture)")
def cnn_x8_cbm3d(p: Problem) -> Result:
    from ..priors import BM3D, Blend, SelfEnsemble

    if p.options:
        _no_options(p, "cnn-x8-cbm3d")
    weight = recipes.CBM3D_BLEND.value
    prior = Blend(SelfEnsemble(_one_call_cnn(p)), BM3D(), weight=weight)
    return one_call(p, prior, f"8 CNN calls averaged, weighted {weight} against CBM3D")


def _one_call_cnn(p: Problem):
    """The shipped CNN with the recipe book's weights for denoising ``y`` directly."""
    return shipped_cnn(p.channels, p.y.device, p.precision, one_call=True)


def _no_options(p: Problem, name: str):
    raise TypeError(f"method {name!r} takes no options, got {', '.join(sorted(p.options))}")


def _self_tuned(cls_name: str, recipe: str, x8_wiener: bool = False):
    """``run`` for a CNN tuned on ``y`` by ``cls_name`` with the recipe called ``recipe`` (read
    at run time, so the recipe book stays the one place); with ``x8_wiener``, the tuned CNN
    is called as ``cnn-x8-wiener`` calls the shipped one."""
    def run(p: Problem) -> Result:
        from .. import priors

        cls = getattr(priors, cls_name)
        opts = {**getattr(recipes, recipe).options(),
                **checked_options(cls, p.options, method=cls_name)}
        prior = cls(_one_call_cnn(p), seed=p.seed,
                    precision=p.precision, **opts)
        with tqdm(total=prior.steps, desc=cls_name, unit="step", leave=False,
                  disable=not p.progress) as bar:
            prior._on_step = lambda step, steps, loss: (bar.update(1),
                                                        bar.set_postfix(loss=f"{loss:.3g}"))
            report = prior.fit(p.y, p.noise_std)
        denoiser, called = prior, ""
        if x8_wiener:
            denoiser, what = _x8_wiener(p, prior)
            called = f"; 8 calls {what}"
        res = one_call(p, denoiser, f"{cls_name}: {report.steps} steps, kept step "
                                    f"{report.best_step} ({report.stopped}){called}")
        res.history["adaptation_seconds"] = [report.seconds]
        return res

    return run


def _classical(name):
    def run(p: Problem) -> Result:
        from .. import priors

        if p.options:
            _no_options(p, name)
        return one_call(p, {"bm3d": priors.BM3D, "tv": priors.TV}[name](), f"one {name} call",
                        precision="fp32")

    return run


def _self2self(p: Problem) -> Result:
    from ..solvers.self2self import Self2Self

    opts = {**recipes.SELF2SELF.value, **p.options}
    solver = Self2Self(seed=p.seed, precision=p.precision, progress=p.progress,
                       **checked_options(Self2Self, opts, method="self2self"))
    return solver.solve(p.y, p.operator, x_true=p.x_true, callback=p.callback)


register("cnn-gaintuning", kinds=("denoise",),
         description="DRUNet-lite with per-channel gains tuned on y by SURE (GainTuning)"
         )(_self_tuned("GainTuning", "GAINTUNING_DENOISE"))
register("cnn-gaintuning-fast", kinds=("denoise",),
         description="GainTuning with two thirds of the SURE steps (the 30 s budget in float32)"
         )(_self_tuned("GainTuning", "GAINTUNING_DENOISE_FAST"))
register("cnn-sure", kinds=("denoise",),
         description="DRUNet-lite with a rank-4 update fitted to y by SURE (Metzler et al.; "
                     "LoRA), as long as the hold-out keeps falling"
         )(_self_tuned("SUREFineTuned", "SURE_DENOISE"))
register("cnn-sure-x8-wiener", kinds=("denoise",),
         description="cnn-sure's tuned CNN called as cnn-x8-wiener calls the shipped one (8 "
                     "flips and rotations averaged, blended with BM3D's Wiener stage)"
         )(_self_tuned("SUREFineTuned", "SURE_DENOISE", x8_wiener=True))
register("cnn-pilot-x8-wiener", kinds=("denoise",),
         description="DRUNet-lite with a rank-4 update trained on cnn-x8-wiener's result plus "
                     "fresh noise, two rounds (SURE on all of y keeps or refuses each), then "
                     "called as cnn-x8-wiener calls the shipped one"
         )(_self_tuned("PilotFineTuned", "PILOT_DENOISE", x8_wiener=True))
register("bm3d", kinds=("denoise",), description="BM3D (CBM3D on colour) on y")(_classical("bm3d"))
register("tv", kinds=("denoise",), description="TV (ROF) denoising of y")(_classical("tv"))
register("self2self", kinds=("denoise",), memory="self2self",
         description="Self2Self (Quan et al. 2020): 1000 steps, 32 dropout predictions"
         )(_self2self)
