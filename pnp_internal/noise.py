"""The noise level of an image, estimated with deepinv's estimators.

:func:`estimate_noise_std` is what :func:`pnp_internal.solve` and ``pnp-internal restore
--noise auto`` use when the noise level is not given. Its accuracy per noise level is
measured by ``benchmarks/experiments/noise_estimation.py`` (record ``noise-estimation``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["estimate_noise_std", "estimate_noise_map"]

BLOCK = 16
"""Side of the blocks that are kept or dropped (pixels)."""
CELL = 8
"""Side of the cells whose means stand in for the clean image when judging a block."""
MARGINS = (2.0, 1.5, 1.0)
"""Distances from 0 and 1, in units of the current estimate, tried in turn."""
MIN_PIXELS = 64 * BLOCK * BLOCK
"""Fewest kept pixels an estimate is made from (64 blocks)."""
MAX_PIXELS = 512 * BLOCK * BLOCK
"""Most pixels (per channel) given to the estimator: kept blocks beyond it are thinned evenly
(about 0.3 s and 120 MiB per estimate on 3 channels)."""
ROUNDS = 4
"""Most re-estimates (each with the margin of the previous estimate)."""
TOL = 0.1 / 255
"""The rounds stop when the estimate moves less than this."""


def _estimate(strip: torch.Tensor) -> float:
    """deepinv's PatchCovarianceNoiseEstimator (8x8 patches) on ``strip``, every patch
    position (stride 1)."""
    from deepinv.models import PatchCovarianceNoiseEstimator

    with torch.no_grad():
        sigma = float(PatchCovarianceNoiseEstimator.estimate_noise(strip, patch_size=8,
                                                                   stride=1)[0])
    # NaN: the smallest patch eigenvalues are rounding noise around zero (a clean or flat image)
    return sigma if math.isfinite(sigma) and sigma > 0 else 0.0


def _thin(idx: torch.Tensor, limit: int) -> torch.Tensor:
    """At most ``limit`` of the sorted indices ``idx``, evenly spread."""
    if len(idx) <= limit:
        return idx
    pick = torch.linspace(0, len(idx) - 1, limit, device=idx.device).round().long()
    return idx[pick]


def estimate_noise_std(y: torch.Tensor) -> float:
    """The standard deviation of white Gaussian noise in ``y`` ([0, 1] scale).

    deepinv's :class:`~deepinv.models.PatchCovarianceNoiseEstimator` (Chen, Zhu & Heng, "An
    Efficient Statistical Method for Image Noise Level Estimation", ICCV 2015), given only
    the parts of ``y`` where clipping at 0 and 1 has not removed noise. On the whole of an
    8-bit image (noise added, clipped, rounded) it underestimates strong noise: -1.0/255 on
    average at sigma 25/255 and -4.9/255 at 50/255 (CBSD68, Kodak24, Set12).

    The method:

    1. cut ``y`` into 16x16 blocks; judge each block and channel by the means of its four
       8x8 cells (the noise of a mean is sigma/8);
    2. estimate on all blocks (the estimator gets the blocks laid side by side in a strip
       16 pixels high, row after row of blocks, and uses every 8x8 patch position: stride 1
       instead of deepinv's default 3, which matters for the small regions of step 3);
    3. keep the blocks whose cell means all lie farther than ``k * sigma`` from 0 and from 1,
       for the current estimate ``sigma`` and the first ``k`` in (2, 1.5, 1) that keeps at
       least 64 blocks; if too few blocks qualify on every channel, the qualifying (block,
       channel) pairs are given as one gray strip; re-estimate on them;
    4. repeat step 3 (at most 4 times) until the estimate moves by less than 0.1/255.

    When no margin keeps 64 blocks, the last estimate stands (the one on all blocks, clipping
    bias included). Images under 64 blocks are estimated whole (stride 1). At most 512 blocks
    (131072 pixels) go to the estimator: above that the kept blocks are thinned evenly over
    the image, so time and memory are bounded.

    Measured (``benchmarks/experiments/noise_estimation.py``, record ``noise-estimation``;
    CBSD68 + Kodak24 + Set12, 104 images, noise added, clipped and rounded to 1/255), error in
    1/255 units, mean absolute / largest / mean (bias), against deepinv's estimator on the
    whole image:

    =====  ======================  =======================
    sigma  this function           whole image
    =====  ======================  =======================
    5      0.30 / 4.5 / +0.30      0.31 / 5.0 / +0.22
    10     0.23 / 3.2 / +0.17      0.33 / 3.0 / -0.05
    25     0.27 / 1.6 / -0.07      1.08 / 7.0 / -1.03
    50     0.88 / 7.6 / -0.33      4.86 / 16.8 / -4.86
    =====  ======================  =======================

    The gray Set12 images are overestimated at low noise (+2.2 at sigma 5, +1.3 at 10, +0.6 at
    25: texture that 8x8 gray patches cannot tell from noise, as on the whole image); the
    colour sets are within 0.1 on average at sigma 5 and 10. The largest errors are on images
    with little content away from 0 and 1 (e.g. CBSD68 167062, a dark and white picture: -7.6
    at sigma 50, +3.1 at sigma 10 where only its gray edges qualify). Without clipping (noise
    not clipped to [0, 1]) it is +0.1 on average at sigma 25 and +0.9 at 50 (deepinv's
    estimator on the whole image: -0.04 and -0.15). On a 12 MP photo: about 1 s and 140 MiB.

    Parameters
    ----------
    y : torch.Tensor
        A noisy image ``(1, C, H, W)`` in [0, 1] (of a batch, the first image is used).

    Returns
    -------
    float
        The estimated standard deviation, on the [0, 1] scale.

    Raises
    ------
    RuntimeError
        From deepinv when its estimator fails on an image too small for 8x8 patches.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.noise import estimate_noise_std
    >>> x = torch.linspace(0, 1, 128).repeat(1, 1, 128, 1)
    >>> y = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    >>> round(estimate_noise_std(y), 2)
    0.1
    """
    if y.dim() == 3:
        y = y.unsqueeze(0)
    y = y[:1].detach().float()
    c, h, w = y.shape[1:]
    nr, nc = h // BLOCK, w // BLOCK
    if nr * nc * BLOCK * BLOCK < MIN_PIXELS:
        return _estimate(y)
    y = y[..., :nr * BLOCK, :nc * BLOCK]
    # (C, nr, nc, BLOCK, BLOCK): the blocks of each channel, in raster order
    blocks = y[0].reshape(c, nr, BLOCK, nc, BLOCK).permute(0, 1, 3, 2, 4)
    r = BLOCK // CELL
    cells = F.avg_pool2d(y, CELL)[0].reshape(c, nr, r, nc, r)
    lo, hi = cells.amin(dim=(2, 4)), cells.amax(dim=(2, 4))  # (C, nr, nc)
    limit = MAX_PIXELS // (BLOCK * BLOCK)
    least = MIN_PIXELS // (BLOCK * BLOCK)

    def colour_strip(keep: torch.Tensor) -> torch.Tensor:  # keep: (nr * nc,) bool
        idx = _thin(keep.nonzero().flatten(), limit)
        b = blocks[:, idx // nc, idx % nc]  # (C, N, BLOCK, BLOCK), copies only these
        return b.permute(0, 2, 1, 3).reshape(1, c, BLOCK, -1)

    def gray_strip(keep: torch.Tensor) -> torch.Tensor:  # keep: (C * nr * nc,) bool
        idx = _thin(keep.nonzero().flatten(), limit)
        ch, pos = idx // (nr * nc), idx % (nr * nc)
        b = blocks[ch, pos // nc, pos % nc]  # (N, BLOCK, BLOCK)
        return b.permute(1, 0, 2).reshape(1, 1, BLOCK, -1)

    sigma = _estimate(colour_strip(torch.ones(nr * nc, dtype=torch.bool, device=y.device)))
    for _ in range(ROUNDS):
        strip = None
        for k in MARGINS:
            ok = (lo > k * sigma) & (hi < 1 - k * sigma)  # (C, nr, nc)
            ok_all = ok.all(dim=0).flatten()
            if int(ok_all.sum()) >= least:
                strip = colour_strip(ok_all)
                break
            if c > 1 and int(ok.sum()) >= least:
                strip = gray_strip(ok.flatten())
                break
        if strip is None:
            break
        try:
            new = _estimate(strip)
        except RuntimeError:  # deepinv: "Noise level estimation failed."
            break
        done = abs(new - sigma) < TOL
        sigma = new
        if done:
            break
    return sigma


def estimate_noise_map(y: torch.Tensor, *, window: int = 64, stride: int = 32) -> torch.Tensor:
    """A noise-level map of ``y`` for noise whose level varies over the image.

    :func:`estimate_noise_std` on every ``window`` x ``window`` window (deepinv's
    :func:`~deepinv.utils.image_to_patches`, ``stride`` apart; the image is reflect-padded to
    fit whole windows at the bottom and right), each estimate placed at its window's centre
    and bilinearly interpolated to one level per pixel. The map is what
    :class:`~pnp_internal.priors.CNNDenoiser` takes as its noise input. Accuracy and its effect
    on denoising: ``benchmarks/experiments/noise_curve.py`` (record ``noise-curve``).

    Parameters
    ----------
    y : torch.Tensor
        A noisy image ``(1, C, H, W)`` in [0, 1] (of a batch, the first image is used).
    window, stride : int
        Side of the windows (at least 32: the estimator needs many 8x8 patches) and their
        spacing, in pixels.

    Returns
    -------
    torch.Tensor
        The map ``(1, 1, H, W)``, on the [0, 1] scale.
    """
    from deepinv.utils import image_to_patches

    if window < 32 or not 0 < stride <= window:
        raise ValueError(f"window must be >= 32 and 0 < stride <= window, got window={window}, "
                         f"stride={stride}")
    if y.dim() == 3:
        y = y.unsqueeze(0)
    y = y[:1].detach().float()
    h, w = y.shape[-2:]
    # pad to at least one window, then to a whole number of strides past the first window
    ph = max(window - h, 0) + (-(max(h, window) - window)) % stride
    pw = max(window - w, 0) + (-(max(w, window) - window)) % stride
    mode = "reflect" if (ph < h and pw < w) else "replicate"
    padded = F.pad(y, (0, pw, 0, ph), mode=mode) if ph or pw else y
    patches = image_to_patches(padded, window, stride=stride)  # (1, C, rows, cols, win, win)
    rows, cols = patches.shape[2:4]
    levels = torch.tensor([[estimate_noise_std(patches[:, :, i, j]) for j in range(cols)]
                           for i in range(rows)], dtype=torch.float32, device=y.device)
    # window centres, in pixels of the padded image, and the map at every pixel by bilinear
    # interpolation between them (constant beyond the outermost centres)
    grid = levels.view(1, 1, rows, cols)
    span_h, span_w = (rows - 1) * stride, (cols - 1) * stride
    fine = F.interpolate(grid, size=(span_h + 1, span_w + 1), mode="bilinear",
                         align_corners=True) if rows * cols > 1 else grid
    half = window // 2
    fine = F.pad(fine, (half, max(w - half - fine.shape[-1], 0) + 1,
                        half, max(h - half - fine.shape[-2], 0) + 1), mode="replicate")
    return fine[..., :h, :w].contiguous()
