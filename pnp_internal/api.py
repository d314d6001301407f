"""One call for every method: :func:`solve` runs a named method, a prior inside a solver, or a
configured solver instance, with the settings of the recipe book (:mod:`pnp_internal.recipes`).
"""

from __future__ import annotations

import dataclasses
import warnings

import torch

from . import catalog, recipes
from .operators.kinds import operator_kind
from .solvers.base import Result

__all__ = ["solve", "methods", "operator_kind", "resolve_noise_std"]

#: Solvers that are direct methods: ``solver="zssr"`` runs the method of that name.
DIRECT = ("dip", "deep-decoder", "zssr", "self2self")
#: Prior names accepted by ``prior=`` (``gaintuning`` and ``sure`` apply to denoising alone,
#: or inside a solver for ``gaintuning``).
PRIOR_NAMES = ("cnn", "ia", "ia-during", "gaintuning", "sure", "dip", "bm3d", "tv", "identity")


def methods(kind: str | None = None) -> dict[str, str]:
    """Every method name with one line: what it does and the operator kinds it supports.

    Parameters
    ----------
    kind : str, optional
        Only the methods for this operator kind (``"deblur"``, ``"sr"``, ...).

    Examples
    --------
    >>> import pnp_internal
    >>> "ia-idbp" in pnp_internal.methods("sr")
    True
    """
    if kind is not None and kind not in recipes.KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid: {', '.join(recipes.KINDS)}")
    return {n: f"{catalog.get(n).description} [{', '.join(sorted(catalog.get(n).kinds))}]"
            for n in catalog.names(kind)}


def _sr_scale(operator, y) -> int | None:
    """The SR factor (:func:`~pnp_internal.priors.training_pairs.sr_factor`), ``None`` when the
    operator does not tell it."""
    from .priors.training_pairs import sr_factor

    try:
        return sr_factor(operator, y)
    except ValueError:
        return None


def resolve_noise_std(y: torch.Tensor, operator, noise_std=None) -> tuple[float, str]:
    """The noise level to use and where it came from.

    ``noise_std`` when given; else the operator's noise model (deepinv physics with a
    ``GaussianNoise`` model, or the level the project's ``measure`` used); else an estimate from
    ``y`` (:func:`pnp_internal.noise.estimate_noise_std`, deepinv's estimator), with a warning
    saying so and how to set it.
    """
    if noise_std is not None:
        if isinstance(noise_std, bool) or not isinstance(noise_std, (int, float)) \
                or not noise_std >= 0 or noise_std != noise_std:
            raise ValueError(f"noise_std must be a number >= 0, got {noise_std!r}")
        if noise_std > 1:
            raise ValueError(f"noise_std={noise_std} is above 1, but images are on the [0, 1] "
                             f"scale; for sigma {noise_std:g} on the 0-255 scale pass "
                             f"noise_std={noise_std:g}/255")
        return float(noise_std), "given"
    known = getattr(operator, "measured_noise_std", None)
    if known is not None:
        return float(known), "the operator's measure()"
    model = getattr(operator, "noise_model", None)
    sigma = getattr(model, "sigma", None)
    if type(model).__name__ == "GaussianNoise" and sigma is not None:
        sigma = float(sigma.flatten()[0]) if isinstance(sigma, torch.Tensor) else float(sigma)
        return sigma, "the operator's noise model"
    from .noise import estimate_noise_std

    est = estimate_noise_std(y)
    warnings.warn(f"noise_std was not given: estimated {est:.4g} ({est * 255:.2f}/255) from y; "
                  "pass noise_std= (on the [0, 1] scale) to set it", UserWarning, stacklevel=3)
    return est, "estimated from y"


def resolve_tile(tile, problem) -> int | None:
    """The tile side for ``problem``: ``tile`` when an int, ``None`` for whole-image passes,
    or for ``"auto"`` what :func:`pnp_internal.memory.auto_tile` picks from free memory."""
    if tile is None:
        return None
    if tile == "auto":
        from .memory import auto_tile
        from .precision import resolve

        _, h, w = problem.img_shape
        return auto_tile(h, w, device=problem.y.device,
                         precision=resolve(problem.precision, problem.y.device).name)
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 16:
        raise ValueError(f"tile must be 'auto', None or an int >= 16 (pixels), got {tile!r}")
    return tile


def check_measurement(y: torch.Tensor, kind: str) -> None:
    """Refuse what would give a silently wrong image: integer dtypes, NaN/Inf, [0, 255] data."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
    if not y.is_floating_point():
        raise TypeError(f"y has dtype {y.dtype}, but images are float tensors in [0, 1]; "
                        "convert with y.float() / 255 (8-bit) or / 65535 (16-bit)")
    bad = int((~torch.isfinite(y)).sum())
    if bad:
        raise ValueError(f"y contains {bad} NaN/Inf value(s); repair or mask them (for missing "
                         "pixels use an Inpainting operator) before restoring")
    if kind in ("denoise", "deblur", "sr", "inpaint"):
        # strong noise spreads a [0, 1] image well beyond [0, 1] (sigma 75/255: about
        # [-1.3, 2.3]), but not its median, nor its extremes to 10
        lo, hi, mid = float(y.min()), float(y.max()), float(y.float().median())
        if hi > 10.0 or lo < -9.0 or not -1.0 <= mid <= 2.0:
            raise ValueError(f"y has values in [{lo:.3g}, {hi:.3g}] (median {mid:.3g}), but "
                             "images are on the [0, 1] scale; divide 8-bit data by 255")


def _method_name(method, prior, solver, kind) -> str | None:
    """The catalog name for this request, or ``None`` for a composition not in the catalog."""
    if method is not None:
        if prior is not None or solver is not None:
            raise TypeError("give either method= or prior=/solver=, not both")
        return catalog.get(method).name
    if isinstance(solver, str) and solver.lower() in DIRECT:
        if prior is not None:
            raise TypeError(f"solver={solver!r} is a direct method without a prior; leave "
                            "prior out")
        return solver.lower()
    if prior is None and solver is None:
        return recipes.DEFAULT_METHOD.get(kind, recipes.DEFAULT_METHOD["other"]).value
    if isinstance(prior, str) and kind == "denoise" and solver is None:
        direct = {"cnn": "cnn", "bm3d": "bm3d", "tv": "tv", "gaintuning": "cnn-gaintuning",
                  "sure": "cnn-sure"}.get(prior.lower())
        if direct:
            return direct
    return None


def _composed(prior, solver, kind):
    """``(run(problem), name, solver class)`` for a prior (name or object) inside a solver (name
    or class)."""
    from .catalog.pnp import PRIORS, SOLVERS, pnp_method

    if solver is None:
        solver = recipes.DEFAULT_SOLVER.get(kind, recipes.DEFAULT_SOLVER["other"]).value
    if isinstance(solver, type):
        names = {cls: n for n, cls in SOLVERS.items()}
        if solver not in names:
            raise TypeError(f"solver class {solver.__name__} has no recipe; pass an instance "
                            "configured yourself")
        solver = names[solver]
    if not isinstance(solver, str):
        raise TypeError(f"solver must be one of {', '.join([*SOLVERS, *DIRECT])}, a solver "
                        f"class or a configured instance, got {type(solver).__name__}")
    if solver.lower() not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; valid: {', '.join([*SOLVERS, *DIRECT])}")
    if prior is None:
        prior = "cnn"
    if isinstance(prior, str):
        key = {"gaintuning": "gt"}.get(prior.lower(), prior.lower())
        if key not in PRIORS:
            raise ValueError(f"unknown prior {prior!r}; valid names: {', '.join(PRIOR_NAMES)} "
                             "(or pass a Prior, a deepinv Denoiser or a callable f(x, sigma))")
        prior = key
    else:
        from .priors.base import as_prior

        prior = as_prior(prior)
    name = f"{prior if isinstance(prior, str) else 'custom'}-{solver.lower()}"
    return pnp_method(prior, solver.lower()), name, SOLVERS[solver.lower()]


def _with_chosen_kernel(problem, kernel, method, target):
    """``(problem with the operator's kernel replaced, Result.kernel)`` for ``solve(kernel=)``;
    ``method`` is the method's name and ``target`` the class that solves it."""
    from .catalog.blind import KERNEL_SUFFIXES, blur_like, with_estimated_kernel, with_kernel

    if problem.kind not in ("sr", "deblur"):
        raise ValueError(f"kernel= applies to SR and blur operators, got a {problem.kind} "
                         "operator; build the operator with its kernel instead")
    if isinstance(method, str) and method.endswith(KERNEL_SUFFIXES):
        base = method.rsplit("-", 1)[0] if "-" in method else "cnn-hqs"
        raise TypeError(f"method {method!r} chooses its kernel itself; leave kernel= out or "
                        f"pass the base method {base!r}")
    if isinstance(kernel, str) and kernel == "estimate":
        return with_estimated_kernel(problem, target)
    if problem.kind == "deblur":
        if isinstance(kernel, str):
            raise ValueError(f"kernel must be 'estimate' or a 2-D array for a blur, got "
                             f"{kernel!r}")
        problem = blur_like(problem, kernel)
    elif isinstance(kernel, str) and kernel != "bicubic":
        raise ValueError(f"kernel must be 'estimate', 'bicubic' or a 2-D array, got {kernel!r}")
    else:
        problem = with_kernel(problem, kernel)
    return problem, {"kernel": problem.operator.kernel.cpu(), "source": "given"}


def solve(y: torch.Tensor, operator, method: str | None = None, *, prior=None, solver=None,
          noise_std: float | None = None, seed: int | None = 0, device=None,
          precision: str = "auto", progress: bool = False, color: str = "auto",
          x0: torch.Tensor | None = None, x_true: torch.Tensor | None = None, callback=None,
          clamp: bool = True, tile: int | str | None = "auto", kernel=None,
          **options) -> Result:
    """Restore ``x`` from ``y = A x + n`` with a named method or a prior inside a solver.

    Parameters
    ----------
    y : torch.Tensor
        The measurement ``(1, ...)`` in [0, 1] units, a floating-point tensor (computed in
        float32); integer images, NaN/Inf and [0, 255] data are refused with the fix.
    operator : deepinv.physics.LinearPhysics
        The forward model (a project operator or any deepinv linear physics).
    method : str, optional
        Any name of :func:`methods` (``"ia-idbp"``, ``"zssr"``, ``"cnn-gaintuning"``, ...).
        Default: the recipe book's choice for the operator kind
        (:data:`pnp_internal.recipes.DEFAULT_METHOD`).
    prior : str, Prior, deepinv Denoiser or callable, optional
        ``"cnn"``, ``"ia"``, ``"ia-during"``, ``"gaintuning"``, ``"sure"``, ``"dip"``,
        ``"bm3d"``, ``"tv"``, ``"identity"`` or a denoiser object; runs inside ``solver``.
    solver : str, Solver class or configured instance, optional
        ``"idbp"``, ``"hqs"``, ``"admm"`` (with the recipe of the operator kind), a direct
        method ``"dip"``, ``"deep-decoder"``, ``"zssr"``, ``"self2self"``, or an instance of any
        solver (``IDBP``, ``DIP``, ``ZSSR``, ...) which is run as configured.
    noise_std : float, optional
        Noise level of ``y`` ([0, 1] scale). ``None``: from the operator's noise model, else
        estimated from ``y`` (with a warning); see :func:`resolve_noise_std`.
    seed : int or None
        Seed of every random choice.
    device : str or torch.device, optional
        Run there (``y``, ``x0``, ``x_true`` and the operator are moved); default ``y.device``.
    precision : {"auto", "fp32", "bf16"}
        Arithmetic of the network passes (:func:`pnp_internal.precision.resolve`).
    progress : bool
        Show progress bars.
    color : {"auto", "rgb"}
        ``"rgb"`` forces colour SR with the CNN priors on RGB (default: the luminance path).
    x0, x_true, callback
        Initial estimate, ground truth (PSNR history) and ``callback(state)``.
    clamp : bool
        Clamp ``Result.x`` to [0, 1] (``False`` keeps the raw iterate).
    tile : {"auto"} or int or None
        Run the denoiser in tiles of this side (:class:`~pnp_internal.priors.Tiled`) inside
        the iterations; ``"auto"``: only when the whole image would not fit in memory
        (:func:`pnp_internal.memory.auto_tile`); ``None``: never. DIP, Deep Decoder, ZSSR and
        Self2Self cannot tile: they refuse an image that will not fit, before any work.
    kernel : {"estimate", "bicubic"} or array, optional
        SR and blur operators: restore with this kernel instead of the operator's (its factor,
        size and padding are kept). ``"estimate"`` for a blur: estimated from ``y`` (blind
        deblurring) by :class:`~pnp_internal.blind.L0Deblur` (recipe
        :data:`~pnp_internal.recipes.L0_DEBLUR`), the solvers then assuming a noise level of at
        least :data:`~pnp_internal.recipes.ESTIMATED_BLUR_NOISE`. ``"estimate"`` for SR:
        estimated from ``y`` (blind SR) by the estimator
        :data:`~pnp_internal.recipes.BLIND_SR_KERNEL` names (the mean of
        :class:`~pnp_internal.blind.KernelGAN`'s and
        :class:`~pnp_internal.blind.PatchRecurrence`'s estimates), with a warning and the
        bicubic kernel when an estimate is degenerate; plug-and-play methods then assume a noise
        level of at least :data:`~pnp_internal.recipes.ESTIMATED_KERNEL_NOISE` (the kernel's
        error) and IDBP regularises its back-projection by
        :data:`~pnp_internal.recipes.ESTIMATED_KERNEL_EPS` unless ``eps`` is given. The kernel
        used is in ``Result.kernel``.
    **options
        Overrides of the recipe for the method's main class (the solver for PnP methods,
        ``DIP``, ``ZSSR``, ``GainTuning``, ...); an unknown option raises ``TypeError`` listing
        the valid ones.

    Returns
    -------
    Result
        With ``method``, ``noise_std`` and ``precision`` filled in.

    Examples
    --------
    >>> import torch, pnp_internal as pi
    >>> from pnp_internal import operators
    >>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> op = operators.Inpainting(operators.masks.random_mask(0.5, img_shape=(1, 32, 32),
    ...                           seed=0), img_shape=(1, 32, 32))
    >>> res = pi.solve(op.measure(x), op, method="tv-admm", max_iter=5)
    >>> res.n_iter, res.method
    (5, 'tv-admm')
    """
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
    if device is not None:
        device = torch.device(device)
        y, operator = y.to(device), operator.to(device)
        x0 = None if x0 is None else x0.to(device)
        x_true = None if x_true is None else x_true.to(device)
    if solver is not None and hasattr(solver, "solve") and not isinstance(solver, type):
        if options or prior is not None or method is not None:
            raise TypeError(f"a configured {type(solver).__name__} instance runs as it is: "
                            "leave method=, prior= and options out, or pass its name")
        res = solver.solve(y, operator, x0=x0, x_true=x_true, callback=callback)
        res.method = res.method or type(solver).__name__
        return res
    kind = operator_kind(operator)
    check_measurement(y, kind)
    if y.dtype != torch.float32:  # float64 / float16 / bfloat16 data: computed in float32
        y = y.float()
    noise, _ = resolve_noise_std(y, operator, noise_std)
    if color not in ("auto", "rgb"):
        raise ValueError(f"color must be 'auto' or 'rgb', got {color!r}")
    problem = catalog.Problem(y=y, operator=operator, kind=kind, noise_std=noise,
                              scale=_sr_scale(operator, y) if kind == "sr" else None, seed=seed,
                              precision=precision, progress=progress, color=color, x0=x0,
                              x_true=x_true, callback=callback, options=options)
    problem = dataclasses.replace(problem, tile=resolve_tile(tile, problem))
    name = _method_name(method, prior, solver, kind)
    if name is not None:
        entry = catalog.get(name)
        if kind not in entry.kinds:
            raise ValueError(f"method {name!r} does not handle {kind} operators "
                             f"({type(operator).__name__}); methods for {kind}: "
                             f"{', '.join(catalog.names(kind))}")
        run, target = entry.run, entry.target
        if entry.memory != "cnn":
            problem.check_fits(entry.memory, name)
    else:
        run, name, target = _composed(prior, solver, kind)
    chosen = {}
    if kernel is not None:
        problem, chosen = _with_chosen_kernel(problem, kernel, name, target)
    try:
        with recipes.reading() as read:
            res = run(problem)
    except RuntimeError as err:  # torch.OutOfMemoryError on CUDA, an allocator error on CPU
        if not isinstance(err, torch.OutOfMemoryError) and "allocate memory" not in str(err):
            raise
        shape = "x".join(map(str, problem.img_shape))
        raise MemoryError(f"out of memory restoring a {shape} image with {name!r} on "
                          f"{y.device}: restore it in tiles (e.g. 256x256 with overlap), pick a "
                          "cheaper method (cnn-hqs, zssr-fast) or run on the CPU") from err
    res.method, res.noise_std, res.recipes = name, noise, read
    res.kernel = chosen or res.kernel
    if clamp:
        res.x = res.x.clamp(0, 1)
    return res
