"""SelfDeblur: the sharp image and the blur kernel of one blurred image, fitted to it alone.

A Deep Image Prior network ``G_x(z_x)`` generates the sharp image, a small fully connected
network ``G_k(z_k)`` (one hidden layer, softmax output: non-negative, sum 1) generates the
kernel, and both are fitted so that ``G_k * G_x`` reproduces the blurred image ``y`` [1]_. The
image network's structure favours natural images and the softmax keeps the kernel a blur, which
is what makes the split of ``y`` into a sharp image and a kernel well posed in practice.

Settings of the paper's code (Levin et al. set): ``G_x`` a five-scale skip network of 128
channels with 16-channel skips, LeakyReLU, bilinear upsampling, sigmoid output, input 8
channels of uniform noise in [0, 0.1) perturbed by N(0, 0.001^2) at every step; ``G_k`` 200 ->
1000 (ReLU6) -> k*k (softmax); Adam, learning rate 0.01 for ``G_x`` and 1e-4 for ``G_k``, halved
at 2000, 3000 and 4000 of 5000 steps; MSE loss for the first 1000 steps, then 1 - SSIM. The
generated image is larger than ``y`` by the kernel (a "valid" convolution), so its borders are
free and the image keeps ``y``'s size once cropped.

References
----------
.. [1] D. Ren, K. Zhang, Q. Wang, Q. Hu and W. Zuo, "Neural Blind Deconvolution Using Deep
   Priors", CVPR 2020.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..color import rgb_to_ycbcr, ycbcr_to_rgb
from ..priors.nets import SkipNet

__all__ = ["SelfDeblur", "SelfDeblurResult"]


@dataclass
class SelfDeblurResult:
    """What :meth:`SelfDeblur.run` returns.

    Attributes
    ----------
    x : torch.Tensor
        The sharp image, the size of ``y`` (colour: the restored luma with ``y``'s chroma).
    kernel : torch.Tensor
        ``(k, k)`` convolution kernel (non-negative, sum 1, centre at ``k // 2``) with
        ``y ~ kernel * x``.
    loss : float
        The final data-fit loss (1 - SSIM once past the MSE phase); it measures how well the
        pair explains ``y``, not how right the split is.
    seconds : float
        Wall time.
    """

    x: torch.Tensor
    kernel: torch.Tensor
    loss: float
    seconds: float


class SelfDeblur:
    """Blind deconvolution by two generators fitted to the blurred image [1]_.

    Parameters
    ----------
    kernel_size : int
        Odd side of the kernel to estimate (an upper bound of the true support).
    max_iter : int
        Steps (5000 in the paper); the learning rates are halved at 40, 60 and 80 % of them.
    lr, kernel_lr : float
        Adam learning rates of the image and the kernel generators.
    width, skip_channels, depth : int
        Image generator: channels per scale, skip channels and scales (the paper: 128, 16, 5).
    ssim_after : float
        Fraction of ``max_iter`` spent on the MSE loss before 1 - SSIM (the paper: 0.2).
    reg_noise_std : float
        Perturbation of the image generator's input at every step.
    seed : int or None
        Seed of the networks' initialisation and inputs.
    progress : bool
        Show a progress bar.

    References
    ----------
    .. [1] D. Ren, K. Zhang, Q. Wang, Q. Hu and W. Zuo, "Neural Blind Deconvolution Using Deep
       Priors", CVPR 2020.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.blind import SelfDeblur
    >>> y = torch.rand(1, 1, 40, 40, generator=torch.Generator().manual_seed(0))
    >>> res = SelfDeblur(5, max_iter=2, width=8, skip_channels=2, depth=2).run(y)
    >>> tuple(res.x.shape), tuple(res.kernel.shape)
    ((1, 1, 40, 40), (5, 5))
    """

    def __init__(self, kernel_size: int, *, max_iter: int = 5000, lr: float = 0.01,
                 kernel_lr: float = 1e-4, width: int = 128, skip_channels: int = 16,
                 depth: int = 5, ssim_after: float = 0.2, reg_noise_std: float = 0.001,
                 seed: int | None = 0, progress: bool = False):
        if not isinstance(kernel_size, int) or kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd int >= 3, got {kernel_size!r}")
        if max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {max_iter}")
        self.kernel_size, self.max_iter = kernel_size, int(max_iter)
        self.lr, self.kernel_lr = float(lr), float(kernel_lr)
        self.width, self.skip_channels, self.depth = width, skip_channels, depth
        self.ssim_after, self.reg_noise_std = float(ssim_after), float(reg_noise_std)
        self.seed, self.progress = seed, progress

    def run(self, y: torch.Tensor) -> SelfDeblurResult:
        """Fit both generators to ``y`` ``(1, C, H, W)``; colour images are deblurred on
        their luma (BT.601) and keep ``y``'s chroma."""
        from tqdm import tqdm

        t0 = time.perf_counter()
        if y.ndim != 4 or y.shape[0] != 1 or y.shape[1] not in (1, 3):
            raise ValueError(f"expected y of shape (1, 1 or 3, H, W), got {tuple(y.shape)}")
        from torchmetrics.functional.image import structural_similarity_index_measure as ssim

        y = y.detach().float()
        ycc = rgb_to_ycbcr(y) if y.shape[1] == 3 else None
        target = ycc[:, :1] if ycc is not None else y
        k = self.kernel_size
        h, w = target.shape[-2:]
        side = 2 ** (self.depth + 1)
        if min(h, w) + k - 1 < side:
            raise ValueError(f"y is {h}x{w}: too small for a {self.depth}-scale image "
                             f"generator (needs a side of at least {side - k + 1})")
        gen = torch.Generator().manual_seed(0 if self.seed is None else self.seed)
        if self.seed is not None:
            torch.manual_seed(self.seed)
        dev = y.device
        net_x = SkipNet(8, 1, channels_down=[self.width] * self.depth,
                        channels_up=[self.width] * self.depth,
                        channels_skip=[self.skip_channels] * self.depth).to(dev)
        net_k = nn.Sequential(nn.Linear(200, 1000), nn.ReLU6(), nn.Linear(1000, k * k),
                              nn.Softmax(dim=-1)).to(dev)
        z_x = (0.1 * torch.rand(1, 8, h + k - 1, w + k - 1, generator=gen)).to(dev)
        z_k = (0.1 * torch.rand(200, generator=gen)).to(dev)
        opt = torch.optim.Adam([{"params": net_x.parameters()},
                                {"params": net_k.parameters(), "lr": self.kernel_lr}], lr=self.lr)
        miles = [round(f * self.max_iter) for f in (0.4, 0.6, 0.8)]
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=miles, gamma=0.5)
        switch = round(self.ssim_after * self.max_iter)
        loss = torch.tensor(float("nan"))
        for step in tqdm(range(self.max_iter), disable=not self.progress, desc="SelfDeblur",
                         mininterval=2):
            z = z_x + self.reg_noise_std * torch.randn(z_x.shape, generator=gen).to(dev)
            x_big = net_x(z)
            kern = net_k(z_k).view(1, 1, k, k)
            y_hat = F.conv2d(x_big, kern)
            if step < switch:
                loss = F.mse_loss(y_hat, target)
            else:
                loss = 1 - ssim(y_hat, target, data_range=1.0, kernel_size=11, sigma=1.5)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            x_big = net_x(z_x)
            kern = net_k(z_k).view(k, k)
        p = (k - 1) // 2
        x = x_big[..., p:p + h, p:p + w].clamp(0, 1)
        if ycc is not None:
            x = ycbcr_to_rgb(torch.cat([x, ycc[:, 1:]], 1)).clamp(0, 1)
        # F.conv2d correlates: the convolution kernel is the flipped correlation kernel
        return SelfDeblurResult(x=x, kernel=kern.flip(-2, -1).cpu(), loss=float(loss.detach()),
                                seconds=time.perf_counter() - t0)
