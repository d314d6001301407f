"""KernelGAN: the super-resolution kernel of one image, estimated from the image alone.

A deep *linear* generator downscales crops of the low-resolution image ``y`` by 2; a patch
discriminator learns to tell the generator's output from crops of ``y`` itself. When it can no
longer tell them apart, the generator reproduces the image's own cross-scale patch statistics,
and its end-to-end kernel is the kernel that downscaled the image [1]_.

Settings of the paper and its public code: generator 7x7, 5x5, 3x3 and three 1x1 linear layers
of 64 channels (a 13x13 kernel, then decimation); discriminator a 7x7 convolution and 1x1
layers with batch norm, spectral norm and a sigmoid patch map; L1 GAN loss; Adam, learning rate
2e-4, betas (0.5, 0.999), divided by 10 every 750 of 3000 iterations; generator crops 64 and
discriminator crops of ``y`` picked with a probability that grows with the local gradient;
constraints on the kernel (sum to 1, small boundaries, and, once the generator has left its
bicubic start, centred and sparse). x4 kernels are the x2 kernel composed with itself.

Because the generator is linear, its output is one convolution with the end-to-end kernel: the
kernel is composed from the layers at every step (a few thousand multiply-adds) and applied
once, which gives the same outputs and gradients as running the layers, at a fraction of the
cost on a CPU.

References
----------
.. [1] S. Bell-Kligler, A. Shocher and M. Irani, "Blind Super-Resolution Kernel Estimation
   using an Internal-GAN", NeurIPS 2019.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..operators import kernels
from ..operators.downsampling import check_factor, matlab_bicubic_kernel

__all__ = ["KernelGAN", "KernelEstimate", "compose_x4", "finish_estimate", "is_degenerate"]


@dataclass
class KernelEstimate:
    """A kernel estimated from one image.

    Attributes
    ----------
    kernel : torch.Tensor
        ``(k, k)`` float32 kernel, non-negative, summing to 1, centred on the bicubic grid
        (:func:`~pnp_internal.operators.kernels.centre_on_grid`); the fallback kernel when the
        estimate is degenerate.
    factor : int
        Downsampling factor the kernel belongs to.
    confidence : float
        How well the generator fooled the discriminator at the end: the discriminator's mean
        output on generated crops over the last iterations, times 2 (1: indistinguishable
        from the image's own crops; 0: always recognised).
    degenerate : str
        Empty, or why the raw estimate was rejected (close to a delta or to a flat kernel).
    seconds : float
        Wall time of the estimation.
    """

    kernel: torch.Tensor
    factor: int
    confidence: float
    degenerate: str = ""
    seconds: float = 0.0


def is_degenerate(kernel: torch.Tensor) -> str:
    """Why ``kernel`` is no usable blur estimate (``""`` when it is): more than 80 % of its
    weight on one tap (a delta, which no antialiased camera produces) or its peak below twice
    the uniform value (a flat kernel that erases every detail)."""
    k = kernel.double()
    k = k / k.sum()
    if float(k.max()) > 0.8:
        return f"a delta (peak tap {float(k.max()):.2f} of the weight)"
    if float(k.max()) < 2.0 / k.numel():
        return f"flat (peak {float(k.max()) * k.numel():.2f} x the uniform value)"
    return ""


def compose_x4(k2: torch.Tensor) -> torch.Tensor:
    """The x4 kernel of two x2 downscalings with ``k2``: ``k2`` convolved with itself dilated
    by 2 (blur, decimate, blur, decimate = blur by that kernel, decimate by 4), centred on the
    x4 grid."""
    k = k2.double()[None, None]
    n = k.shape[-1]
    dil = torch.zeros(1, 1, 2 * n - 1, 2 * n - 1, dtype=k.dtype)
    dil[..., ::2, ::2] = k
    big = F.conv2d(F.pad(dil, (n - 1,) * 4), k.flip(-2, -1))[0, 0]  # full convolution
    crop = n // 2
    return kernels.centre_on_grid(big[crop:-crop, crop:-crop], 4)


def finish_estimate(k2: torch.Tensor, factor: int, fallback, source: str
                    ) -> tuple[torch.Tensor, str]:
    """An x2 estimate centred on the bicubic grid (composed with itself for x4), or, with a
    warning naming ``source``, the ``fallback`` (``"bicubic"`` or a kernel) when it is
    degenerate; and why it was rejected (``""`` when it was not)."""
    k = kernels.centre_on_grid(k2, 2)
    if factor == 4:
        k = compose_x4(k)
    why = is_degenerate(k)
    if why:
        warnings.warn(f"{source}: the estimated kernel is {why}; using the "
                      f"{'bicubic' if isinstance(fallback, str) else 'given'} fallback kernel "
                      "instead", UserWarning, stacklevel=3)
        if isinstance(fallback, str):
            if fallback != "bicubic":
                raise ValueError(f"fallback must be 'bicubic' or a kernel, got {fallback!r}")
            k, _ = matlab_bicubic_kernel(factor)
        else:
            k = kernels.as_kernel(fallback, name="fallback")
    return k.float(), why


class _LinearGenerator(nn.Module):
    """Deep linear generator; :meth:`kernel` is its end-to-end convolution kernel."""

    def __init__(self, sizes=(7, 5, 3, 1, 1, 1), channels: int = 64):
        super().__init__()
        chans = [1] + [channels] * (len(sizes) - 1) + [1]
        self.layers = nn.ModuleList(nn.Conv2d(a, b, k, bias=False)
                                    for a, b, k in zip(chans[:-1], chans[1:], sizes))
        for layer in self.layers:
            nn.init.xavier_normal_(layer.weight, 0.1)
        self.size = sum(sizes) - len(sizes) + 1

    def kernel(self) -> torch.Tensor:
        """``(size, size)`` convolution kernel equal to running the layers (stride 1)."""
        w0 = self.layers[0].weight
        k = F.pad(torch.ones(1, 1, 1, 1, dtype=w0.dtype, device=w0.device), (self.size - 1,) * 4)
        for layer in self.layers:
            k = F.conv2d(k, layer.weight)
        return k[0, 0]

    def forward(self, x: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` downscaled by 2 with :meth:`kernel` (or the given one, already composed)."""
        k = self.kernel() if kernel is None else kernel
        # the response to a delta is the convolution kernel; correlation uses it flipped
        return F.conv2d(x, k.flip(-2, -1)[None, None], stride=2)


class _PatchDiscriminator(nn.Module):
    def __init__(self, channels: int = 64, layers: int = 7, size: int = 7):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        body = [sn(nn.Conv2d(1, channels, size))]
        for _ in range(layers - 2):
            body += [sn(nn.Conv2d(channels, channels, 1)), nn.BatchNorm2d(channels), nn.ReLU()]
        body += [sn(nn.Conv2d(channels, 1, 1)), nn.Sigmoid()]
        self.net = nn.Sequential(*body)
        for m in self.net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight, 0.1)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.net(x)


def _crop_sampler(img: torch.Tensor, size: int, gen: torch.Generator):
    """Draw top-left corners of ``size`` crops of ``img`` (H, W), with probability growing with
    the blurred gradient magnitude (at least a tenth of the mean, so flat areas are seen)."""
    h, w = img.shape
    gy, gx = torch.gradient(img)
    mag = F.avg_pool2d((gy.abs() + gx.abs())[None, None], size, stride=1)[0, 0]
    prob = (mag + 0.1 * mag.mean() + 1e-12).flatten()
    wc = w - size + 1

    def draw(n: int):
        idx = torch.multinomial(prob, n, replacement=True, generator=gen)
        return [(int(i) // wc, int(i) % wc) for i in idx]
    return draw


def _penalty_mask(size: int) -> torch.Tensor:
    """Boundary penalty on the kernel: ``1 - g / max g`` for a Gaussian ``g`` as wide as the
    kernel (0 at the centre, growing towards the edges)."""
    g = kernels.gaussian(float(size), size=size).double()
    return (1 - g / g.max()).float()


class KernelGAN:
    """Estimate the SR kernel of a low-resolution image with an internal GAN [1]_.

    Parameters
    ----------
    factor : int
        2 or 4 (x4: the x2 estimate composed with itself, :func:`compose_x4`).
    max_iter : int
        Iterations (one generator and one discriminator step each); 3000 in the paper.
    crop : int
        Generator crop size (the discriminator sees crops of ``y`` of the generator's output
        size).
    lr : float
        Adam learning rate of both networks, divided by 10 every quarter of ``max_iter``.
    seed : int or None
        Seed of the initialisation and of the crops.
    runs : int
        Independent runs (seeds ``seed``, ``seed + 1``, ...) whose estimates are averaged, at
        ``runs`` times the cost of one. One run's kernel varies with the seed, but a seed that
        lands far off pulls the mean with it: on Set5 x2 three runs did not beat one (record
        ``kernelgan-runs_sr-x2-aniso_set5``), and the recipe keeps one.
    fallback : {"bicubic"} or tensor
        Kernel returned, with a warning, when the estimate is degenerate.
    progress : bool
        Show a progress bar.

    Notes
    -----
    The generator loss is ``|D(G(crop)) - 1|_1`` plus ``0.5 |sum k - 1|``, ``0.5 |m k|_1``
    (``m`` the unscaled boundary mask ``1 - g / max g`` of a kernel-wide Gaussian ``g``; the
    paper's code scales it by 30 and zeroes its centre), and, after the bicubic start (``5 |G(c) - bicubic(c)|^2``,
    decayed by 100 every 200 iterations once it is small), ``1 |centre of mass - centre|^2``
    and ``5 mean |k|^0.2``. The final kernel keeps the 40 largest taps minus the 41st and is
    centred on the bicubic grid.

    References
    ----------
    .. [1] S. Bell-Kligler, A. Shocher and M. Irani, "Blind Super-Resolution Kernel Estimation
       using an Internal-GAN", NeurIPS 2019.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.blind import KernelGAN
    >>> y = torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(0))
    >>> est = KernelGAN(max_iter=2, crop=32).estimate(y)
    >>> est.kernel.shape[0] % 2
    1
    """

    def __init__(self, *, factor: int = 2, max_iter: int = 3000, crop: int = 64,
                 lr: float = 2e-4, seed: int | None = 0, runs: int = 1, fallback="bicubic",
                 progress: bool = False):
        self.factor = check_factor(factor)
        if self.factor not in (2, 4):
            raise ValueError(f"KernelGAN estimates x2 and x4 kernels, got factor {factor}")
        if max_iter < 1 or crop < 32 or runs < 1:
            raise ValueError(f"max_iter and runs must be >= 1 and crop >= 32, got max_iter="
                             f"{max_iter}, runs={runs}, crop={crop}")
        self.max_iter, self.crop, self.lr = int(max_iter), int(crop), float(lr)
        self.seed, self.runs, self.fallback, self.progress = seed, int(runs), fallback, progress

    def estimate(self, y: torch.Tensor) -> KernelEstimate:
        """Estimate the kernel that downscaled ``y`` ``(1, C, h, w)`` (colour: on the luma)."""
        t0 = time.perf_counter()
        if y.ndim != 4 or y.shape[0] != 1 or y.shape[1] not in (1, 3):
            raise ValueError(f"expected y of shape (1, 1 or 3, h, w), got {tuple(y.shape)}")
        img = y[0].detach().float().cpu()
        if img.shape[0] == 3:
            img = (0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2])[None]
        img = img[0]
        h, w = img.shape
        if min(h, w) < self.crop:
            raise ValueError(f"y is {h}x{w}, smaller than the generator crop {self.crop}; "
                             f"pass crop= at most {min(h, w)} (>= 32)")
        fits = [self._fit(img, None if self.seed is None else self.seed + j)
                for j in range(self.runs)]
        ks = [_keep_largest(raw, 40) for raw, _ in fits]
        k2 = ks[0] if len(ks) == 1 else kernels.average(*(kernels.centre_on_grid(k, 2)
                                                          for k in ks))
        k, why = finish_estimate(k2, self.factor, self.fallback, "KernelGAN")
        return KernelEstimate(kernel=k.float(), factor=self.factor,
                              confidence=float(np.mean([c for _, c in fits])), degenerate=why,
                              seconds=time.perf_counter() - t0)

    def _fit(self, img: torch.Tensor, seed: int | None) -> tuple[torch.Tensor, float]:
        """One run on the luma ``img`` (h, w): the generator's raw end-to-end kernel and the
        run's confidence."""
        from tqdm import tqdm

        if seed is not None:
            torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(0 if seed is None else seed)
        G, D = _LinearGenerator(), _PatchDiscriminator()
        d_size = (self.crop - G.size) // 2 + 1
        draw_g, draw_d = _crop_sampler(img, self.crop, gen), _crop_sampler(img, d_size, gen)
        opt_g = torch.optim.Adam(G.parameters(), lr=self.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), lr=self.lr, betas=(0.5, 0.999))
        bic, _ = matlab_bicubic_kernel(2)
        bic = bic.float().flip(-2, -1)[None, None]
        mask = _penalty_mask(G.size)
        idx = torch.arange(G.size, dtype=torch.float32)
        centre = G.size // 2 - 0.5  # KernelGAN's even-factor centre on the odd grid
        lam_bic, lam_cen, lam_sparse, small, fooled = 5.0, 0.0, 0.0, 0, []
        for it in tqdm(range(self.max_iter), disable=not self.progress, desc="KernelGAN",
                       mininterval=2):
            if it and it % max(1, self.max_iter // 4) == 0:
                for opt in (opt_g, opt_d):
                    for g in opt.param_groups:
                        g["lr"] /= 10
            (gt, gl), (dt, dl) = draw_g(1)[0], draw_d(1)[0]
            g_in = img[gt:gt + self.crop, gl:gl + self.crop][None, None]
            real = img[dt:dt + d_size, dl:dl + d_size][None, None]
            # generator step
            k = G.kernel()
            fake = G(g_in, kernel=k)
            d_fake = D(fake)
            loss_bic = F.mse_loss(fake, _shave_to(F.conv2d(g_in, bic, stride=2), fake))
            mass = k.sum()
            com = torch.stack([(k.sum(1) * idx).sum(), (k.sum(0) * idx).sum()]) / mass
            loss = ((d_fake - 1).abs().mean() + lam_bic * loss_bic
                    + 0.5 * (1 - mass).abs() + 0.5 * (k * mask).abs().mean()
                    + lam_cen * ((com - centre) ** 2).mean()
                    + lam_sparse * (k.abs() + 1e-12).pow(0.2).mean())
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            # discriminator step (the fake with a little noise, as in the paper's code)
            with torch.no_grad():
                fake = G(g_in) + torch.randn(fake.shape, generator=gen) / 255
            d_loss = 0.5 * (D(fake).abs().mean() + (D(real) - 1).abs().mean())
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            if it >= self.max_iter - max(1, self.max_iter // 10):
                fooled.append(float(d_fake.detach().mean()))
            # the bicubic start: released once the generator is close to it three times
            if lam_bic == 5.0 and small < 3:
                small = small + 1 if float(loss_bic.detach()) < 0.4 else 0
            elif it % 200 == 0 and lam_bic > 5e-6:
                lam_bic = max(lam_bic / 100, 5e-6)
                if lam_bic < 5e-3:
                    lam_cen, lam_sparse = 1.0, 5.0
        with torch.no_grad():
            raw = G.kernel().double()
        return raw, 2 * float(np.mean(fooled))


def _shave_to(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Centre crop of ``a`` to the spatial size of ``b``."""
    dh, dw = a.shape[-2] - b.shape[-2], a.shape[-1] - b.shape[-1]
    return a[..., dh // 2:dh // 2 + b.shape[-2], dw // 2:dw // 2 + b.shape[-1]]


def _keep_largest(k: torch.Tensor, n: int) -> torch.Tensor:
    """KernelGAN's clean-up: subtract the (n+1)-th largest tap, clip at zero, normalise."""
    k = k.clamp(min=0)
    if k.numel() > n:
        k = (k - torch.sort(k.flatten(), descending=True).values[n]).clamp(min=0)
    if not float(k.sum()) > 0:
        return torch.full_like(k, 1.0 / k.numel())
    return k / k.sum()
