"""The project's pretrained CNN denoiser as a benchmark method: ``cnn`` (denoising tasks).

``cnn`` denoises ``y`` with the shipped DRUNet-lite weights (``drunet-lite-gray`` or
``drunet-lite-color`` by channel count, see :func:`pnp_internal.priors.pretrained`) at the true
noise level.

References
----------
.. [1] K. Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser Prior", IEEE TPAMI
   2022 (DRUNet).
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ..registry import register


@lru_cache(maxsize=2)
def _model(channels: int):
    from ...priors import pretrained

    return pretrained("drunet-lite-gray" if channels == 1 else "drunet-lite-color")


@register("cnn", kinds=("denoise",),
          description="project DRUNet-lite (4.25 M params, pretrained here) on y at the true sigma")
def run(problem) -> torch.Tensor:
    """Denoise ``problem.y`` at ``problem.noise_std``."""
    model = _model(problem.img_shape[0])
    with torch.inference_mode():
        return model(problem.y, problem.noise_std).clamp(0, 1)
