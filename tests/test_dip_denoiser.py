"""DIPDenoiser (DIP as a PnP denoiser): sigma-aware fit, warm start, seeds, inside a solver."""
import warnings
warnings.filterwarnings("ignore", message="Function .gaussian_blur. is deprecated")

import deepinv as dinv
import pytest
import torch

from pnp_internal.priors import DIPDenoiser, nets

SIGMA = 25 / 255


pytestmark = pytest.mark.usefixtures("one_thread")


def _psnr(a, b):
    return float(-10 * torch.log10((a.clamp(0, 1) - b).pow(2).mean()))


def _den(**kw):
    kw = {"steps": 300, "warm_steps": 40, "lr": 0.03, "seed": 0} | kw
    return DIPDenoiser(nets.skip(1, width=16, depth=2, in_channels=8), **kw)


def test_discrepancy_stop_denoises_and_warm_start_is_short(camera):
    x = camera[..., 16:48, 16:48]
    y = x + SIGMA * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    d = _den()
    out = d(y, SIGMA)
    assert d.last_steps < 300                      # stopped by the noise level, not the cap
    rms = float((out - y).pow(2).mean().sqrt())
    assert 0.7 * SIGMA < rms < 1.4 * SIGMA          # fitted down to about the noise level
    assert _psnr(out, x) > _psnr(y, x) + 3
    # warm start: the same input at a smaller sigma continues from the fitted weights
    out2 = d(y, SIGMA / 2)
    assert d.last_steps <= 40
    assert float((out2 - y).pow(2).mean()) < rms**2
    # a large sigma stops immediately on a cold start -> smooth output far from y
    d2 = _den()
    d2(y, 0.5)
    assert d2.last_steps == 0


def test_same_seed_same_output(camera):
    x = camera[..., :32, :32]
    a = _den(steps=5)(x, 0.0)
    b = _den(steps=5)(x, 0.0)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_inside_hqs_under_no_grad(camera):
    from pnp_internal.solvers import HQS
    x = camera[..., 16:48, 16:48]
    op = dinv.physics.BlurFFT(img_size=(1, 32, 32), filter=dinv.physics.blur.gaussian_blur(1.0))
    y = op.A(x) + 0.02 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    prior = _den(steps=150, warm_steps=30)
    res = HQS(prior, noise_std=0.02, max_iter=8).solve(y, op)
    assert res.x.shape == x.shape and torch.isfinite(res.x).all()
    assert _psnr(res.x, x) > _psnr(y, x) + 1.0   # 23.97 vs 21.90 dB when written


def test_bad_inputs():
    with pytest.raises(ValueError, match="loss"):
        DIPDenoiser(loss="mse")
    with pytest.raises(ValueError, match="steps"):
        DIPDenoiser(steps=0)
    with pytest.raises(ValueError, match="one image"):
        _den()(torch.rand(2, 1, 32, 32), 0.1)
    with pytest.raises(ValueError, match="at least"):
        DIPDenoiser(nets.skip(1, depth=4))(torch.rand(1, 1, 16, 16), 0.1)
