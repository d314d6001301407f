"""Blind restoration: methods that choose the kernel from ``y`` instead of the operator's.

=======================  ===================================================================
name                     what
=======================  ===================================================================
``<sr>-kernelgan``       the kernel estimated from ``y`` by :class:`~pnp_internal.blind.KernelGAN`
                         (recipe :data:`~pnp_internal.recipes.KERNELGAN`), then method ``<sr>``;
                         the plug-and-play solvers take the kernel's error as noise of at
                         least :data:`~pnp_internal.recipes.ESTIMATED_KERNEL_NOISE`, and
                         IDBP regularises its back-projection
                         (:data:`~pnp_internal.recipes.ESTIMATED_KERNEL_EPS`)
``<sr>-recurrence``      the kernel estimated from ``y`` by cross-scale patch recurrence
                         (:class:`~pnp_internal.blind.PatchRecurrence`, recipe
                         :data:`~pnp_internal.recipes.PATCH_RECURRENCE`), then method ``<sr>``
                         with the same margins
``<sr>-meankernel``      the mean of the two estimates above
                         (:func:`~pnp_internal.operators.kernels.average`), then ``<sr>`` with
                         the same margins; the bicubic kernel instead when the estimate is too
                         wide for ``y`` (:func:`guarded`, the default path of
                         ``solve(kernel="estimate")``)
``<sr>-bicubic``         the bicubic kernel assumed whatever the operator says (the non-blind
                         baseline of the blind benchmark)
=======================  ===================================================================

for ``<sr>`` in :data:`BASES`, and for deblurring

=======================  ===================================================================
``selfdeblur``           the sharp image of :class:`~pnp_internal.blind.SelfDeblur` (recipe
                         :data:`~pnp_internal.recipes.SELFDEBLUR`)
``cnn-hqs-selfdeblur``   ``cnn-hqs`` with SelfDeblur's kernel and the noise floor of an
                         estimated blur kernel
``cnn-hqs-l0``           ``cnn-hqs`` with the kernel estimated from ``y``'s sparse gradients
                         (:class:`~pnp_internal.blind.L0Deblur`, recipe
                         :data:`~pnp_internal.recipes.L0_DEBLUR`; seconds on a CPU), the
                         estimate of ``solve(..., kernel="estimate")`` for a blur
``cnn-hqs-gaussian``     ``cnn-hqs`` assuming a Gaussian blur (std 1.6): the wrong-guess
                         baseline
=======================  ===================================================================

Only the operator's factor, size and padding are used: the kernel it carries (the true one on
the benchmark) is never read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from collections import OrderedDict

import torch

from .. import recipes
from ..operators import Blur, Downsampling, kernels
from .registry import Problem, get, register

__all__ = ["BASES", "ESTIMATORS", "KERNEL_SUFFIXES", "with_kernel", "estimate_kernel",
           "guarded", "estimate_blur_kernel", "with_estimated_kernel", "with_kernel_margins",
           "blur_like"]

#: The SR methods that get a blind variant.
BASES = ("zssr", "zssr-fast", "cnn-idbp", "cnn-hqs", "ia-idbp")


_ESTIMATES: OrderedDict = OrderedDict()


#: The kernel estimators :func:`estimate_kernel` knows; ``"mean"``: the mean of the other two.
ESTIMATORS = ("KernelGAN", "PatchRecurrence", "mean")


def estimate_kernel(p: Problem, estimator: str | None = None) -> dict:
    """The estimate of ``estimator`` (one of :data:`ESTIMATORS`; default
    :data:`~pnp_internal.recipes.BLIND_SR_KERNEL`) for ``p.y`` at ``p.scale``, as
    :attr:`Result.kernel` holds it.

    The estimate is deterministic for a seed, so the last few are kept (keyed by the bytes of
    ``y``, the factor, the seed and the recipe): several methods on one image estimate once, and
    the reused estimate says so (``reused``) with the seconds its estimation took.
    """
    from ..blind import KernelGAN, PatchRecurrence

    if p.scale not in (2, 4):
        raise ValueError(f"kernel estimation handles x2 and x4, got x{p.scale}")
    estimator = estimator or recipes.BLIND_SR_KERNEL.value
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if estimator == "mean":
        return _mean_estimate(p)
    recipe = recipes.KERNELGAN if estimator == "KernelGAN" else recipes.PATCH_RECURRENCE
    opts = recipe.options()
    side = min(p.y.shape[-2:])
    if estimator == "KernelGAN" and 32 <= side < opts["crop"]:
        # a small LR image (Set5 woman at x4 is 86x57): the largest crops that fit
        warnings.warn(f"KernelGAN: y is {p.y.shape[-2]}x{p.y.shape[-1]}, smaller than the "
                      f"recipe's crops of {opts['crop']}; using crops of {side - side % 2}",
                      UserWarning, stacklevel=2)
        opts["crop"] = side - side % 2
    key = None
    if p.seed is not None:
        key = (_digest(p.y), p.scale, p.seed, estimator, tuple(sorted(opts.items())))
        if key in _ESTIMATES:
            _ESTIMATES.move_to_end(key)
            return dict(_ESTIMATES[key], reused=True)
    if estimator == "KernelGAN":
        est = KernelGAN(factor=p.scale, seed=p.seed, progress=p.progress, **opts).estimate(p.y)
    else:
        est = PatchRecurrence(factor=p.scale, **opts).estimate(p.y)
    info = {"kernel": est.kernel, "source": estimator, "confidence": est.confidence,
            "degenerate": est.degenerate, "seconds": est.seconds}
    if key is not None:
        _ESTIMATES[key] = info
        while len(_ESTIMATES) > 4:
            _ESTIMATES.popitem(last=False)
    return info


def _digest(t: torch.Tensor) -> str:
    """SHA-1 of ``t``'s values (float32), a cache key."""
    return hashlib.sha1(torch.as_tensor(t).detach().float().cpu().numpy().tobytes()).hexdigest()


_RATIOS: OrderedDict = OrderedDict()


def guarded(p: Problem, info: dict) -> dict:
    """The SR estimate ``info``, or the bicubic kernel instead (with a warning) when the
    estimate is too wide for ``y``: an estimate wider than the true kernel asks the restoration
    for detail that the denoiser holds back, so ``cnn-hqs`` (with the margins of an estimated
    kernel) leaves a measurement residual ``|y - A x|^2`` far above the one it leaves with the
    bicubic kernel. Above :data:`~pnp_internal.recipes.BLIND_SR_GUARD` times that residual, the
    bicubic kernel is used, as the non-blind default (without the margins of an estimate; the
    dropped kernel in ``estimate``). ``residual_ratio`` holds the ratio either way."""
    key = (_digest(p.y), _digest(info["kernel"]), p.noise_std, p.scale, p.seed, p.precision)
    if key not in _RATIOS:  # several methods on one image share the estimate and its test
        _RATIOS[key] = (_hqs_residual(p, info["kernel"])
                        / max(_hqs_residual(p, "bicubic"), 1e-12))
        while len(_RATIOS) > 4:
            _RATIOS.popitem(last=False)
    ratio = _RATIOS[key]
    limit = recipes.BLIND_SR_GUARD.value
    if ratio <= limit:
        return dict(info, residual_ratio=ratio)
    warnings.warn(f"blind SR: the estimated kernel leaves {ratio:.1f} times the measurement "
                  f"residual of the bicubic kernel (limit {limit:g}), the sign of an estimate "
                  "too wide for y; using the bicubic kernel instead", UserWarning, stacklevel=3)
    bicubic = with_kernel(p, "bicubic").operator.kernel.squeeze().cpu()
    return dict(info, kernel=bicubic, residual_ratio=ratio, estimate=info["kernel"],
                source=f"bicubic (the guard dropped the {info['source']} estimate)")


def _hqs_residual(p: Problem, kernel) -> float:
    """Mean of ``|y - A x|^2`` for ``x`` the clipped ``cnn-hqs`` restoration with ``kernel``
    (and the margins of an estimated kernel)."""
    from ..solvers import HQS

    # the recipe's cnn-hqs: the caller's options are meant for its own method (ZSSR's crop...)
    q = dataclasses.replace(p, callback=None, progress=False, x_true=None, options={})
    q = with_kernel_margins(with_kernel(q, kernel), HQS)
    x = get("cnn-hqs").run(q).x.clamp(0, 1)
    return float(((q.operator.A(x) - q.y) ** 2).mean())


def _mean_estimate(p: Problem) -> dict:
    """The mean of KernelGAN's and the patch-recurrence estimate: their errors differ in
    direction (KernelGAN often too wide, the recurrence estimate wrong along the edges on some
    images), and the mean is closer to the true kernel than either on Set5."""
    parts = [estimate_kernel(p, e) for e in ESTIMATORS[:2]]
    kernel = kernels.average(*(kernels.centre_on_grid(i["kernel"], p.scale) for i in parts))
    return {"kernel": kernel, "source": "mean of KernelGAN and PatchRecurrence",
            "confidence": min(i["confidence"] for i in parts),
            "degenerate": "; ".join(f"{e}: {i['degenerate']}" for e, i in
                                    zip(ESTIMATORS, parts) if i["degenerate"]),
            "seconds": sum(i["seconds"] for i in parts),
            "reused": all(i.get("reused", False) for i in parts)}


def estimate_blur_kernel(p: Problem) -> dict:
    """The blur kernel of ``p.y`` estimated from sparse gradients
    (:class:`~pnp_internal.blind.L0Deblur`, recipe :data:`~pnp_internal.recipes.L0_DEBLUR`;
    seconds per image), as :attr:`Result.kernel` holds it. A flat estimate falls back to no
    blur with a warning."""
    from ..blind import L0Deblur

    est = L0Deblur(**recipes.L0_DEBLUR.options()).estimate(p.y)
    return {"kernel": est.kernel, "source": "L0Deblur", "confidence": est.confidence,
            "degenerate": est.degenerate, "seconds": est.seconds}


def with_estimated_kernel(p: Problem, target: type | None, estimator: str | None = None,
                          guard: bool = True) -> tuple[Problem, dict]:
    """``p`` with the kernel estimated for ``y`` and, unless ``target`` (the class that will
    solve ``p``) learns from ``y`` itself (ZSSR, MZSR), the margins of an estimated kernel
    (:func:`with_kernel_margins`); and the estimate as :attr:`Result.kernel` holds it.

    SR: the kernel of ``estimator`` (default :data:`~pnp_internal.recipes.BLIND_SR_KERNEL`,
    :func:`estimate_kernel`), checked against the bicubic kernel by :func:`guarded` unless
    ``guard`` is false; deblurring: :func:`estimate_blur_kernel`."""
    from ..meta import MZSR
    from ..solvers import ZSSR

    if p.kind == "deblur":
        info = estimate_blur_kernel(p)
        return with_kernel_margins(blur_like(p, info["kernel"]), target), info
    info = estimate_kernel(p, estimator)
    if guard:
        info = guarded(p, info)
    dropped = "estimate" in info  # the guard's fallback: the non-blind bicubic assumption
    if dropped:  # by name: MATLAB's sampling offset, and colour restored on the luminance
        return with_kernel(p, "bicubic"), info
    q = with_kernel(p, info["kernel"])
    learns_from_y = target is not None and issubclass(target, (ZSSR, MZSR))
    return (q if learns_from_y else with_kernel_margins(q, target)), info


def with_kernel_margins(p: Problem, target: type | None) -> Problem:
    """``p`` as a plug-and-play solver (class ``target``) should see it when its kernel is an
    estimate, whose error acts as noise: a noise level of at least
    :data:`~pnp_internal.recipes.ESTIMATED_KERNEL_NOISE` (SR) or
    :data:`~pnp_internal.recipes.ESTIMATED_BLUR_NOISE` (deblurring) and, for IDBP in SR, a
    back-projection regularised by :data:`~pnp_internal.recipes.ESTIMATED_KERNEL_EPS` (the
    exact projection onto ``y`` with a slightly wrong kernel can blow the image up), unless
    ``eps`` is given."""
    from ..solvers import IDBP

    floor = (recipes.ESTIMATED_BLUR_NOISE if p.kind == "deblur"
             else recipes.ESTIMATED_KERNEL_NOISE).value
    q = dataclasses.replace(p, noise_std=max(p.noise_std, floor))
    if (p.kind == "sr" and target is not None and issubclass(target, IDBP)
            and "eps" not in p.options):
        q = dataclasses.replace(q, options={**p.options,
                                            "eps": recipes.ESTIMATED_KERNEL_EPS.value})
    return q


def with_kernel(p: Problem, kernel) -> Problem:
    """``p`` with its operator replaced by a :class:`Downsampling` of the same factor, size
    and padding and the given kernel (``"bicubic"`` or an array)."""
    if p.scale is None:
        raise ValueError("choosing the SR kernel needs an SR operator whose factor is known")
    op = Downsampling(p.scale, img_shape=p.img_shape, kernel=kernel,
                      padding=getattr(p.operator, "padding", "circular"))
    return dataclasses.replace(p, operator=op.to(p.y.device))


#: ``(suffix, estimator, what the estimate is)`` of the blind variants of each base method.
_VARIANTS = (("kernelgan", "KernelGAN", "the kernel KernelGAN estimates from y"),
             ("recurrence", "PatchRecurrence",
              "the kernel estimated from y by cross-scale patch recurrence"),
             ("meankernel", "mean",
              "the mean of the KernelGAN and patch-recurrence kernels estimated from y"))
#: Name endings of the methods that choose their kernel themselves (SR and deblurring).
KERNEL_SUFFIXES = (tuple(f"-{suffix}" for suffix, _, _ in _VARIANTS)
                   + ("-bicubic", "selfdeblur", "-l0", "-gaussian"))


def _blind(base: str, estimator: str):
    """``base`` restoring with ``estimator``'s kernel, the estimate in ``Result.kernel``."""
    def run(p: Problem):
        q, info = with_estimated_kernel(p, get(base).target, estimator,
                                        guard=estimator == recipes.BLIND_SR_KERNEL.value)
        res = get(base).run(q)
        res.kernel = info
        return res
    return run


def _register(base: str) -> None:
    def bicubic(p: Problem):
        q = with_kernel(p, "bicubic")
        res = get(base).run(q)
        res.kernel = {"kernel": q.operator.kernel.cpu(), "source": "bicubic (assumed)"}
        return res

    for suffix, estimator, what in _VARIANTS:
        register(f"{base}-{suffix}", kinds=("sr",), target=get(base).target,
                 memory=get(base).memory,
                 description=f"{base} with {what} (blind SR)")(_blind(base, estimator))
    register(f"{base}-bicubic", kinds=("sr",), target=get(base).target, memory=get(base).memory,
             description=f"{base} assuming the bicubic kernel, whatever the operator's")(bicubic)


for _base in BASES:
    _register(_base)


def blur_like(p: Problem, kernel) -> Problem:
    """``p`` with a :class:`Blur` of the given kernel in place of its blur operator, of the
    same padding and image size (``"valid"`` padding: the kernel is zero-padded or cropped
    around its centre to the operator's kernel size, which sets the image size)."""
    if not isinstance(p.operator, Blur):
        raise ValueError(f"blind deblurring needs a Blur operator, got "
                         f"{type(p.operator).__name__}")
    kernel = torch.as_tensor(kernel, dtype=torch.float32)
    if p.operator.padding == "valid":
        kernel = _fit_kernel(kernel, tuple(p.operator.kernel.shape[-2:]))
    return dataclasses.replace(p, operator=Blur(kernel, img_shape=p.img_shape,
                                                padding=p.operator.padding).to(p.y.device))


def _fit_kernel(kernel: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``kernel`` zero-padded or cropped around its centre to ``shape``, summing to 1."""
    out = torch.zeros(shape, dtype=kernel.dtype)
    (kh, kw), (h, w) = kernel.shape, shape
    top, left = (kh - h) // 2, (kw - w) // 2
    src = kernel[max(0, top):max(0, top) + h, max(0, left):max(0, left) + w]
    out[max(0, -top):max(0, -top) + src.shape[0], max(0, -left):max(0, -left) + src.shape[1]] = src
    return out / out.sum()


def _selfdeblur(p: Problem):
    """SelfDeblur on ``p.y``: its output and the estimate as :attr:`Result.kernel` holds it."""
    from ..blind import SelfDeblur

    if not isinstance(p.operator, Blur) or p.operator.padding == "valid":
        # refuse an operator it cannot replace before hours of work: its image keeps y's size
        raise ValueError("SelfDeblur handles a Blur operator with circular, reflect or "
                         f"replicate padding, got {type(p.operator).__name__}"
                         f"{' with padding=valid' if isinstance(p.operator, Blur) else ''}")
    out = SelfDeblur(seed=p.seed, progress=p.progress, **recipes.SELFDEBLUR.options()).run(p.y)
    return out, {"kernel": out.kernel, "source": "SelfDeblur", "loss": out.loss,
                 "seconds": out.seconds}


@register("selfdeblur", kinds=("deblur",), memory="dip",
          description="SelfDeblur (Ren et al. 2020): image and kernel generators fitted to y "
                      "(blind deblurring)")
def selfdeblur(p: Problem):
    from ..solvers.result import Result

    out, info = _selfdeblur(p)
    return Result(x=out.x, n_iter=recipes.SELFDEBLUR.max_iter, converged=True,
                  message=f"SelfDeblur, final loss {out.loss:.4g}", kernel=info)


@register("cnn-hqs-l0", kinds=("deblur",),
          description="cnn-hqs with the kernel estimated from y's sparse gradients (L0Deblur, "
                      "blind deblurring)")
def cnn_hqs_l0(p: Problem):
    q, info = with_estimated_kernel(p, get("cnn-hqs").target)
    res = get("cnn-hqs").run(q)
    res.kernel = info
    return res


@register("cnn-hqs-gaussian", kinds=("deblur",),
          description="cnn-hqs assuming a Gaussian blur (25x25, std 1.6), whatever the "
                      "operator's kernel (the wrong-guess baseline of blind deblurring)")
def cnn_hqs_gaussian(p: Problem):
    kernel = kernels.gaussian(1.6, 25)
    res = get("cnn-hqs").run(blur_like(p, kernel))
    res.kernel = {"kernel": kernel, "source": "Gaussian std 1.6 (assumed)"}
    return res


@register("cnn-hqs-selfdeblur", kinds=("deblur",), memory="dip",
          description="cnn-hqs with the kernel SelfDeblur estimates from y (blind deblurring)")
def cnn_hqs_selfdeblur(p: Problem):
    out, info = _selfdeblur(p)
    res = get("cnn-hqs").run(with_kernel_margins(blur_like(p, out.kernel), get("cnn-hqs").target))
    res.kernel = info
    return res
