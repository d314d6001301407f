"""The fine-tuning loop shared by the image-adapted priors (ImageAdapted, GainTuning, SURE).

One loop, three guards:

- **speed**: the loss is computed in the arithmetic chosen by
  :func:`pnp_internal.precision.resolve` (bf16 autocast with float32 master weights where the
  device computes bf16 natively, float32 elsewhere or when the caller asks, e.g. for SURE's
  finite-difference divergence), with ``channels_last`` memory on CPU; the hold-out checks
  always run in float32;
- **over-fitting**: a self-supervised hold-out loss (computed by the caller on data not used for
  training, with fixed noise so that it is deterministic) is checked every ``check_every`` steps;
  the best weights seen are kept, training stops after ``patience`` checks without an
  improvement of at least ``min_decrease`` (relative), and the *initial* weights count as a
  candidate, so that the result is never worse than the start on the hold-out; with
  ``min_gain``, the adapted weights are kept only when the hold-out fell by at least that
  fraction, else the initial ones. This is also how
  much to adapt is decided: an image the denoiser already knows stops after ``patience`` checks,
  one far from its training data goes on while the hold-out keeps falling (up to ``steps``);
- **NaN**: a non-finite loss or weight stops the loop, restores the last good weights and warns.

References
----------
T. Tirer, R. Giryes, "Super-Resolution via Image-Adapted Denoising CNNs: Incorporating External
and Internal Learning", IEEE SPL 26(7), 2019 (fine-tuning settings).
L. Prechelt, "Early Stopping - But When?", in Neural Networks: Tricks of the Trade, 1998.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn

from ..precision import float32, has_precision_flag, resolve

__all__ = ["FinetuneReport", "finetune", "trainable_parameters", "check_tunable", "TRAIN_CHOICES"]


@dataclass
class FinetuneReport:
    """What one call of :func:`finetune` did.

    Attributes
    ----------
    steps : int
        Optimiser steps performed.
    best_step : int
        Step whose weights were kept (0 = the initial weights).
    holdout : list of (int, float)
        ``(step, hold-out loss)`` at every check, the first one at step 0.
    train_loss : list of float
        Training loss of every step.
    kept_initial : bool
        True when no step beat the initial weights on the hold-out (initial weights restored).
    stopped : str
        Why the loop ended: ``"steps"``, ``"early-stop"``, ``"time"`` or ``"nan"``.
    seconds : float
        Wall time of the loop.
    cpu_seconds : float
        Process CPU time of the loop (all threads; fairer than wall time on a shared machine).
    precision : str
        Arithmetic of the training steps, ``"fp32"`` or ``"bf16"``.
    refit_steps : int
        Steps run again on all the data after the hold-out chose ``best_step``
        (``finetune(refit_sample=)``; 0 otherwise). ``seconds`` include them.
    """

    steps: int = 0
    best_step: int = 0
    holdout: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    kept_initial: bool = True
    stopped: str = "steps"
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    precision: str = "fp32"
    refit_steps: int = 0

    @property
    def holdout_gain(self) -> float:
        """Decrease of the hold-out loss from the start to its lowest check, relative to the
        start's magnitude (what ``min_gain`` reads; 0 without a hold-out or from a zero start)."""
        if not self.holdout:
            return 0.0
        first = self.holdout[0][1]
        best = min(v for _, v in self.holdout)
        return (first - best) / abs(first) if first else 0.0


def check_tunable(model, *, who: str) -> list[nn.Parameter]:
    """Return the parameters of ``model`` or raise a clear error if it has none.

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`torch.nn.Module` or has no floating-point parameters
        (e.g. BM3D, TV, a plain function).
    """
    params = [p for p in model.parameters() if p.is_floating_point()] \
        if isinstance(model, nn.Module) else []
    if not params:
        raise TypeError(
            f"{who} needs a denoiser with trainable weights (a torch.nn.Module with parameters, "
            f"e.g. priors.pretrained('drunet-lite-color')), got {type(model).__name__} which has "
            "none (BM3D, TV and plain functions cannot be fine-tuned)")
    return params


def _modules_with_weights(model: nn.Module) -> list[nn.Module]:
    """Leaf modules that own parameters, in registration (= forward, for U-Nets) order."""
    return [m for m in model.modules()
            if not list(m.children()) and any(True for _ in m.parameters(recurse=False))]


#: What :func:`trainable_parameters` can train.
TRAIN_CHOICES = ("all", "last", "gains", "lora")


def trainable_parameters(model: nn.Module, train: str = "all", *, last_k: int = 4,
                         rank: int = 4) -> list[nn.Parameter]:
    """Select which parameters of ``model`` are trained and freeze the others.

    Parameters
    ----------
    model : torch.nn.Module
        The (copied) denoiser; ``"gains"`` and ``"lora"`` add their parameters to it (once).
    train : {"all", "last", "gains", "lora"}
        ``"all"``: every weight. ``"last"``: only the ``last_k`` leaf modules with weights, in
        registration order (for DRUNet: the tail convolution and the last residual blocks).
        ``"gains"``: one gain per output channel of every convolution (GainTuning,
        :func:`~pnp_internal.priors.gaintuning.attach_gains`). ``"lora"``: a rank-``rank``
        update of every convolution weight (:func:`~pnp_internal.priors.low_rank.attach_low_rank`).
    last_k : int
        Number of leaf modules trained when ``train="last"``.
    rank : int
        Rank of the update when ``train="lora"``.

    Returns
    -------
    list of torch.nn.Parameter
        The parameters to optimise (``requires_grad`` is set accordingly on all parameters).
    """
    params = check_tunable(model, who="fine-tuning")
    if train == "all":
        chosen = params
    elif train == "last":
        if isinstance(last_k, bool) or not isinstance(last_k, int) or last_k < 1:
            raise ValueError(f"last_k must be an int >= 1, got {last_k!r}")
        leaves = _modules_with_weights(model)
        chosen = [p for m in leaves[-last_k:] for p in m.parameters(recurse=False)]
    elif train == "gains":
        from .gaintuning import attach_gains
        chosen = attach_gains(model)
    elif train == "lora":
        from .low_rank import attach_low_rank
        chosen = attach_low_rank(model, rank)
    else:
        raise ValueError(f"train must be one of {', '.join(TRAIN_CHOICES)}, got {train!r}")
    ids = {id(p) for p in chosen}
    for p in model.parameters():
        p.requires_grad_(id(p) in ids)
    return chosen


def _snapshot(params: Iterable[nn.Parameter]) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def _restore(params: list[nn.Parameter], saved: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for p, s in zip(params, saved):
            p.copy_(s)


def finetune(model: nn.Module, params: list[nn.Parameter], loss_fn: Callable,
             sample: Callable[[int], object], *, steps: int, lr: float,
             holdout_loss: Callable[[], float] | None = None, check_every: int = 10,
             patience: int = 3, min_decrease: float = 0.0, min_gain: float = 0.0,
             max_seconds: float | None = None,
             refit_sample: Callable[[int], object] | None = None,
             weight_decay: float = 0.0, precision: str = "auto",
             on_step: Callable[[int, int, float], None] | None = None) -> FinetuneReport:
    """Fine-tune ``params`` of ``model`` with Adam, early stopping and a NaN guard.

    Parameters
    ----------
    model : torch.nn.Module
        The module that owns ``params`` (put in ``train()`` mode during the loop, ``eval()``
        after, ``channels_last`` when the precision asks for it).
    params : list of torch.nn.Parameter
        The parameters to optimise; the others must already have ``requires_grad=False``.
    loss_fn : callable
        ``loss_fn(batch) -> scalar tensor``; called under bf16 autocast when the precision is
        bf16.
    sample : callable
        ``sample(step) -> batch``: the training batch of step ``step`` (seeded by the caller).
    steps : int
        Maximum number of Adam steps.
    lr : float
        Adam learning rate.
    holdout_loss : callable, optional
        ``holdout_loss() -> float``, deterministic, on data not used for training. Checked at
        step 0 and every ``check_every`` steps; the weights with the lowest value are kept.
        ``None``: no early stopping, the last weights are kept.
    check_every, patience : int
        Hold-out check period, and checks without improvement before stopping.
    min_decrease : float
        Relative decrease of the hold-out loss that counts as an improvement for ``patience``
        (0: any decrease; 0.005: 0.5 %, about 0.02 dB for an MSE-type loss such as SURE). The
        lowest value is kept either way.
    min_gain : float
        Decrease of the hold-out loss, from the initial weights to the best ones, relative to
        the initial value's magnitude, below which the initial weights are kept (0: any
        decrease keeps the best weights). A small
        decrease on the fine-tuning's own data need not help the restoration
        (``recipes.IMAGE_ADAPTED``).
    max_seconds : float, optional
        Wall-time budget; the loop stops (after a final hold-out check) when it is exceeded.
    refit_sample : callable, optional
        ``refit_sample(step) -> batch`` over all the data, the hold-out's included. Once the
        hold-out has chosen ``best_step`` > 0, the initial weights come back and ``best_step``
        steps run again on these batches (a fresh Adam, no checks), whose last weights are kept
        (``report.refit_steps``): the hold-out decides how much to train, all the data what is
        learnt.
    weight_decay : float
        Adam weight decay (0, as in the IDBP-CNN-IA code).
    precision : {"auto", "fp32", "bf16"} or Precision
        Arithmetic of the training steps (:func:`pnp_internal.precision.resolve` on the
        device of ``params``). A model with a ``precision`` attribute (the project's CNN
        wrapper, whose ``"auto"`` means float32 when gradients flow) gets it set to this
        during the steps and to float32 during the hold-out checks, then restored.

    on_step : callable, optional
        ``on_step(step, steps, loss)`` after every step (progress display).

    Returns
    -------
    FinetuneReport
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if not params:
        raise ValueError("nothing to fine-tune: params is empty")
    if not 0 <= min_gain < 1:
        raise ValueError(f"min_gain must be in [0, 1) (a fraction of the hold-out loss; 0: keep "
                         f"any improvement), got {min_gain!r}")
    t0, c0 = time.perf_counter(), time.process_time()
    device = params[0].device
    prec = resolve(precision, device)
    report = FinetuneReport(precision=prec.name)
    if prec.channels_last:
        model.to(memory_format=torch.channels_last)
    # The CNN wrapper runs its own inner autocast, whose "auto" means float32 when gradients
    # flow and would silently make bf16 steps float32: give it the loop's precision for the
    # steps, float32 for the hold-out checks, and restore its own setting afterwards.
    old_flag = getattr(model, "precision", None)
    has_flag = has_precision_flag(model)

    def set_flag(value) -> None:
        if has_flag:
            model.precision = value

    set_flag(prec)
    # the fused kernel: one pass over all parameters (DRUNet-lite: 12 ms per step against
    # 33 ms for the per-tensor loop on 2 cores)
    fused = all(p.device.type in ("cpu", "cuda") for p in params)
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=fused)

    progress = {"step": 0, "value": math.inf}  # the last check that improved enough

    def check(step: int) -> bool:
        """Hold-out check; returns True when the loop should stop (early stop)."""
        model.eval()
        # float32: the hold-out differences between checks are small (~1 % of the loss)
        with torch.no_grad(), float32(model):
            value = float(holdout_loss())
        model.train()
        report.holdout.append((step, value))
        best = min(v for _, v in report.holdout[:-1]) if len(report.holdout) > 1 else math.inf
        if math.isfinite(value) and value < best:
            nonlocal saved
            saved = _snapshot(params)
            report.best_step = step
        last = progress["value"]
        if math.isfinite(value) and (step == 0 or value < last - min_decrease * abs(last)):
            progress.update(step=step, value=value)
            return False
        return step - progress["step"] >= patience * check_every

    saved = _snapshot(params)
    # kept only where it may be restored
    initial = saved if min_gain > 0 or refit_sample is not None else None
    model.train()
    try:
        if holdout_loss is not None:
            check(0)
        for step in range(1, steps + 1):
            batch = sample(step)
            with prec.autocast(device):
                loss = loss_fn(batch)
            loss = loss.float()
            if not torch.isfinite(loss):
                warnings.warn(f"fine-tuning loss became {float(loss.detach())} at step {step}; stopped "
                              "and kept the last good weights", RuntimeWarning, stacklevel=2)
                _restore(params, saved)
                report.stopped = "nan"
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            report.steps = step
            report.train_loss.append(float(loss.detach()))
            if on_step is not None:
                on_step(step, steps, report.train_loss[-1])
            if not all(torch.isfinite(p).all() for p in params):
                warnings.warn(f"fine-tuned weights became non-finite at step {step}; stopped "
                              "and kept the last good weights", RuntimeWarning, stacklevel=2)
                _restore(params, saved)
                report.stopped = "nan"
                break
            if holdout_loss is None:
                saved = _snapshot(params)
                report.best_step = step
            out_of_time = max_seconds is not None and time.perf_counter() - t0 > max_seconds
            if holdout_loss is not None and (step % check_every == 0 or step == steps
                                             or out_of_time):
                if check(step):
                    report.stopped = "early-stop"
                    break
            if out_of_time:
                report.stopped = "time"
                break
        if holdout_loss is not None and report.stopped != "nan":
            if initial is not None and report.holdout_gain < min_gain:  # too small to pay
                saved, report.best_step = initial, 0
            _restore(params, saved)
    finally:
        model.eval()
        for p in params:
            p.grad = None
        set_flag(old_flag)
    if refit_sample is not None and report.best_step > 0 and report.stopped != "nan":
        _restore(params, initial)
        again = finetune(model, params, loss_fn, refit_sample, steps=report.best_step, lr=lr,
                         max_seconds=max_seconds, weight_decay=weight_decay,
                         precision=precision, on_step=on_step)
        report.refit_steps = again.steps
    report.kept_initial = report.best_step == 0
    report.seconds = time.perf_counter() - t0
    report.cpu_seconds = time.process_time() - c0
    return report
