"""IAGAN: adapt a pretrained generator's weights to the measurements of one image.

References
----------
.. [1] S. A. Hussein, T. Tirer and R. Giryes, "Image-Adaptive GAN based Reconstruction",
   AAAI 2020.
"""

from __future__ import annotations

import copy
import time

import torch

from ..operators.base import solve_AAt
from ..solvers.result import Result
from ..solvers.schedules import logspace
from ..metrics import psnr
from ..priors._dip_fit import tv_loss
from .csgm import CSGM, generator_for, measurement_loss
from .generator import Generator

__all__ = ["IAGAN"]


class IAGAN:
    """Image-adaptive generative prior [1]_: CSGM's code ``z``, then ``z`` and the
    generator's weights ``theta`` jointly on ``|A G_theta(z) - y|^2``, then optionally the
    back-projection ``x = G + A^T (A A^T + eps I)^{-1} (y - A G)``.

    A generator trained elsewhere cannot represent the test image exactly (CSGM's
    representation error); a few hundred small steps on its weights remove most of it. Only
    the coarse ``stages`` are adapted by default: with fewer measurements than pixels, the
    change that fits ``y`` takes the form of the adapted layers, and the coarse ones put it
    into the image's structure where the last (64x64) layer puts it into single pixels. They
    would go on to fit the noise and, for an operator with a null space, anything there, so
    the steps stop without the ground truth: a random ``holdout`` fraction of the entries of
    ``y`` is left out of the loss of both stages, and the iterate with the lowest loss on them
    is returned (the run ends ``patience`` steps after it); with ``refit``, the steps are then
    run again on all of ``y`` for the number the hold-out chose. A total-variation term
    (``tv_weight``) keeps the adapted image piecewise smooth where the measurements leave it
    free, as DIP-TV does for DIP (Liu et al. 2019); a RED term (``red_weight``) pulls it
    towards the shipped CNN denoiser's output instead, as DeepRED does for DIP (Mataev et al.
    2019). With ``ensemble`` > 1, the best
    ``ensemble`` codes of CSGM's restarts are adapted one by one and their images averaged:
    what fits ``y`` is common to them, what each puts where ``y`` says nothing is not.

    Parameters
    ----------
    generator : Generator, optional
        Default: the shipped generator; it is copied, never changed.
    csgm : CSGM, optional
        The first stage (default ``CSGM(generator)`` with its defaults).
    max_iter : int
        Cap of the joint steps.
    lr : float
        Adam learning rate of the generator's weights.
    stages : int
        The generator's resolution stages adapted, from the latent (1-5: 4x4 to 64x64; 5 is
        every weight, as in [1]_).
    ensemble : int
        Codes of CSGM's restarts adapted and averaged (at most ``csgm.restarts``).
    latent_lr : float
        Adam learning rate of the code in the joint steps.
    holdout : float
        Fraction of the entries of ``y`` held out to choose the iterate.
    patience : int
        Steps without a better hold-out loss before the run ends.
    tv_weight : float
        Weight of a total-variation term on ``G`` in the joint steps, against the mean squared
        measurement error (0: none).
    red_weight, red_sigma : float
        Weight of the regularisation by denoising term ``x . (x - D(x)) / 2`` (Romano et al.
        2017; its gradient ``x - D(x)``) in the joint steps, against the mean squared
        measurement error (0: none), and the noise level ([0, 1] scale) at which the shipped
        CNN ``D`` (gray or colour, as the image) is called.
    red_sigma_final : float, optional
        The noise level at the last of the ``max_iter`` steps: ``D`` is called at
        ``red_sigma * (red_sigma_final / red_sigma) ** (k / (max_iter - 1))`` at step ``k``
        (each run of the steps, the refit's too, starts again at ``red_sigma``). None: a
        constant ``red_sigma``.
    red_denoiser : callable, optional
        ``D(x, sigma)`` of the RED term, any deepinv ``Denoiser`` for the image's channels.
        Default: the shipped CNN (gray or colour, as the image).
    refit : bool
        Run the joint steps again, on every entry of ``y``, for the number of steps the
        hold-out chose, from the same code (up to twice the time; uses the measurements held
        out).
    back_projection : bool
        Finish with the back-projection (``iagan-bp``); ``eps`` is ``noise_std`` (0, the exact
        projection, for noiseless ``y``), as IDBP's.
    noise_std : float
        Noise level of ``y`` ([0, 1] scale); used by the back-projection.
    seed : int or None
        Seed of the hold-out draw (CSGM has its own).
    progress : bool
        Show a progress bar.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal import operators
    >>> from pnp_internal.generative import CSGM, IAGAN, Generator
    >>> op = operators.CompressedSensing(0.25, img_shape=(1, 64, 64))
    >>> g = Generator(nz=8, ngf=4).eval()
    >>> solver = IAGAN(g, csgm=CSGM(g, restarts=1, max_iter=2), max_iter=3)
    >>> solver.solve(op.A(torch.rand(1, 1, 64, 64)), op).x.shape
    torch.Size([1, 1, 64, 64])
    """

    def __init__(self, generator: Generator | None = None, *, csgm: CSGM | None = None,
                 max_iter: int = 600, lr: float = 1e-4, stages: int = 3, ensemble: int = 1,
                 latent_lr: float = 1e-3, holdout: float = 0.1, patience: int = 100,
                 tv_weight: float = 0.0, red_weight: float = 0.0, red_sigma: float = 0.02,
                 red_sigma_final: float | None = None, red_denoiser=None, refit: bool = False,
                 back_projection: bool = False,
                 noise_std: float = 0.0, seed: int | None = 0, progress: bool = False):
        if max_iter < 1 or patience < 1 or not (lr > 0 and latent_lr > 0):
            raise ValueError(f"need max_iter >= 1, patience >= 1, lr > 0, latent_lr > 0; got "
                             f"{max_iter}, {patience}, {lr}, {latent_lr}")
        if not 0 < holdout < 0.5:
            raise ValueError(f"holdout must be in (0, 0.5), got {holdout}")
        if not 1 <= stages <= 5 or ensemble < 1:
            raise ValueError(f"need stages in [1, 5] and ensemble >= 1; got {stages}, {ensemble}")
        if not noise_std >= 0 or not tv_weight >= 0 or not red_weight >= 0 \
                or not red_sigma > 0:
            raise ValueError(f"need noise_std, tv_weight, red_weight >= 0 and red_sigma > 0; "
                             f"got {noise_std}, {tv_weight}, {red_weight}, {red_sigma}")
        if red_sigma_final is not None and not red_sigma_final > 0:
            raise ValueError(f"red_sigma_final must be > 0 (None: a constant red_sigma), got "
                             f"{red_sigma_final}")
        self.generator = generator
        self.csgm = CSGM(generator) if csgm is None else csgm
        self.max_iter, self.lr, self.latent_lr = int(max_iter), float(lr), float(latent_lr)
        self.holdout, self.patience = float(holdout), int(patience)
        self.tv_weight, self.refit = float(tv_weight), bool(refit)
        self.red_weight, self.red_sigma = float(red_weight), float(red_sigma)
        self.red_sigma_final = None if red_sigma_final is None else float(red_sigma_final)
        self.red_denoiser = red_denoiser
        self._red_cache: dict = {}
        self.stages, self.ensemble = int(stages), int(ensemble)
        self.back_projection, self.noise_std = bool(back_projection), float(noise_std)
        self.seed, self.progress = seed, progress

    def _red_denoiser(self, x: torch.Tensor):
        """``red_denoiser``, or the shipped CNN prior for ``x``'s channels, on its device
        (loaded once per pair)."""
        if self.red_denoiser is not None:
            return self.red_denoiser
        from ..catalog.pnp import shipped_cnn

        key = (x.shape[1], x.device)
        if key not in self._red_cache:
            self._red_cache[key] = shipped_cnn(x.shape[1], x.device).eval()
        return self._red_cache[key]

    def red_sigmas(self) -> list[float]:
        """The noise level of the RED denoiser at each of the ``max_iter`` joint steps."""
        if self.red_sigma_final is None:
            return [self.red_sigma] * self.max_iter
        return logspace(self.red_sigma, self.red_sigma_final, self.max_iter)

    def red_sigma_at(self, step: int) -> float:
        """The noise level of the RED denoiser at joint step ``step`` (from 0)."""
        return self.red_sigmas()[min(step, self.max_iter - 1)]

    def _adapt(self, g: Generator, z: torch.Tensor, y: torch.Tensor, operator,
               held: torch.Tensor, x_true, history,
               steps: int | None = None) -> tuple[torch.Tensor, int, int]:
        """The joint steps on the entries of ``y`` outside ``held``; the best iterate by the
        loss on ``held``, its step and the steps run (each step logged in ``history`` unless
        it is None). With ``steps``, exactly that many steps and the last iterate."""
        from tqdm import tqdm

        g = copy.deepcopy(g).eval()  # batch norm keeps its trained statistics
        adapted = g.coarse_parameters(self.stages)
        for p in g.parameters():
            p.requires_grad_(False)
        for p in adapted:
            p.requires_grad_(True)
        z = z.clone().requires_grad_()
        opt = torch.optim.Adam([{"params": adapted, "lr": self.lr},
                                {"params": [z], "lr": self.latent_lr}])
        best, best_x, best_it, it = float("inf"), None, 0, 0
        n_fit = float((1 - held).sum().clamp_min(1))
        red_sigmas = self.red_sigmas()
        t0 = time.perf_counter()
        with torch.enable_grad():
            n = self.max_iter if steps is None else steps + 1
            for it in tqdm(range(n), disable=not self.progress, desc="IAGAN"):
                x = g(z)
                loss = measurement_loss(operator, x, y, 1 - held).sum()
                if self.tv_weight > 0:  # against the mean squared error: times the entries
                    loss = loss + self.tv_weight * n_fit * tv_loss(x)
                if self.red_weight > 0:  # RED: the gradient of the term is x - D(x)
                    with torch.no_grad():
                        pull = x - self._red_denoiser(x)(x, red_sigmas[it])
                    loss = loss + self.red_weight * n_fit * (pull * x).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if steps is not None:
                    best_x, best_it = x.detach(), it
                    continue
                with torch.no_grad():
                    check = float(measurement_loss(operator, x, y, held).sum())
                if check < best:
                    best, best_x, best_it = check, x.detach().clone(), it
                if history is not None:
                    history["seconds"].append(time.perf_counter() - t0)
                    history["residual"].append(check)
                    if x_true is not None:
                        history["psnr"].append(float(psnr(x.detach().clamp(0, 1), x_true)))
                if it - best_it >= self.patience:
                    break
        return best_x, best_it, it + 1

    def solve(self, y: torch.Tensor, operator, *, x_true: torch.Tensor | None = None) -> Result:
        """Restore the 64x64 image behind ``y`` (batch items one by one)."""
        if self.ensemble > self.csgm.restarts:
            raise ValueError(f"ensemble={self.ensemble} needs as many CSGM restarts; the CSGM "
                             f"stage has restarts={self.csgm.restarts}")
        g = generator_for(operator, y, self.generator)
        history = {"seconds": [], "residual": [], "psnr": []}
        out, stops = [], []
        for i in range(len(y)):
            truth = None if x_true is None else x_true[i:i + 1]
            yi = y[i:i + 1]
            # the hold-out stays out of both stages, so that its loss at the start is unbiased
            gen = torch.Generator().manual_seed(0 if self.seed is None else self.seed)
            held = (torch.rand(yi.shape, generator=gen) < self.holdout).to(y.device, y.dtype)
            codes = self.csgm.fit_latent(g, yi, operator, weight=1 - held, keep=self.ensemble)
            # the history follows the first (best) code
            runs = [self._adapt(g, z[None], yi, operator, held, truth, history if k == 0 else None)
                    for k, z in enumerate(codes)]
            if self.refit:  # the chosen number of steps again, on every entry of y
                every = torch.zeros_like(held)
                runs = [(self._adapt(g, z[None], yi, operator, every, None, None,
                                     steps=r[1])[0],) + r[1:] for z, r in zip(codes, runs)]
            x = torch.stack([r[0] for r in runs]).mean(0)
            _, best_it, n_iter = runs[0]
            if self.back_projection:
                with torch.no_grad():
                    x = x + operator.A_adjoint(solve_AAt(operator, yi - operator.A(x),
                                                         self.noise_std))
            out.append(x)
            stops.append((best_it, n_iter))
        history = {k: v for k, v in history.items() if v} if len(y) == 1 else {}
        best_it, n_iter = stops[-1]
        averaged = f" (the first of {self.ensemble} codes, averaged)" if self.ensemble > 1 else ""
        return Result(x=torch.cat(out).clamp(0, 1), n_iter=n_iter,
                      converged=n_iter < self.max_iter, history=history,
                      message=f"IAGAN: CSGM code, then joint steps; the hold-out loss was lowest "
                              f"at step {best_it + 1} of {n_iter}{averaged}"
                              f"{', run again on all of y' if self.refit else ''}"
                              f"{', then back-projection' if self.back_projection else ''}")
