"""Downsampling (blur then decimation) operator for super-resolution."""

from __future__ import annotations

import math

import numpy as np
import torch

from . import kernels as _kernels
from ._conv import ConvMixin, check_padding
from .base import Operator, as_shape


def check_factor(factor) -> int:
    """An integer factor >= 1; ``2.0`` is accepted, ``1.5`` or ``0.5`` raise ``ValueError``."""
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating)):
        raise TypeError(f"factor must be an integer >= 1, got {factor!r}")
    if not math.isfinite(factor) or factor != int(factor) or factor < 1:
        raise ValueError(f"factor must be an integer >= 1, got {factor!r}; non-integer "
                         "factors are not supported (they are not silently truncated)")
    return int(factor)


def _cubic(t: np.ndarray, a: float = -0.5) -> np.ndarray:
    t = np.abs(t)
    return np.where(t <= 1, (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1,
                    np.where(t < 2, a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a, 0.0))


def matlab_bicubic_kernel(factor: int) -> tuple[torch.Tensor, int]:
    """MATLAB's ``imresize(x, 1/factor)`` (antialiased bicubic) away from the borders, as a
    centred convolution kernel and a sampling offset: ``y[i] = (k * x)[offset + factor * i]``.

    MATLAB places output pixel ``i`` (0-based) at input coordinate ``factor * i +
    (factor - 1) / 2`` and weighs input pixel ``j`` by ``cubic((j - centre) / factor)``
    (Keys' cubic with ``a = -0.5`` [2]_, stretched by the factor for antialiasing), normalised
    to sum 1. For odd factors the centre is a pixel (symmetric kernel, offset
    ``(factor - 1) / 2``); for even factors it falls half a pixel after pixel
    ``offset = factor / 2 - 1``, so the kernel is asymmetric about its centre pixel.

    Returns
    -------
    kernel : torch.Tensor
        ``(kh, kw)`` float64 kernel summing to 1.
    offset : int
        Index of the first sampled pixel.
    """
    s = check_factor(factor)
    offset = (s - 1) // 2
    c = (s - 1) / 2 - offset  # 0 or 0.5
    offsets = np.arange(math.floor(c - 2 * s), math.ceil(c + 2 * s) + 1)  # j - (offset + s i)
    w = _cubic((offsets - c) / s)
    nz = np.nonzero(w)[0]
    offsets, w = offsets[nz[0]:nz[-1] + 1], w[nz[0]:nz[-1] + 1]
    w = w / w.sum()
    r = int(max(-offsets[0], offsets[-1]))
    k1 = np.zeros(2 * r + 1)
    # correlation weight w at offset j' is the convolution weight k[-j']
    k1[r - offsets] = w
    return torch.from_numpy(np.outer(k1, k1)), offset


class Downsampling(ConvMixin, Operator):
    r"""Super-resolution operator ``y = (k * x)`` sampled every ``factor`` pixels.

    Parameters
    ----------
    factor : int
        Integer scale factor ``>= 1``.
    img_shape : tuple of int
        High-resolution ``(C, H, W)``. The measurement is ``(C, ceil(H'/factor),
        ceil(W'/factor))`` with ``(H', W')`` the blurred size (``(H, W)`` except for
        ``padding="valid"``).
    kernel : {"bicubic", "gaussian"} or array
        ``"bicubic"``: MATLAB ``imresize(x, 1/factor)`` antialiased bicubic, equal to it up
        to float rounding away from the borders (MATLAB extends the image symmetrically; see
        :func:`matlab_bicubic_kernel`), low-resolution pixel ``i`` centred at HR coordinate
        ``factor * i + (factor - 1) / 2``;
        ``"gaussian"``: Gaussian of standard deviation ``factor / 2`` pixels on
        ``2 * ceil(1.5 * factor) + 1`` taps (for the "Gaussian x3, 7x7, std 1.6" setting of
        the SR literature pass ``kernels.gaussian(1.6, size=7)``); or a 2-D array used as
        given (centred at ``size // 2``). For the last two, LR pixel ``i`` is HR pixel
        ``factor * i`` of the blurred image.
    padding : {"circular", "reflect", "replicate", "valid"}
        Boundary model of the blur.
    max_iter, tol : int, float
        Conjugate-gradient defaults when there is no closed form.

    Notes
    -----
    With circular padding and ``H, W`` divisible by the factor ``s``, ``A A^T`` is a
    convolution on the low-resolution grid whose spectrum is the alias average
    ``d = (1/s^2) sum_{aliases} |K|^2`` [1]_, so ``solve_AAt(r, eps) = F^{-1}[R / (d + eps)]``
    in the LR Fourier domain, and ``prox_l2``/``A_dagger`` follow exactly from it
    (``prox_l2(z, y, gamma) = z + A^T (A A^T + I/gamma)^{-1} (y - A z)``, the closed form of
    Zhao et al. [1]_). Otherwise conjugate gradients are used.

    References
    ----------
    .. [1] N. Zhao, Q. Wei, A. Basarab, N. Dobigeon, D. Kouame and J.-Y. Tourneret, "Fast
       single image super-resolution using a new analytical solution for l2-l2 problems",
       IEEE Trans. Image Process. 25(8), 2016.
    .. [2] R. Keys, "Cubic convolution interpolation for digital image processing", IEEE
       Trans. ASSP 29(6), 1981.
    """

    def __init__(self, factor, *, img_shape, kernel="bicubic", padding: str = "circular",
                 max_iter: int = 100, tol: float = 1e-5):
        s = check_factor(factor)
        img_shape = as_shape(img_shape)
        padding = check_padding(padding)
        offset = 0
        if isinstance(kernel, str):
            if kernel == "bicubic":
                k, offset = matlab_bicubic_kernel(s)
            elif kernel == "gaussian":
                k = _kernels.gaussian(s / 2, size=2 * math.ceil(1.5 * s) + 1)
            else:
                raise ValueError(f"kernel must be 'bicubic', 'gaussian' or a 2-D array, "
                                 f"got {kernel!r}")
            self_kernel_name = kernel
        else:
            k = kernel
            self_kernel_name = "array"
        k = _kernels.as_kernel(k)
        c, h, w = img_shape
        kh, kw = k.shape
        if kh > h or kw > w:
            raise ValueError(f"kernel of size {kh}x{kw} (kernel={self_kernel_name!r}, factor "
                             f"{s}) is larger than the image {h}x{w}; use a larger image")
        bh, bw = (h - kh + 1, w - kw + 1) if padding == "valid" else (h, w)
        if offset >= min(bh, bw):
            raise ValueError(f"image {h}x{w} too small for factor {s}")
        meas = (c, -(-(bh - offset) // s), -(-(bw - offset) // s))
        super().__init__(img_shape=img_shape, meas_shape=meas, max_iter=max_iter, tol=tol)
        self.factor = s
        self.offset = offset
        self.kernel_name = self_kernel_name
        self._setup_conv(k, (h, w), padding)
        self._closed = padding == "circular" and h % s == 0 and w % s == 0
        if self._closed:
            # full |K|^2 on the HR grid, from the stored (float32) half spectrum so that the
            # closed form is exactly consistent with A
            k2h = torch.view_as_complex(self._spec.double()).abs().square()
            k2 = torch.empty((h, w), dtype=torch.float64)
            k2[:, : w // 2 + 1] = k2h
            if w // 2 + 1 < w:
                cols = w - torch.arange(w // 2 + 1, w)
                k2[:, w // 2 + 1:] = k2h[(-torch.arange(h)) % h][:, cols]
            d = k2.reshape(s, h // s, s, w // s).mean(dim=(0, 2))
            # kept in float64 (cast to the input's dtype on use)
            self.register_buffer("_d", d[:, : (w // s) // 2 + 1].contiguous())

    def _A(self, x):
        s, o = self.factor, self.offset
        out = self._conv(x)
        return out if s == 1 else out[..., o::s, o::s]

    def _At(self, y):
        s, o = self.factor, self.offset
        if s > 1:
            bh, bw = self._conv_out
            up = y.new_zeros(y.shape[:-2] + (bh, bw))
            up[..., o::s, o::s] = y
            y = up
        return self._conv_adjoint(y)

    def _closed_solve_AAt(self, r, eps, rcond):
        if not self._closed:
            return None
        d = self._d.to(r.dtype)
        if eps > 0:
            den = d + eps
        else:
            den = torch.where(d > (rcond ** 2) * d.max(), d, torch.inf)
        return torch.fft.irfft2(torch.fft.rfft2(r) / den, s=r.shape[-2:])

    def extra_repr(self) -> str:
        return (f"factor={self.factor}, kernel={self.kernel_name!r}, offset={self.offset}, "
                f"padding={self.padding!r}, "
                + super().extra_repr())
