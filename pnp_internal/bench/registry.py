"""The benchmark method registry.

A method is a function ``run(problem) -> x`` that restores one image. Families of methods live
in ``pnp_internal/bench/methods/<family>.py`` and register themselves with :func:`register`;
``pnp_internal/bench/methods/__init__.py`` imports every family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


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
    """A registered benchmark method."""

    name: str
    run: Callable[[Problem], torch.Tensor]
    kinds: frozenset
    description: str


METHODS: dict[str, Method] = {}


def register(name, *, kinds=("denoise", "deblur", "sr", "inpaint", "cs"), description=""):
    """Decorator registering ``run(problem) -> x`` under ``name`` for the task ``kinds``."""

    def decorator(run):
        if name in METHODS:
            raise ValueError(f"benchmark method {name!r} is registered twice")
        METHODS[name] = Method(name, run, frozenset(kinds), description)
        return run

    return decorator


def get_method(name: str) -> Method:
    """Return the method called ``name``; an unknown name lists the known ones."""
    from . import methods  # noqa: F401  (registers every family)

    if name not in METHODS:
        known = ", ".join(sorted(METHODS))
        raise ValueError(f"unknown benchmark method {name!r}; known methods: {known}")
    return METHODS[name]
