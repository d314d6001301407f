"""Full-range BT.601 YCbCr conversions."""

import pytest
import torch

from pnp_internal.color import rgb_to_ycbcr, ycbcr_to_rgb
from pnp_internal.metrics import rgb_to_y


def test_round_trip_and_luma(astronaut):
    ycc = rgb_to_ycbcr(astronaut)
    assert torch.allclose(ycbcr_to_rgb(ycc), astronaut, atol=1e-5)
    assert ycc[:, :1].min() >= 0 and ycc[:, :1].max() <= 1
    # MATLAB's studio-range Y used for scores is an affine function of this luma
    assert torch.allclose(rgb_to_y(astronaut), (16 + 219 * ycc[:, :1]) / 255, atol=1e-5)
    gray = torch.full((1, 3, 4, 4), 0.3)
    assert torch.allclose(rgb_to_ycbcr(gray)[:, 1:], torch.full((1, 2, 4, 4), 0.5), atol=1e-6)


def test_rejects_non_rgb():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        rgb_to_ycbcr(torch.rand(1, 1, 4, 4))
