"""The pretrained CNN as a PnP prior, plain and adapted to the image: benchmark methods.

==================  ==========================================================================
name                what
==================  ==========================================================================
cnn-idbp/hqs/admm   the solver (task defaults of :func:`classical.make_solver`) with the shipped
                    DRUNet-lite, not adapted
ia-idbp/hqs/admm    the same with :class:`~pnp_internal.priors.ImageAdapted` adapted before the
                    iterations (IDBP-CNN-IA, Tirer & Giryes 2019), settings of :data:`IA_SETTINGS`
ia-idbp-during      IDBP, the copy re-adapted on the current estimate every 10 iterations
gt-idbp             IDBP with :class:`~pnp_internal.priors.GainTuning` (SURE) re-tuned on the
                    denoiser's input every 10 iterations
cnn-sure            denoising: the whole CNN fine-tuned on y with SURE (Metzler et al. 2018)
cnn-gaintuning      denoising: GainTuning with SURE on y (Mohan et al. 2021)
==================  ==========================================================================

``cnn`` (plain denoising) is registered in :mod:`.cnn`.

Super-resolution of colour images runs on the luminance, as IDBP-CNN does ("SR is done on the Y
channel, chroma by bicubic"): full-range YCbCr, the Y channel restored with the gray model
(``drunet-lite-gray``), Cb and Cr upscaled by MATLAB bicubic. Measured on full Set5 x2 (Y,
border 2), IDBP 30 iterations: RGB with the colour model 36.19 dB, Y with the gray model 37.09.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ..registry import register
from .classical import PNP_KINDS, make_solver

#: ImageAdapted options per task kind. SR: the class defaults, measured on full Set5 x2 (the
#: table in :mod:`pnp_internal.priors.adapted`: 37.25 -> 37.44 dB); deblur/inpaint/CS: the
#: earlier recipe (16 steps at lr 1e-4, hold-out checked every 4 steps), measured on Set3C and
#: Levin/Set12 (RESULTS.md).
IA_SETTINGS = {
    "sr": dict(steps=96, batch_size=16, lr=1e-4, train="all", check_every=8, patience=4),
    "deblur": dict(steps=16, batch_size=16, lr=1e-4, train="all", check_every=4, patience=3),
    "inpaint": dict(steps=16, batch_size=16, lr=1e-4, train="all", check_every=4, patience=3),
    "cs": dict(steps=16, batch_size=16, lr=1e-4, train="all", check_every=4, patience=3),
}
#: GainTuning inside IDBP (``gt-idbp``, re-tuned every 10 iterations): a cheap recipe.
#: The 12-step recipe, measured for plain denoising (colour weights at 303 training steps,
#: CBSD68 101085/101087, 128x128 centre crops, sigma 25): cnn 27.621/28.116, GainTuning lr 2e-3
#: 27.643/28.141 (+0.02/+0.025 dB, ~50 CPU-s), lr 5e-3 +0.015/0.0, SURE on all weights
#: lr 1e-5: hold-out never improved, original kept (+0.00).
#: With the GPU-trained weights (after the SURE clipping fix), full images, sigma 25:
#: GainTuning Kodak24 +0.01 dB mean (worst -0.02), Set12 -0.005, ~6.5 CPU-s per image.
GT_SETTINGS = dict(steps=12, lr=2e-3, batch_size=4, crop=64)
#: GainTuning for plain denoising (``cnn-gaintuning``): SURE on one 256x256 crop per step
#: (nearly the whole image), 72 steps, hold-out checked every 10 steps, patience 3; about 29 s
#: per 256x256 image on 2 idle cores. Measured (session 9, sigma 25, gain over ``cnn``): 100
#: such steps (320 px crops on CBSD68) +0.045 dB on the first 8 CBSD68 images and +0.05 on
#: Set12, against +0.009 and -0.01 for the 12-step recipe above; the best gains for the image
#: (fitted to its true error on another noise draw) +0.131 on the same 8 (EXPERIMENTS.md).
#: With these settings, full sets: CBSD68 +0.065, Kodak24 +0.047, Set12 +0.049 dB.
GT_DENOISE_SETTINGS = dict(steps=72, lr=2e-3, batch_size=1, crop=256, check_every=10,
                           patience=3)
#: SURE fine-tuning of all weights (``cnn-sure``).
SURE_SETTINGS = dict(steps=12, lr=1e-5, batch_size=4, crop=64)


@lru_cache(maxsize=2)
def _cnn(channels: int):
    from ...priors import pretrained

    return pretrained("drunet-lite-gray" if channels == 1 else "drunet-lite-color")


def _base(problem):
    return _cnn(problem.img_shape[0])


def on_luma(run):
    """Run ``run(problem)`` on the Y channel of a colour bicubic-SR problem (chroma bicubic).

    Other problems (gray, other kinds, other kernels) are passed to ``run`` unchanged.
    """
    import dataclasses

    from ...color import rgb_to_ycbcr, ycbcr_to_rgb
    from ...operators import Downsampling
    from .classical import _bicubic

    def wrapped(problem):
        op = problem.operator
        if (problem.kind != "sr" or problem.img_shape[0] != 3
                or getattr(op, "kernel_name", None) != "bicubic"):
            return run(problem)
        ycc = rgb_to_ycbcr(problem.y)
        shape = (1, *problem.img_shape[1:])
        luma = Downsampling(problem.scale, img_shape=shape, kernel="bicubic",
                            padding=op.padding if hasattr(op, "padding") else "circular")
        sub = dataclasses.replace(problem, y=ycc[:, :1].contiguous(), operator=luma,
                                  img_shape=shape)
        y_hr = run(sub)
        chroma = _bicubic(ycc[:, 1:], problem.scale)
        return ycbcr_to_rgb(torch.cat([y_hr, chroma], dim=1)).clamp(0, 1)

    return wrapped


def _plain(solver_name):
    def run(problem):
        solver, x0 = make_solver(_base(problem), solver_name, problem)
        return solver.solve(problem.y, problem.operator, x0=x0).x

    return on_luma(run)


def _adapted(solver_name, when="before", keep=None):
    """IDBP/HQS/ADMM with :class:`ImageAdapted`; ``keep``, a list, collects the priors (and so
    their adaptation reports) of every run."""

    def run(problem):
        from ...priors import ImageAdapted

        opts = dict(IA_SETTINGS[problem.kind])
        if when != "before":
            opts.update(adapt_every=10, steps=opts["steps"] // 2)
        prior = ImageAdapted(_base(problem), when=when, seed=problem.seed, **opts)
        if keep is not None:
            keep.append(prior)
        solver, x0 = make_solver(prior, solver_name, problem)
        return solver.solve(problem.y, problem.operator, x0=x0).x

    return on_luma(run)


def _gaintuned(solver_name):
    def run(problem):
        from ...priors import GainTuning

        prior = GainTuning(_base(problem), adapt_every=10, seed=problem.seed, **GT_SETTINGS)
        solver, x0 = make_solver(prior, solver_name, problem)
        return solver.solve(problem.y, problem.operator, x0=x0).x

    return on_luma(run)


def _self_tuned(kind):
    def run(problem):
        from ...priors import GainTuning, SUREFineTuned

        if kind == "gt":
            prior = GainTuning(_base(problem), seed=problem.seed,
                               **GT_DENOISE_SETTINGS)
        else:
            prior = SUREFineTuned(_base(problem), seed=problem.seed, **SURE_SETTINGS)
        prior.fit(problem.y, problem.noise_std)
        with torch.no_grad():
            return prior(problem.y, problem.noise_std).clamp(0, 1)

    return run


for _s in ("idbp", "hqs", "admm"):
    register(f"cnn-{_s}", kinds=PNP_KINDS,
             description=f"{_s.upper()} with the shipped DRUNet-lite, not adapted")(_plain(_s))
    register(f"ia-{_s}", kinds=PNP_KINDS,
             description=f"{_s.upper()} with DRUNet-lite fine-tuned on the image before the "
                         "iterations (IDBP-CNN-IA)")(_adapted(_s))
register("ia-idbp-during", kinds=PNP_KINDS,
         description="IDBP, DRUNet-lite re-adapted on the current estimate every 10 "
                     "iterations")(_adapted("idbp", when="during"))
register("gt-idbp", kinds=PNP_KINDS,
         description="IDBP with GainTuning (SURE on the denoiser's input) every 10 "
                     "iterations")(_gaintuned("idbp"))
register("cnn-gaintuning", kinds=("denoise",),
         description="DRUNet-lite with per-channel gains tuned on y by SURE (GainTuning)"
         )(_self_tuned("gt"))
register("cnn-sure", kinds=("denoise",),
         description="DRUNet-lite fully fine-tuned on y by SURE (Metzler et al.)"
         )(_self_tuned("sure"))
