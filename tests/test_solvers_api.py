"""pnp_internal.api.solve: names, defaults per operator, option validation."""

import deepinv as dinv
import pytest
import torch

from pnp_internal import operators as O
from pnp_internal.api import default_settings, operator_kind, solve
from pnp_internal.metrics import psnr
from pnp_internal.priors import TV
from pnp_internal.solvers import ADMM, HQS, IDBP
from pnp_internal.solvers.schedules import DPIR, Constant, IDBPDecay


@pytest.fixture
def inpaint(camera):
    op = O.Inpainting(O.masks.random_mask(0.5, img_shape=(1, 64, 64), seed=0),
                      img_shape=(1, 64, 64))
    return op, op.A(camera)


def test_operator_kinds():
    s = (1, 16, 16)
    assert operator_kind(O.Blur(O.kernels.gaussian(1.0), img_shape=s)) == "blur"
    assert operator_kind(O.Downsampling(2, img_shape=s)) == "sr"
    assert operator_kind(O.Denoising(img_shape=s)) == "denoise"
    assert operator_kind(O.CompressedSensing(0.5, img_shape=s)) == "cs"
    assert operator_kind(dinv.physics.Inpainting(img_size=s, mask=0.5)) == "inpaint"
    assert operator_kind(dinv.physics.BlurFFT(img_size=s, filter=torch.ones(1, 1, 3, 3) / 9)) \
        == "blur"


def test_default_table():
    s = (1, 16, 16)
    name, opts = default_settings(O.Blur(O.kernels.gaussian(1.0), img_shape=s), 0.01)
    assert name == "hqs" and opts["max_iter"] == 8 and isinstance(opts["schedule"], DPIR)
    name, opts = default_settings(O.Downsampling(3, img_shape=(1, 18, 18)), 0.0)
    assert name == "idbp" and opts["max_iter"] == 30
    assert opts["schedule"] == IDBPDecay.for_scale(3)
    assert default_settings(O.Downsampling(2, img_shape=s), 0.01)[0] == "hqs"
    assert default_settings(O.CompressedSensing(0.5, img_shape=s), 0.0)[0] == "admm"
    name, opts = default_settings(O.Denoising(img_shape=s), 0.1)
    assert name == "idbp" and opts["max_iter"] == 1 and opts["schedule"] == Constant()
    name, opts = default_settings(O.Blur(O.kernels.gaussian(1.0), img_shape=s), 0.01, "idbp")
    assert name == "idbp" and opts["noise_std"] == 0.01


def test_solve_by_names_and_objects(inpaint, camera):
    op, y = inpaint
    res = solve(y, op, prior="tv", solver="idbp", max_iter=6, x_true=camera)
    assert res.n_iter == 6 and res.history["psnr"][-1] > psnr(y, camera).item() + 8
    # the same with objects: class + prior object, or a configured instance
    res2 = solve(y, op, prior=TV(), solver=IDBP, max_iter=6,
                 schedule=IDBPDecay(49 / 255, 2 / 255))
    assert torch.allclose(res.x, res2.x)
    res3 = solve(y, op, solver=IDBP(TV(), max_iter=6, schedule=IDBPDecay(49 / 255, 2 / 255)))
    assert torch.allclose(res.x, res3.x)
    # a plain function as prior, default solver for inpainting (ADMM)
    res4 = solve(y, op, prior=lambda x, s: TV()(x, s), max_iter=4)
    assert res4.n_iter == 4


def test_solve_denoising_default_is_one_denoiser_call(camera):
    op = O.Denoising(img_shape=(1, 64, 64))
    y = op.measure(camera, noise_std=0.1, seed=0)
    res = solve(y, op, prior="tv", noise_std=0.1)
    assert res.n_iter == 1 and torch.allclose(res.x, TV()(y, 0.1), atol=1e-6)


def test_solve_errors(inpaint):
    op, y = inpaint
    with pytest.raises(ValueError, match="unknown solver 'fista'; valid: idbp, admm, hqs"):
        solve(y, op, solver="fista")
    with pytest.raises(ValueError, match="unknown prior 'nlm'; valid names: tv, bm3d"):
        solve(y, op, prior="nlm")
    with pytest.raises(TypeError, match=r"unknown option\(s\) gamma for ADMM; valid options: "
                                        r"noise_std, max_iter"):
        solve(y, op, solver="admm", gamma=2.0)
    with pytest.raises(TypeError, match="configured IDBP instance"):
        solve(y, op, solver=IDBP(TV()), max_iter=3)
    with pytest.raises(TypeError, match="prior cannot be given"):
        solve(y, op, prior="tv", solver=HQS(TV()))
    with pytest.raises(TypeError, match="solver must be one of"):
        solve(y, op, solver=3)
    with pytest.raises(ValueError, match="noise_std"):
        solve(y, op, noise_std=-1.0)
    with pytest.raises(ValueError, match="max_iter"):
        solve(y, op, max_iter=0)
    assert issubclass(ADMM, object)
