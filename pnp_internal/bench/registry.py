"""The benchmark method registry.

A method is a function ``run(problem) -> x`` that restores one image. Families of methods live
in ``pnp_internal/bench/methods/<family>.py`` and register themselves with :func:`register`;
``pnp_internal/bench/methods/__init__.py`` imports every family.

Example
-------
>>> from pnp_internal.bench.registry import register, get_method
>>> @register("my-identity", kinds=("denoise",), description="returns y")
... def _identity(problem):
...     return problem.y
>>> get_method("my-identity").kinds
frozenset({'denoise'})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

__all__ = ["Problem", "Method", "METHODS", "KINDS", "register", "get_method", "known_methods"]

#: The task families a method may declare.
KINDS = ("denoise", "deblur", "sr", "inpaint", "cs")


@dataclass(frozen=True)
class Problem:
    """One degraded image handed to a benchmark method.

    Attributes
    ----------
    y : torch.Tensor
        The measurement, as produced by ``operator`` plus noise.
    operator : deepinv.physics.LinearPhysics
        The forward model (a project operator).
    noise_std : float
        Standard deviation of the Gaussian noise added to ``A x`` (on the [0, 1] scale).
    kind : str
        Task family: ``"denoise"``, ``"deblur"``, ``"sr"``, ``"inpaint"`` or ``"cs"``.
    task : str
        Full task name, e.g. ``"sr-x2"``.
    img_shape : tuple of int
        Shape ``(C, H, W)`` of the image to recover.
    scale : int or None
        Super-resolution factor (``None`` for other kinds).
    seed : int
        Seed a method should use for its own randomness.
    """

    y: torch.Tensor
    operator: object
    noise_std: float
    kind: str
    task: str
    img_shape: tuple
    scale: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class Method:
    """A registered benchmark method.

    Attributes
    ----------
    name : str
        Registry name (``bm3d-idbp``, ``zssr``, ...).
    run : callable
        ``run(problem) -> x``, ``x`` of shape ``(1, *problem.img_shape)``.
    kinds : frozenset of str
        Task families the method handles.
    description : str
        One line shown in listings and in ``RESULTS.md``.
    channels : int or None
        ``None`` if the method handles gray and colour images; ``1`` (gray only) or ``3``
        (colour only) makes the runner convert the image first, with a printed note.
    """

    name: str
    run: Callable[[Problem], torch.Tensor]
    kinds: frozenset
    description: str
    channels: int | None = None


METHODS: dict[str, Method] = {}


def register(name, *, kinds=KINDS, description="", channels=None):
    """Decorator registering ``run(problem) -> x`` under ``name`` for the task ``kinds``.

    Parameters
    ----------
    name : str
        Unique method name.
    kinds : iterable of str
        Task families the method handles (subset of :data:`KINDS`).
    description : str
        One line describing the method and its main settings.
    channels : {None, 1, 3}
        Channel count the method requires (``None``: any).
    """
    kinds = frozenset(kinds)
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise ValueError(f"register({name!r}): unknown kinds {unknown}; use a subset of {KINDS}")
    if channels not in (None, 1, 3):
        raise ValueError(f"register({name!r}): channels must be None, 1 or 3, got {channels!r}")

    def decorator(run):
        if name in METHODS:
            raise ValueError(f"benchmark method {name!r} is registered twice")
        METHODS[name] = Method(name, run, kinds, description, channels)
        return run

    return decorator


def known_methods(kind: str | None = None) -> list[str]:
    """Sorted names of the registered methods (only those handling ``kind`` if given)."""
    from . import methods  # noqa: F401  (registers every family)

    return sorted(n for n, m in METHODS.items() if kind is None or kind in m.kinds)


def get_method(name: str) -> Method:
    """Return the method called ``name``; an unknown name lists the known ones."""
    from . import methods  # noqa: F401  (registers every family)

    if name not in METHODS:
        known = ", ".join(sorted(METHODS)) or "(none registered)"
        raise ValueError(f"unknown benchmark method {name!r}; known methods: {known}")
    return METHODS[name]
