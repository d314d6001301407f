"""Sparse gradients: the blur kernel of one image from the L0 norm of its sharp gradients.

A blurred image has many small gradients where its sharp version has few strong ones, so the
sharp image that is sparsest in gradients (L0), together with the kernel that blurs it into
``y``, splits ``y`` into image and blur [1]_ [2]_. The estimate alternates, coarse to fine over
an image pyramid (ratio 1/sqrt 2, the kernel growing from about 5 taps to ``kernel_size``):

1. image step: ``min_x |k * x - y|^2 + lam |grad x|_0`` by half-quadratic splitting (the
   gradient threshold step and a closed-form FFT solve, the penalty ``beta`` doubled from
   ``2 lam`` to 1e5), ``lam`` divided by 1.1 at every alternation (floor 1e-4);
2. kernel step: ``min_k |k * grad x - grad y|^2 + gamma |k|^2`` over the ``k x k`` support (the
   normal equations of the support, a dense solve of ``k^2`` unknowns), ``grad x`` kept only on
   the salient edges (the strongest gradients, enough of them in every orientation [2]_), then
   negative taps and taps under 5 % of the peak set to zero, islands holding less than 10 % of
   the weight removed (8-connected), the taps normalised to sum 1.

The estimate depends on the starting ``lam`` more than on anything else; given several, the
estimator keeps the kernel that explains most of ``y``'s gradient energy.

The image model is circular, as the FFT solves are; the kernel is returned centred on its
centre of mass. The estimate is cheap (seconds per image on one core): it is the CPU option
beside :class:`~pnp_internal.blind.SelfDeblur`, whose networks need a GPU.

References
----------
.. [1] L. Xu, S. Zheng and J. Jia, "Unnatural L0 Sparse Representation for Natural Image
   Deblurring", CVPR 2013.
.. [2] J. Pan, Z. Hu, Z. Su and M.-H. Yang, "Deblurring Text Images via L0-Regularized
   Intensity and Gradient Prior", CVPR 2014 (the coarse-to-fine schedule and kernel pruning).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..color import rgb_to_ycbcr
from ..operators import kernels
from .kernelgan import KernelEstimate, is_degenerate

__all__ = ["L0Deblur"]


def _grad(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Circular forward differences along the width and the height."""
    return x.roll(-1, 1) - x, x.roll(-1, 0) - x


def _otf(kernel: torch.Tensor, shape) -> torch.Tensor:
    """FFT of ``kernel`` zero-padded to ``shape`` with its centre tap moved to the origin."""
    big = torch.zeros(shape, dtype=kernel.dtype)
    kh, kw = kernel.shape
    big[:kh, :kw] = kernel
    return torch.fft.fft2(big.roll((-(kh // 2), -(kw // 2)), (0, 1)))


def _resize(img: torch.Tensor, shape) -> torch.Tensor:
    """``img`` ``(h, w)`` resized to ``shape`` (bilinear, antialiased when shrinking)."""
    return F.interpolate(img[None, None], size=tuple(shape), mode="bilinear",
                         align_corners=False, antialias=True)[0, 0]


def _prune(k: torch.Tensor, floor: float = 0.05, island: float = 0.1) -> torch.Tensor:
    """Negative taps and taps under ``floor`` x the peak set to zero, 8-connected islands
    holding less than ``island`` of the weight removed, sum 1 (a delta if nothing is left)."""
    k = k.clamp(min=0)
    if float(k.sum()) <= 0:
        return kernels.delta(k.shape[0]).double()
    k = torch.where(k < floor * k.max(), torch.zeros_like(k), k)
    k = k / k.sum()
    arr = k.numpy()
    labels, n = ndimage.label(arr > 0, structure=np.ones((3, 3)))
    if n > 1:
        weights = ndimage.sum(arr, labels, index=np.arange(1, n + 1))
        keep = np.isin(labels, 1 + np.flatnonzero(weights >= island))
        if keep.any():
            k = k * torch.from_numpy(keep)
    return k / k.sum()


def _salient_edges(x: torch.Tensor, size: int, threshold: float | None):
    """``((dx, dy), threshold)``: the gradients of ``x`` whose squared magnitude reaches
    ``threshold``, the others zero (Pan et al.'s selection of the edges that say most about the
    kernel). Without a threshold, the largest one that keeps at least ``max(20 size, 10)``
    gradients in each of four orientation bins; with one, the given threshold divided by 1.1
    (it is lowered as the kernel improves)."""
    h, v = _grad(x)
    mag = h ** 2 + v ** 2
    if threshold is None:
        angle = torch.atan(v / h.where(h != 0, torch.full_like(h, 1e-12)))
        need = max(20 * size, 10)
        per_bin = []
        for lo in (-math.pi / 2, -math.pi / 4, 0.0, math.pi / 4):
            values = mag[(angle >= lo) & (angle < lo + math.pi / 4)]
            per_bin.append(float(values.topk(need).values[-1]) if values.numel() >= need
                           else 0.0)
        threshold = min(per_bin)
    else:
        threshold = threshold / 1.1
    while threshold > 0 and bool((mag < threshold).all()):
        threshold *= 0.81
    small = mag < threshold
    return (h.masked_fill(small, 0), v.masked_fill(small, 0)), threshold


def _centred(k: torch.Tensor) -> torch.Tensor:
    """``k`` shifted by whole taps so that its centre of mass is at its centre (the part pushed
    out of the support is dropped)."""
    n = k.shape[0]
    idx = torch.arange(n, dtype=k.dtype)
    cy, cx = float((k.sum(1) * idx).sum()), float((k.sum(0) * idx).sum())
    dy, dx = n // 2 - round(cy), n // 2 - round(cx)
    out = torch.zeros_like(k)
    src = k[max(0, -dy):n - max(0, dy), max(0, -dx):n - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out / out.sum()


class L0Deblur:
    """Estimate the blur kernel of one image from sparse (L0) sharp gradients [1]_ [2]_.

    Parameters
    ----------
    kernel_size : int
        Odd side of the kernel to estimate (an upper bound of the true support).
    lam : float or sequence of float
        Starting weight of the L0 gradient penalty of the image step ([0, 1] intensities). With
        several, one estimate per weight, and the one whose kernel explains most of ``y``'s
        gradient energy (the highest ``confidence``) is kept.
    kernel_weight : float
        ``gamma`` of the kernel step (the papers' 2).
    alternations : int
        Image and kernel steps per pyramid level (the papers' 5).
    fallback : torch.Tensor, optional
        Kernel returned, with a warning, when the estimate is degenerate (flat); default a
        delta (no blur).

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.blind import L0Deblur
    >>> y = torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(0))
    >>> tuple(L0Deblur(9, alternations=1).estimate(y).kernel.shape)
    (9, 9)

    References
    ----------
    .. [1] L. Xu, S. Zheng and J. Jia, "Unnatural L0 Sparse Representation for Natural Image
       Deblurring", CVPR 2013.
    .. [2] J. Pan, Z. Hu, Z. Su and M.-H. Yang, "Deblurring Text Images via L0-Regularized
       Intensity and Gradient Prior", CVPR 2014.
    """

    def __init__(self, kernel_size: int, *, lam: float | Sequence[float] = 4e-3,
                 kernel_weight: float = 2.0, alternations: int = 5,
                 fallback: torch.Tensor | None = None):
        if not isinstance(kernel_size, int) or kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd int >= 3, got {kernel_size!r}")
        lams = tuple(float(v) for v in (lam if isinstance(lam, Sequence) else (lam,)))
        if not lams or min(lams) <= 0 or kernel_weight < 0 or alternations < 1:
            raise ValueError("need lam > 0 (one or more), kernel_weight >= 0 and alternations "
                             f">= 1, got {lam}, {kernel_weight}, {alternations}")
        self.kernel_size, self.lams = kernel_size, lams
        self.kernel_weight, self.alternations = float(kernel_weight), int(alternations)
        self.fallback = fallback

    def _sizes(self) -> list[int]:
        """Kernel sides from the coarsest level (about 5 taps) to ``kernel_size``."""
        levels = max(0, math.floor(math.log(5 / self.kernel_size) / math.log(math.sqrt(0.5))))
        sizes = [math.ceil(self.kernel_size * math.sqrt(0.5) ** i) for i in range(levels + 1)]
        return [s + 1 - s % 2 for s in reversed(sizes)]

    def estimate(self, y: torch.Tensor) -> KernelEstimate:
        """The kernel of ``y`` ``(1, 1 or 3, h, w)`` (colour: of its BT.601 luma), with
        ``y ~ kernel * x`` (convolution, centred on its centre of mass at
        ``kernel_size // 2``). Its ``confidence`` is the share of ``y``'s gradient energy that
        the final kernel and the image's salient edges explain (1: all of it)."""
        t0 = time.perf_counter()
        if y.ndim != 4 or y.shape[0] != 1 or y.shape[1] not in (1, 3):
            raise ValueError(f"expected y of shape (1, 1 or 3, h, w), got {tuple(y.shape)}")
        img = y.detach().cpu().double()
        img = (rgb_to_ycbcr(img) if img.shape[1] == 3 else img)[0, 0]
        if min(img.shape) < 2 * self.kernel_size:
            raise ValueError(f"y is {img.shape[0]}x{img.shape[1]}: too small to estimate a "
                             f"{self.kernel_size}x{self.kernel_size} kernel (needs a side of "
                             f"at least {2 * self.kernel_size})")
        fit, k = max((self._coarse_to_fine(img, lam) for lam in self.lams),
                     key=lambda pair: pair[0])
        k = _centred(k)
        reason = is_degenerate(k)
        if "flat" in reason:
            warnings.warn(f"L0Deblur: the estimated kernel is {reason}; using the fallback "
                          "(no blur)", stacklevel=2)
            k = self.fallback if self.fallback is not None else kernels.delta(self.kernel_size)
        else:
            reason = ""
        return KernelEstimate(kernel=k.float(), factor=1, confidence=fit, degenerate=reason,
                              seconds=time.perf_counter() - t0)

    def _coarse_to_fine(self, img: torch.Tensor, lam: float) -> tuple[float, torch.Tensor]:
        """``(confidence, kernel)`` of one alternation over the pyramid from ``lam``."""
        sizes = self._sizes()
        k = torch.zeros(sizes[0], sizes[0], dtype=torch.float64)
        c = sizes[0] // 2
        k[c, c - 1:c + 1] = 0.5
        fit = 0.0
        for size in sizes:
            if k.shape[0] != size:
                k = _prune(_resize(k, (size, size)), floor=0.0, island=0.0)
            ratio = size / self.kernel_size
            shape = [max(2 * size, round(n * ratio)) for n in img.shape]
            level = _Level(_resize(img, shape) if shape != list(img.shape) else img, size)
            threshold = None
            for _ in range(self.alternations):
                x = level.image_step(k, lam)
                edges, threshold = _salient_edges(x, size, threshold)
                k, fit = level.kernel_step(edges, self.kernel_weight)
                lam = max(lam / 1.1, 1e-4)
        return fit, k


class _Level:
    """One level of the pyramid: the blurred image ``y`` and a ``size x size`` kernel support,
    with what both steps reuse at every alternation (transforms, gradients, support indices)."""

    def __init__(self, y: torch.Tensor, size: int):
        self.y, self.size = y, size
        self.fy = torch.fft.fft2(y)
        delta = torch.zeros_like(y)
        delta[0, 0] = 1
        self.fdx, self.fdy = (torch.fft.fft2(d) for d in _grad(delta))
        self.den_d = self.fdx.abs() ** 2 + self.fdy.abs() ** 2
        grad_y = _grad(y)
        self.fgrad_y = tuple(torch.fft.fft2(g) for g in grad_y)
        self.energy = sum(float((g ** 2).sum()) for g in grad_y)
        offs = torch.arange(-(size // 2), size // 2 + 1)
        self.qy, self.qx = (g.reshape(-1) for g in torch.meshgrid(offs, offs, indexing="ij"))

    def image_step(self, k: torch.Tensor, lam: float) -> torch.Tensor:
        """``argmin_x |k * x - y|^2 + lam |grad x|_0`` by half-quadratic splitting (Xu et al.
        2011), circular."""
        fk = _otf(k, self.y.shape)
        num, den_k = fk.conj() * self.fy, fk.abs() ** 2
        x, beta = self.y, 2 * lam
        while beta < 1e5:
            h, v = _grad(x)
            small = h ** 2 + v ** 2 < lam / beta
            h, v = h.masked_fill(small, 0), v.masked_fill(small, 0)
            rhs = num + beta * (self.fdx.conj() * torch.fft.fft2(h)
                                + self.fdy.conj() * torch.fft.fft2(v))
            x = torch.fft.ifft2(rhs / (den_k + beta * self.den_d)).real
            beta *= 2
        return x

    def kernel_step(self, edges, weight: float):
        """``(pruned argmin_k |k * grad x - grad y|^2 + weight |k|^2 on the support, share of
        |grad y|^2 that the unpruned solution explains)``, ``grad x`` the salient ``edges``."""
        n, (h, w) = self.size * self.size, self.y.shape
        qy, qx = self.qy, self.qx
        normal = torch.zeros(n, n, dtype=torch.float64)
        rhs = torch.zeros(n, dtype=torch.float64)
        for gx, fgy in zip(edges, self.fgrad_y):
            fx = torch.fft.fft2(gx)
            auto = torch.fft.ifft2(fx.conj() * fx).real  # auto[t] = sum_p gx[p] gx[p + t]
            cross = torch.fft.ifft2(fx.conj() * fgy).real
            normal += auto[(qy[:, None] - qy[None, :]) % h, (qx[:, None] - qx[None, :]) % w]
            rhs += cross[qy % h, qx % w]
        normal += weight * torch.eye(n, dtype=torch.float64)
        sol = torch.linalg.solve(normal, rhs)
        residual = self.energy - 2 * float(sol @ rhs) + float(sol @ (normal @ sol))
        k = sol.reshape(self.size, self.size)
        return _prune(k), max(0.0, 1.0 - residual / max(self.energy, 1e-12))
