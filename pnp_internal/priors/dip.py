"""DIP as a plug-and-play denoiser: fit an untrained generator to the denoiser's input.

References
----------
.. [1] D. Ulyanov, A. Vedaldi, V. Lempitsky, "Deep Image Prior", CVPR 2018.
.. [2] C. A. Metzler et al., "Unsupervised Learning with Stein's Unbiased Risk Estimator",
   arXiv 1805.10531, 2018.
.. [3] G. Mataev, M. Elad, P. Milanfar, "DeepRED: Deep Image Prior Powered by RED", ICCV
   Workshops 2019 (DIP inside an ADMM-type splitting).
"""

from __future__ import annotations

import math

import copy

import torch

from . import nets
from ..precision import check_precision, resolve
from ._dip_fit import make_generator, reinit, seeded_net, sure_loss
from .base import Prior

__all__ = ["DIPDenoiser"]

_LOSSES = ("discrepancy", "sure")


class DIPDenoiser(Prior):
    """Deep Image Prior used as the denoiser ``D(x, sigma)`` of a PnP solver (ADMM, HQS, IDBP).

    Each call fits the generator ``f_theta(z)`` to the input ``x`` with Adam and returns
    ``f_theta(z)``. The first call (or a call with a new image shape) starts from a seeded
    random network and runs up to ``steps`` steps; later calls are **warm-started** from the
    previous call's weights (the solver's inputs change slowly) and run up to ``warm_steps``.
    The fit knows the noise level:

    * ``loss="discrepancy"`` (default): minimise ``||f_theta(z) - x||^2`` and stop as soon as the
      per-pixel residual reaches the noise level, ``mean (f - x)^2 <= (tau * sigma)^2``
      (Morozov's discrepancy principle), so a large sigma gives a smooth image and a small one
      a close fit;
    * ``loss="sure"``: the network takes ``x`` itself as input and minimises Stein's unbiased
      risk estimate at ``sigma`` [2]_ (float32, two forward passes per step), which does not
      over-fit; it runs the full step budget.

    Parameters
    ----------
    net : torch.nn.Module, optional
        Generator with ``input_shape`` and ``min_size`` (see :mod:`pnp_internal.priors.nets`);
        copied and re-initialised from ``seed``. ``None`` builds ``nets.skip(C, width=32)`` on the first call.
    steps, warm_steps : int
        Step caps of the first (cold) call and of the warm-started calls.
    lr : float
        Adam learning rate.
    reg_noise_std : float
        Perturbation of ``z`` at every step (as in DIP); 0 disables.
    loss : {"discrepancy", "sure"}
        See above.
    tau : float
        Discrepancy factor (stop when the RMS residual is ``<= tau * sigma``).
    precision : {"auto", "fp32", "bf16"} or Precision
        Arithmetic of the network with ``loss="discrepancy"``
        (:func:`pnp_internal.precision.resolve`: bf16 autocast where the device computes bf16
        natively); the loss is float32, and ``loss="sure"`` always runs in float32.
    seed : int or None
        Seeds the initialisation, ``z`` and the perturbations.

    Notes
    -----
    One image at a time (batch size 1). ``calls`` counts the calls and ``budget_exhausted``
    those that ran out of steps before the residual reached the noise level (the output is
    then smoother than asked; a solver warns when it happens in most calls). The last call's
    number of steps is in ``last_steps``,
    its arithmetic (``"fp32"`` or ``"bf16"``) in ``precision_used``. Gradients are enabled
    inside ``forward`` even when the solver iterates under
    ``torch.no_grad()``/``inference_mode()``; the returned tensor is detached.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.priors import DIPDenoiser, nets
    >>> d = DIPDenoiser(nets.skip(1, width=8, depth=3), steps=5, warm_steps=2, seed=0)
    >>> d(torch.rand(1, 1, 32, 32), 0.1).shape
    torch.Size([1, 1, 32, 32])

    References
    ----------
    .. [1] D. Ulyanov et al., "Deep Image Prior", CVPR 2018.
    .. [2] C. A. Metzler et al., "Unsupervised Learning with Stein's Unbiased Risk Estimator",
       arXiv 1805.10531.
    """

    def __init__(self, net=None, *, steps=300, warm_steps=50, lr=0.01, reg_noise_std=1 / 30,
                 loss="discrepancy", tau=1.0, seed=0, precision="auto"):
        super().__init__()
        if net is not None and not (isinstance(net, torch.nn.Module) and hasattr(net, "input_shape")):
            raise TypeError("DIPDenoiser: net must be a generator from pnp_internal.priors.nets "
                            f"(with input_shape and min_size), got {type(net).__name__}")
        for name, value in (("steps", steps), ("warm_steps", warm_steps)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"DIPDenoiser: {name} must be a positive int, got {value!r}")
        if loss not in _LOSSES:
            raise ValueError(f"DIPDenoiser: loss must be one of {_LOSSES}, got {loss!r}")
        if not lr > 0 or reg_noise_std < 0 or not tau > 0:
            raise ValueError(f"DIPDenoiser: need lr > 0, reg_noise_std >= 0, tau > 0; got "
                             f"lr={lr}, reg_noise_std={reg_noise_std}, tau={tau}")
        self._template = net
        self.steps, self.warm_steps, self.lr, self.reg_noise_std = steps, warm_steps, lr, reg_noise_std
        self.loss, self.tau, self.seed = loss, tau, seed
        self.precision = check_precision(precision)
        self.precision_used: str | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the fitted network (the next call starts cold)."""
        self._state = None
        self.last_steps = self.calls = self.budget_exhausted = 0
        self.shortfall = 0.0

    def _start(self, x):
        c, h, w = x.shape[1:]
        device = x.device
        gen = make_generator(self.seed, device)
        sure = self.loss == "sure"
        if self._template is None:
            net = seeded_net(lambda: nets.skip(c, in_channels=c if sure else 32), self.seed)
        else:
            net = reinit(copy.deepcopy(self._template), self.seed)
        if net.out_channels != c:
            raise ValueError(f"DIPDenoiser: the network outputs {net.out_channels} channels, the "
                             f"image has {c}")
        if min(h, w) < net.min_size:
            raise ValueError(f"DIPDenoiser: the image is {h}x{w} but the network needs at least "
                             f"{net.min_size}x{net.min_size}; use a shallower net")
        net = net.to(device).train()
        if sure:
            z = None
        else:
            zc, zh, zw = net.input_shape(h, w)
            z = torch.rand((1, zc, zh, zw), generator=gen, device=device) * 0.1
        prec = resolve("fp32" if sure else self.precision, device)
        if prec.channels_last:
            net = net.to(memory_format=torch.channels_last)
            z = z if z is None else z.contiguous(memory_format=torch.channels_last)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr,
                               fused=x.device.type in ("cpu", "cuda"))
        self._state = dict(net=net, z=z, gen=gen, opt=opt, shape=tuple(x.shape), prec=prec)

    def forward(self, x, sigma, **kwargs):
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] != 1:
            raise ValueError(f"DIPDenoiser: expected one image (1, C, H, W), got "
                             f"{getattr(x, 'shape', type(x).__name__)}; call it per image")
        sig = float(torch.as_tensor(sigma, dtype=torch.float32).max())
        if not sig >= 0:
            raise ValueError(f"DIPDenoiser: sigma must be >= 0, got {sigma!r}")
        with torch.inference_mode(False), torch.enable_grad():
            x = x.detach().clone().float()
            cold = self._state is None or self._state["shape"] != tuple(x.shape)
            if cold:
                self._start(x)
            st = self._state
            net, z, gen, opt, prec = st["net"], st["z"], st["gen"], st["opt"], st["prec"]
            self.precision_used = prec.name
            n_max = self.steps if cold else self.warm_steps
            target = (self.tau * sig) ** 2
            k = 0
            for k in range(1, n_max + 1):
                if self.loss == "sure":
                    zin = x + self.reg_noise_std * torch.randn(x.shape, generator=gen, device=x.device)
                    loss, _ = sure_loss(net, zin, x, max(sig, 1e-3), gen)
                else:
                    zin = z
                    if self.reg_noise_std > 0:
                        zin = z + self.reg_noise_std * torch.randn(z.shape, generator=gen,
                                                                   device=z.device)
                    with prec.autocast(x.device):
                        out = net(zin)
                    loss = (out.float() - x).pow(2).mean()
                    if loss.item() <= target:
                        k -= 1
                        break
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            self.last_steps = k
            self.calls += 1
            if self.loss != "sure" and k == n_max:  # ran out before the discrepancy held
                self.budget_exhausted += 1
                self.shortfall = max(self.shortfall, math.sqrt(loss.item() / max(target, 1e-12)))
            with torch.no_grad(), prec.autocast(x.device):
                out = net(x if self.loss == "sure" else z)
        return out.float().contiguous().detach()
