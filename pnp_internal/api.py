"""One-call restoration: :func:`solve` picks a solver, a prior and sensible defaults."""

from __future__ import annotations

import inspect

import torch

from .solvers import ADMM, HQS, IDBP, Result
from .solvers.base import Solver
from .solvers.schedules import DPIR, Constant, IDBPDecay

SOLVERS = {"idbp": IDBP, "admm": ADMM, "hqs": HQS}
PRIORS = ("tv", "bm3d", "identity", "cnn")

# operator kinds, recognised by class name anywhere in the operator's class hierarchy (so both
# the project's operators and deepinv's own physics are recognised)
_KINDS = (
    ("denoise", ("Denoising",)),
    ("inpaint", ("Inpainting", "Demosaicing")),
    ("sr", ("Downsampling", "DownsamplingMatlab")),
    ("blur", ("Blur", "BlurFFT", "SpaceVaryingBlur")),
    ("cs", ("CompressedSensing", "StructuredRandom", "SinglePixelCamera")),
)


def operator_kind(operator) -> str:
    """``"denoise"``, ``"inpaint"``, ``"sr"``, ``"blur"``, ``"cs"`` or ``"other"``."""
    names = {cls.__name__ for cls in type(operator).__mro__}
    for kind, cls_names in _KINDS:
        if names.intersection(cls_names):
            return kind
    return "other"


def default_settings(operator, noise_std: float = 0.0, solver: str | None = None):
    """The defaults of :func:`solve` for ``operator``: ``(solver_name, options)``.

    Parameters
    ----------
    operator : deepinv.physics.LinearPhysics
        The forward model; its kind is read from its class (see :func:`operator_kind`).
    noise_std : float
        Noise level of the measurement ([0, 1] scale).
    solver : {"idbp", "admm", "hqs"}, optional
        Force the solver; the options are then that solver's defaults for this operator kind.

    Returns
    -------
    (str, dict)
        The solver's name and the keyword options for its constructor (``noise_std``
        included). See :func:`solve` for the table.
    """
    kind = operator_kind(operator)
    noisy = noise_std > 0
    scale = int(getattr(operator, "factor", 2) or 2) if kind == "sr" else 1
    end = max(noise_std, 2.0 / 255)
    # per kind: the default solver, then each solver's options
    table = {
        "denoise": ("idbp", dict(idbp=dict(max_iter=1, schedule=Constant(), eps=0.0,
                                           init="dagger"),
                                 hqs=dict(max_iter=1, schedule=Constant(gamma=1e6)),
                                 admm=dict(max_iter=1, schedule=Constant(gamma=1e6)))),
        "blur": ("hqs", dict(hqs=dict(max_iter=8, schedule=DPIR()),
                             admm=dict(max_iter=8, schedule=DPIR()),
                             idbp=dict(max_iter=20, schedule=IDBPDecay(49 / 255, 2.55 / 255)))),
        "sr": ("hqs" if noisy else "idbp", dict(
            idbp=dict(max_iter=30, schedule=IDBPDecay.for_scale(scale)),
            hqs=dict(max_iter=24, schedule=DPIR(sigma_end=max(noise_std, scale / 255))),
            admm=dict(max_iter=24, schedule=DPIR(sigma_end=max(noise_std, scale / 255))))),
    }
    generic = dict(idbp=dict(max_iter=20, schedule=IDBPDecay(49 / 255, 2 / 255)),
                   hqs=dict(max_iter=20, schedule=DPIR(sigma_end=end)),
                   admm=dict(max_iter=20, schedule=DPIR(sigma_end=end)))
    table["inpaint"] = ("admm", generic)
    table["cs"] = ("admm", generic)
    table["other"] = ("hqs", generic)
    name, per_solver = table[kind]
    name = solver or name
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; valid: {', '.join(SOLVERS)}")
    opts = dict(per_solver[name])
    opts["noise_std"] = float(noise_std)
    return name, opts


def _channels(y, operator) -> int:
    img_shape = getattr(operator, "img_shape", None) or getattr(operator, "img_size", None)
    if img_shape:
        return int(img_shape[0])
    with torch.no_grad():
        return int(operator.A_adjoint(y).shape[1])


def make_prior(name: str, *, channels: int = 3):
    """A prior from its name: ``"tv"``, ``"bm3d"``, ``"identity"`` or ``"cnn"`` (shipped CNN).

    Raises
    ------
    ValueError
        For an unknown name (listing the valid ones).
    """
    from . import priors

    key = name.lower()
    if key == "tv":
        return priors.TV()
    if key == "bm3d":
        return priors.BM3D()
    if key == "identity":
        return priors.Identity()
    if key == "cnn":
        try:
            from .priors.cnn import available, pretrained
        except ImportError as err:
            raise ValueError("prior 'cnn' is not available in this installation") from err
        want = "drunet-lite-color" if channels == 3 else "drunet-lite-gray"
        if want not in available():
            raise ValueError(f"prior 'cnn' needs the shipped weights {want!r}; available: "
                             f"{', '.join(available()) or '(none)'}")
        return pretrained(want)
    raise ValueError(f"unknown prior {name!r}; valid names: {', '.join(PRIORS)} (or pass a "
                     "Prior, a deepinv Denoiser or a callable f(x, sigma))")


def _options_of(cls) -> list[str]:
    params = inspect.signature(cls.__init__).parameters
    return [p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]


def solve(y: torch.Tensor, operator, *, prior=None, solver=None, x0=None, x_true=None,
          callback=None, **options) -> Result:
    """Restore ``x`` from ``y = A x + n`` with a plug-and-play solver, in one call.

    Parameters
    ----------
    y : torch.Tensor
        The measurement, batch first.
    operator : deepinv.physics.LinearPhysics
        The forward model ``A`` (a project operator or any deepinv linear physics).
    prior : str, Prior, deepinv Denoiser, callable or None
        ``None`` means ``"tv"``; ``"tv"``, ``"bm3d"``, ``"identity"``, ``"cnn"`` (the shipped CNN denoiser), or
        an object accepted by :func:`pnp_internal.priors.as_prior`.
    solver : str, Solver subclass or Solver instance, optional
        ``"idbp"``, ``"admm"``, ``"hqs"``, a solver class (constructed with ``prior`` and the
        options) or a configured instance (then ``prior`` and ``options`` must be left out).
        Default: from the table below.
    x0, x_true, callback
        Passed to :meth:`Solver.solve` (initial estimate, ground truth for the PSNR history,
        ``callback(state)``).
    **options
        Keyword options of the solver's constructor, e.g. ``noise_std=0.01``, ``max_iter=20``,
        ``schedule=schedules.Constant(0.05, gamma=1.0)``, ``eps=0.01`` (IDBP), ``progress=True``.
        They override the table's defaults; an unknown option raises ``TypeError`` listing the
        valid ones. Give ``noise_std`` whenever ``y`` is noisy: the schedules depend on it.

    Returns
    -------
    Result

    Notes
    -----
    Defaults by operator kind (recognised from the operator's class, ours or deepinv's);
    :math:`\\sigma_n` = ``noise_std``, s = the downsampling factor:

    ============  ======  ========  ======================================================
    operator      solver  max_iter  schedule
    ============  ======  ========  ======================================================
    Blur          HQS     8         DPIR: sigma 49/255 -> sigma_n, gamma_k tied (DPIR)
    Downsampling  IDBP    30        IDBPDecay: sigma_n + delta_k, delta 12s/255 -> s/255
    (noisy y)     HQS     24        DPIR: sigma 49/255 -> max(sigma_n, s/255)
    Inpainting    ADMM    20        DPIR: sigma 49/255 -> max(sigma_n, 2/255)
    CS            ADMM    20        DPIR: sigma 49/255 -> max(sigma_n, 2/255)
    Denoising     IDBP    1         Constant(sigma_n): a single call D(y, sigma_n)
    other         HQS     20        DPIR: sigma 49/255 -> max(sigma_n, 2/255)
    ============  ======  ========  ======================================================

    IDBP's ``eps`` is 0 for noiseless ``y`` and ``noise_std`` otherwise; every solver starts
    from ``A_dagger(y)`` for noiseless ``y`` and from the regularised pseudo-inverse otherwise
    (``init="auto"``). A solver chosen by name gets its own defaults for the operator kind
    (:func:`default_settings`): HQS/ADMM 8 iterations of DPIR on blur, 20 elsewhere; IDBP
    20 iterations with delta 49/255 -> 2.55/255 on blur, 49/255 -> 2/255 on the others.
    (With TV on 64x64 cameraman, ADMM beats IDBP by 0.7 dB on 50% inpainting and 3 dB on 25%
    structured CS, hence the choice.)

    Examples
    --------
    >>> import torch, deepinv as dinv
    >>> import pnp_internal
    >>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> op = dinv.physics.Inpainting(img_size=(1, 32, 32), mask=0.5,
    ...                              rng=torch.Generator().manual_seed(0))
    >>> res = pnp_internal.solve(op.A(x), op, prior="tv", max_iter=5)
    >>> res.n_iter
    5
    """
    if isinstance(solver, Solver):
        if options:
            raise TypeError(
                f"options {sorted(options)} cannot be applied to an already configured "
                f"{type(solver).__name__} instance; pass the solver's name or class instead")
        if prior is not None:
            raise TypeError("prior cannot be given together with a solver instance; the "
                            "instance already has its prior")
        return solver.solve(y, operator, x0=x0, x_true=x_true, callback=callback)

    noise_std = options.get("noise_std", 0.0)
    if isinstance(solver, str) or solver is None:
        key = solver.lower() if isinstance(solver, str) else None
        if key is not None and key not in SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; valid: {', '.join(SOLVERS)} (or a "
                             "Solver class or instance)")
        if not isinstance(noise_std, (int, float)) or isinstance(noise_std, bool) \
                or noise_std < 0:
            raise ValueError(f"noise_std must be a number >= 0, got {noise_std!r}")
        name, defaults = default_settings(operator, noise_std, key)
        cls = SOLVERS[name]
    elif isinstance(solver, type) and issubclass(solver, Solver):
        cls, defaults = solver, {}
    else:
        raise TypeError(f"solver must be one of {', '.join(SOLVERS)}, a Solver class or a "
                        f"Solver instance, got {type(solver).__name__}")

    valid = _options_of(cls)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)} for {cls.__name__}; valid "
                        f"options: {', '.join(valid)}")
    kwargs = {k: v for k, v in defaults.items() if k in valid}
    kwargs.update(options)

    if prior is None:
        prior = "tv"
    if isinstance(prior, str):
        prior = make_prior(prior, channels=_channels(y, operator))
    return cls(prior, **kwargs).solve(y, operator, x0=x0, x_true=x_true, callback=callback)
