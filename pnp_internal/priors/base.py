"""The prior contract: a denoiser ``D(x, sigma)`` with an optional hook to learn from the image.

A *prior* in this library is a :class:`deepinv.models.Denoiser`: ``forward(x, sigma)`` takes an
image batch ``x`` of shape ``(B, C, H, W)`` with values nominally in [0, 1] and a noise level
``sigma`` on the same [0, 1] scale (a float, or a tensor of shape ``(B,)``), and returns the
denoised batch, same shape. Solvers accept three kinds of objects and turn them into a
:class:`Prior` with :func:`as_prior`:

- a :class:`Prior` (returned unchanged),
- any deepinv :class:`~deepinv.models.Denoiser` (e.g. ``deepinv.models.DRUNet``,
  ``MedianFilter``, ``TVDenoiser``), wrapped,
- a plain callable ``f(x, sigma) -> tensor``, wrapped.

The adaptation hook
-------------------
Deep internal learning lets the prior learn from the image at hand. A prior does so by overriding
:meth:`Prior.adapt`; the solvers call it

1. once **before the first iteration** (``context.iteration == 0``, ``context.x`` is the initial
   estimate, e.g. ``operator.A_dagger(y)``), and
2. when ``prior.adapt_every = k`` (an int >= 1), again **after every k completed iterations**
   (``context.iteration`` = k, 2k, ... ; never after the last iteration), with the current
   estimate. ``adapt_every = None`` (the default) means "only before the iterations".

The context is an :class:`AdaptContext`: the measurement ``y``, the ``operator``, the current
estimate ``x``, the noise level ``sigma`` the solver will use at the next iteration, the number of
completed iterations, and a ``seed`` for the prior's own randomness (the solver's seed plus the
iteration, or ``None``; same seed -> same adaptation).

Rules for implementers of ``adapt``:

- It runs with gradients **enabled** (the solvers call it outside ``torch.no_grad`` /
  ``torch.inference_mode``), so it may train the prior's own weights with any optimiser. The
  iterations themselves run under ``torch.no_grad()``; the tensors in the context are detached
  copies that may be used freely.
- It must change only the prior itself (its own copy of the weights: a prior that starts from
  shared pretrained weights deep-copies them in ``__init__`` or in ``adapt``), never the operator,
  ``y`` or ``x``. It returns nothing.
- It should leave the prior in ``eval()`` mode, ready for ``forward`` calls.
- Training loops take a keyword ``precision="auto"`` and run in what
  :func:`pnp_internal.precision.resolve` gives (bf16 autocast only where the device computes
  bf16 natively; ``channels_last`` on CPU), exposing the name that ran as ``precision_used``;
  ``forward`` must still return float32.

Example
-------
>>> import torch
>>> from pnp_internal.priors import Prior, AdaptContext
>>> class Shrink(Prior):
...     adapt_every = 2
...     def __init__(self):
...         super().__init__()
...         self.calls = []
...     def forward(self, x, sigma):
...         return x / (1 + sigma)
...     def adapt(self, context: AdaptContext) -> None:
...         self.calls.append(context.iteration)   # a real prior would fine-tune here
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import torch
from deepinv.models import Denoiser


@dataclass
class AdaptContext:
    """What a solver hands to :meth:`Prior.adapt`.

    Attributes
    ----------
    y : torch.Tensor
        The measurement, shape ``operator``'s measurement shape (batch first).
    operator : deepinv.physics.LinearPhysics
        The forward model; read-only for the prior.
    x : torch.Tensor
        The current estimate ``(B, C, H, W)`` (the initial estimate when ``iteration == 0``).
        A detached copy: the prior may use it freely.
    sigma : float
        The denoiser noise level the solver will use at the next iteration ([0, 1] scale).
    iteration : int
        Number of completed iterations (0 before the first one).
    seed : int or None
        Seed for the prior's randomness during this call (``None``: nondeterministic).
    noise_std : float
        Standard deviation of the noise in ``y`` as given to the solver ([0, 1] scale).
    progress : callable or None
        ``progress(text)`` shows a short status (steps, loss) in the solver's progress bar
        while the prior adapts; ``None`` when no bar is shown.
    """

    y: torch.Tensor
    operator: object
    x: torch.Tensor
    sigma: float
    iteration: int
    seed: int | None = None
    noise_std: float = 0.0
    progress: object = None

    def step_reporter(self, what: str):
        """``on_step(step, steps, loss)`` for :func:`~pnp_internal.priors.finetune.finetune`
        that writes to :attr:`progress` (``None`` without a bar)."""
        if self.progress is None:
            return None
        return lambda k, n, loss: self.progress(f"{what} {k}/{n}, loss {loss:.3g}")

    def generator(self, device: torch.device | str | None = None) -> torch.Generator:
        """A :class:`torch.Generator` seeded with :attr:`seed` (random seed when ``None``)."""
        gen = torch.Generator(device=device if device is not None else self.x.device)
        if self.seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(self.seed))
        return gen


class Prior(Denoiser):
    """Base class of the project's priors: a deepinv denoiser with an adaptation hook.

    Subclasses implement ``forward(x, sigma)`` and optionally :meth:`adapt`. See the module
    docstring for when the solvers call :meth:`adapt` and what it may do.

    Attributes
    ----------
    adapt_every : int or None
        ``None`` (default): :meth:`adapt` is called once, before the iterations. An int ``k >= 1``:
        also after every ``k`` completed iterations.
    """

    adapt_every: int | None = None

    @property
    def name(self) -> str:
        """A short human-readable name used in messages (the class name by default)."""
        return type(self).__name__

    def adapt(self, context: AdaptContext) -> None:
        """Learn from the image at hand; the default does nothing.

        Parameters
        ----------
        context : AdaptContext
            Measurement, operator, current estimate, sigma, iteration and seed.
        """
        return None

    def forward(self, x: torch.Tensor, sigma, **kwargs) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError(f"{self.name} must implement forward(x, sigma)")


class DenoiserPrior(Prior):
    """Wraps any deepinv :class:`~deepinv.models.Denoiser` as a :class:`Prior`.

    If the wrapped denoiser itself defines ``adapt(context)`` and/or ``adapt_every`` (duck
    typing), they are forwarded.
    """

    def __init__(self, denoiser: Denoiser):
        super().__init__()
        self.denoiser = denoiser
        if hasattr(denoiser, "adapt_every"):
            self.adapt_every = denoiser.adapt_every

    @property
    def name(self) -> str:
        return type(self.denoiser).__name__

    def adapt(self, context: AdaptContext) -> None:
        hook = getattr(self.denoiser, "adapt", None)
        if callable(hook):
            hook(context)

    def forward(self, x, sigma, **kwargs):
        return self.denoiser(x, sigma)


class WrappedPrior(Prior):
    """A prior that changes how another one is applied (in tiles, over flips, ...); the wrapped
    prior's :meth:`~Prior.adapt` hook, ``adapt_every`` and arithmetic are kept.

    Parameters
    ----------
    prior : Prior, deepinv Denoiser or callable ``f(x, sigma)``
        The prior to wrap (:func:`as_prior`).
    """

    def __init__(self, prior):
        super().__init__()
        self.prior = as_prior(prior)
        self.adapt_every = self.prior.adapt_every

    @property
    def precision_used(self):
        """The arithmetic of the wrapped prior's last call (``None`` if it does not say)."""
        return getattr(self.prior, "precision_used", None)

    @property
    def reports(self) -> list:
        """The wrapped prior's adaptation reports (none if it keeps none)."""
        return getattr(self.prior, "reports", [])

    @property
    def seconds(self) -> float:
        """The wrapped prior's adaptation time (0 if it does not say)."""
        return getattr(self.prior, "seconds", 0.0)

    def adapt(self, context: AdaptContext) -> None:
        self.prior.adapt(context)


class FunctionPrior(Prior):
    """Wraps a plain callable ``f(x, sigma) -> tensor`` as a :class:`Prior`."""

    def __init__(self, fn: Callable):
        super().__init__()
        self.fn = fn

    @property
    def name(self) -> str:
        return getattr(self.fn, "__name__", None) or type(self.fn).__name__

    def forward(self, x, sigma, **kwargs):
        return self.fn(x, sigma)


def _takes_two_args(fn: Callable) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: trust the caller
        return True
    try:
        sig.bind(None, None)
    except TypeError:
        return False
    return True


def as_prior(obj) -> Prior:
    """Turn ``obj`` into a :class:`Prior`.

    Parameters
    ----------
    obj : Prior, deepinv.models.Denoiser or callable
        A prior (returned as is), a deepinv denoiser (wrapped in :class:`DenoiserPrior`) or a
        callable ``f(x, sigma)`` (wrapped in :class:`FunctionPrior`).

    Returns
    -------
    Prior

    Raises
    ------
    TypeError
        If ``obj`` is none of these (e.g. a string, ``None``, or a callable that does not accept
        two positional arguments ``(x, sigma)``).

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.priors import as_prior
    >>> p = as_prior(lambda x, sigma: x.clamp(0, 1))
    >>> p(torch.full((1, 1, 4, 4), 2.0), 0.1).max().item()
    1.0
    """
    if isinstance(obj, Prior):
        return obj
    if isinstance(obj, Denoiser):
        return DenoiserPrior(obj)
    if isinstance(obj, str):
        raise TypeError(
            f"as_prior got the string {obj!r}; pass a Prior, a deepinv Denoiser or a callable "
            "f(x, sigma) (prior names such as 'tv' or 'bm3d' are resolved by pnp_internal.solve)"
        )
    if callable(obj) and not isinstance(obj, type):
        if not _takes_two_args(obj):
            raise TypeError(
                f"as_prior got the callable {obj!r}, which cannot be called as f(x, sigma); "
                "expected a function of the image batch and the noise level"
            )
        return FunctionPrior(obj)
    raise TypeError(
        f"as_prior got {type(obj).__name__} ({obj!r:.60}); expected a pnp_internal Prior, a "
        "deepinv.models.Denoiser or a callable f(x, sigma) -> tensor"
    )


def check_denoised(prior: Prior, x: torch.Tensor, out, sigma) -> torch.Tensor:
    """Check a prior's output on its first call: a tensor of the input's shape, all finite.

    Raises
    ------
    ValueError
        Naming the prior, what it returned and what was expected.
    """
    name = getattr(prior, "name", type(prior).__name__)
    if not isinstance(out, torch.Tensor):
        raise ValueError(
            f"prior {name} returned {type(out).__name__} for an input of shape "
            f"{tuple(x.shape)} at sigma={float(sigma):.4g}; expected a torch.Tensor of that shape"
        )
    if out.shape != x.shape:
        raise ValueError(
            f"prior {name} returned shape {tuple(out.shape)} for an input of shape "
            f"{tuple(x.shape)} at sigma={float(sigma):.4g}; a denoiser must keep the shape"
        )
    if not torch.isfinite(out).all():
        raise ValueError(
            f"prior {name} returned NaN/Inf values at the first iteration (sigma="
            f"{float(sigma):.4g}); check the prior's scale (images in [0, 1], sigma in [0, 1])"
        )
    return out
