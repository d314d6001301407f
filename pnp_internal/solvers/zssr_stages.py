"""ZSSR's stage planning: the intermediate scales of gradual super-resolution, when a stage's
output becomes the new input, and the helpers that decide them from the operator.

References
----------
.. [1] A. Shocher, N. Cohen, M. Irani, "Zero-Shot" Super-Resolution using Deep Internal
   Learning, CVPR 2018 (the official configurations ``X2_GRADUAL_IDEAL_CONF``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .zssr_data import CubicResampler

__all__ = ["stage_scales", "plan_stages", "rebases", "is_cubic", "isotropic", "shrunk"]


def plan_stages(gradual, factor):
    """Intermediate scales ``(s_h, s_w)`` of gradual SR before the final jump ``factor``.

    ``gradual`` is what :func:`stage_scales` returns: ``False`` (one jump), ``True`` (the
    official stages) or a tuple of explicit scales.
    """
    if not gradual:
        return []
    if isinstance(gradual, tuple):
        too_big = [sc for sc in gradual if max(sc) > factor or sc == (factor, factor)]
        if too_big:
            raise ValueError(f"gradual scales must be below the factor {factor} (the "
                             f"final jump is always {factor}x{factor}); got {too_big}.")
        return list(gradual)
    if factor == 2:  # the official X2_GRADUAL_IDEAL_CONF
        return [(1.0, 1.5), (1.5, 1.0), (1.5, 1.5), (1.5, 2.0), (2.0, 1.5)]
    if factor > 2 and factor % 2 == 0:
        return [(1.0, 1.5), (1.5, 1.0), (1.5, 1.5), (1.5, 2.0), (2.0, 1.5), (2.0, 2.0)]
    return []


def rebases(gradual, rebase, rs, scale):
    """Whether the output of the isotropic stage ``scale`` becomes the new input (the official
    ``base_change_sfs``): by default only at 2 on the way to a larger factor, bicubic kernel."""
    if rebase is None:
        return gradual is True and rs.factor > 2 and scale == 2 and is_cubic(rs)
    return rebase if isinstance(rebase, bool) else scale in rebase


def stage_scales(gradual):
    """``gradual`` as a bool or a tuple of ``(s_h, s_w)`` intermediate scales."""
    if isinstance(gradual, (bool, np.bool_)) or gradual is None:
        return bool(gradual)
    try:
        if isinstance(gradual, str):
            raise TypeError
        scales = [(float(sc), float(sc)) if np.isscalar(sc) else tuple(map(float, sc))
                  for sc in gradual]
    except (TypeError, ValueError):
        scales = None
    if not scales or any(len(sc) != 2 or min(sc) < 1 or max(sc) <= 1 for sc in scales):
        raise ValueError(f"gradual must be a bool or a non-empty sequence of scales (a float "
                         f"> 1 or a pair (s_h, s_w) >= 1, e.g. [2, 3]); got {gradual!r}")
    return tuple(scales)


def is_cubic(rs):
    """Whether the operator's downscaler is the ideal (antialiased) bicubic one, away from the
    borders."""
    f = rs.factor
    x = torch.rand(1, 1, 16 * f, 16 * f, generator=torch.Generator().manual_seed(0),
                   dtype=torch.float64)
    a = rs.down(x.to(rs.kernel.dtype))[..., 4:-4, 4:-4].double()
    b = CubicResampler((f, f)).down(x)[..., 4:-4, 4:-4]
    return a.shape == b.shape and float((a - b).abs().max()) < 1e-4


def isotropic(rs):
    """Whether a resampler scales both axes alike (so 90-degree rotations commute with it)."""
    scale = getattr(rs, "scale", None)
    return scale is None or scale[0] == scale[1]


def shrunk(x, scale, n_scales):
    """``x`` (an output ``scale`` times larger than y) at sizes from 1 down to ``1 / scale``
    (exclusive), with as many sizes per octave as the ``n_scales`` fathers of ``y``."""
    n = max(1, round(n_scales * math.log(scale) / math.log(2)))
    h, w = x.shape[-2:]
    out = []
    for i in range(n):
        r = scale ** (-i / n)
        size = (max(2, round(h * r)), max(2, round(w * r)))
        out.append(x if i == 0 else F.interpolate(x, size=size, mode="bicubic", antialias=True,
                                                  align_corners=False).clamp(0, 1))
    return out

