"""Self2Self: a self-supervised denoiser trained on the noisy image alone, with dropout ensembles.

References
----------
.. [1] Y. Quan, M. Chen, T. Pang, H. Ji, "Self2Self With Dropout: Learning Self-Supervised
   Denoising From Single Image", CVPR 2020.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..precision import check_precision, resolve
from ._dip_fit import make_generator, seeded_net
from .base import Prior

__all__ = ["Self2Self", "S2SNet"]


def _conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.1, inplace=True))


class S2SNet(nn.Module):
    """Small U-Net of Self2Self: plain encoder, decoder with element-wise dropout.

    The official network uses partial convolutions in the encoder; here the Bernoulli mask is
    given as an extra input channel instead (cheaper, same information). ``depth`` max-pooling
    stages of ``width`` channels; the decoder concatenates the skips and applies dropout before
    every conv, as the paper does.
    """

    def __init__(self, channels, *, width=32, depth=3, dropout=0.3):
        super().__init__()
        self.depth = depth
        self.enc = nn.ModuleList([_conv(channels + 1, width)] +
                                 [_conv(width, width) for _ in range(depth)])
        self.dec = nn.ModuleList(nn.Sequential(nn.Dropout(dropout), _conv(2 * width, width),
                                               nn.Dropout(dropout), _conv(width, width))
                                 for _ in range(depth))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Conv2d(width + channels + 1, channels, 3,
                                                                padding=1))

    def forward(self, x):
        skips, h = [x], self.enc[0](x)
        for enc in self.enc[1:]:
            skips.append(h)
            h = enc(F.max_pool2d(h, 2, ceil_mode=True))
        for dec, s in zip(self.dec, reversed(skips[1:])):
            h = F.interpolate(h, size=s.shape[-2:], mode="nearest")
            h = dec(torch.cat([h, s], 1))
        return self.head(torch.cat([h, skips[0]], 1))


class Self2Self(Prior):
    """Self2Self with dropout [1]_: denoise an image by learning from the image alone.

    Training pairs are Bernoulli samplings of the noisy image: the network sees
    ``b * y`` (each pixel kept with probability ``1 - p``) plus the mask ``b``, and is scored
    on the dropped pixels only, ``||(1 - b) * (f(b * y, b) - y)||^2``, so it cannot learn the
    identity. The estimate is the average of ``n_predictions`` predictions with fresh masks and
    dropout active (an ensemble of sub-networks).

    Usable alone (``Self2Self().denoise(y)``, or ``forward(y, sigma)``) and as a plug-and-play
    prior: later calls with an image of the same shape are warm-started from the previous
    weights and run ``warm_steps`` steps (the solver's inputs change slowly).

    Parameters
    ----------
    steps : int
        Adam steps of the first fit. The official code runs 150,000 steps at lr 1e-4 (days on
        this CPU); the default 1000 steps at lr 1e-3 with a narrower network is the budget
        setting of this project (a few minutes for 256x256).
    warm_steps : int
        Steps of warm-started calls (PnP use).
    lr : float
        Adam learning rate.
    p : float
        Bernoulli drop probability of the input pixels and dropout rate (the paper: 0.3).
    n_predictions : int
        Ensemble size (the paper: 100; default 32).
    width, depth : int
        Network size (the paper: 48 channels, 5 pooling stages).
    precision : {"auto", "fp32", "bf16"} or Precision
        Arithmetic of the network while training and predicting
        (:func:`pnp_internal.precision.resolve`: bf16 autocast where the device computes bf16
        natively); the loss is float32. The choice of the last call is in ``precision_used``.
    seed : int or None
        Seeds the initialisation, the masks and the dropout.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.priors import Self2Self
    >>> s2s = Self2Self(steps=3, n_predictions=2, width=8, depth=2, seed=0)
    >>> s2s.denoise(torch.rand(1, 1, 16, 16)).shape
    torch.Size([1, 1, 16, 16])

    References
    ----------
    .. [1] Y. Quan, M. Chen, T. Pang, H. Ji, "Self2Self With Dropout: Learning Self-Supervised
       Denoising From Single Image", CVPR 2020.
    """

    def __init__(self, *, steps=1000, warm_steps=100, lr=1e-3, p=0.3, n_predictions=32,
                 width=32, depth=3, seed=0, precision="auto"):
        super().__init__()
        for name, value in (("steps", steps), ("warm_steps", warm_steps),
                            ("n_predictions", n_predictions), ("width", width), ("depth", depth)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Self2Self: {name} must be a positive int, got {value!r}")
        if not 0 < p < 1:
            raise ValueError(f"Self2Self: p must be in (0, 1), got {p!r}")
        if not lr > 0:
            raise ValueError(f"Self2Self: lr must be positive, got {lr!r}")
        self.steps, self.warm_steps, self.lr, self.p = steps, warm_steps, lr, p
        self.n_predictions, self.width, self.depth = n_predictions, width, depth
        self.seed = seed
        self.precision = check_precision(precision)
        self.precision_used: str | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the trained network (the next call trains from scratch)."""
        self._state = None

    def _masked(self, y, gen, prec):
        b = (torch.rand((y.shape[0], 1) + y.shape[-2:], generator=gen, device=y.device)
             >= self.p).to(y.dtype).expand_as(y[:, :1])
        inp = torch.cat([y * b, b], 1).contiguous(memory_format=prec.memory_format)
        return inp, b

    def denoise(self, y: torch.Tensor) -> torch.Tensor:
        """Train on ``y`` (or continue, warm) and return the dropout-ensemble estimate."""
        if not isinstance(y, torch.Tensor) or y.ndim != 4:
            raise ValueError(f"Self2Self: expected (B, C, H, W), got "
                             f"{getattr(y, 'shape', type(y).__name__)}")
        if min(y.shape[-2:]) < 2 ** self.depth:
            raise ValueError(f"Self2Self: the image is {y.shape[-2]}x{y.shape[-1]} but depth="
                             f"{self.depth} needs at least {2 ** self.depth} pixels per side")
        with torch.inference_mode(False), torch.enable_grad():
            y = y.detach().clone().float()
            cold = self._state is None or self._state["shape"] != tuple(y.shape)
            if cold:
                prec = resolve(self.precision, y.device)
                gen = make_generator(self.seed, y.device)
                with torch.random.fork_rng(devices=[]):
                    net = seeded_net(lambda: S2SNet(y.shape[1], width=self.width, depth=self.depth,
                                                    dropout=self.p), self.seed).to(y.device)
                net = net.to(memory_format=prec.memory_format)
                self._state = dict(net=net, gen=gen, shape=tuple(y.shape), prec=prec,
                                   opt=torch.optim.Adam(net.parameters(), lr=self.lr,
                                                        fused=y.device.type in ("cpu", "cuda")))
            st = self._state
            net, gen, opt, prec = st["net"], st["gen"], st["opt"], st["prec"]
            self.precision_used = prec.name
            # dropout draws from the global RNG: seed it from our generator, restore afterwards
            with torch.random.fork_rng(devices=[y.device] if y.device.type == "cuda" else []):
                torch.manual_seed(int(torch.randint(2**62, (1,), generator=gen)))
                net.train()
                for _ in range(self.steps if cold else self.warm_steps):
                    inp, b = self._masked(y, gen, prec)
                    with prec.autocast(y.device):
                        out = net(inp)
                    miss = 1 - b
                    loss = ((out.float() - y) * miss).pow(2).sum() / miss.sum().clamp_min(1) / y.shape[1]
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                acc = torch.zeros_like(y)
                with torch.no_grad(), prec.autocast(y.device):
                    for _ in range(self.n_predictions):
                        acc += net(self._masked(y, gen, prec)[0]).float()
        return (acc / self.n_predictions).contiguous()

    def forward(self, x, sigma=None, **kwargs):
        """Denoise ``x`` (``sigma`` is not needed: Self2Self learns the noise from the image)."""
        return self.denoise(x)
