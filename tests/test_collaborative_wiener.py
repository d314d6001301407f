"""CollaborativeWiener: BM3D's Wiener stage piloted by a denoiser, blended with it."""

from pathlib import Path

import numpy as np
import pytest
import torch

import pnp_internal as pi
from pnp_internal.io import read_image
from pnp_internal.metrics import psnr
from pnp_internal.priors import BM3D, CollaborativeWiener
from pnp_internal.priors.collaborative_wiener import collaborative_wiener

SIGMA = 25 / 255


def _noisy(x, seed=0):
    return x + SIGMA * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))


def test_wiener_stage_with_the_clean_image_as_pilot_beats_cbm3d(astronaut):
    """With an oracle pilot the colour Wiener stage (opponent space, shared block matches) is
    far better than CBM3D's own two stages on the same noisy photo."""
    y = _noisy(astronaut)
    oracle = torch.from_numpy(collaborative_wiener(
        y[0].double().numpy(), astronaut[0].double().numpy(), SIGMA))[None].float()
    cbm3d = BM3D()(y, SIGMA)
    assert oracle.shape == astronaut.shape
    assert psnr(oracle.clamp(0, 1), astronaut) > psnr(cbm3d.clamp(0, 1), astronaut) + 1.0


def test_blend_beats_the_cnn_alone_on_a_facade_of_repeated_windows():
    """On a crop of urban100's img_100 (a facade: the same window over and over; a file that
    denoiser training holds out), the method ``cnn-x8-wiener`` is closer to the clean image than
    ``cnn-x8``; with blend 1 the prior comes back unchanged."""
    path = Path(__file__).resolve().parents[2] / "shared/data/train/urban100/img_100.jpg"
    if not path.is_file():
        pytest.skip("shared data not available")
    x = read_image(path)
    top, left = (x.shape[-2] - 64) // 2, (x.shape[-1] - 64) // 2
    x = x[..., top:top + 64, left:left + 64]
    y = _noisy(x, seed=1)
    den = pi.operators.Denoising(img_shape=tuple(x.shape[1:]))
    plain = pi.solve(y, den, method="cnn-x8", noise_std=SIGMA).x
    blended = pi.solve(y, den, method="cnn-x8-wiener", noise_std=SIGMA).x
    assert psnr(blended, x) > psnr(plain, x) + 0.3

    def prior(v, s):
        return v.clamp(0, 1)

    assert torch.equal(CollaborativeWiener(prior, blend=1.0)(y, SIGMA), y.clamp(0, 1))


def test_bad_inputs_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        CollaborativeWiener(lambda v, s: v, blend=1.5)
    x = torch.rand(1, 1, 32, 32)
    level_map = torch.full_like(x, SIGMA)
    with pytest.raises(ValueError, match="noise-level map"):
        CollaborativeWiener(lambda v, s: v, blend=0.5)(x, level_map)
    with pytest.raises(ValueError, match="must match"):
        collaborative_wiener(np.zeros((1, 8, 8)), np.zeros((1, 8, 9)), SIGMA)
