r"""GainTuning: adapt a pretrained denoiser to one image by tuning per-channel gains only.

Every convolution's output channel gets a scalar gain (initialised to 1, applied by a forward
hook); the weights stay frozen and only the gains (a few thousand numbers for DRUNet-lite
instead of 4.25 M weights) are fitted to the noisy image with a self-supervised loss, SURE or
Noise2Self [1]_. Few parameters make it hard to over-fit, so it helps both in and, more, out of
the training distribution.

References
----------
.. [1] S. Mohan, J. L. Vincent, R. Manzorro, P. Crozier, C. Fernandez-Granda, E. Simoncelli,
   "Adaptive Denoising via GainTuning", NeurIPS 2021 (arXiv 2107.12815).
"""

from __future__ import annotations

import torch
from torch import nn

from .sure import SUREFineTuned

__all__ = ["GainTuning", "attach_gains", "gain_parameters"]

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
          nn.ConvTranspose3d)


def _gain_hook(module: nn.Module, inputs, output):
    g = module.gain.to(output.dtype)
    return output * g.view(1, -1, *([1] * (output.ndim - 2)))


def attach_gains(model: nn.Module) -> list[nn.Parameter]:
    """Add a per-output-channel gain after every convolution of ``model`` (in place).

    Each convolution gets a parameter ``gain`` of shape ``(out_channels,)`` initialised to 1
    and a forward hook multiplying its output by it, so the function of the network is
    unchanged until the gains move. Calling it twice does not add gains twice.

    Returns
    -------
    list of torch.nn.Parameter
        The gains, in module order.

    Raises
    ------
    TypeError
        If ``model`` has no convolution.
    """
    gains = []
    for m in model.modules():
        if isinstance(m, _CONVS):
            if not isinstance(getattr(m, "gain", None), nn.Parameter):
                w = m.weight
                m.register_parameter("gain", nn.Parameter(
                    torch.ones(m.out_channels, device=w.device, dtype=w.dtype)))
                m.register_forward_hook(_gain_hook)
            gains.append(m.gain)
    if not gains:
        raise TypeError(f"GainTuning needs a convolutional denoiser, {type(model).__name__} has "
                        "no convolution layer to attach gains to")
    return gains


def gain_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The gains attached by :func:`attach_gains` (empty if none)."""
    return [m.gain for m in model.modules()
            if isinstance(m, _CONVS) and isinstance(getattr(m, "gain", None), nn.Parameter)]


class GainTuning(SUREFineTuned):
    r"""A pretrained denoiser adapted to the image by tuning only per-channel gains [1]_.

    Parameters
    ----------
    denoiser : torch.nn.Module
        Pretrained convolutional denoiser; deep-copied, the original stays untouched.
    loss : {"sure", "noise2self"}
        Self-supervised loss on the noisy input (SURE with a Monte-Carlo divergence needs the
        noise level; Noise2Self does not).
    steps, lr, batch_size, crop, tau, holdout, check_every, patience, min_decrease, min_gain,
    adapt_every, max_seconds, seed, precision
        As in :class:`~pnp_internal.priors.sure.SUREFineTuned`.

    Notes
    -----
    For plain Gaussian denoising call :meth:`fit` with ``y`` and its noise level, then the prior.
    Inside a plug-and-play solver :meth:`adapt` marks the prior, and the next call tunes the
    gains on the denoiser's own input at the current sigma (that input is modelled as the image
    plus Gaussian noise of that sigma) before denoising it.

    The defaults are cheap (20 steps on 4 crops of 64, for re-tuning inside a solver). For plain
    denoising, SURE on nearly the whole image gains more: ``steps=72, batch_size=1, crop=256,
    check_every=10`` (the benchmark's ``cnn-gaintuning``, ~29 s per 256x256 image on 2 CPU
    cores). Measured at sigma 25 with 100 such steps: +0.045 dB over the pretrained
    DRUNet-lite on 8 CBSD68 images and +0.05 on Set12, against +0.01 / -0.01 with 12 steps on 4
    crops of 64; gains fitted to the true error reach +0.13 on the same 8 images
    (``benchmarks/adaptation_bound.py``).

    Examples
    --------
    >>> import torch
    >>> from deepinv.models import DnCNN
    >>> from pnp_internal.priors import GainTuning
    >>> net = DnCNN(1, 1, depth=3, nf=8, pretrained=None)
    >>> gt = GainTuning(net, steps=2, crop=16, batch_size=2)
    >>> y = torch.rand(1, 1, 48, 48)
    >>> report = gt.fit(y, 0.1)
    >>> out = gt(y, 0.1)
    >>> out.shape
    torch.Size([1, 1, 48, 48])
    """

    _train_default = "gains"

    def __init__(self, denoiser, *, loss: str = "sure", steps: int = 20, lr: float = 1e-3,
                 batch_size: int = 4, crop: int = 64, tau: float = 1e-3, holdout: float = 0.15,
                 check_every: int = 4, patience: int = 2, min_decrease: float = 0.0,
                 min_gain: float = 0.0, adapt_every: int | None = None,
                 max_seconds: float | None = None, seed: int | None = 0, precision: str = "auto"):
        super().__init__(denoiser, loss=loss, train="gains", steps=steps, lr=lr,
                         batch_size=batch_size, crop=crop, tau=tau, holdout=holdout,
                         check_every=check_every, patience=patience, min_decrease=min_decrease,
                         min_gain=min_gain,
                         adapt_every=adapt_every,
                         max_seconds=max_seconds, seed=seed, precision=precision)

    @property
    def gains(self) -> list[nn.Parameter]:
        """The per-channel gains of the tuned copy (empty before the first tuning)."""
        return gain_parameters(self.model)
