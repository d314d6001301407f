r"""A denoiser blended with BM3D's collaborative Wiener filter, piloted by the denoiser itself.

BM3D's second stage [1]_ groups similar blocks of the noisy image and shrinks each group's 3-D
spectrum with the Wiener weights of a *pilot* estimate. Given a CNN's output as the pilot, it
finds the repeats of the whole image (windows of a facade, tiles, text) that a CNN of bounded
receptive field cannot use, and its errors differ from the CNN's. The mean of the two, weighted
by ``blend``, is closer to the clean image than either on images of repeated structure, and
level with the CNN elsewhere (``benchmarks/notes/cnn.md``).

References
----------
.. [1] K. Dabov, A. Foi, V. Katkovnik, K. Egiazarian, "Image Denoising by Sparse 3-D
   Transform-Domain Collaborative Filtering", IEEE TIP 16(8), 2007 (colour: the same stage in
   the opponent colour space, blocks matched on the luminance).
"""

from __future__ import annotations

import numpy as np
import torch

from .base import WrappedPrior
from .classical import _sigmas

__all__ = ["CollaborativeWiener", "collaborative_wiener", "x8_wiener"]


def collaborative_wiener(y: np.ndarray, pilot: np.ndarray, sigma: float, *,
                         profile: str = "np") -> np.ndarray:
    """BM3D's Wiener stage on ``y`` (C, H, W) with ``pilot`` (same shape) as its estimate.

    Three channels are filtered in BM3D's opponent colour space with the blocks matched on the
    pilot's luminance (as CBM3D); any other channel count channel by channel. ``sigma`` is the
    noise std on the images' scale.
    """
    import bm3d

    if y.shape != pilot.shape:
        raise ValueError(f"pilot has shape {pilot.shape}, y has {y.shape}; they must match")
    if y.shape[0] != 3:
        return np.stack([np.asarray(bm3d.bm3d(y[c], sigma, profile, stage_arg=pilot[c]))
                         .reshape(y.shape[1:]) for c in range(y.shape[0])])
    hwc = np.ascontiguousarray(y.transpose(1, 2, 0), dtype=np.float64)
    opp, o_max, o_min, scale, a = bm3d.rgb_to(hwc, "opp")
    flat = pilot.transpose(1, 2, 0).reshape(-1, 3).astype(np.float64)
    pilot_opp = ((flat @ a.T - o_min) / (o_max - o_min)).reshape(hwc.shape)
    levels = sigma * np.sqrt(np.ravel(scale))  # the std of each normalised opponent channel
    first, matches = bm3d.bm3d(opp[..., 0], levels[0], profile, stage_arg=pilot_opp[..., 0],
                               blockmatches=(False, True))
    channels = [first] + [bm3d.bm3d(opp[..., c], levels[c], profile,
                                    stage_arg=pilot_opp[..., c], blockmatches=matches)
                          for c in (1, 2)]
    out = np.stack([np.asarray(c).reshape(hwc.shape[:2]) for c in channels], axis=-1)
    rgb = bm3d.rgb_to(out, "opp", True, o_max, o_min)[0]
    return rgb.transpose(2, 0, 1)


class CollaborativeWiener(WrappedPrior):
    r"""``blend * D(y) + (1 - blend) * W(y; D(y))``: the prior ``D`` and BM3D's Wiener stage
    ``W`` piloted by it (:func:`collaborative_wiener`).

    Parameters
    ----------
    prior : Prior, deepinv Denoiser or callable ``f(x, sigma)``
        The pilot denoiser (for example the shipped CNN's self-ensemble).
    blend : float
        The weight of the prior's output, in [0, 1]; 1 is the prior alone.
    profile : str
        The ``bm3d`` profile of the Wiener stage.

    Notes
    -----
    The Wiener stage runs on the CPU in float64, image by image: about 4.5 s for a 256x256
    colour image on one core, four times that at 512x512. It needs one noise level per image;
    a noise-level map is refused.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.priors import CollaborativeWiener
    >>> x = torch.full((1, 1, 32, 32), 0.5)
    >>> out = CollaborativeWiener(lambda y, s: y.clamp(0, 1), blend=0.5)(x, 10 / 255)
    >>> out.shape
    torch.Size([1, 1, 32, 32])
    """

    def __init__(self, prior, *, blend: float, profile: str = "np"):
        super().__init__(prior)
        if not 0.0 <= blend <= 1.0:
            raise ValueError(f"blend is the weight of the prior's output, in [0, 1]; got {blend}")
        self.blend = float(blend)
        self.profile = profile

    @property
    def name(self) -> str:
        return f"{self.prior.name} + collaborative Wiener"

    def forward(self, x: torch.Tensor, sigma, *args, **kwargs) -> torch.Tensor:
        if isinstance(sigma, torch.Tensor) and sigma.ndim == 4:
            raise ValueError("CollaborativeWiener takes one noise level per image, not a "
                             "noise-level map; give the map to the CNN alone (method cnn-x8)")
        levels = _sigmas(sigma, x.shape[0])
        pilot = self.prior(x, sigma)
        if self.blend == 1.0:
            return pilot
        y = x.detach().double().cpu().numpy()
        p = pilot.detach().double().cpu().clamp(0, 1).numpy()
        out = []
        for b, s in enumerate(levels):
            w = collaborative_wiener(y[b], p[b], s, profile=self.profile) if s > 0 else p[b]
            out.append(self.blend * p[b] + (1.0 - self.blend) * w)
        return torch.from_numpy(np.stack(out)).to(device=pilot.device, dtype=pilot.dtype)


def x8_wiener(denoiser, channels: int) -> CollaborativeWiener:
    """``denoiser`` as the default ``cnn-x8-wiener`` calls the shipped CNN: averaged over the 8
    flips and rotations, blended with BM3D's Wiener stage piloted by that, at the recipe book's
    blend for ``channels`` (:data:`~pnp_internal.recipes.COLLABORATIVE_WIENER`)."""
    from .. import recipes
    from .self_ensemble import SelfEnsemble

    return CollaborativeWiener(SelfEnsemble(denoiser),
                               blend=recipes.COLLABORATIVE_WIENER.value[channels])
