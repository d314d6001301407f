"""pnp_internal.noise.estimate_noise_std on real 8-bit images (scikit-image crops).

The noisy images are what a user's file holds: Gaussian noise added, clipped to [0, 1] and
rounded to 1/255. Errors are in 1/255 units. Measured margins (5 noise draws each,
2026-12): astronaut (colour) within 0.4 at sigma 10 and 1.2 at 25; camera (gray) +1.4..+2.2
at sigma 10 (gray texture read as noise, the known over-estimate) and within 1.3 at 25;
with half the pixels clipped at 1, within -1.1..+1.2 at sigma 25 and 50, where deepinv's
estimator on the whole image is 4 to 14 below.
"""

import doctest

import numpy as np
import pytest
import torch
from skimage import data

import pnp_internal.noise as noise_mod
from pnp_internal.noise import estimate_noise_std


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def crop256(name: str) -> torch.Tensor:
    """The central 256x256 crop of a scikit-image picture, (1, C, 256, 256) in [0, 1]."""
    x = torch.from_numpy(np.asarray(getattr(data, name)(), dtype=np.float32) / 255)
    x = x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]
    h, w = x.shape[-2:]
    top, left = (h - 256) // 2, (w - 256) // 2
    return x[..., top:top + 256, left:left + 256].contiguous()


def saturated(x: torch.Tensor) -> torch.Tensor:
    """``x`` brightened until half its pixels are clipped at 1."""
    return (x + (1 - x.median())).clamp(0, 1)


def png(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """``x`` plus noise of std ``sigma``/255, clipped to [0, 1] and rounded to 1/255."""
    n = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return torch.round((x + sigma / 255 * n).clamp(0, 1) * 255) / 255


def error(y: torch.Tensor, sigma: float) -> float:
    return estimate_noise_std(y) * 255 - sigma


@pytest.mark.parametrize("sigma", [10, 25])
def test_colour_photo_within_1_5(sigma):
    assert abs(error(png(crop256("astronaut"), sigma), sigma)) <= 1.5


def test_gray_photo_sigma_25_within_1_5():
    assert abs(error(png(crop256("camera"), 25), 25)) <= 1.5


def test_gray_photo_sigma_10_overestimates_by_less_than_2_5():
    # 8x8 gray patches take some of the grass texture for noise: +1.4..+2.2 measured
    err = error(png(crop256("camera"), 10), 10)
    assert -1.0 <= err <= 2.5


@pytest.mark.parametrize("name", ["camera", "astronaut"])
@pytest.mark.parametrize("sigma", [25, 50])
def test_half_saturated_not_underestimated(name, sigma):
    from deepinv.models import PatchCovarianceNoiseEstimator

    x = saturated(crop256(name))
    assert float((x >= 1).float().mean()) >= 0.5
    y = png(x, sigma)
    # the case bites: deepinv's estimator on the whole image is far below
    assert float(PatchCovarianceNoiseEstimator()(y)[0]) * 255 - sigma < -3
    err = error(y, sigma)
    assert -2.0 <= err <= 1.5


def test_large_image_gives_the_estimator_a_bounded_strip(monkeypatch):
    sizes = []
    real = noise_mod._estimate

    def spy(strip):
        sizes.append(strip.shape[-2] * strip.shape[-1])
        return real(strip)

    monkeypatch.setattr(noise_mod, "_estimate", spy)
    x = torch.from_numpy(np.asarray(data.astronaut(), dtype=np.float32) / 255)
    y = png(x.permute(2, 0, 1)[None].contiguous(), 25)  # 512x512: 1024 blocks
    assert abs(estimate_noise_std(y) * 255 - 25) <= 1.5
    assert sizes and max(sizes) <= noise_mod.MAX_PIXELS


def test_shapes_small_and_batched_inputs():
    y = png(crop256("astronaut"), 25)
    whole = estimate_noise_std(y)
    assert estimate_noise_std(y[0]) == whole  # (C, H, W)
    assert estimate_noise_std(torch.cat([y, torch.zeros_like(y)])) == whole  # first image
    small = png(crop256("astronaut")[..., :64, :64], 25)  # under 64 blocks: whole image
    assert abs(estimate_noise_std(small) * 255 - 25) <= 5


def test_docstring_example():
    result = doctest.testmod(noise_mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 1 and result.failed == 0


def test_noise_map_follows_a_ramp_and_pays_in_denoising():
    """Noise from 5 to 50 (/255) across a colour photo: the estimated map is within 3/255 of
    the true one on average, and the CNN given it beats the CNN given one global estimate."""
    from pnp_internal.metrics import psnr
    from pnp_internal.noise import estimate_noise_map
    from pnp_internal.priors import pretrained

    x = crop256("astronaut")
    ramp = torch.linspace(5 / 255, 50 / 255, 256).view(1, 1, 1, 256).expand(1, 1, 256, 256)
    y = x + ramp * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    level = estimate_noise_map(y)
    assert level.shape == (1, 1, 256, 256)
    assert float((level - ramp).abs().mean()) * 255 < 3
    model = pretrained("drunet-lite-color")
    p_map, p_global = psnr(model(y, level), x), psnr(model(y, estimate_noise_std(y)), x)
    assert p_map > p_global + 1, (p_map, p_global)
    for h, w in ((40, 40), (100, 33)):  # smaller than a window, odd sizes
        assert estimate_noise_map(torch.rand(1, 1, h, w)).shape == (1, 1, h, w)
    with pytest.raises(ValueError, match="window must be >= 32"):
        estimate_noise_map(y, window=16)
