"""Deep Image Prior: fit an untrained generator to one measurement, for any linear operator.

References
----------
.. [1] D. Ulyanov, A. Vedaldi, V. Lempitsky, "Deep Image Prior", CVPR 2018.
.. [2] J. Liu, Y. Sun, X. Xu, U. S. Kamilov, "Image Restoration using Total Variation
   Regularized Deep Image Prior", ICASSP 2019.
.. [3] C. A. Metzler, A. Mousavi, R. Heckel, R. G. Baraniuk, "Unsupervised Learning with
   Stein's Unbiased Risk Estimator", arXiv 1805.10531, 2018.
.. [4] H. Wang et al., "Early Stopping for Deep Image Prior", TMLR 2023.
"""

from __future__ import annotations

import copy
import time
import warnings

import torch

from ..priors import nets
from ..precision import check_precision, resolve
from ..priors._dip_fit import (check_operator, make_generator, reinit, seeded_net, sure_loss,
                               tv_loss)
from .base import Result, SolverState
from .early_stopping import ESWMV

__all__ = ["DIP"]

_LOSSES = ("auto", "mse", "sure")
_DEFAULT_ITER = {"mse": 2500, "sure": 1000}


class DIP:
    """Deep Image Prior [1]_: ``min_theta ||A f_theta(z) - y||^2``, stopped early.

    The generator ``f_theta`` (by default the "skip" encoder-decoder of the paper, narrowed for
    CPU speed, see :func:`pnp_internal.priors.nets.skip`) maps a fixed random code ``z`` to an
    image; Adam fits its weights so that the image explains ``y`` through the operator. The
    network reproduces natural structure long before noise and artefacts, so the iterate
    must be taken before over-fitting: by default the windowed-moving-variance rule
    (ES-WMV [4]_) finds that moment without the ground truth.

    Parameters
    ----------
    net : torch.nn.Module, optional
        Generator with ``input_shape(h, w)`` and ``min_size`` (see :mod:`pnp_internal.priors.nets`);
        it is copied, never trained in place, and its weights are re-initialised from ``seed``
        unless ``reinit=False``. ``None`` builds ``nets.skip(C)`` with ``C`` the image
        channels; use ``nets.skip(C, paper=True)`` for the paper's network.
    max_iter : int, optional
        Iteration cap (Adam steps). ``None``: 2500 with the MSE loss, 1000 with SURE. With the
        default CPU net the sigma-25 PSNR curve of F16 (256 px crop, MSE) still rose at 1500
        (auto stop 29.01 dB); at 2500 ES-WMV stopped at 2141 with 29.69 dB, 0.03 dB under the
        best (2270), 392 CPU-s on one core. With SURE the curve peaks within 1000 iterations
        (F16: best 31.79 dB at 820, ES-WMV pick 31.76 at 647).
    lr : float
        Adam learning rate (the paper: 0.01).
    reg_noise_std : float
        Std of the fresh Gaussian perturbation added to ``z`` at every step (the paper: 1/30
        for denoising, 0.03 for SR); 0 disables it. Not used with the SURE loss, whose input
        must be ``y`` itself.
    ema : float or None
        Weight of the exponential moving average of the outputs (the paper: 0.99); ``None``
        disables it.
    return_ema : bool
        Return (and score, and early-stop on) the moving average rather than the raw output.
        Ignored when ``ema`` is ``None``.
    tv_weight : float
        Weight of an anisotropic total-variation term on the output (DIP-TV [2]_).
    loss : {"auto", "mse", "sure"}
        ``"mse"``: the paper's DIP, a random code ``z`` mapped to an image that fits ``y``
        through ``A``. ``"sure"`` (Gaussian denoising only: ``A`` must be the identity and the
        noise level known) feeds the noisy image itself to the network and minimises Stein's
        unbiased risk estimate [3]_ [5]_, with a Monte-Carlo divergence, in float32; it barely
        over-fits. ``"auto"`` (default): ``"sure"`` for Gaussian denoising with a known noise
        level when the network takes the image as input (the default net does; a given
        ``net`` must have ``in_channels`` equal to the image channels), ``"mse"`` otherwise.
        Measured (sigma 25, 256 px crops, default net, ES-WMV): F16 29.69 dB with MSE,
        31.76 with SURE, in ~300 CPU-s each; see ``benchmarks/RESULTS.md`` for Kodak.
    sigma : float, optional
        Noise std for ``loss="sure"``; defaults to ``operator.noise_model.sigma`` (deepinv's
        Gaussian noise model) or the level the project operator's ``measure`` used.
    early_stop : ESWMV, "auto" or None
        Stopping rule; ``"auto"`` is :meth:`ESWMV.scaled` for ``max_iter``; ``None`` runs the
        fixed budget and returns the last iterate.
    precision : {"auto", "fp32", "bf16"} or Precision
        Arithmetic of the network with the MSE loss (:func:`pnp_internal.precision.resolve`):
        ``"auto"`` runs it under bf16 autocast where the device computes bf16 natively (about
        twice faster on CPUs with AVX512-BF16), float32 elsewhere; the loss and data term stay
        float32, and the SURE loss always runs in float32. ``Result.precision`` says which ran.
    seed : int or None
        Seeds the network initialisation, ``z`` and the perturbations: same seed, same device
        -> same output.
    reinit : bool
        Re-initialise a given ``net`` from ``seed`` (DIP starts from a random network);
        ``False`` keeps its weights (e.g. a warm start).
    device : str or torch.device, optional
        Where to run; ``y`` must already be there. ``None`` uses ``y.device``.
    progress : bool
        Show a progress bar.

    Notes
    -----
    Each iteration: ``x_t = f_theta(z + s * n_t)``, ``L = ||A x_t - y||^2 / m + tv_weight *
    TV(x_t)``, one Adam step on ``theta``, ``xbar_t = ema * xbar_{t-1} + (1 - ema) * x_t``.
    ES-WMV tracks the variance of the last outputs (the averaged ones when ``return_ema``)
    and the answer is the iterate at its minimum. ``history`` holds, per iteration,
    ``seconds``, ``residual`` (RMS of ``A x_t - y``), ``loss``, ``variance`` (ES-WMV, NaN
    while the window fills or when no rule is used) and ``psnr`` when ``x_true`` is given.

    Examples
    --------
    >>> import torch, deepinv
    >>> from pnp_internal.solvers import DIP
    >>> x = torch.rand(1, 1, 32, 32)
    >>> op = deepinv.physics.Denoising(deepinv.physics.GaussianNoise(0.1))
    >>> from pnp_internal.priors import nets
    >>> res = DIP(nets.skip(1, width=8, depth=3), max_iter=5, early_stop=None, seed=0).solve(op(x), op)
    >>> res.x.shape
    torch.Size([1, 1, 32, 32])

    References
    ----------
    .. [1] D. Ulyanov, A. Vedaldi, V. Lempitsky, "Deep Image Prior", CVPR 2018.
    .. [2] J. Liu et al., "Image Restoration using Total Variation Regularized Deep Image
       Prior", ICASSP 2019.
    .. [3] C. A. Metzler et al., "Unsupervised Learning with Stein's Unbiased Risk Estimator",
       arXiv 1805.10531.
    .. [4] H. Wang et al., "Early Stopping for Deep Image Prior", TMLR 2023.
    .. [5] Y. Jo, S. Y. Chun, J. Choi, "Rethinking Deep Image Prior for Denoising", ICCV 2021.
    """

    def __init__(self, net=None, *, max_iter=None, lr=0.01, reg_noise_std=1 / 30, ema=0.99,
                 return_ema=True, tv_weight=0.0, loss="auto", sigma=None, early_stop="auto",
                 seed=0, reinit=True, device=None, progress=False, precision="auto"):
        if net is not None and not isinstance(net, torch.nn.Module):
            raise TypeError(f"DIP: net must be a torch.nn.Module or None, got {type(net).__name__}")
        if net is not None and not (hasattr(net, "input_shape") and hasattr(net, "min_size")):
            raise TypeError("DIP: net must define input_shape(h, w) and min_size (see "
                            "pnp_internal.priors.nets); build it with nets.skip or nets.DeepDecoder")
        if max_iter is not None and (not isinstance(max_iter, int) or max_iter < 1):
            raise ValueError(f"DIP: max_iter must be a positive int or None, got {max_iter!r}")
        for name, value in (("lr", lr), ("reg_noise_std", reg_noise_std), ("tv_weight", tv_weight)):
            if not isinstance(value, (int, float)) or value < 0 or (name == "lr" and value == 0):
                raise ValueError(f"DIP: {name} must be a {'positive' if name == 'lr' else 'non-negative'}"
                                 f" number, got {value!r}")
        if ema is not None and not (0.0 <= ema < 1.0):
            raise ValueError(f"DIP: ema must be in [0, 1) or None, got {ema!r}")
        if loss not in _LOSSES:
            raise ValueError(f"DIP: loss must be one of {_LOSSES}, got {loss!r}")
        if not (early_stop is None or early_stop == "auto" or isinstance(early_stop, ESWMV)):
            raise TypeError(f"DIP: early_stop must be an ESWMV, 'auto' or None, got {early_stop!r}")
        self.net, self.max_iter, self.lr, self.reg_noise_std = net, max_iter, float(lr), reg_noise_std
        self.ema, self.return_ema, self.tv_weight, self.loss = ema, return_ema, tv_weight, loss
        self.sigma, self.early_stop = sigma, early_stop
        self.precision = check_precision(precision)
        self.seed, self.device, self.progress, self.reinit = seed, device, progress, reinit

    # ------------------------------------------------------------------ setup
    def _known_sigma(self, operator):
        """The noise level: ``sigma``, else the operator's Gaussian noise model, else the level
        the project's ``measure`` used (``None`` when none is known)."""
        if self.sigma is not None:
            return self.sigma
        noise = getattr(operator, "noise_model", None)
        if type(noise).__name__ == "GaussianNoise":
            return getattr(noise, "sigma", None)
        return getattr(operator, "measured_noise_std", None)

    def _choose_loss(self, y, operator, img_shape, device) -> str:
        """``self.loss``, with ``"auto"`` resolved (see the class docs)."""
        if self.loss != "auto":
            return self.loss
        sigma = self._known_sigma(operator)
        if sigma is None or float(torch.as_tensor(sigma).detach().max()) <= 0:
            return "mse"
        if self.net is not None and getattr(self.net, "in_channels", None) != img_shape[1]:
            return "mse"  # the network takes a code, not the image
        if tuple(y.shape) != img_shape:
            return "mse"
        probe = torch.rand(img_shape, generator=make_generator(0, device), device=device)
        with torch.no_grad():
            identity = torch.allclose(operator.A(probe), probe)
        return "sure" if identity else "mse"

    def _setup(self, y, operator, x0):
        device = torch.device(self.device) if self.device is not None else y.device
        if device.index is None and device.type == y.device.type:
            device = y.device  # "cuda" means the current GPU, e.g. cuda:0
        if y.device != device:
            raise ValueError(f"DIP: y is on {y.device} but device={device}; move y with y.to(device)")
        img_shape = check_operator(y, operator, x0, "DIP")
        c, h, w = img_shape[1:]
        loss = self._choose_loss(y, operator, img_shape, device)
        gen = make_generator(self.seed, device)
        if self.net is None:
            net = seeded_net(lambda: nets.skip(c, in_channels=c if loss == "sure" else 32),
                             self.seed)
        else:
            net = copy.deepcopy(self.net)
            if self.reinit:
                net = reinit(net, self.seed)
        if getattr(net, "out_channels", c) != c:
            raise ValueError(f"DIP: the network outputs {net.out_channels} channels but the image "
                             f"has {c}; build it with out_channels={c}")
        if min(h, w) < net.min_size:
            raise ValueError(f"DIP: the image is {h}x{w} but this network needs at least "
                             f"{net.min_size}x{net.min_size} pixels; use a larger image or a "
                             "shallower network (nets.skip(..., depth=smaller))")
        net = net.to(device).train()
        if loss == "sure":
            probe = torch.rand(img_shape, generator=gen, device=device)
            if tuple(y.shape) != img_shape or not torch.allclose(operator.A(probe), probe):
                raise ValueError("DIP: loss='sure' needs a denoising problem (A = identity); "
                                 "use loss='mse' for this operator")
            sigma = self._known_sigma(operator)
            if sigma is None or float(torch.as_tensor(sigma).max()) <= 0:
                raise ValueError("DIP: loss='sure' needs the noise level: pass sigma=... (on the "
                                 "[0, 1] scale) or an operator with a Gaussian noise_model")
            if getattr(net, "in_channels", c) != c:
                raise ValueError(f"DIP: loss='sure' feeds the {c}-channel noisy image to the "
                                 f"network, which takes {net.in_channels} channels; build it "
                                 f"with in_channels={c} or use loss='mse'")
            self._sigma = float(torch.as_tensor(sigma).max())
            z = y.clone()
        else:
            zc, zh, zw = net.input_shape(h, w)
            z = torch.rand((y.shape[0], zc, zh, zw), generator=gen, device=device) * 0.1
        prec = resolve("fp32" if loss == "sure" else self.precision, device)
        if prec.channels_last:
            net = net.to(memory_format=torch.channels_last)
            z = z.contiguous(memory_format=torch.channels_last)
        return net, z, gen, device, loss, prec

    # ------------------------------------------------------------------ solve
    def solve(self, y, operator, x0=None, x_true=None, callback=None) -> Result:
        """Fit the generator to ``y`` and return the early-stopped estimate.

        Parameters
        ----------
        y : torch.Tensor
            Measurement, shaped as ``operator.A`` outputs it.
        operator : deepinv.physics.LinearPhysics
            Any project or deepinv linear operator.
        x0 : torch.Tensor, optional
            Only used for its shape ``(B, C, H, W)`` (DIP starts from a random code); defaults
            to the shape of ``operator.A_adjoint(y)``.
        x_true : torch.Tensor, optional
            Ground truth; adds ``history["psnr"]`` (of the returned kind of output).
        callback : callable, optional
            ``callback(state)`` with a :class:`~pnp_internal.solvers.base.SolverState` after
            each step (``state.x`` is the returned-type output: EMA or raw); returning ``True``
            stops the run.

        Returns
        -------
        Result
            ``x`` at the detected stop; ``converged`` is True when the early-stop rule ended
            the run; ``history`` as described in the class Notes; ``stop_iter`` the iteration
            returned and ``loss`` the loss used (``"mse"`` or ``"sure"``, after ``"auto"``).
        """
        if not isinstance(y, torch.Tensor) or y.ndim < 2:
            raise TypeError(f"DIP: y must be a torch.Tensor measurement, got {type(y).__name__}")
        y = y.float()
        net, z, gen, device, loss_kind, prec = self._setup(y, operator, x0)
        max_iter = self.max_iter if self.max_iter is not None else _DEFAULT_ITER[loss_kind]
        rule = self.early_stop
        rule = ESWMV.scaled(max_iter) if rule == "auto" else copy.deepcopy(rule)
        if rule is not None:
            rule.reset()
        opt = torch.optim.Adam(net.parameters(), lr=self.lr,
                               fused=(device.type in ("cpu", "cuda")))
        hist = {"seconds": [], "residual": [], "loss": [], "variance": []}
        if x_true is not None:
            hist["psnr"] = []
        use_ema = self.ema is not None and self.return_ema
        avg = last_good = None
        message, converged, t0 = "reached max_iter", False, time.perf_counter()
        it_range = range(max_iter)
        if self.progress:
            from tqdm import tqdm
            it_range = tqdm(it_range, desc="DIP")
        n_iter = 0
        for it in it_range:
            zin = z
            if self.reg_noise_std > 0 and loss_kind == "mse":
                zin = z + self.reg_noise_std * torch.randn(z.shape, generator=gen, device=device)
            if loss_kind == "sure":
                loss, out = sure_loss(net, zin, y, self._sigma, gen)
                resid = (out - y)
            else:
                with prec.autocast(device):
                    out = net(zin)
                out = out.float().contiguous()
                resid = operator.A(out) - y
                loss = resid.pow(2).mean()
                if self.tv_weight > 0:
                    loss = loss + self.tv_weight * tv_loss(out)
            if not torch.isfinite(loss):
                warnings.warn(f"DIP: the loss became {loss.item()} at iteration {it}; returning "
                              "the best iterate so far", RuntimeWarning, stacklevel=2)
                message = f"non-finite loss at iteration {it}"
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n_iter = it + 1
            with torch.no_grad():
                out = out.detach()
                avg = out.clone() if avg is None or self.ema is None else (
                    avg.mul_(self.ema).add_(out, alpha=1 - self.ema))
                cur = avg if use_ema else out
                last_good = cur
                stop = rule.update(cur) if rule is not None else False
                hist["seconds"].append(time.perf_counter() - t0)
                hist["residual"].append(float(resid.detach().pow(2).mean().sqrt()))
                hist["loss"].append(float(loss))
                hist["variance"].append(rule.variances[-1] if rule is not None else float("nan"))
                if x_true is not None:
                    mse = (cur - x_true).pow(2).flatten(1).mean(1).mean()
                    hist["psnr"].append(float(-10 * torch.log10(mse)))
            if callback is not None and callback(SolverState(
                    iteration=it, x=cur, sigma=None, residual=hist["residual"][-1],
                    change=float("nan"), psnr=hist["psnr"][-1] if x_true is not None else None,
                    seconds=hist["seconds"][-1])):
                message = f"stopped by the callback at iteration {it}"
                break
            if stop:
                message, converged = (f"ES-WMV stop: variance minimum at iteration "
                                      f"{rule.best_iter}, detected at {it}"), True
                break
        if rule is not None and rule.best is not None:
            x = rule.best
            if not converged:
                message += f"; returning the ES-WMV minimum at iteration {rule.best_iter}"
        elif last_good is not None:
            x = last_good.clone()
        else:
            raise RuntimeError("DIP: the first iteration already failed (non-finite loss); check "
                               "y for NaN/Inf and lower lr")
        result = Result(x=x.contiguous(), n_iter=n_iter, converged=converged, history=hist,
                        message=f"{message} (loss: {loss_kind})", precision=prec.name)
        result.stop_iter = rule.best_iter if rule is not None else n_iter - 1
        result.loss = loss_kind
        return result
