"""pnp_internal.solve: names, recipes per operator kind, noise level, option validation."""

import warnings
from pathlib import Path

import deepinv as dinv
import pytest
import torch

import pnp_internal as pi
from pnp_internal import operators as O
from pnp_internal import recipes
from pnp_internal.api import operator_kind, solve
from pnp_internal.metrics import psnr
from pnp_internal.priors import TV
from pnp_internal.solvers import HQS, IDBP
from pnp_internal.solvers.schedules import DPIR, IDBPDecay

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


@pytest.fixture
def inpaint(camera):
    op = O.Inpainting(O.masks.random_mask(0.5, img_shape=(1, 64, 64), seed=0),
                      img_shape=(1, 64, 64))
    return op, op.measure(camera)


def test_operator_kinds_one_vocabulary():
    from pnp_internal.priors.training_pairs import operator_kind as pairs_kind

    s = (1, 16, 16)
    blur = O.Blur(O.kernels.gaussian(1.0), img_shape=s)
    assert operator_kind(blur) == "deblur" == pairs_kind(blur)
    assert operator_kind(O.Downsampling(2, img_shape=s)) == "sr"
    assert operator_kind(O.Denoising(img_shape=s)) == "denoise"
    assert operator_kind(O.CompressedSensing(0.5, img_shape=s)) == "cs"
    assert operator_kind(dinv.physics.Inpainting(img_size=s, mask=0.5)) == "inpaint"
    assert operator_kind(dinv.physics.BlurFFT(img_size=s, filter=torch.ones(1, 1, 3, 3) / 9)) \
        == "deblur"
    custom = O.from_functions(lambda x: 2 * x, lambda y: 2 * y, img_shape=s, meas_shape=s)
    assert operator_kind(custom) == "other" and pairs_kind(custom) is None


def test_recipe_book_is_complete_and_backed():
    """Every kind has a default method that handles it; every record cited exists."""
    for kind in recipes.KINDS:
        name = recipes.DEFAULT_METHOD[kind].value
        assert kind in pi.catalog.get(name).kinds, (kind, name)
        for solver in ("idbp", "hqs", "admm"):
            assert recipes.pnp_recipe(kind, solver).max_iter >= 1
    cited = [r.record for r in vars(recipes).values()
             if hasattr(r, "record") and isinstance(getattr(r, "record"), str)]
    cited += [r.record for r in recipes.PNP.values()]
    cited += [r.record for t in (recipes.DEFAULT_METHOD, recipes.DEFAULT_SOLVER,
                                 recipes.IMAGE_ADAPTED) for r in t.values()]
    missing = sorted({c for c in cited if c and not (RESULTS / f"{c}.json").exists()
                      and not (RESULTS / f"{c}.jsonl").exists()})
    assert not missing, f"records cited by the recipe book but absent: {missing}"


def test_recipe_schedules():
    sr = recipes.pnp_recipe("sr", "idbp")
    assert sr.build_schedule(0.0, 3) == IDBPDecay(36 / 255, 1 / 255) and sr.init == "bicubic"
    hqs = recipes.pnp_recipe("sr", "hqs").build_schedule(0.0, 2)
    assert isinstance(hqs, DPIR) and hqs.sigma_end == pytest.approx(2 / 255)
    deblur = recipes.pnp_recipe("deblur", "idbp")
    assert deblur.eps(0.01) == pytest.approx(100 * 0.01 ** 2)
    assert recipes.pnp_recipe("other", "hqs") is recipes.PNP[("other", "hqs")]


def test_methods_listing():
    listing = pi.methods()
    for name in ("cnn-hqs", "ia-idbp", "ia-idbp-during", "gt-idbp", "cnn-gaintuning", "dip",
                 "dip-admm", "deep-decoder", "zssr", "zssr-fast", "self2self", "bm3d-hqs"):
        assert name in listing
    assert "zssr" in pi.methods("sr") and "zssr" not in pi.methods("deblur")
    assert "[sr]" in listing["zssr"]
    with pytest.raises(ValueError, match="unknown method 'nope'; known methods: bicubic"):
        solve(torch.zeros(1, 1, 8, 8), O.Denoising(img_shape=(1, 8, 8)), method="nope",
              noise_std=0.1)


def test_solve_by_names_and_objects(inpaint, camera):
    op, y = inpaint
    res = solve(y, op, prior="tv", solver="idbp", max_iter=6, x_true=camera)
    assert res.n_iter == 6 and res.history["psnr"][-1] > psnr(y, camera).item() + 8
    assert res.method == "tv-idbp" and res.noise_std == 0.0
    # the same through the method name
    by_name = solve(y, op, method="tv-idbp", max_iter=6)
    assert torch.equal(res.x, by_name.x)
    # a prior object inside a solver class
    res2 = solve(y, op, prior=TV(), solver=IDBP, max_iter=6)
    assert torch.allclose(res.x, res2.x)
    # a configured instance runs as it is
    res3 = solve(y, op, solver=IDBP(TV(), max_iter=6, schedule=IDBPDecay(24 / 255, 2 / 255),
                                    init="interpolate", eps=0.0))
    assert torch.allclose(res.x, res3.x) and res3.method == "IDBP"
    # a plain function as prior, the kind's default solver
    res4 = solve(y, op, prior=lambda x, s: TV()(x, s), max_iter=4)
    assert res4.n_iter == 4


def test_direct_solvers_as_instances(camera):
    """DIP, ZSSR and Self2Self instances go through solve like IDBP does."""
    from pnp_internal.priors import nets
    from pnp_internal.solvers import DIP, ZSSR
    from pnp_internal.solvers.self2self import Self2Self

    op = O.Denoising(img_shape=(1, 32, 32))
    y = op.measure(camera[..., :32, :32], noise_std=0.1, seed=0)
    res = solve(y, op, solver=DIP(nets.skip(1, width=8, depth=3), max_iter=3, early_stop=None))
    assert res.x.shape == y.shape and res.method == "DIP"
    res = solve(y, op, solver=Self2Self(steps=2, n_predictions=2))
    assert res.x.shape == y.shape and res.method == "Self2Self"
    sr = O.Downsampling(2, img_shape=(1, 32, 32))
    res = solve(sr.measure(camera[..., :32, :32]), sr,
                solver=ZSSR(max_iter=4, min_iter=2, crop=16, ensemble=False,
                            back_projection=0))
    assert res.x.shape == (1, 1, 32, 32) and res.method == "ZSSR"


def test_solve_denoising_by_prior_is_one_denoiser_call(camera):
    op = O.Denoising(img_shape=(1, 64, 64))
    y = op.measure(camera, noise_std=0.1, seed=0)
    res = solve(y, op, prior="tv")
    assert res.n_iter == 1 and res.method == "tv" and res.noise_std == pytest.approx(0.1)
    assert torch.allclose(res.x, TV()(y, 0.1).clamp(0, 1), atol=1e-6)


def test_noise_level_from_the_operator_or_estimated(camera):
    op = dinv.physics.Denoising(dinv.physics.GaussianNoise(0.08))
    y = camera + 0.08 * torch.randn(camera.shape, generator=torch.Generator().manual_seed(0))
    assert solve(y, op, method="tv").noise_std == pytest.approx(0.08)
    ours = O.Denoising(img_shape=(1, 64, 64))
    with pytest.warns(UserWarning, match="noise_std was not given: estimated"):
        est = solve(y, ours, method="tv").noise_std
    assert est == pytest.approx(0.08, rel=0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours.measure(camera, noise_std=0.05, seed=1)
        assert solve(ours.measure(camera, noise_std=0.05, seed=1), ours,
                     method="tv").noise_std == 0.05


def test_luminance_path_for_colour_sr(astronaut):
    """Colour bicubic SR with the CNN: Y restored by the gray model, chroma bicubic; RGB on
    request."""
    from deepinv.physics.functional import imresize_matlab

    from pnp_internal.color import rgb_to_ycbcr

    op = O.Downsampling(2, img_shape=(3, 64, 64))
    y = op.measure(astronaut)
    res = solve(y, op, method="cnn-idbp", max_iter=3)
    chroma = imresize_matlab(rgb_to_ycbcr(y)[:, 1:], scale=2)
    got = rgb_to_ycbcr(res.x)[:, 1:]
    inside = (res.x > 0.01).all(1, keepdim=True) & (res.x < 0.99).all(1, keepdim=True)
    assert torch.allclose(got * inside, chroma * inside, atol=2e-3)
    luma = O.Downsampling(2, img_shape=(1, 64, 64))
    gray = solve(rgb_to_ycbcr(y)[:, :1].contiguous(), luma, method="cnn-idbp", max_iter=3,
                 noise_std=0.0)
    assert torch.allclose(rgb_to_ycbcr(res.x)[:, :1] * inside, gray.x * inside, atol=2e-3)
    rgb = solve(y, op, method="cnn-idbp", max_iter=3, color="rgb")
    assert not torch.allclose(rgb.x, res.x, atol=1e-3)
    assert psnr(res.x, astronaut) > psnr(imresize_matlab(y, scale=2), astronaut)


def test_solve_errors(inpaint):
    op, y = inpaint
    with pytest.raises(ValueError, match="unknown solver 'fista'; valid: idbp, hqs, admm"):
        solve(y, op, solver="fista")
    with pytest.raises(ValueError, match="unknown prior 'nlm'; valid names: cnn, ia"):
        solve(y, op, prior="nlm")
    with pytest.raises(TypeError, match=r"unknown option\(s\) gamma for method 'cnn-admm' "
                                        r"\(they go to ADMM\); valid options: noise_std"):
        solve(y, op, solver="admm", gamma=2.0)
    with pytest.raises(TypeError, match="configured IDBP instance runs as it is"):
        solve(y, op, solver=IDBP(TV()), max_iter=3)
    with pytest.raises(TypeError, match="configured HQS instance"):
        solve(y, op, prior="tv", solver=HQS(TV()))
    with pytest.raises(TypeError, match="solver must be one of"):
        solve(y, op, solver=3)
    with pytest.raises(TypeError, match="either method= or prior=/solver="):
        solve(y, op, method="tv-admm", prior="tv")
    with pytest.raises(ValueError, match="noise_std must be a number >= 0"):
        solve(y, op, noise_std=-1.0)
    with pytest.raises(ValueError, match=r"noise_std=25 is above 1.*noise_std=25/255"):
        solve(y, op, noise_std=25)
    with pytest.raises(ValueError, match="max_iter"):
        solve(y, op, method="tv-admm", max_iter=0)
    with pytest.raises(ValueError, match="method 'zssr' does not handle inpaint operators"):
        solve(y, op, method="zssr")
