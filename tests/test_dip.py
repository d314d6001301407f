"""Deep Image Prior solver: denoising gain, EMA output, deepinv operators, seeds, bad inputs."""

import deepinv as dinv
import pytest
import torch

from pnp_internal.priors import nets
from pnp_internal.solvers.dip import DIP
from pnp_internal.solvers.early_stopping import ESWMV

SIGMA = 25 / 255


pytestmark = pytest.mark.usefixtures("one_thread")


def _psnr(a, b):
    return float(-10 * torch.log10((a.clamp(0, 1) - b).pow(2).mean()))


def _noisy(x, seed=0):
    g = torch.Generator().manual_seed(seed)
    return x + SIGMA * torch.randn(x.shape, generator=g)


def _op():
    return dinv.physics.Denoising(dinv.physics.GaussianNoise(SIGMA))


def _small(c=1):
    return nets.skip(c, width=16, depth=3, in_channels=8)


@pytest.fixture(scope="module")
def denoise_run():
    from conftest import real_image
    x = real_image("camera", 48, gray=True)
    y = _noisy(x)
    res = DIP(_small(), max_iter=400, lr=0.02, early_stop=ESWMV(window=15, patience=10**6, min_iter=15),
              seed=0).solve(y, _op(), x_true=x)
    return x, y, res


def test_dip_denoising_improves_psnr_before_overfitting(denoise_run):
    x, y, res = denoise_run
    p = res.history["psnr"]
    assert len(p) == res.n_iter == 400
    best = max(p)
    assert best > _psnr(y, x) + 3.0                 # real denoising gain
    assert p.index(best) < len(p) - 1 or best > p[0]  # peak is reached inside the run
    assert all(k in res.history for k in ("seconds", "residual", "loss", "variance"))


def test_es_wmv_stop_close_to_oracle_on_real_run(denoise_run):
    x, y, res = denoise_run
    p = res.history["psnr"]
    # the budget ended before the patience: DIP returns the iterate at the variance minimum
    t = res.stop_iter
    assert res.history["variance"][t] == min(v for v in res.history["variance"] if v == v)
    assert _psnr(res.x, x) == pytest.approx(p[t], abs=1e-3)
    assert p[t] > max(p) - 1.5                      # within 1.5 dB of the oracle
    assert abs(t - p.index(max(p))) <= 150          # and within 150 of its 400 iterations
    assert p[t] > _psnr(y, x) + 3.0


def test_ema_output_returned_when_asked(astronaut):
    x = astronaut[..., :32, :32]
    y = _noisy(x)
    raw = []
    kw = dict(max_iter=6, early_stop=None, seed=3)
    r_raw = DIP(_small(3), ema=0.9, return_ema=False, **kw).solve(
        y, _op(), callback=lambda state: raw.append(state.x.clone()))
    r_ema = DIP(_small(3), ema=0.9, return_ema=True, **kw).solve(y, _op())
    avg = raw[0]
    for r in raw[1:]:
        avg = 0.9 * avg + 0.1 * r
    torch.testing.assert_close(r_ema.x, avg, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(r_raw.x, raw[-1])
    assert not torch.allclose(r_ema.x, r_raw.x)


def test_same_seed_same_output_and_other_seed_differs(camera):
    x = camera[..., :32, :32]
    y = _noisy(x)
    run = lambda s: DIP(max_iter=3, early_stop=None, seed=s).solve(y, _op()).x  # noqa: E731
    with pytest.raises(ValueError, match="at least 64x64"):
        run(0)  # default net (5 scales) is too deep for 32x32
    run = lambda s: DIP(_small(), max_iter=4, early_stop=None, seed=s).solve(y, _op()).x  # noqa: E731
    torch.testing.assert_close(run(1), run(1), rtol=0, atol=0)
    assert not torch.equal(run(1), run(2))


def test_accepts_deepinv_operators_and_fits_data(camera):
    x = camera[..., :32, :32]
    g = torch.Generator().manual_seed(0)
    mask = (torch.rand(1, 32, 32, generator=g) > 0.5).float()
    op = dinv.physics.Inpainting(img_size=(1, 32, 32), mask=mask)
    y = op.A(x)
    res = DIP(_small(), max_iter=80, lr=0.02, reg_noise_std=0.0, early_stop=None,
              seed=0).solve(y, op, x_true=x)
    assert res.x.shape == x.shape
    assert res.history["residual"][-1] < 0.5 * res.history["residual"][0]
    assert res.history["psnr"][-1] > _psnr(y, x) + 3  # filled holes beat the masked image
    sr = dinv.physics.Downsampling(img_size=(1, 32, 32), factor=2, filter="bicubic")
    out = DIP(_small(), max_iter=2, early_stop=None).solve(sr.A(x), sr)
    assert out.x.shape == (1, 1, 32, 32)


def test_deep_decoder_and_tv_and_sure_run(camera):
    x = camera[..., :32, :32]
    y = _noisy(x)
    dd = nets.DeepDecoder(1, channels=16, depth=3)
    r = DIP(dd, max_iter=60, lr=0.02, reg_noise_std=0.0, return_ema=False, early_stop=None,
            seed=0).solve(y, _op(), x_true=x)
    assert r.x.shape == x.shape and max(r.history["psnr"]) > _psnr(y, x) + 1
    r_tv = DIP(_small(), max_iter=3, tv_weight=0.1, early_stop=None).solve(y, _op())
    r_s = DIP(nets.skip(1, width=8, depth=2, in_channels=1), loss="sure", max_iter=3,
              early_stop=None).solve(y, _op())
    assert torch.isfinite(r_tv.x).all() and torch.isfinite(r_s.x).all()


def test_bad_inputs(camera):
    x = camera[..., :32, :32]
    sr = dinv.physics.Downsampling(img_size=(1, 32, 32), factor=2, filter="bicubic")
    with pytest.raises(ValueError, match="does not match y"):
        DIP(_small(), max_iter=2).solve(torch.rand(1, 1, 15, 16), sr, x0=x)
    with pytest.raises(ValueError, match="at least"):
        DIP(nets.skip(1, depth=5), max_iter=2).solve(x, _op())
    with pytest.raises(ValueError, match="channels"):
        DIP(_small(3), max_iter=2).solve(x, _op())
    with pytest.raises(ValueError, match="sure"):
        DIP(_small(), loss="sure", max_iter=2).solve(sr.A(x), sr)
    with pytest.raises(ValueError, match="max_iter"):
        DIP(max_iter=0)
    with pytest.raises(ValueError, match="loss"):
        DIP(loss="l1")
    with pytest.raises(TypeError, match="input_shape"):
        DIP(torch.nn.Conv2d(1, 1, 3))


def test_nan_loss_stops_with_best_iterate_and_warning(camera):
    x = camera[..., :32, :32]
    calls = {"n": 0}

    def A(v):
        calls["n"] += 1
        return v * float("nan") if calls["n"] > 6 else v

    op = dinv.physics.LinearPhysics(A=A, A_adjoint=lambda v: v)
    with pytest.warns(RuntimeWarning, match="loss became nan"):
        res = DIP(_small(), max_iter=20, early_stop=None, seed=0).solve(x, op, x0=x)
    assert res.n_iter < 20 and not res.converged
    assert torch.isfinite(res.x).all()


def test_auto_loss_is_sure_for_gaussian_denoising_only(camera):
    x = camera[..., :32, :32]
    y = _noisy(x)
    image_net = nets.skip(1, width=8, depth=2, in_channels=1)
    assert DIP(image_net, max_iter=2, early_stop=None).solve(y, _op()).loss == "sure"
    y64 = _noisy(camera[..., :64, :64])
    assert DIP(max_iter=1, early_stop=None).solve(y64, _op()).loss == "sure"  # default net
    assert DIP(_small(), max_iter=2, early_stop=None).solve(y, _op()).loss == "mse"  # takes a code
    noiseless = dinv.physics.Denoising(dinv.physics.GaussianNoise(0.0))
    assert DIP(image_net, max_iter=2, early_stop=None).solve(y, noiseless).loss == "mse"
    sr = dinv.physics.Downsampling(img_size=(1, 32, 32), factor=2, filter="bicubic")
    assert DIP(image_net, max_iter=2, early_stop=None).solve(sr.A(x), sr).loss == "mse"
    with pytest.raises(ValueError, match="in_channels=1"):
        DIP(_small(), loss="sure", max_iter=2).solve(y, _op())


def test_sure_loss_denoises_without_overfitting(camera):
    x = camera[..., :48, :48]
    y = _noisy(x)
    net = nets.skip(1, width=16, depth=3, in_channels=1)
    r = DIP(net, max_iter=150, lr=0.02, ema=None, early_stop=None, seed=0).solve(
        y, _op(), x_true=x)
    p = r.history["psnr"]
    assert r.loss == "sure" and max(p) > _psnr(y, x) + 5      # a real denoising gain
    assert p[-1] > max(p) - 0.5                                # SURE barely over-fits
