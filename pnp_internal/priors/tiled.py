"""A prior applied tile by tile, so that a large image fits in memory.

The image is cut into square tiles of side ``tile`` (deepinv's
:func:`~deepinv.utils.image_to_patches`), each denoised with ``margin`` pixels of context on
every side (the image itself, reflected at its borders), and the tiles' centres are put back
(:func:`~deepinv.utils.patches_to_image`, no overlap between centres). With a margin as wide as
the network's effective reach the result matches the untiled call inside the image; at the
image's own border a tile sees the reflected image where the untiled network sees its padding,
which moves a 160 px restoration with the shipped CNN by less than 0.1 dB
(``tests/test_tiled.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from deepinv.utils import image_to_patches, patches_to_image

from .base import WrappedPrior

__all__ = ["Tiled"]


class Tiled(WrappedPrior):
    """Apply ``prior`` in tiles of ``tile`` x ``tile`` pixels with ``margin`` pixels of context.

    Parameters
    ----------
    prior : Prior, deepinv Denoiser or callable ``f(x, sigma)``
        The denoiser to apply; its :meth:`~Prior.adapt` hook and ``adapt_every`` are kept.
    tile : int
        Side of the tiles' centres (>= 16).
    margin : int
        Context on each side of a tile, cropped after denoising (>= 0).
    batch : int
        Tiles denoised per call.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.priors import Tiled
    >>> import torch.nn.functional as F
    >>> blur = lambda x, sigma: F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), 3, 1)
    >>> x = torch.rand(1, 1, 100, 90)
    >>> torch.allclose(Tiled(blur, tile=32, margin=4)(x, 0.1), blur(x, 0.1), atol=1e-6)
    True
    """

    def __init__(self, prior, *, tile: int, margin: int = 32, batch: int = 1):
        if isinstance(tile, bool) or not isinstance(tile, int) or tile < 16:
            raise ValueError(f"tile must be an int >= 16 (pixels), got {tile!r}")
        if isinstance(margin, bool) or not isinstance(margin, int) or margin < 0:
            raise ValueError(f"margin must be an int >= 0 (pixels), got {margin!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be an int >= 1, got {batch!r}")
        super().__init__(prior)
        self.tile, self.margin, self.batch = tile, margin, batch

    @property
    def name(self) -> str:
        return f"{self.prior.name} in {self.tile}px tiles"

    def forward(self, x: torch.Tensor, sigma, *args, **kwargs) -> torch.Tensor:
        """Denoise ``x`` (B, C, H, W) tile by tile; small images go through in one call."""
        h, w = x.shape[-2:]
        if h <= self.tile + 2 * self.margin and w <= self.tile + 2 * self.margin:
            return self.prior(x, sigma)
        m = self.margin
        mode = "reflect" if min(h, w) > m else "replicate"
        padded = F.pad(x, (m, m, m, m), mode=mode) if m else x
        patches = image_to_patches(padded, self.tile + 2 * m, stride=self.tile)
        b, c, rows, cols, ph, pw = patches.shape
        stack = patches.permute(0, 2, 3, 1, 4, 5).reshape(b * rows * cols, c, ph, pw)
        sig = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
        if sig.ndim == 4:  # a noise-level map (B or 1, 1, H, W) is cut with the image
            if sig.shape[-2:] != (h, w):
                raise ValueError(f"the noise-level map has size {tuple(sig.shape[-2:])}, the "
                                 f"image {(h, w)}: give one level per pixel")
            sig = sig.expand(b, 1, h, w)
            sig = F.pad(sig, (m, m, m, m), mode=mode) if m else sig
            per_tile = image_to_patches(sig, self.tile + 2 * m, stride=self.tile)
            per_tile = per_tile.permute(0, 2, 3, 1, 4, 5).reshape(b * rows * cols, 1, ph, pw)
        else:
            sig = sig.flatten()
            per_tile = None if sig.numel() == 1 else sig.repeat_interleave(rows * cols)
        out = []
        for start in range(0, stack.shape[0], self.batch):
            chunk = stack[start:start + self.batch]
            s = sigma if per_tile is None else per_tile[start:start + self.batch]
            out.append(self.prior(chunk, s)[..., m:m + self.tile, m:m + self.tile])
        centres = torch.cat(out).reshape(b, rows, cols, c, self.tile, self.tile)
        return patches_to_image(centres.permute(0, 3, 1, 2, 4, 5), stride=self.tile,
                                img_size=(h, w))
