"""Training pairs built from the observation itself, for fine-tuning a denoiser on one image.

A denoiser is fine-tuned on (noisy, clean) crops. In internal learning the "clean" images come
from the degraded observation, made to look like clean images at the right scale:

- **super-resolution**: the low-resolution image ``y`` and downscaled versions of it (internal
  multi-scale self-similarity: small patches recur across scales of a natural image, so the
  LR image is a plausible sample of the HR image's patch statistics) [1]_ [2]_;
- **deblurring, inpainting, compressed sensing, denoising**: an initial estimate (given as
  ``x_init=``, or a short run of a solver with the non-adapted denoiser), or the solver's
  current estimate when adapting during the iterations.

Inputs are the clean crops plus synthetic Gaussian noise at the noise levels the solver will use,
with random rescaling, the 8 flips/rotations and random crop sizes. A spatially disjoint part of
each source (a strip along its longer side) is held out, with fixed noise, for early stopping.

References
----------
.. [1] T. Tirer, R. Giryes, "Super-Resolution via Image-Adapted Denoising CNNs: Incorporating
   External and Internal Learning", IEEE SPL 26(7), 2019.
.. [2] A. Shocher, N. Cohen, M. Irani, "'Zero-Shot' Super-Resolution using Deep Internal
   Learning", CVPR 2018.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["operator_kind", "sr_factor", "sr_pair_noise", "PairSampler", "SUPPORTED_KINDS"]

#: Operator families with a rule for building training pairs without ``x_init=``.
SUPPORTED_KINDS = ("sr", "deblur", "inpaint", "cs", "denoise")


def operator_kind(operator) -> str | None:
    """Task family of ``operator`` (:func:`pnp_internal.operators.kinds.operator_kind`),
    ``None`` when unknown."""
    from ..operators.kinds import operator_kind as kind_of

    kind = kind_of(operator)
    return None if kind == "other" else kind


def sr_factor(operator, y: torch.Tensor, x: torch.Tensor | None = None) -> int:
    """Super-resolution factor: ``operator.factor`` or the ratio of the image sizes."""
    f = getattr(operator, "factor", None)
    if isinstance(f, (int, float)) and f >= 1:
        return int(round(f))
    if isinstance(f, (tuple, list)) and f:
        return int(round(f[0]))
    if x is not None and y.shape[-1] > 0:
        return max(1, int(round(x.shape[-1] / y.shape[-1])))
    raise ValueError("cannot tell the super-resolution factor: the operator has no `factor` "
                     "and no estimate x was given")


def sr_pair_noise(factor: int) -> float:
    """Noise level ([0, 1] scale) of the pairs made from an LR image for SR by ``factor``:
    ``(factor + 1)/255``, the authors' rule [1]_."""
    return (factor + 1) / 255.0


def _resize(img: torch.Tensor, scale: float) -> torch.Tensor:
    if scale == 1.0:
        return img
    h, w = img.shape[-2:]
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return F.interpolate(img, size=size, mode="bicubic", antialias=True,
                         align_corners=False).clamp(0, 1)


def _dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """One of the 8 flips/rotations (k in 0..7) of a square crop."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


@dataclass
class _Source:
    train: list  # rescaled versions of the training region, each (C, H, W)
    hold: torch.Tensor | None  # held-out region (C, h, w) or None


class PairSampler:
    """Random (noisy, clean) crops from a few source images, plus a fixed hold-out batch.

    Parameters
    ----------
    sources : list of torch.Tensor
        Clean-looking images, each ``(1, C, H, W)`` or ``(C, H, W)`` in [0, 1].
    sigmas : float or (float, float)
        Noise level of the synthetic noise ([0, 1] scale): fixed, or a range sampled
        log-uniformly per crop.
    crop : int or tuple of int
        Crop side(s); one is drawn per batch (crops of a batch share a size). Sizes larger
        than the smallest source are dropped (crops are never resized).
    batch_size : int
        Crops per batch.
    scales : tuple of float
        Random rescaling factors of the sources (IDBP-CNN-IA: 1 and 0.9).
    holdout : float
        Fraction of each source (a strip along its longer side) kept out of training for the
        hold-out loss; 0 disables it. When a source is too small to split, the hold-out uses
        the whole source with fresh, fixed noise (it then only detects fitting the noise).
    holdout_crops : int
        Maximum number of hold-out crops.
    seed : int or None
        Seed of the crops, transforms and noise (same seed -> same batches).
    clip : bool
        Clip the sources to [0, 1] (clean-looking estimates). Pass ``False`` for noisy sources
        whose noise statistics matter (SURE on ``y``: clipping the noise of bright and dark
        pixels biases SURE, by -0.004 at sigma 25 on Kodak's kodim20, whose sky is saturated).

    Examples
    --------
    >>> import torch
    >>> s = PairSampler([torch.rand(1, 3, 64, 64)], sigmas=3 / 255, crop=32, batch_size=4, seed=0)
    >>> noisy, clean, sigma = s.batch(1)
    >>> tuple(noisy.shape), tuple(sigma.shape)
    ((4, 3, 32, 32), (4,))
    """

    def __init__(self, sources, *, sigmas, crop=(32, 40, 48), batch_size: int = 16,
                 scales=(1.0, 0.9), holdout: float = 0.15, holdout_crops: int = 16,
                 seed: int | None = 0, clip: bool = True):
        if not sources:
            raise ValueError("PairSampler needs at least one source image")
        crops = (crop,) if isinstance(crop, int) else tuple(crop)
        if not crops or any(isinstance(c, bool) or not isinstance(c, int) or c < 8
                            for c in crops):
            raise ValueError(f"crop must be an int >= 8 or a tuple of them, got {crop!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if not 0.0 <= holdout < 0.5:
            raise ValueError(f"holdout must be a fraction in [0, 0.5), got {holdout!r}")
        lo, hi = (sigmas, sigmas) if isinstance(sigmas, (int, float)) else map(float, sigmas)
        if not (0 <= lo <= hi and math.isfinite(hi)):
            raise ValueError(f"sigmas must be a level >= 0 or a range (lo <= hi), got {sigmas!r}")
        self.sigma_range = (float(lo), float(hi))
        self.crops, self.batch_size, self.seed = crops, batch_size, seed
        self.sources: list[_Source] = []
        cmax = max(crops)
        for s in sources:
            s = s.detach().float()
            s = s.clamp(0, 1) if clip else s
            s = s[0] if s.ndim == 4 else s
            if s.ndim != 3:
                raise ValueError(f"each source must be (1, C, H, W) or (C, H, W), got "
                                 f"{tuple(s.shape)}")
            hold = None
            train = s
            if holdout > 0:
                axis = -1 if s.shape[-1] >= s.shape[-2] else -2
                n = s.shape[axis]
                nh = max(int(round(holdout * n)), min(cmax, n // 3))
                if n - nh >= min(crops) and nh >= 8:
                    train, hold = s.narrow(axis, 0, n - nh), s.narrow(axis, n - nh, nh)
                else:
                    hold = s
            self.sources.append(_Source([_resize(train[None], sc)[0] for sc in scales], hold))
        fit = min(min(t.shape[-2:]) for src in self.sources for t in src.train)
        ok = tuple(c for c in crops if c <= fit)
        self.crops = ok or (max(fit - fit % 8, min(fit, 8)),)  # never upsample a crop
        self.channels = self.sources[0].train[0].shape[0]
        self._holdout = self._make_holdout(holdout_crops) if holdout > 0 else None

    # ----------------------------------------------------------------- sampling
    def _gen(self, step: int) -> torch.Generator:
        g = torch.Generator()
        if self.seed is None:
            g.seed()
        else:
            g.manual_seed(int(self.seed) * 1_000_003 + int(step))
        return g

    def _sigmas(self, n: int, g: torch.Generator) -> torch.Tensor:
        lo, hi = self.sigma_range
        u = torch.rand(n, generator=g)
        if lo == hi:
            return torch.full((n,), lo)
        if lo <= 0:
            return lo + (hi - lo) * u
        return torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))

    def batch(self, step: int):
        """Training batch of ``step``: ``(noisy, clean, sigma)``, sigma of shape (B,)."""
        g = self._gen(step)
        c = self.crops[int(torch.randint(len(self.crops), (1,), generator=g))]
        clean = []
        for _ in range(self.batch_size):
            src = self.sources[int(torch.randint(len(self.sources), (1,), generator=g))]
            img = src.train[int(torch.randint(len(src.train), (1,), generator=g))]
            i = int(torch.randint(img.shape[-2] - c + 1, (1,), generator=g))
            j = int(torch.randint(img.shape[-1] - c + 1, (1,), generator=g))
            clean.append(_dihedral(img[:, i:i + c, j:j + c],
                                   int(torch.randint(8, (1,), generator=g))))
        clean = torch.stack(clean).contiguous(memory_format=torch.channels_last)
        sigma = self._sigmas(self.batch_size, g)
        noise = torch.randn(clean.shape, generator=g)
        noisy = (clean + sigma.view(-1, 1, 1, 1) * noise).contiguous(
            memory_format=torch.channels_last)
        return noisy, clean, sigma

    def _make_holdout(self, n_max: int):
        g = torch.Generator().manual_seed(987_654 + (0 if self.seed is None else int(self.seed)))
        c = min(min(self.crops), *(min(src.hold.shape[-2:]) for src in self.sources))
        tiles = []
        for src in self.sources:
            h = src.hold
            for i in range(0, h.shape[-2] - c + 1, c):
                for j in range(0, h.shape[-1] - c + 1, c):
                    tiles.append(h[:, i:i + c, j:j + c])
        if len(tiles) > n_max:
            idx = torch.randperm(len(tiles), generator=g)[:n_max].sort().values
            tiles = [tiles[int(k)] for k in idx]
        clean = torch.stack(tiles).contiguous(memory_format=torch.channels_last)
        lo, hi = self.sigma_range
        q = (torch.arange(len(tiles)) + 0.5) / len(tiles)  # fixed levels spread over the range
        sigma = lo + (hi - lo) * q if lo <= 0 or lo == hi else \
            torch.exp(math.log(lo) + q * (math.log(hi) - math.log(lo)))
        noisy = clean + sigma.view(-1, 1, 1, 1) * torch.randn(clean.shape, generator=g)
        return noisy.contiguous(memory_format=torch.channels_last), clean, sigma

    def holdout_batch(self):
        """The fixed hold-out batch ``(noisy, clean, sigma)``, or ``None`` without hold-out."""
        return self._holdout
