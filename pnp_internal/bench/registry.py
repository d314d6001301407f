"""The benchmark's methods: every method of the library (a call of :func:`pnp_internal.solve`),
plus those an experiment script registers for itself.

A bench method is ``run(problem) -> x`` (or a :class:`~pnp_internal.solvers.Result`). For a
library method it is ``solve(problem.y, problem.operator, method=name,
noise_std=problem.noise_std, seed=problem.seed)``: the bench holds no recipe, so what it
measures is what ``solve`` gives.
Experiment scripts (``benchmarks/experiments``) add variants with :func:`register`.

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
    precision : str
        ``"auto"``, ``"fp32"`` or ``"bf16"`` for the networks (``solve``'s ``precision=``).
    """

    y: torch.Tensor
    operator: object
    noise_std: float
    kind: str
    task: str
    img_shape: tuple
    scale: int | None = None
    seed: int = 0
    precision: str = "auto"


@dataclass(frozen=True)
class Method:
    """A benchmark method: ``name``, ``run(problem) -> x``, the task ``kinds`` it handles, one
    line of ``description``, and ``channels`` (``None``: any; 1 or 3: the runner converts the
    image first, with a note)."""

    name: str
    run: Callable[[Problem], torch.Tensor]
    kinds: frozenset
    description: str
    channels: int | None = None


#: Methods registered by experiment scripts (the library's own come from its catalog).
METHODS: dict[str, Method] = {}


def register(name, *, kinds=KINDS, description="", channels=None):
    """Decorator registering an experiment's ``run(problem) -> x`` under ``name``."""
    kinds = frozenset(kinds)
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise ValueError(f"register({name!r}): unknown kinds {unknown}; use a subset of {KINDS}")
    if channels not in (None, 1, 3):
        raise ValueError(f"register({name!r}): channels must be None, 1 or 3, got {channels!r}")

    def decorator(run):
        if name in METHODS or name in _library_names():
            raise ValueError(f"benchmark method {name!r} is registered twice")
        METHODS[name] = Method(name, run, kinds, description, channels)
        return run

    return decorator


def _library_names():
    from pnp_internal import catalog

    return catalog.names()


def library_run(name: str) -> Callable[[Problem], torch.Tensor]:
    """The bench's ``run`` for the library method ``name``: a call of :func:`pnp_internal.solve`."""
    def run(problem: Problem):
        from pnp_internal import solve

        return solve(problem.y, problem.operator, method=name, noise_std=problem.noise_std,
                     seed=problem.seed, precision=problem.precision)

    return run


def _library_method(name: str) -> Method:
    from pnp_internal import catalog

    m = catalog.get(name)
    kinds = frozenset(m.kinds) & frozenset(KINDS)
    return Method(name, library_run(name), kinds, m.description)


def known_methods(kind: str | None = None) -> list[str]:
    """Sorted names of every method (only those handling ``kind`` if given)."""
    lib = [n for n in _library_names() if kind is None or kind in _library_method(n).kinds]
    own = [n for n, m in METHODS.items() if kind is None or kind in m.kinds]
    return sorted(set(lib) | set(own))


def get_method(name: str) -> Method:
    """The method called ``name``; an unknown name lists the known ones."""
    if name in METHODS:
        return METHODS[name]
    if name in _library_names():
        return _library_method(name)
    raise ValueError(f"unknown benchmark method {name!r}; known methods: "
                     f"{', '.join(known_methods())}")
