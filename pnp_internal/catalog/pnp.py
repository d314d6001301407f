"""Plug-and-play methods ``<prior>-<solver>``: a named prior inside IDBP, HQS or ADMM.

===========  ==================================================================================
prior        what
===========  ==================================================================================
cnn          the shipped DRUNet-lite, not adapted
ia           the same fine-tuned on the image before the iterations (IDBP-CNN-IA, Tirer &
             Giryes 2019), :data:`~pnp_internal.recipes.IMAGE_ADAPTED`
ia-single    one adapted copy, no refit (``ia-idbp-single``;
             :data:`~pnp_internal.recipes.IMAGE_ADAPTED_SINGLE`)
ia-during    re-adapted on the current estimate every 10 iterations (``ia-idbp-during``)
gt           GainTuning (SURE on the denoiser's input) every 10 iterations
dip          :class:`~pnp_internal.priors.DIPDenoiser` (a DIP fitted at every call)
bm3d, tv     the classical denoisers
===========  ==================================================================================

The solvers' settings per operator kind are :data:`pnp_internal.recipes.PNP`. Colour
super-resolution with a CNN prior runs on the luminance (:data:`~pnp_internal.recipes.LUMA_SR`).
"""

from __future__ import annotations

import dataclasses

import torch

from .. import recipes
from ..solvers import ADMM, HQS, IDBP
from .registry import Problem, checked_options, register

__all__ = ["SOLVERS", "PRIORS", "make_prior", "pnp_method", "initial_estimate", "on_luma",
           "luminance_sr", "shipped_cnn", "adapted_copies"]

SOLVERS = {"idbp": IDBP, "hqs": HQS, "admm": ADMM}
PNP_KINDS = ("deblur", "sr", "inpaint", "cs", "other")


def shipped_cnn(channels: int, device=None, precision: str = "auto", *,
                one_call: bool = False):
    """A private copy of the shipped DRUNet-lite for ``channels`` (1 gray, 3 colour); with
    ``one_call``, the weights the recipe book gives a denoiser applied to ``y`` directly
    (:data:`~pnp_internal.recipes.ONE_CALL_WEIGHTS`), else those of the priors."""
    from .. import recipes
    from ..priors.cnn import pretrained

    if one_call:
        name = recipes.ONE_CALL_WEIGHTS.value[channels]
    else:
        name = "drunet-lite-gray" if channels == 1 else "drunet-lite-color"
    model = pretrained(name, device=device or "cpu")
    model.precision = precision
    return model


def _cnn(p: Problem):
    return shipped_cnn(p.channels, p.y.device, p.precision)


def _copy_seed(seed, k: int):
    """The seed of the ``k``-th adapted copy (``None``: each draws its own)."""
    return None if seed is None else seed + 7919 * k


def adapted_copies(make_cnn, seed, copies: int = 1, orientations: int = 0, **options):
    """``copies`` :class:`~pnp_internal.priors.ImageAdapted` priors of ``make_cnn()`` with
    ``options``, copy ``k`` seeded ``seed + 7919 k`` (each its own draw with ``seed=None``) and
    averaged over its group of ``orientations`` flips/rotations (0: the image as it is), their
    mean when more than one (an :class:`~pnp_internal.recipes.ImageAdaptation`'s ``copies`` and
    ``orientations``)."""
    from ..priors import ImageAdapted, MeanOfPriors, SelfEnsemble
    from ..priors.self_ensemble import orientation_group

    priors = [ImageAdapted(make_cnn(), seed=_copy_seed(seed, k), **options)
              for k in range(copies)]
    if orientations:
        priors = [SelfEnsemble(prior, transforms=orientation_group(k, orientations))
                  for k, prior in enumerate(priors)]
    return priors[0] if copies == 1 else MeanOfPriors(priors)


def _image_adapted(table):
    def build(p: Problem):
        recipe = table.get(p.kind, table["other"])
        opts = recipe.options()
        when = "during" if opts.get("adapt_every") else "before"
        return adapted_copies(lambda: _cnn(p), p.seed, recipe.copies, recipe.orientations,
                              when=when, precision=p.precision, **opts)

    return build


def _gaintuning(p: Problem):
    from ..priors import GainTuning

    return GainTuning(_cnn(p), seed=p.seed, precision=p.precision,
                      **recipes.GAINTUNING_IN_SOLVER.options())


def _dip_denoiser(p: Problem):
    from ..priors import DIPDenoiser

    return DIPDenoiser(seed=p.seed, precision=p.precision, **recipes.DIP_DENOISER.value)


def _classical(name):
    def build(p: Problem):
        from .. import priors

        return {"bm3d": priors.BM3D, "tv": priors.TV, "identity": priors.Identity}[name]()

    return build


#: prior name -> (builder(problem) -> prior, restores colour SR on the luminance)
PRIORS = {
    "cnn": (_cnn, True),
    "ia": (_image_adapted(recipes.IMAGE_ADAPTED), True),
    "ia-single": (_image_adapted(recipes.IMAGE_ADAPTED_SINGLE), True),
    "ia-during": (_image_adapted(recipes.IMAGE_ADAPTED_DURING), True),
    "gt": (_gaintuning, True),
    "dip": (_dip_denoiser, False),
    "bm3d": (_classical("bm3d"), False),
    "tv": (_classical("tv"), False),
    "identity": (_classical("identity"), False),
}


def make_prior(name: str, problem: Problem):
    """The prior called ``name`` (a key of :data:`PRIORS`) built for ``problem``."""
    if name not in PRIORS:
        raise ValueError(f"unknown prior {name!r}; valid names: {', '.join(PRIORS)} (or pass a "
                         "Prior, a deepinv Denoiser or a callable f(x, sigma))")
    if name == "dip":
        problem.check_fits("dip", "dip-admm")
        return PRIORS[name][0](problem)
    return problem.tiled(PRIORS[name][0](problem))


def _bicubic(y, scale):
    from deepinv.physics.functional import imresize_matlab

    return imresize_matlab(y, scale=scale)


def normalised_adjoint(y: torch.Tensor, operator) -> torch.Tensor | None:
    r"""A start for any non-negative operator: :math:`A^\top y / A^\top 1` where the weights
    :math:`A^\top 1` are large, interpolated elsewhere (normalised convolution).

    For masks, subsampling and blurs it is a local average of the measured values at the
    right place and brightness, where ``A^+ y`` (a minimum-norm solution) puts zeros or
    stripes that a denoiser cannot repair. ``None`` for operators with negative weights
    (compressed sensing), where it means nothing.
    """
    from ..operators.inpainting import fill_missing

    with torch.no_grad():
        w = operator.A_adjoint(torch.ones_like(y))
        top = float(w.abs().max())
        if top <= 0 or float(w.min()) < -1e-6 * top:
            return None
        known = w > 0.05 * top
        x = torch.where(known, operator.A_adjoint(y) / w.clamp_min(1e-12), torch.zeros_like(w))
        return fill_missing(x, known.to(x.dtype))


def initial_estimate(init: str, p: Problem):
    """``x0`` for the recipe's ``init`` (``None``: the solver's own ``init="auto"`` rule)."""
    img_shape = p.img_shape
    if init == "adjoint":
        return normalised_adjoint(p.y, p.operator)
    if init == "bicubic" and p.scale:
        x0 = _bicubic(p.y, p.scale)
        if tuple(x0.shape[1:]) == img_shape:
            return x0
    if init == "measurement" and p.y.ndim == 4 and p.y.shape[1] == img_shape[0]:
        dh, dw = img_shape[1] - p.y.shape[2], img_shape[2] - p.y.shape[3]
        if dh >= 0 and dw >= 0:  # "valid" blur: y is smaller, extend its border
            return torch.nn.functional.pad(p.y, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2),
                                           mode="replicate")
    return None


def luminance_sr(y: torch.Tensor, operator, scale: int):
    """Split colour bicubic super-resolution into its luminance problem.

    Returns ``(y_luma, luma_operator, to_rgb)``: the Y channel of ``y`` (full-range YCbCr), a
    gray bicubic :class:`~pnp_internal.operators.Downsampling` for it, and ``to_rgb(x_luma)``,
    which joins a restored luminance with the chroma upscaled by MATLAB bicubic; ``None`` for
    gray images and other kernels.
    """
    from ..color import rgb_to_ycbcr, ycbcr_to_rgb
    from ..operators import Downsampling

    if y.shape[1] != 3 or getattr(operator, "kernel_name", None) != "bicubic":
        return None
    ycc = rgb_to_ycbcr(y)
    shape = (1, *operator.img_shape[1:])
    luma = Downsampling(scale, img_shape=shape, kernel="bicubic",
                        padding=getattr(operator, "padding", "circular")).to(y.device)

    def to_rgb(x_luma):
        chroma = _bicubic(ycc[:, 1:], scale)
        return ycbcr_to_rgb(torch.cat([x_luma, chroma], dim=1)).clamp(0, 1)

    return ycc[:, :1].contiguous(), luma, to_rgb


def on_luma(run):
    """Run ``run(problem)`` on the Y channel of a colour bicubic-SR problem (chroma bicubic,
    :func:`luminance_sr`). Other problems (gray, other kinds or kernels, ``color="rgb"``) go to
    ``run`` unchanged.
    """
    def wrapped(p: Problem):
        from ..color import rgb_to_ycbcr

        split = None
        if p.kind == "sr" and p.color != "rgb" and recipes.LUMA_SR.value:
            split = luminance_sr(p.y, p.operator, p.scale)
        if split is None:
            return run(p)
        y_luma, luma, to_rgb = split
        x0 = None if p.x0 is None else rgb_to_ycbcr(p.x0)[:, :1]
        truth = None if p.x_true is None else rgb_to_ycbcr(p.x_true)[:, :1]
        res = run(dataclasses.replace(p, y=y_luma, operator=luma, x0=x0, x_true=truth))
        res.x = to_rgb(res.x)
        res.message = f"{res.message} (luminance restored, chroma bicubic)".strip()
        return res

    return wrapped


def pnp_method(prior, solver: str):
    """``run(problem) -> Result`` for ``prior`` (a name of :data:`PRIORS` or a prior object)
    inside ``solver`` (``"idbp"``, ``"hqs"``, ``"admm"``) with the recipe of the operator kind."""
    cls = SOLVERS[solver]

    def run(p: Problem):
        recipe = recipes.pnp_recipe(p.kind, solver)
        model = make_prior(prior, p) if isinstance(prior, str) else p.tiled(prior)
        kw = dict(noise_std=p.noise_std, max_iter=recipe.max_iter, seed=p.seed,
                  schedule=recipe.build_schedule(p.noise_std, p.scale), progress=p.progress)
        if solver == "idbp":
            kw["eps"] = recipe.eps(p.noise_std)
        if recipe.init == "fill":
            kw["init"] = "interpolate"
        kw.update(checked_options(cls, p.options, method=f"{prior}-{solver}"))
        x0 = p.x0 if p.x0 is not None else initial_estimate(recipe.init, p)
        res = cls(model, **kw).solve(p.y, p.operator, x0=x0, x_true=p.x_true,
                                     callback=p.callback)
        res.precision = getattr(model, "precision_used", None) or res.precision
        return res

    luma = isinstance(prior, str) and PRIORS[prior][1]
    return on_luma(run) if luma else run


_WHAT = {"cnn": "the shipped DRUNet-lite, not adapted",
         "ia": "DRUNet-lite fine-tuned on the image before the iterations (IDBP-CNN-IA)",
         "bm3d": "the BM3D prior", "tv": "the TV prior"}
for _p, _what in _WHAT.items():
    for _s, _cls in SOLVERS.items():
        register(f"{_p}-{_s}", kinds=PNP_KINDS, target=_cls,
                 description=f"{_s.upper()} with {_what}")(pnp_method(_p, _s))
register("dip-admm", kinds=PNP_KINDS, target=ADMM,
         description="ADMM with DIPDenoiser (a DIP fitted at every call, warm-started)"
         )(pnp_method("dip", "admm"))
register("ia-idbp-single", kinds=PNP_KINDS, target=IDBP,
         description="IDBP, one copy of DRUNet-lite fine-tuned on the image before the "
                     "iterations (for SR: ia-idbp's adaptation without the refit and the "
                     "second copy)")(pnp_method("ia-single", "idbp"))
register("ia-idbp-during", kinds=PNP_KINDS, target=IDBP,
         description="IDBP, DRUNet-lite re-adapted on the current estimate every 10 "
                     "iterations")(pnp_method("ia-during", "idbp"))
register("gt-idbp", kinds=PNP_KINDS, target=IDBP,
         description="IDBP with GainTuning (SURE on the denoiser's input) every 10 "
                     "iterations")(pnp_method("gt", "idbp"))
