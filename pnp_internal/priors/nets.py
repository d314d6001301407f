"""Generator networks for deep-image-prior methods: the "skip" encoder-decoder and the Deep Decoder.

Every network here exposes the small interface the DIP solver needs:

* ``input_shape(height, width) -> (C, h, w)``: the shape of the fixed random code ``z``;
* ``min_size``: the smallest image side the network can produce;
* ``out_channels``.

Sizes need not be powers of two: the decoder upsamples to the exact size of the matching
encoder level instead of cropping, so any image of side ``>= min_size`` works.

References
----------
.. [1] D. Ulyanov, A. Vedaldi, V. Lempitsky, "Deep Image Prior", CVPR 2018 (and IJCV 2020).
.. [2] R. Heckel, P. Hand, "Deep Decoder: Concise Image Representations from Untrained
   Non-convolutional Networks", ICLR 2019.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SkipNet", "skip", "DeepDecoder", "deep_decoder"]

_PADDINGS = ("reflect", "zeros")
_UPSAMPLE = ("bilinear", "nearest")


def _act():
    return nn.LeakyReLU(0.2, inplace=True)


def _conv(cin, cout, k, stride=1, padding="reflect"):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2,
                     padding_mode=padding if k > 1 else "zeros")


def _block(cin, cout, k, stride=1, padding="reflect", norm=True):
    layers = [_conv(cin, cout, k, stride, padding)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(_act())
    return nn.Sequential(*layers)


class _Level(nn.Module):
    """One scale of the skip network: skip branch, down path, deeper level, up path."""

    def __init__(self, cin, down, up, skip, deeper_out, k, padding, upsample, norm):
        super().__init__()
        self.skip = _block(cin, skip, 1, norm=norm) if skip else None
        self.down = nn.Sequential(_block(cin, down, k, 2, padding, norm),
                                  _block(down, down, k, 1, padding, norm))
        self.deeper = None  # set by SkipNet
        self.upsample = upsample
        cat = skip + deeper_out
        self.up = nn.Sequential(
            nn.BatchNorm2d(cat) if norm else nn.Identity(),
            _block(cat, up, k, 1, padding, norm),
            _block(up, up, 1, 1, padding, norm),
        )

    def forward(self, x):
        h = self.down(x)
        if self.deeper is not None:
            h = self.deeper(h)
        h = F.interpolate(h, size=x.shape[-2:], mode=self.upsample,
                          **({"align_corners": False} if self.upsample == "bilinear" else {}))
        if self.skip is not None:
            h = torch.cat([self.skip(x), h], dim=1)
        return self.up(h)


class SkipNet(nn.Module):
    """The encoder-decoder with skip connections of Deep Image Prior [1]_ ("skip" architecture).

    Each of the ``len(channels_down)`` scales halves the resolution with a stride-2 3x3 conv,
    applies a second 3x3 conv, recurses, upsamples back, concatenates a 1x1 skip branch and
    applies a 3x3 and a 1x1 conv; batch norm and LeakyReLU(0.2) after every conv; a final 1x1
    conv and a sigmoid give the image.

    Parameters
    ----------
    in_channels : int
        Channels of the input code ``z``.
    out_channels : int
        Channels of the output image (1 or 3 usually).
    channels_down, channels_up, channels_skip : sequence of int
        Widths per scale, finest first (the same length; a skip width of 0 removes that skip).
    kernel_size : int
        Size of the spatial convolutions (3 in the paper).
    padding : {"reflect", "zeros"}
        Padding of the spatial convolutions (the paper uses reflection).
    upsample : {"bilinear", "nearest"}
        Upsampling mode of the decoder.
    norm : bool
        Use batch norm (the paper does).
    sigmoid : bool
        Squash the output into (0, 1).

    References
    ----------
    .. [1] D. Ulyanov, A. Vedaldi, V. Lempitsky, "Deep Image Prior", CVPR 2018.
    """

    def __init__(self, in_channels, out_channels, *, channels_down, channels_up, channels_skip,
                 kernel_size=3, padding="reflect", upsample="bilinear", norm=True, sigmoid=True):
        super().__init__()
        down, up, skp = list(channels_down), list(channels_up), list(channels_skip)
        if not down or not (len(down) == len(up) == len(skp)):
            raise ValueError(
                "channels_down, channels_up and channels_skip must be non-empty and of the same "
                f"length, got {len(down)}, {len(up)} and {len(skp)}")
        if padding not in _PADDINGS:
            raise ValueError(f"padding must be one of {_PADDINGS}, got {padding!r}")
        if upsample not in _UPSAMPLE:
            raise ValueError(f"upsample must be one of {_UPSAMPLE}, got {upsample!r}")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.depth = len(down)
        levels, cin = [], in_channels
        for i in range(self.depth):
            deeper_out = up[i + 1] if i + 1 < self.depth else down[i]
            levels.append(_Level(cin, down[i], up[i], skp[i], deeper_out, kernel_size,
                                 padding, upsample, norm))
            cin = down[i]
        for outer, inner in zip(levels[:-1], levels[1:]):
            outer.deeper = inner
        self.body = levels[0]
        self.head = nn.Conv2d(up[0], out_channels, 1)
        self.sigmoid = sigmoid

    @property
    def min_size(self) -> int:
        """Smallest image side: the coarsest scale must still be >= 2 pixels (3x3 padding)."""
        return 2 ** (self.depth + 1)

    def input_shape(self, height: int, width: int) -> tuple[int, int, int]:
        """Shape ``(C, H, W)`` of the input code for an output of ``height x width``."""
        return (self.in_channels, height, width)

    def forward(self, z):
        out = self.head(self.body(z))
        return torch.sigmoid(out) if self.sigmoid else out


def skip(out_channels=3, *, in_channels=32, width=32, depth=5, skip_channels=4, paper=False,
         padding="reflect", upsample="bilinear"):
    """Build a :class:`SkipNet`.

    Parameters
    ----------
    out_channels : int
        Image channels.
    in_channels : int
        Channels of the input code (32 in the paper's denoising setting).
    width : int
        Channels of every scale, down and up (the paper: 128).
    depth : int
        Number of scales (the paper: 5); the image side must be at least ``2 ** (depth + 1)``.
    skip_channels : int
        Channels of each skip connection (the paper: 4).
    paper : bool
        Return the exact configuration of the paper's denoising/inpainting experiments
        (5 scales, 128 channels, 4-channel skips, reflection padding, bilinear upsampling),
        ignoring ``width``, ``depth`` and ``skip_channels``. About 2.2M parameters and ~25x
        slower than the default on a CPU; meant for GPUs.
    padding, upsample
        See :class:`SkipNet`.

    Notes
    -----
    The default (width 32) was chosen by measuring speed against quality for sigma = 25
    denoising on a CPU (see ``benchmarks/dip_experiments.py``): it is many times faster per
    iteration than width 128 and, stopped early, loses little PSNR.
    """
    if paper:
        width, depth, skip_channels = 128, 5, 4
    return SkipNet(in_channels, out_channels, channels_down=[width] * depth,
                   channels_up=[width] * depth, channels_skip=[skip_channels] * depth,
                   padding=padding, upsample=upsample)


class DeepDecoder(nn.Module):
    """The Deep Decoder of Heckel & Hand [2]_: 1x1 convolutions, upsampling, ReLU and channel norm.

    Under-parameterised, with no spatial convolutions: each layer is ``upsample -> 1x1 conv ->
    ReLU -> batch norm`` and a final 1x1 conv + sigmoid maps to the image. The input code has
    ``channels`` channels at ``1 / 2**depth`` of the image resolution.

    Parameters
    ----------
    out_channels : int
        Image channels.
    channels : int
        Width k of every layer (64 in the paper's denoising experiments).
    depth : int
        Number of upsampling layers (the paper: 5 upsamplings, 6 layers).
    upsample : {"bilinear", "nearest"}
        Upsampling mode.

    References
    ----------
    .. [2] R. Heckel, P. Hand, "Deep Decoder: Concise Image Representations from Untrained
       Non-convolutional Networks", ICLR 2019.
    """

    def __init__(self, out_channels=3, *, channels=64, depth=5, upsample="bilinear"):
        super().__init__()
        if upsample not in _UPSAMPLE:
            raise ValueError(f"upsample must be one of {_UPSAMPLE}, got {upsample!r}")
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive int, got {depth!r}")
        self.out_channels, self.channels, self.depth, self.upsample = (
            out_channels, channels, depth, upsample)
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.ReLU(inplace=True),
                          nn.BatchNorm2d(channels)) for _ in range(depth + 1))
        self.head = nn.Conv2d(channels, out_channels, 1)
        self._size = None

    @property
    def min_size(self) -> int:
        return 2 ** self.depth

    def input_shape(self, height: int, width: int) -> tuple[int, int, int]:
        self._size = (height, width)
        f = 2 ** self.depth
        return (self.channels, math.ceil(height / f), math.ceil(width / f))

    def forward(self, z):
        h0, w0 = z.shape[-2:]
        H, W = self._size if self._size is not None else (h0 * 2 ** self.depth, w0 * 2 ** self.depth)
        x = z
        for i, layer in enumerate(self.layers):
            if i > 0:
                f = 2 ** (self.depth - i)
                size = (math.ceil(H / f), math.ceil(W / f)) if i < self.depth else (H, W)
                x = F.interpolate(x, size=size, mode=self.upsample,
                                  **({"align_corners": False} if self.upsample == "bilinear" else {}))
            x = layer(x)
        return torch.sigmoid(self.head(x))


def deep_decoder(out_channels=3, *, channels=64, depth=5):
    """Build a :class:`DeepDecoder` (shortcut with the paper's defaults)."""
    return DeepDecoder(out_channels, channels=channels, depth=depth)
