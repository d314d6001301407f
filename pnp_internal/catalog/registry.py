"""The named methods: what ``solve(y, operator, method=NAME)`` can run.

A method is a function ``run(problem) -> Result`` registered under a name with the operator
kinds it handles. Its settings come from :mod:`pnp_internal.recipes`; the families live beside
this module (``pnp.py``, ``denoisers.py``, ``direct.py``, ``baselines.py``).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Callable

import torch

from .. import recipes
from ..recipes import KINDS

__all__ = ["Problem", "Method", "register", "get", "names", "checked_options"]


@dataclass(frozen=True)
class Problem:
    """One measurement to restore, with everything a method may use.

    Attributes
    ----------
    y : torch.Tensor
        The measurement ``(1, ...)``.
    operator : deepinv.physics.LinearPhysics
        The forward model.
    kind : str
        Operator kind (:data:`pnp_internal.recipes.KINDS`).
    noise_std : float
        Noise level of ``y`` ([0, 1] scale), already resolved.
    scale : int or None
        Super-resolution factor (``None`` for other kinds).
    seed : int or None
        Seed of every random choice of the method.
    precision : str
        ``"auto"``, ``"fp32"`` or ``"bf16"`` for the network passes
        (:func:`pnp_internal.precision.resolve`).
    progress : bool
        Show progress bars.
    color : {"auto", "rgb"}
        ``"rgb"`` forces colour SR on RGB instead of the luminance path.
    x0, x_true, callback
        Initial estimate, ground truth (PSNR history only) and per-iteration callback.
    options : dict
        Overrides of the recipe's settings for the method's main class (checked by
        :func:`checked_options`).
    tile : int or None
        Side of the tiles of the CNN and classical priors (:class:`~pnp_internal.priors.Tiled`);
        ``None``: whole-image passes.
    """

    y: torch.Tensor
    operator: object
    kind: str
    noise_std: float
    scale: int | None = None
    seed: int | None = 0
    precision: str = "auto"
    progress: bool = False
    color: str = "auto"
    x0: torch.Tensor | None = None
    x_true: torch.Tensor | None = None
    callback: Callable | None = None
    options: dict = field(default_factory=dict)
    tile: int | None = None

    @functools.cached_property
    def img_shape(self) -> tuple:
        """``(C, H, W)`` of the image to recover (one adjoint at most, then remembered)."""
        shape = getattr(self.operator, "img_shape", None) or getattr(self.operator, "img_size",
                                                                     None)
        if shape:
            return tuple(int(s) for s in shape)
        with torch.no_grad():
            return tuple(self.operator.A_adjoint(self.y).shape[1:])

    @property
    def channels(self) -> int:
        return self.img_shape[0]

    def tiled(self, prior):
        """``prior`` in :attr:`tile`-pixel tiles (unchanged without tiling)."""
        if self.tile is None:
            return prior
        from ..priors import Tiled

        return Tiled(prior, tile=self.tile, margin=recipes.TILE.value["margin"])

    def check_fits(self, family: str, method: str) -> None:
        """Refuse (``MemoryError``) an image too large for ``method``, which cannot tile."""
        from ..memory import check_fits
        from ..precision import resolve

        check_fits(family, method, self.img_shape, device=self.y.device,
                   precision=resolve(self.precision, self.y.device).name)


@dataclass(frozen=True)
class Method:
    """A registered method: ``name``, ``run(problem) -> Result``, the ``kinds`` it handles,
    one line of ``description``, the class whose options ``options=`` may override, and
    ``memory``: ``"cnn"`` for methods whose networks run in tiles, else the family of
    :data:`~pnp_internal.recipes.MEMORY_PER_PIXEL` that sizes the whole image."""

    name: str
    run: Callable
    kinds: frozenset
    description: str
    target: type | None = None
    memory: str = "cnn"


_METHODS: dict[str, Method] = {}


def register(name: str, *, kinds, description: str, target: type | None = None,
             memory: str = "cnn"):
    """Decorator registering ``run(problem) -> Result`` as method ``name`` for ``kinds``."""
    kinds = frozenset(kinds)
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise ValueError(f"register({name!r}): unknown kinds {unknown}; use a subset of {KINDS}")

    def decorator(run):
        if name in _METHODS:
            raise ValueError(f"method {name!r} is registered twice")
        _METHODS[name] = Method(name, run, kinds, description, target, memory)
        return run

    return decorator


def names(kind: str | None = None) -> list[str]:
    """Sorted method names (those handling ``kind`` when given)."""
    return sorted(n for n, m in _METHODS.items() if kind is None or kind in m.kinds)


def get(name: str) -> Method:
    """The method called ``name``; an unknown name lists the known ones."""
    if not isinstance(name, str) or name.lower() not in _METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(names())}")
    return _METHODS[name.lower()]


def keyword_options(cls) -> list[str]:
    """The keyword-only options of ``cls.__init__`` (and of its base classes', where it passes
    ``**kwargs`` on to them)."""
    options: list[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters
        options += [p for p, v in params.items()
                    if v.kind is inspect.Parameter.KEYWORD_ONLY and p not in options]
        if not any(v.kind is inspect.Parameter.VAR_KEYWORD for v in params.values()):
            break
    return options


def checked_options(cls, options: dict, *, method: str) -> dict:
    """``options`` if all are keyword options of ``cls``, else a ``TypeError`` naming them."""
    valid = keyword_options(cls)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)} for method {method!r} (they go "
                        f"to {cls.__name__}); valid options: {', '.join(valid)}")
    return dict(options)
