"""The common iterative loop of the plug-and-play solvers.

:class:`Solver` is the base class whose :meth:`Solver.solve` runs ``setup -> step -> ... ->
finalize`` with the checks, history, callback, adaptation calls and divergence guard shared by
all iterative solvers; it returns a :class:`~pnp_internal.solvers.result.Result`.
"""

from __future__ import annotations

import math
import time
import warnings
from types import SimpleNamespace

import torch
from tqdm.auto import tqdm

from . import schedules
from .result import Result, SolverState  # noqa: F401  (re-exported)


# --------------------------------------------------------------------------------------------
# The common loop
# --------------------------------------------------------------------------------------------


def _inpainting_mask(operator):
    """The mask of a project or deepinv inpainting operator, else ``None``."""
    from ..operators.inpainting import Inpainting

    if isinstance(operator, Inpainting):
        return operator.mask
    try:
        from deepinv.physics import Inpainting as DeepinvInpainting
    except ImportError:  # pragma: no cover
        return None
    if isinstance(operator, DeepinvInpainting):
        return operator.mask
    return None


class Iterate(SimpleNamespace):
    """The variables of one run: ``y``, ``operator``, ``x``, ``noise_std`` and whatever the
    solver's :meth:`Solver.setup` adds (e.g. ADMM's dual variable ``u``)."""


def _check_positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_nonneg(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _norm(t: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(t.float()))


def _psnr(x: torch.Tensor, ref: torch.Tensor) -> float:
    """Mean PSNR of the estimate clipped to [0, 1] (:func:`pnp_internal.metrics.psnr`)."""
    from ..metrics import psnr

    return float(psnr(x.clamp(0, 1).float(), ref.float()).clamp_max(200.0).mean())


class Solver:
    """Base class of the iterative solvers: the common loop ``setup -> step -> ... -> finalize``.

    Subclasses implement :meth:`step` (and optionally :meth:`setup` and :meth:`finalize`);
    :meth:`solve` does the rest: input checks, the initial estimate (``operator.A_dagger(y)`` or
    ``x0``), the per-iteration schedule of denoiser levels ``sigma_k`` and penalties
    ``gamma_k``, the prior's adaptation calls, history, tolerance, callback, progress bar and the
    divergence guard.

    Parameters
    ----------
    prior : Prior, deepinv Denoiser, callable or None
        The denoiser ``D(x, sigma)`` (wrapped with :func:`~pnp_internal.priors.as_prior`).
        ``None`` for solvers without a denoiser (direct internal methods).
    noise_std : float
        Standard deviation of the noise in ``y`` ([0, 1] scale); schedules start or end there.
    max_iter : int
        Number of iterations (cap), >= 1.
    schedule : callable or None
        ``schedule(max_iter, noise_std) -> (sigmas, gammas)``, see
        :mod:`pnp_internal.solvers.schedules`. ``None``: no schedule (``sigma`` is ``None``).
    tol : float
        Stop (``converged=True``) when the relative change of the estimate falls below ``tol``;
        0 disables the test.
    progress : bool
        Show a tqdm progress bar.
    seed : int or None
        Seed handed to the prior's ``adapt`` (plus the iteration number) and to randomised steps.
    divergence_factor : float
        Divergence guard: the run stops when the relative data residual exceeds
        ``divergence_factor * max(best residual so far, 0.01)`` or the estimate has NaN/Inf.
    init : {"auto", "dagger", "tikhonov", "interpolate"}
        Initial estimate when ``solve`` gets no ``x0``: ``"dagger"`` is ``operator.A_dagger(y)``;
        ``"interpolate"`` (inpainting operators only: the project's or deepinv's
        ``Inpainting``) fills the missing pixels by normalised convolution
        (:func:`pnp_internal.operators.inpainting.fill_missing`), since a denoiser cannot repair
        the zeros of ``A^+ y`` (measured on 128x128 Set12 crops, 50% pixels, HQS with the
        shipped CNN: 17.5 dB from ``A^+ y``, 32.7 dB from the interpolation);
        ``"tikhonov"`` the regularised pseudo-inverse
        :math:`A^\top(AA^\top + \varepsilon I)^{-1}y` with :math:`\varepsilon =` ``noise_std``
        (bounded noise amplification); ``"auto"`` (default) is ``"interpolate"`` for
        inpainting, else ``"dagger"`` for noiseless ``y`` and ``"tikhonov"`` otherwise (the exact pseudo-inverse of a noisy blur is mostly
        amplified noise, which a PnP loop with a decaying sigma cannot remove).

    Notes
    -----
    The loop runs under ``torch.no_grad()`` (not ``inference_mode``, so that tensors it creates
    can later be used by a prior that trains in ``adapt``); ``prior.adapt`` runs with gradients
    enabled. On divergence the solver returns the best iterate seen (highest PSNR when
    ``x_true`` is given, otherwise lowest data residual; the initial estimate if no iterate was
    finite) and emits a :class:`RuntimeWarning`.

    ``step`` implementations must assign a new tensor to ``it.x`` (no in-place update), so the
    loop can keep references to earlier iterates.
    """

    def __init__(self, prior=None, *, noise_std: float = 0.0, max_iter: int = 30,
                 schedule=None, tol: float = 1e-5, progress: bool = False,
                 seed: int | None = 0, divergence_factor: float = 100.0,
                 init: str = "auto"):
        from ..priors.base import as_prior

        _check_nonneg("noise_std", noise_std)
        _check_positive_int("max_iter", max_iter)
        _check_nonneg("tol", tol)
        _check_nonneg("divergence_factor", divergence_factor)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        self.prior = None if prior is None else as_prior(prior)
        self.noise_std = float(noise_std)
        self.max_iter = max_iter
        self.schedule = schedule
        self.tol = float(tol)
        self.progress = bool(progress)
        self.seed = seed
        self.divergence_factor = float(divergence_factor)
        if init not in ("auto", "dagger", "tikhonov", "interpolate"):
            raise ValueError(
                f"init must be 'auto', 'dagger', 'tikhonov' or 'interpolate', got {init!r}")
        self.init = init
        if schedule is not None:  # validate early: a bad schedule fails at construction
            schedules.resolve(schedule, max_iter, self.noise_std)

    def __repr__(self):
        prior = getattr(self.prior, "name", None)
        return (f"{type(self).__name__}(prior={prior}, noise_std={self.noise_std:.4g}, "
                f"max_iter={self.max_iter}, schedule={self.schedule!r})")

    # -- hooks for subclasses ------------------------------------------------------------------

    def setup(self, it: Iterate) -> None:
        """Prepare the run's variables on ``it`` (``it.x`` holds the initial estimate)."""

    def step(self, it: Iterate, k: int, sigma: float | None, gamma: float | None) -> None:
        """One iteration: update ``it.x`` (and the solver's own variables) in place on ``it``.

        ``k`` is the 0-based iteration index, ``sigma``/``gamma`` the schedule's values.
        """
        raise NotImplementedError

    def finalize(self, it: Iterate) -> torch.Tensor:
        """The returned estimate (``it.x`` by default)."""
        return it.x

    # -- helpers for subclasses ----------------------------------------------------------------

    def denoise(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """Apply the prior; its first output in a run is checked (shape, finite values)."""
        from ..priors.base import check_denoised

        out = self.prior(x, sigma)
        if not self._prior_checked:
            check_denoised(self.prior, x, out, sigma)
            self._prior_checked = True
        return out

    # -- the loop ------------------------------------------------------------------------------

    def initial_estimate(self, y: torch.Tensor, operator) -> torch.Tensor:
        """The initial estimate used without ``x0`` (see the ``init`` option)."""
        init = self.init
        mask = _inpainting_mask(operator)
        if init == "auto":
            init = "interpolate" if mask is not None else (
                "dagger" if self.noise_std == 0 else "tikhonov")
        if init == "interpolate":
            if mask is None:
                raise ValueError(f"init='interpolate' needs an inpainting operator, got "
                                 f"{type(operator).__name__}; use init='auto' or pass x0=")
            from ..operators.inpainting import fill_missing

            return fill_missing(y, mask)
        if init == "dagger":
            return operator.A_dagger(y)
        from ..operators.base import solve_AAt

        return operator.A_adjoint(solve_AAt(operator, y, max(self.noise_std, 1e-6)))

    def _initial(self, y, operator, x0):
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
        if not hasattr(operator, "A") or not hasattr(operator, "A_adjoint"):
            raise TypeError(
                f"operator must be a deepinv LinearPhysics (with A and A_adjoint), "
                f"got {type(operator).__name__}")
        meas_shape = getattr(operator, "meas_shape", None)
        if meas_shape is not None and tuple(y.shape[1:]) != tuple(meas_shape):
            raise ValueError(
                f"y has shape {tuple(y.shape)} but {type(operator).__name__} produces "
                f"measurements of shape (B, {', '.join(map(str, meas_shape))}); pass the y "
                "made by this operator")
        if x0 is None:
            try:
                x0 = self.initial_estimate(y, operator)
            except (RuntimeError, ValueError) as err:
                raise ValueError(
                    f"y of shape {tuple(y.shape)} does not fit {type(operator).__name__} "
                    f"(A_dagger failed: {err})") from err
        elif not isinstance(x0, torch.Tensor):
            raise TypeError(f"x0 must be a torch.Tensor or None, got {type(x0).__name__}")
        img_shape = getattr(operator, "img_shape", None)
        if img_shape is not None and tuple(x0.shape[1:]) != tuple(img_shape):
            raise ValueError(
                f"x0 has shape {tuple(x0.shape)}, expected (B, {', '.join(map(str, img_shape))}) "
                f"for {type(operator).__name__}")
        try:
            ax = operator.A(x0)
        except (RuntimeError, ValueError) as err:
            raise ValueError(f"x0 of shape {tuple(x0.shape)} does not fit "
                             f"{type(operator).__name__}: {err}") from err
        if ax.shape != y.shape:
            raise ValueError(
                f"y has shape {tuple(y.shape)} but {type(operator).__name__} maps images of shape "
                f"{tuple(x0.shape)} to {tuple(ax.shape)}; y and the operator do not match")
        return x0.detach().clone(), ax

    def _adapt(self, it: Iterate, iteration: int, sigma) -> None:
        from ..priors.base import AdaptContext

        seed = None if self.seed is None else self.seed + iteration
        with torch.inference_mode(False), torch.enable_grad():
            bar = getattr(self, "_bar", None)
            show = None if bar is None or bar.disable else (
                lambda text: bar.set_postfix_str(text, refresh=True))
            ctx = AdaptContext(y=it.y.detach().clone(), operator=it.operator,
                               x=it.x.detach().clone(), sigma=sigma, iteration=iteration,
                               seed=seed, noise_std=it.noise_std, progress=show)
            self.prior.adapt(ctx)

    def solve(self, y: torch.Tensor, operator, x0: torch.Tensor | None = None,
              x_true: torch.Tensor | None = None, callback=None) -> Result:
        """Run the solver on the measurement ``y``.

        Parameters
        ----------
        y : torch.Tensor
            Measurement ``(B, ...)`` made by ``operator``.
        operator : deepinv.physics.LinearPhysics
            The forward model (project operators or deepinv's own physics).
        x0 : torch.Tensor, optional
            Initial estimate ``(B, C, H, W)``; default ``operator.A_dagger(y)``.
        x_true : torch.Tensor, optional
            Ground truth, only to record the PSNR history (and pick the best iterate on
            divergence).
        callback : callable, optional
            ``callback(state: SolverState)`` after every iteration; returning ``True`` stops.

        Returns
        -------
        Result
        """
        t0 = time.perf_counter()
        with torch.no_grad():
            x, ax = self._initial(y, operator, x0)
            if x_true is not None and (not isinstance(x_true, torch.Tensor)
                                       or x_true.shape != x.shape):
                raise ValueError(
                    f"x_true must be a tensor of the estimate's shape {tuple(x.shape)}, got "
                    f"{tuple(x_true.shape) if isinstance(x_true, torch.Tensor) else type(x_true)}")
            if callback is not None and not callable(callback):
                raise TypeError(f"callback must be callable, got {type(callback).__name__}")
            if self.schedule is not None:
                sigmas, gammas = schedules.resolve(self.schedule, self.max_iter, self.noise_std)
            else:
                sigmas, gammas = [None] * self.max_iter, [None] * self.max_iter
            y_norm = max(_norm(y), 1e-12)
            it = Iterate(y=y, operator=operator, x=x, noise_std=self.noise_std)
            self.setup(it)
        self._prior_checked = False
        if self.prior is not None and hasattr(self.prior, "budget_exhausted"):
            self.prior.calls = self.prior.budget_exhausted = 0

        history = {"seconds": [], "residual": [], "change": [], "sigma": []}
        if x_true is not None:
            history["psnr"] = []
        best_x, best_key = it.x, None
        min_res = start_res = _norm(ax - y) / y_norm
        n_iter, converged, message = 0, False, f"reached max_iter={self.max_iter}"
        every = getattr(self.prior, "adapt_every", None) if self.prior is not None else None
        bar = tqdm(total=self.max_iter, disable=not self.progress, desc=type(self).__name__,
                   leave=False)
        self._bar = bar
        try:
            for k in range(self.max_iter):
                if self.prior is not None and (k == 0 or (every and k % every == 0)):
                    self._adapt(it, k, sigmas[k])
                with torch.no_grad():
                    x_prev = it.x
                    self.step(it, k, sigmas[k], gammas[k])
                    n_iter = k + 1
                    finite = bool(torch.isfinite(it.x).all())
                    res = _norm(operator.A(it.x) - y) / y_norm if finite else math.inf
                    change = (_norm(it.x - x_prev) / max(_norm(x_prev), 1e-12)
                              if finite else math.inf)
                    score = _psnr(it.x, x_true) if (x_true is not None and finite) else None
                history["seconds"].append(time.perf_counter() - t0)
                history["residual"].append(res)
                history["change"].append(change)
                history["sigma"].append(sigmas[k])
                if x_true is not None:
                    history["psnr"].append(score if score is not None else -math.inf)
                bar.update(1)
                if self.progress:
                    bar.set_postfix(res=f"{res:.3g}", **({"psnr": f"{score:.2f}"} if score else {}))

                blowup = res > self.divergence_factor * max(min_res, 0.01)
                if not finite or blowup:
                    why = "NaN/Inf in the estimate" if not finite else (
                        f"data residual {res:.3g} > {self.divergence_factor:g} x "
                        f"max(best {min_res:.3g}, 0.01)")
                    crit = "PSNR" if x_true is not None else "data residual"
                    message = (f"diverged at iteration {n_iter} ({why}); returned the best "
                               f"iterate by {crit} (iteration {best_key[1] if best_key else 0})")
                    warnings.warn(f"{type(self).__name__}: {message}", RuntimeWarning,
                                  stacklevel=2)
                    it.x = best_x
                    return Result(it.x, n_iter, False, history, message)
                key = score if x_true is not None else -res
                if best_key is None or key >= best_key[0]:
                    best_x, best_key = it.x, (key, n_iter)
                min_res = min(min_res, res)

                if callback is not None:
                    state = SolverState(n_iter, it.x, sigmas[k], res, change, score,
                                        history["seconds"][-1])
                    if callback(state) is True:
                        converged, message = True, f"stopped by the callback at iteration {n_iter}"
                        break
                if self.tol > 0 and change < self.tol:
                    converged = True
                    message = f"relative change {change:.3g} < tol={self.tol:g}"
                    break
            with torch.no_grad():
                x_out = self.finalize(it)
        finally:
            bar.close()
        self._warn_if_worse(start_res, history["residual"][-1], y)
        self._warn_if_short(message)
        return Result(x_out, n_iter, converged, history, message)

    def _warn_if_short(self, message: str) -> None:
        """Warn when a prior that fits itself to each input (``DIPDenoiser``) ran out of steps
        in most calls: its outputs were smoother than the noise level asked for."""
        short = getattr(self.prior, "budget_exhausted", None)
        if not isinstance(short, int):
            return
        calls = self.prior.calls
        if calls and short > calls / 2:
            warnings.warn(
                f"{type(self).__name__}: the prior {getattr(self.prior, 'name', '')!r} ran out "
                f"of steps in {short} of {calls} calls before fitting its input to the noise "
                f"level (residual up to {getattr(self.prior, 'shortfall', 0.0):.1f} x the "
                "target), so it returned smoother images than the schedule asks for and the "
                "result can end below the start; give it more steps (steps=, warm_steps=)",
                RuntimeWarning, stacklevel=3)

    def _warn_if_worse(self, start_res: float, final_res: float, y: torch.Tensor) -> None:
        """Warn when the result explains ``y`` clearly worse than the initial estimate did: the
        prior pulled the estimate away from the data (a too weak or ill-configured prior, e.g.
        ``DIPDenoiser`` with a small budget), which no stopping rule can see."""
        noise_res = self.noise_std * math.sqrt(y.numel()) / max(_norm(y), 1e-12)
        bound = 1.5 * max(start_res, noise_res, 0.05)
        if final_res > bound:
            warnings.warn(
                f"{type(self).__name__}: the result fits y worse than the initial estimate "
                f"(relative residual {final_res:.3g} against {start_res:.3g} at the start, noise "
                f"level {noise_res:.3g}); the prior {getattr(self.prior, 'name', '')!r} may be "
                "too weak for this problem (give it a larger budget or use another prior)",
                RuntimeWarning, stacklevel=3)
