r"""Self-supervised fine-tuning of a denoiser on its own noisy input: SURE and Noise2Self.

With Gaussian noise of known level, Stein's unbiased risk estimate (SURE) measures a denoiser's
mean squared error without the clean image [1]_; the divergence is estimated by Monte Carlo with
one random probe [2]_. Minimising it over the weights fine-tunes the denoiser on the noisy image
itself (Metzler et al. [3]_); minimising it over per-channel gains only is GainTuning [4]_ (see
:mod:`pnp_internal.priors.gaintuning`).

:class:`SUREFineTuned` is the prior: ``fit(y, sigma)`` for plain denoising, or, inside a
plug-and-play solver, ``adapt(context)`` marks it for tuning on the input of its next call (the
image plus noise of the current sigma, which is what SURE assumes).

References
----------
.. [1] C. Stein, "Estimation of the Mean of a Multivariate Normal Distribution", Ann. Stat., 1981.
.. [2] S. Ramani, T. Blu, M. Unser, "Monte-Carlo SURE: A Black-Box Optimization of
   Regularization Parameters for General Denoising Algorithms", IEEE TIP 17(9), 2008.
.. [3] C. Metzler, A. Mousavi, R. Heckel, R. Baraniuk, "Unsupervised Learning with Stein's
   Unbiased Risk Estimator", arXiv 1805.10531, 2018.
.. [4] S. Mohan, J. L. Vincent, R. Manzorro, P. Crozier, C. Fernandez-Granda, E. Simoncelli,
   "Adaptive Denoising via GainTuning", NeurIPS 2021.
.. [5] J. Batson, L. Royer, "Noise2Self: Blind Denoising by Self-Supervision", ICML 2019.
.. [6] T. Pang, H. Zheng, Y. Quan, H. Ji, "Recorrupted-to-Recorrupted: Unsupervised Deep
   Learning for Image Denoising", CVPR 2021.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from ..precision import check_precision, resolve
from .base import AdaptContext, Prior
from .finetune import (TRAIN_CHOICES, FinetuneReport, check_tunable, finetune,
                       trainable_parameters)
from .training_pairs import PairSampler

__all__ = ["sure_loss", "noise2self_loss", "SUREFineTuned"]


def _sigma_vec(sigma, z: torch.Tensor) -> torch.Tensor:
    s = torch.as_tensor(sigma, dtype=torch.float32, device=z.device).reshape(-1)
    return s.expand(z.shape[0]) if s.numel() == 1 else s


def sure_loss(denoiser, z: torch.Tensor, sigma, *, tau: float = 1e-3,
              generator: torch.Generator | None = None, probes: int = 1) -> torch.Tensor:
    r"""Monte-Carlo SURE of ``denoiser`` at the noisy batch ``z`` (mean over the batch).

    .. math::
        \frac1n\|D(z) - z\|^2 - \sigma^2 + \frac{2\sigma^2}{n\tau} b^\top (D(z + \tau b) - D(z)),
        \quad b \sim \mathcal N(0, I),

    an unbiased estimate of :math:`\frac1n\|D(z) - x\|^2` when :math:`z = x + \sigma n`.
    Computed with deepinv's :class:`~deepinv.loss.SureGaussianLoss` (identity operator).

    Parameters
    ----------
    denoiser : callable
        ``denoiser(x, sigma)``.
    z : torch.Tensor
        Noisy batch (B, C, H, W).
    sigma : float or torch.Tensor
        Its noise level ([0, 1] scale), a float or a (B,) tensor.
    tau : float
        Finite-difference step of the divergence (keep float32 precision: with bf16 the
        difference :math:`D(z + \tau b) - D(z)` is rounding noise).
    generator : torch.Generator, optional
        Draws the probe ``b`` (fixed seed -> deterministic loss).
    probes : int
        Probes ``b`` drawn one after the other; with more than one, the (probes,) tensor of their
        estimates, which share the one call :math:`D(z)`.
    """
    from deepinv.loss import SureGaussianLoss
    from deepinv.physics import Denoising

    if isinstance(probes, bool) or not isinstance(probes, int) or probes < 1:
        raise ValueError(f"probes must be an int >= 1, got {probes!r}")
    s = _sigma_vec(sigma, z)
    loss = SureGaussianLoss(sigma=s, tau=tau, rng=generator)

    def model(v, physics):
        return denoiser(v, s).float()

    out = model(z, None)
    values = [loss(z, out, Denoising(), model).mean() for _ in range(probes)]
    return values[0] if probes == 1 else torch.stack(values)


def _donut_fill(z: torch.Tensor) -> torch.Tensor:
    """Each pixel replaced by the mean of its 4 neighbours (reflect border)."""
    k = torch.tensor([[0.0, 0.25, 0.0], [0.25, 0.0, 0.25], [0.0, 0.25, 0.0]], device=z.device,
                     dtype=z.dtype).expand(z.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(z, (1, 1, 1, 1), mode="reflect"), k, groups=z.shape[1])


def noise2self_loss(denoiser, z: torch.Tensor, sigma, *, grid: int = 4, phase: int = 0
                    ) -> torch.Tensor:
    r"""Noise2Self loss [5]_: MSE on a masked pixel grid, the masked pixels replaced by the mean
    of their neighbours (a J-invariant approximation), so the identity cannot be learned.

    Parameters
    ----------
    grid : int
        Mask period: one pixel in ``grid x grid`` is masked.
    phase : int
        Which of the ``grid**2`` positions is masked.
    """
    h, w = z.shape[-2:]
    i, j = divmod(int(phase) % (grid * grid), grid)
    mask = torch.zeros(h, w, dtype=torch.bool, device=z.device)
    mask[i::grid, j::grid] = True
    z_in = torch.where(mask, _donut_fill(z), z)
    out = denoiser(z_in, _sigma_vec(sigma, z)).float()
    return (out - z.float())[..., mask].pow(2).mean()


class SUREFineTuned(Prior):
    r"""A denoiser fine-tuned on its own noisy input with SURE or Noise2Self [3]_ [4]_.

    Parameters
    ----------
    denoiser : torch.nn.Module
        Pretrained denoiser with weights; deep-copied (the original stays untouched).
    loss : {"sure", "noise2self"}
        Self-supervised loss; SURE needs the noise level (known in PnP and in Gaussian
        denoising), Noise2Self does not use it.
    train : {"all", "last", "gains", "lora"}
        Parameters trained: all weights (Metzler et al.), the last ``last_k`` layers, one gain
        per output channel of each convolution (GainTuning), or a rank-``rank`` update of each
        convolution (:mod:`~pnp_internal.priors.low_rank`).
    last_k : int
        Layers trained when ``train="last"``.
    rank : int
        Rank of the update when ``train="lora"``.
    steps, lr : int, float
        Adam steps and learning rate of one tuning.
    batch_size, crop : int
        Random crops of the noisy image per step, and their side.
    tau : float
        Finite-difference step of SURE's divergence.
    holdout : float
        Fraction of the image (a strip) held out: its SURE / Noise2Self value, with a fixed probe,
        drives early stopping; the initial weights are kept if it never improves.
    check_every, patience : int
        Hold-out check period and patience.
    min_decrease : float
        Relative hold-out decrease that counts as progress: how much to adapt is decided by it
        (see :func:`~pnp_internal.priors.finetune.finetune`).
    min_gain : float
        Relative hold-out decrease, from the weights before the tuning to the best ones, below
        which the weights before it are kept (0: any decrease).
    holdout_probes : int
        Random probes averaged in the hold-out SURE (its divergence is a Monte-Carlo estimate;
        more probes, less noise in the decisions at a high sigma).
    recorrupt : float
        SURE only: every training step adds fresh noise of level ``recorrupt * sigma`` to its
        crops and scores them by SURE at the level of the sum, ``sigma * sqrt(1 + recorrupt**2)``
        (the recorrupted inputs of Pang et al. [6]_): the steps no longer see one fixed noise
        draw over and over. 0 (default): the crops of ``y`` as they are. The hold-out is
        scored on ``y`` at ``sigma`` either way.
    adapt_every : int, optional
        Inside a solver: also re-tune after every ``adapt_every`` iterations.
    precision : {"auto", "fp32", "bf16"} or Precision
        Arithmetic of the Noise2Self tuning (:func:`pnp_internal.precision.resolve`). SURE
        tunes in float32 whatever is asked (in bf16 its finite difference
        :math:`D(z + \tau b) - D(z)` is rounding noise); :attr:`precision_used` tells.
    max_seconds : float, optional
        Wall-time budget of one tuning.
    seed : int or None
        Seed of the crops and probes.

    Attributes
    ----------
    reports : list of FinetuneReport
        One per tuning.
    precision_used : str or None
        Arithmetic of the last tuning, ``"fp32"`` or ``"bf16"`` (``None`` before any).
    """

    _train_default = "all"

    def __init__(self, denoiser, *, loss: str = "sure", train: str | None = None,
                 last_k: int = 4, rank: int = 4, steps: int = 20, lr: float = 1e-5,
                 batch_size: int = 4, crop: int = 64, tau: float = 1e-3, holdout: float = 0.15,
                 check_every: int = 4, patience: int = 2, min_decrease: float = 0.0,
                 min_gain: float = 0.0, holdout_probes: int = 1, recorrupt: float = 0.0,
                 adapt_every: int | None = None,
                 max_seconds: float | None = None, seed: int | None = 0, precision: str = "auto"):
        super().__init__()
        check_tunable(denoiser, who=type(self).__name__)
        if loss not in ("sure", "noise2self"):
            raise ValueError(f"loss must be 'sure' or 'noise2self', got {loss!r}")
        train = self._train_default if train is None else train
        if train not in TRAIN_CHOICES:
            raise ValueError(f"train must be one of {', '.join(TRAIN_CHOICES)}, got {train!r}")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be an int >= 0, got {steps!r}")
        if not (isinstance(tau, (int, float)) and tau > 0):
            raise ValueError(f"tau must be > 0, got {tau!r}")
        if adapt_every is not None and (isinstance(adapt_every, bool)
                                        or not isinstance(adapt_every, int) or adapt_every < 1):
            raise ValueError(f"adapt_every must be None or an int >= 1, got {adapt_every!r}")
        self.original = denoiser
        self.model = copy.deepcopy(denoiser).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self._untouched = True  # no tuning has moved the copy's weights
        self.loss, self.train_what, self.last_k, self.rank = loss, train, last_k, rank
        self.steps, self.lr, self.batch_size, self.crop, self.tau = steps, lr, batch_size, crop, tau
        self.holdout, self.check_every, self.patience = holdout, check_every, patience
        self.min_decrease, self.min_gain = min_decrease, min_gain
        if isinstance(holdout_probes, bool) or not isinstance(holdout_probes, int) \
                or holdout_probes < 1:
            raise ValueError(f"holdout_probes must be an int >= 1, got {holdout_probes!r}")
        self.holdout_probes = holdout_probes
        if isinstance(recorrupt, bool) or not isinstance(recorrupt, (int, float)) \
                or not 0 <= recorrupt < float("inf"):
            raise ValueError(f"recorrupt must be a finite number >= 0, got {recorrupt!r}")
        if recorrupt and loss != "sure":
            raise ValueError("recorrupt needs loss='sure' (it rescales SURE's noise level)")
        self.recorrupt = float(recorrupt)
        self.adapt_every, self.max_seconds, self.seed = adapt_every, max_seconds, seed
        self.precision = check_precision(precision)
        self.precision_used: str | None = None
        self.reports: list[FinetuneReport] = []
        self._pending_seed: int | None | bool = False

    def _params(self) -> list:
        return trainable_parameters(self.model, self.train_what, last_k=self.last_k,
                                    rank=self.rank)

    def _loss(self, z, sigma, generator, phase):
        if self.loss == "sure":
            return sure_loss(self.model, z, sigma, tau=self.tau, generator=generator)
        return noise2self_loss(self.model, z, sigma, phase=phase)

    def _steps(self, sampler: PairSampler, z: torch.Tensor, sigma: float, crop: int, base: int,
               device):
        """``(sample, loss_fn)`` of the tuning steps: the crops of ``y`` (``sampler``'s) scored
        by the self-supervised loss."""
        def sample(step):
            noisy, _, _ = sampler.batch(step)
            return noisy.to(device), step

        def loss_fn(batch):
            zb, step = batch
            g = torch.Generator(device=device).manual_seed(base * 7919 + step)
            if self.recorrupt:
                extra = self.recorrupt * sigma
                zb = zb + extra * torch.randn(zb.shape, generator=g, device=device)
                return self._loss(zb, (sigma ** 2 + extra ** 2) ** 0.5, g, phase=step)
            return self._loss(zb, sigma, g, phase=step)

        return sample, loss_fn

    def _steps_precision(self) -> str:
        """Arithmetic of the tuning steps (SURE's finite difference needs float32)."""
        return "fp32" if self.loss == "sure" else self.precision

    def fit(self, y: torch.Tensor, sigma, *, seed: int | None = None) -> FinetuneReport:
        """Tune on the noisy image ``y`` (B=1, C, H, W) of noise level ``sigma``.

        Returns
        -------
        FinetuneReport
            Also appended to :attr:`reports`.
        """
        if not isinstance(y, torch.Tensor) or y.ndim != 4:
            raise ValueError(f"y must be a (B, C, H, W) tensor, got {type(y).__name__}")
        sigma = float(torch.as_tensor(sigma, dtype=torch.float32).max())
        if self.loss == "sure" and not sigma > 0:
            raise ValueError(f"SURE needs the noise level sigma > 0, got {sigma}; use "
                             "loss='noise2self' when it is unknown")
        seed = self.seed if seed is None else seed
        device = next(self.model.parameters()).device
        with torch.inference_mode(False), torch.enable_grad():
            z = y.detach().clone().float().cpu()
            crop = min(self.crop, z.shape[-2], z.shape[-1])
            crop -= crop % 8 if crop >= 16 else 0
            sampler = PairSampler(list(z), sigmas=0.0, crop=crop, batch_size=self.batch_size,
                                  scales=(1.0,), holdout=self.holdout, seed=seed,
                                  clip=False)  # clipped noise would bias SURE
            hold = self._holdout_images(sampler, z)
            base = 0 if seed is None else int(seed)
            sample, loss_fn = self._steps(sampler, z, sigma, crop, base, device)

            holdout_loss = None
            if hold is not None:
                zh = hold.to(device)

                def holdout_loss():
                    g = torch.Generator(device=device).manual_seed(base + 424242)
                    if self.loss == "sure":
                        vals = sure_loss(self.model, zh, sigma, tau=self.tau, generator=g,
                                         probes=self.holdout_probes).reshape(-1)
                    else:
                        vals = [self._loss(zh, sigma, g, phase=p) for p in (0, 5, 10, 15)]
                    return sum(float(v) for v in vals) / len(vals)

            report = finetune(self.model, self._params(), loss_fn, sample, steps=self.steps,
                              lr=self.lr, holdout_loss=holdout_loss,
                              check_every=self.check_every, patience=self.patience,
                              min_decrease=self.min_decrease, min_gain=self.min_gain,
                              max_seconds=self.max_seconds,
                              precision=resolve(self._steps_precision(), device),
                              on_step=getattr(self, "_on_step", None))
        for p in self.model.parameters():
            p.requires_grad_(False)
        self._untouched = self._untouched and report.kept_initial
        self.reports.append(report)
        self.precision_used = report.precision
        return report

    def _holdout_images(self, sampler: PairSampler, z: torch.Tensor) -> torch.Tensor | None:
        """The noisy images the hold-out loss is computed on: tiles of the strip of ``z`` that
        the steps leave out (``None`` without hold-out)."""
        hold = sampler.holdout_batch()
        return None if hold is None else hold[1]

    def adapt(self, context: AdaptContext) -> None:
        """Mark the prior for tuning on the input of its next call (inside a PnP solver the
        denoiser's input is the image plus noise of the current sigma)."""
        self._pending_seed = context.seed if self.seed is None else self.seed + context.iteration
        self._on_step = context.step_reporter("tuning by SURE")

    def forward(self, x: torch.Tensor, sigma, *args, **kwargs) -> torch.Tensor:
        """Denoise with the tuned copy (tuning first on ``x`` if :meth:`adapt` asked for it)."""
        if self._pending_seed is not False:
            seed, self._pending_seed = self._pending_seed, False
            self.fit(x, sigma, seed=seed)
        # untuned: the original network, bit for bit (the copy's zero low-rank update or unit
        # gains give the same function, computed otherwise)
        return (self.original if self._untouched else self.model)(x, sigma)
