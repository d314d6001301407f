"""Self2Self: Bernoulli-masked self-supervised denoising with a dropout ensemble."""

import pytest
import torch

from pnp_internal.priors import Self2Self

SIGMA = 25 / 255


pytestmark = pytest.mark.usefixtures("one_thread")


def _psnr(a, b):
    return float(-10 * torch.log10((a.clamp(0, 1) - b).pow(2).mean()))


def test_denoises_real_image_and_warm_start_continues(camera):
    x = camera[..., 16:48, 16:48]
    y = x + SIGMA * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    s2s = Self2Self(steps=250, warm_steps=20, lr=3e-3, n_predictions=8, width=16, depth=2, seed=0)
    out = s2s.denoise(y)
    assert out.shape == y.shape
    assert _psnr(out, x) > _psnr(y, x) + 2.0
    before = {k: v.clone() for k, v in s2s._state["net"].state_dict().items()}
    out2 = s2s(y, SIGMA)                    # PnP call: warm start, a few more steps
    assert torch.isfinite(out2).all()
    changed = any(not torch.equal(before[k], v) for k, v in s2s._state["net"].state_dict().items())
    assert changed


def test_same_seed_same_output(camera):
    x = camera[..., :16, :16]
    run = lambda s: Self2Self(steps=3, n_predictions=2, width=8, depth=2, seed=s).denoise(x)  # noqa: E731
    torch.testing.assert_close(run(0), run(0), rtol=0, atol=0)
    assert not torch.equal(run(0), run(1))


def test_bad_inputs():
    with pytest.raises(ValueError, match="p must"):
        Self2Self(p=1.0)
    with pytest.raises(ValueError, match="steps"):
        Self2Self(steps=0)
    with pytest.raises(ValueError, match="at least"):
        Self2Self(depth=4).denoise(torch.rand(1, 1, 8, 8))
