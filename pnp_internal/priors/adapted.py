r"""IDBP-CNN-IA: a pretrained CNN denoiser fine-tuned on the image at hand.

:class:`ImageAdapted` wraps a pretrained denoiser. When a solver calls its ``adapt`` hook it
fine-tunes a **copy** of the weights on training pairs built from the observation (see
:mod:`pnp_internal.priors.training_pairs`), before the iterations, during them, or both. The
shared pretrained model is never modified.

The settings per operator kind are in the recipe book
(:data:`pnp_internal.recipes.IMAGE_ADAPTED`, e.g. 96 steps at lr 1e-4 for SR: Set5 x2
37.25 -> 37.44 dB); the measurements behind them (learning rate, steps, hold-out guard, where
adaptation does not pay) are in ``benchmarks/notes/image-adaptation.md``.

References
----------
.. [1] T. Tirer, R. Giryes, "Super-Resolution via Image-Adapted Denoising CNNs: Incorporating
   External and Internal Learning", IEEE SPL 26(7):1080-1084, 2019 (arXiv 1811.12866).
.. [2] T. Tirer, R. Giryes, "Image Restoration by Iterative Denoising and Backward Projections",
   IEEE TIP 28(3), 2019.
"""

from __future__ import annotations

import copy
import functools
import math

import torch
import torch.nn.functional as F

from ..precision import check_precision
from .base import AdaptContext, Prior
from .finetune import (TRAIN_CHOICES, FinetuneReport, check_tunable, finetune,
                       trainable_parameters)
from .training_pairs import (SUPPORTED_KINDS, PairSampler, operator_kind, sr_factor,
                             sr_pair_noise)

__all__ = ["ImageAdapted"]

_WHEN = ("before", "during", "both")
_CHECK_STREAM = 0x5C0FFEE  # offset of the seeds of sure_check's noise


def _sigma_max(sigma) -> float:
    return float(torch.as_tensor(sigma, dtype=torch.float32).max())


class ImageAdapted(Prior):
    r"""A denoiser fine-tuned on the test image (IDBP-CNN-IA) [1]_.

    Parameters
    ----------
    denoiser : torch.nn.Module
        Pretrained denoiser ``D(x, sigma)`` with weights (e.g.
        ``priors.pretrained("drunet-lite-color")``). It is deep-copied; the original stays
        untouched and is used at noise levels above ``switch_sigma``.
    when : {"before", "during", "both"}
        Fine-tune once before the iterations, every ``adapt_every`` iterations on the current
        estimate, or both.
    adapt_every : int, optional
        Re-adaptation period for ``when="during"``/``"both"`` (default 10).
    train : {"all", "last", "gains", "lora"}
        Train all weights, only the last ``last_k`` layers, only a gain per output channel of
        every convolution (GainTuning-style, weights frozen), or a rank-``rank`` update of every
        convolution.
    last_k : int
        Layers trained when ``train="last"``.
    rank : int
        Rank of the update when ``train="lora"``.
    steps : int
        Adam steps of the first adaptation (96; see the module notes for the measurements
        behind ``steps``, ``lr``, ``check_every`` and ``patience``).
    steps_during : int, optional
        Adam steps of each re-adaptation during the iterations (default ``steps // 2``).
    lr : float
        Adam learning rate (1e-4; [1]_ used 3e-4, too large for the shipped weights, see the
        module notes; ``train="gains"`` uses 10x this).
    batch_size : int
        Crops per step.
    crop : int or tuple of int
        Crop side(s), one drawn per step.
    scales : tuple of float
        Random rescaling of the sources (1 and 0.9 in [1]_).
    sigmas : float or (float, float), optional
        Noise level(s) of the training pairs ([0, 1] scale). Default: for super-resolution by a
        factor ``s``, :math:`\sigma_{ft} = (s + 1)/255` [1]_; otherwise the range from the noise
        level of ``y`` (at least 1/255) to the solver's current sigma.
    switch_sigma : float, "auto" or None
        Use the adapted copy only when the requested sigma is at most this, the original above
        it. ``"auto"``: :math:`\sigma_{ft} + 1/255` for super-resolution adapted before the
        iterations (as in [1]_), otherwise ``None`` (always the adapted copy).
    holdout : float, optional
        Fraction of the source image held out for early stopping (0 disables it). If the
        hold-out loss never improves, the original weights are kept. Default 0.15, and 0 with
        ``sure_check`` (which is the hold-out then).
    check_every : int, optional
        Hold-out check period (steps). Default 8, and with ``sure_check`` the adaptation's
        number of steps: SURE on ``y`` is checked at the start and at the end only (the lowest
        of more checks picked worse steps, ``benchmarks/notes/off-distribution.md``).
    patience : int
        Checks without improvement before the adaptation stops.
    min_decrease : float
        Relative hold-out decrease that counts as progress (see
        :func:`~pnp_internal.priors.finetune.finetune`).
    min_gain : float
        Relative hold-out decrease, from the original weights to the best ones, below which
        the original weights are kept (0: any decrease adapts).
    refit : bool
        With a pixel ``holdout``: once the hold-out has chosen how many steps to keep, start
        again from the same weights and run that many steps on the whole source, the held-out
        pixels included (the hold-out decides how much to adapt, all the pixels what is
        learnt); nothing is refitted when the hold-out kept the start.
    sure_check : float, optional
        The hold-out of the fine-tuning loop is the SURE [3]_ of the copy denoising ``y`` plus
        fresh Gaussian noise of this level ([0, 1] scale; 4 probes, float32, the noise of ``y``
        counting in the level), checked at the start and every ``check_every`` steps: the
        weights that denoise ``y`` best are kept, the start's (the original before the first
        adaptation) when no step beats them. The pairs come from an
        estimate of the image, so the check is the one place where ``y`` itself judges the
        copy: an image the CNN already knows loses a little to the adaptation, and the check
        sees it at mid noise levels, where it is exact (``benchmarks/notes/off-distribution.md``).
        For operators whose ``y`` is an image: deblurring, super-resolution, denoising.
    x_init : torch.Tensor, optional
        Clean-looking estimate to fine-tune on before the iterations (any task). Without it,
        super-resolution uses ``y``; deblurring, inpainting, CS and denoising use
        ``warmup_iter`` iterations of HQS with the original denoiser.
    warmup_iter : int
        Iterations of that HQS warm-up.
    max_seconds : float, optional
        Wall-time budget of one adaptation.
    seed : int or None
        Seed of the crops, transforms and noise. ``None`` uses the solver's seed.
    precision : {"auto", "fp32", "bf16"} or Precision
        Arithmetic of the fine-tuning steps (:func:`pnp_internal.precision.resolve`: bf16
        autocast where the device computes bf16 natively); the hold-out checks are float32 and
        the denoising calls follow the denoiser's own ``precision``.

    Attributes
    ----------
    reports : list of FinetuneReport
        One per adaptation (steps, hold-out curve, kept step, seconds).
    sure_checks : list of (float, float)
        With ``sure_check``: per adaptation, the SURE on ``y`` plus the check's noise of the
        weights it started from and the lowest of its later checks (the steps kept when the
        second is lower; the whole curve is the report's ``holdout``).
    precision_used : str or None
        Arithmetic of the last adaptation, ``"fp32"`` or ``"bf16"`` (``None`` before any).

    Notes
    -----
    Each adaptation minimises :math:`\mathbb{E}\,\|D_\theta(c + \sigma n, \sigma) - c\|_1` over
    random crops ``c`` of the sources, i.e. the L1 loss on the residual (noise) prediction of
    [1]_, since :math:`(z - D(z)) - \sigma n = c - D(z)`.

    Examples
    --------
    >>> import torch
    >>> from deepinv.models import DnCNN
    >>> from pnp_internal.priors import ImageAdapted, AdaptContext
    >>> import deepinv as dinv
    >>> net = DnCNN(1, 1, depth=3, nf=8, pretrained=None)
    >>> op = dinv.physics.Downsampling(img_size=(1, 64, 64), factor=2, filter="bicubic")
    >>> y = op.A(torch.rand(1, 1, 64, 64))
    >>> prior = ImageAdapted(net, steps=2, batch_size=2, crop=16)
    >>> prior.adapt(AdaptContext(y, op, op.A_adjoint(y), 0.05, 0, seed=0))
    >>> prior.reports[0].steps <= 2
    True
    """

    def __init__(self, denoiser, *, when: str = "before", adapt_every: int | None = None,
                 train: str = "all", last_k: int = 4, rank: int = 4, steps: int = 96,
                 steps_during: int | None = None, lr: float = 1e-4, batch_size: int = 16,
                 crop=(32, 40, 48), scales=(1.0, 0.9), sigmas=None, switch_sigma="auto",
                 holdout: float | None = None, check_every: int | None = None,
                 patience: int = 4,
                 min_decrease: float = 0.0, min_gain: float = 0.0,
                 sure_check: float | None = None, refit: bool = False,
                 x_init: torch.Tensor | None = None, warmup_iter: int = 8,
                 max_seconds: float | None = None, seed: int | None = 0,
                 precision: str = "auto"):
        super().__init__()
        check_tunable(denoiser, who="ImageAdapted")
        self.precision = check_precision(precision)
        self.precision_used: str | None = None
        if when not in _WHEN:
            raise ValueError(f"when must be one of {_WHEN}, got {when!r}")
        if train not in TRAIN_CHOICES:
            raise ValueError(f"train must be one of {', '.join(TRAIN_CHOICES)}, got {train!r}")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be an int >= 0, got {steps!r}")
        if adapt_every is not None and (isinstance(adapt_every, bool)
                                        or not isinstance(adapt_every, int) or adapt_every < 1):
            raise ValueError(f"adapt_every must be None or an int >= 1, got {adapt_every!r}")
        if not (switch_sigma is None or switch_sigma == "auto"
                or (isinstance(switch_sigma, (int, float)) and switch_sigma >= 0)):
            raise ValueError(f"switch_sigma must be 'auto', None or a level >= 0, got "
                             f"{switch_sigma!r}")
        if sure_check is not None and not (isinstance(sure_check, (int, float))
                                           and not isinstance(sure_check, bool)
                                           and 0 < sure_check <= 1):
            raise ValueError(f"sure_check must be None or a noise level in (0, 1] (0-1 scale, "
                             f"e.g. 20/255), got {sure_check!r}")
        if sure_check is not None and holdout:
            raise ValueError(f"sure_check is the fine-tuning's hold-out, so the source image "
                             f"keeps no pixels apart: use holdout=0 (or leave it out) with it, "
                             f"got holdout={holdout!r}")
        if holdout is None:
            holdout = 0.0 if sure_check is not None else 0.15
        if refit and not holdout:
            raise ValueError("refit runs again, on all the pixels, the number of steps that the "
                             "pixel hold-out chose, so it needs holdout > 0 (e.g. 0.15); got "
                             f"holdout={holdout!r}")
        if x_init is not None and (not isinstance(x_init, torch.Tensor) or x_init.ndim != 4):
            raise ValueError("x_init must be a (B, C, H, W) tensor (a clean-looking estimate of "
                             f"the image), got {type(x_init).__name__}")
        self.original = denoiser
        self.model = copy.deepcopy(denoiser)
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.when, self.train_what, self.last_k, self.rank = when, train, last_k, rank
        if when != "before":
            self.adapt_every = 10 if adapt_every is None else adapt_every
        elif adapt_every is not None:
            raise ValueError("adapt_every is only used with when='during' or 'both'; "
                             f"got adapt_every={adapt_every!r} with when='before'")
        self.steps, self.lr, self.batch_size = steps, float(lr), batch_size
        self.steps_during = max(1, steps // 2) if steps_during is None else steps_during
        self.crop, self.scales, self.sigmas = crop, tuple(scales), sigmas
        self.switch_sigma_option = switch_sigma
        self.switch_sigma: float | None = None
        self.holdout, self.check_every, self.patience = holdout, check_every, patience
        self.min_decrease, self.min_gain, self.sure_check = min_decrease, min_gain, sure_check
        self.refit = refit
        self.x_init = x_init
        self.warmup_iter, self.max_seconds, self.seed = warmup_iter, max_seconds, seed
        self.adapted = False
        self.reports: list[FinetuneReport] = []

    # ------------------------------------------------------------------ helpers
    def _params(self):
        return trainable_parameters(self.model, self.train_what, last_k=self.last_k,
                                    rank=self.rank)

    def _warmup(self, context: AdaptContext) -> torch.Tensor:
        """A short HQS run with the original (non-adapted) denoiser."""
        from pnp_internal.solvers import HQS
        solver = HQS(self.original, noise_std=float(context.noise_std),
                     max_iter=self.warmup_iter, seed=context.seed)
        return solver.solve(context.y, context.operator, x0=context.x).x.detach()

    def _sources_and_sigmas(self, context: AdaptContext):
        kind = operator_kind(context.operator)
        first = context.iteration == 0
        sig_now = max(float(context.sigma), 1.0 / 255)
        if first and self.x_init is not None:
            sources, sigmas = [self.x_init], (max(float(context.noise_std), 1 / 255), sig_now)
        elif not first:
            sources = [context.x]
            if kind == "sr":
                sources.append(context.y)
            sigmas = (0.5 * sig_now, sig_now)
        elif kind == "sr":
            s = sr_factor(context.operator, context.y, context.x)
            sources, sigmas = [context.y], sr_pair_noise(s)
        elif kind in SUPPORTED_KINDS:
            sources = [self._warmup(context)]
            sigmas = (max(float(context.noise_std), 1 / 255), sig_now)
        else:
            raise ValueError(
                f"ImageAdapted has no rule to build training pairs for the operator "
                f"{type(context.operator).__name__}; supported: super-resolution "
                "(Downsampling), deblurring (Blur), Inpainting, CompressedSensing, Denoising. "
                "For other operators pass a clean-looking estimate as ImageAdapted(..., "
                "x_init=...)")
        if self.sigmas is not None:
            sigmas = self.sigmas
        if first:
            opt = self.switch_sigma_option
            if opt == "auto":
                self.switch_sigma = (sigmas + 1 / 255) if (
                    kind == "sr" and self.x_init is None and self.when == "before"
                    and isinstance(sigmas, float)) else None
            else:
                self.switch_sigma = opt
        return sources, sigmas

    # ------------------------------------------------------------------ hook
    def adapt(self, context: AdaptContext) -> None:
        """Fine-tune the copy on pairs built from ``context`` (see the class notes)."""
        first = context.iteration == 0
        if (first and self.when == "during") or (not first and self.when == "before"):
            return
        if self.sure_check is not None and operator_kind(context.operator) not in (
                "deblur", "sr", "denoise"):  # before the steps it would waste
            raise ValueError(
                "sure_check denoises y itself, so it needs an operator whose y is an image "
                f"(Blur, Downsampling, Denoising), not {type(context.operator).__name__}; "
                "use sure_check=None (the recipe book's setting for that kind)")
        sources, sigmas = self._sources_and_sigmas(context)
        seed = self.seed if self.seed is not None else context.seed
        if seed is not None:
            seed = int(seed) + int(context.iteration)
        device = next(self.model.parameters()).device
        pairs = functools.partial(PairSampler, [s.to("cpu") for s in sources], sigmas=sigmas,
                                  crop=self.crop, batch_size=self.batch_size,
                                  scales=self.scales, seed=seed)
        sampler = pairs(holdout=self.holdout)
        model = self.model

        def loss_fn(batch):
            noisy, clean, sigma = (t.to(device) for t in batch)
            return F.l1_loss(model(noisy, sigma).float(), clean)

        hold = sampler.holdout_batch()
        holdout_loss = None
        if self.sure_check is not None:
            holdout_loss = self._sure_on_y(context, seed)
        elif hold is not None:
            def holdout_loss():
                noisy, clean, sigma = (t.to(device) for t in hold)
                return F.l1_loss(model(noisy, sigma).float(), clean)

        params = self._params()
        lr = self.lr * (10.0 if self.train_what == "gains" else 1.0)
        steps = self.steps if first else self.steps_during
        report = finetune(model, params, loss_fn, sampler.batch, steps=steps, lr=lr,
                          holdout_loss=holdout_loss, check_every=self._check_every(steps),
                          patience=self.patience, min_decrease=self.min_decrease,
                          min_gain=self.min_gain,
                          max_seconds=self.max_seconds,
                          refit_sample=pairs(holdout=0.0).batch if self.refit else None,
                          precision=self.precision,
                          on_step=context.step_reporter("adapting the CNN"))
        for p in model.parameters():
            p.requires_grad_(False)
        self.reports.append(report)
        self.precision_used = report.precision
        self.adapted = True

    def _check_every(self, steps: int) -> int:
        if self.check_every is not None:
            return self.check_every
        return max(1, steps) if self.sure_check is not None else 8

    def _sure_on_y(self, context: AdaptContext, seed):
        """``f() -> float``: the SURE of ``self.model`` denoising ``y`` plus fixed fresh noise
        of ``sure_check`` (the fine-tuning loop runs it in float32: in bf16 the divergence's
        differences are rounding noise)."""
        from .sure import sure_loss

        # a stream apart from the seed's own: y's noise is often drawn from that very seed (the
        # bench does), and noise equal to it would not be independent of y's
        g = torch.Generator().manual_seed(_CHECK_STREAM + (0 if seed is None else int(seed)))
        y = context.y.detach().float()
        z = y + self.sure_check * torch.randn(y.shape, generator=g).to(y.device)
        level = math.sqrt(float(context.noise_std) ** 2 + self.sure_check ** 2)
        probe_seed = int(torch.randint(2 ** 31, (1,), generator=g))

        def sure_on_y() -> float:
            return float(sure_loss(self.model, z, level, probes=4,
                                   generator=torch.Generator().manual_seed(probe_seed)).mean())

        return sure_on_y

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor, sigma, *args, **kwargs) -> torch.Tensor:
        """Denoise with the adapted copy (the original above ``switch_sigma`` or before
        adaptation)."""
        use_adapted = self.adapted and (self.switch_sigma is None
                                        or _sigma_max(sigma) <= self.switch_sigma + 1e-9)
        net = self.model if use_adapted else self.original
        return net(x, sigma)

    def _fresh_copy(self):
        model = copy.deepcopy(self.original).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        return model

    def reset(self) -> None:
        """Discard the adaptation: the copy gets the original weights back."""
        self.model = self._fresh_copy()
        self.adapted = False
        self.reports.clear()

    @property
    def sure_checks(self) -> list[tuple[float, float]]:
        """See the class attributes: read from the reports' hold-out curves."""
        if self.sure_check is None:
            return []
        checks = []
        for report in self.reports:
            start, *later = (value for _, value in report.holdout)
            checks.append((start, min(later, default=start)))
        return checks

    @property
    def seconds(self) -> float:
        """Total wall time spent adapting."""
        return math.fsum(r.seconds for r in self.reports)
