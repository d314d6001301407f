"""The generator, ``pnp-internal train-generator``, CSGM and IAGAN: images in the generator's
range are recovered from few measurements, adaptation beats the fixed generator on a real
image, the back-projection is consistent with ``y``, and bad input is refused clearly."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

import pnp_internal as pi
from conftest import real_image
from pnp_internal import io, metrics, operators, recipes
from pnp_internal.bench.tasks import center_crop, default_data_root
from pnp_internal.generative import CSGM, IAGAN, Generator, pretrained
from pnp_internal.generative.training import main as train_main


def tiny(seed=0):
    torch.manual_seed(seed)
    return Generator(nz=8, ngf=8).eval()


def test_save_load_round_trip_and_gray_is_luma(tmp_path):
    g = tiny()
    g.save(tmp_path / "g.safetensors", metadata={"steps": 3})
    back = Generator.load(tmp_path / "g.safetensors")
    z = torch.randn(2, 8)
    with torch.no_grad():
        colour = back(z)
        assert (colour - g(z)).abs().max() < 2e-3  # float16 weights
        luma = back.gray()(z)
    expected = 0.299 * colour[:, :1] + 0.587 * colour[:, 1:2] + 0.114 * colour[:, 2:]
    assert luma.shape == (2, 1, 64, 64) and torch.allclose(luma, expected, atol=1e-6)
    assert back.metadata["steps"] == "3"
    with pytest.raises(ValueError, match=r"shape \(B, 8\)"):
        g(torch.zeros(2, 9))


def test_not_a_generator_file_and_missing_weights(tmp_path):
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a pnp_internal generator"):
        Generator.load(tmp_path / "other.safetensors")
    with pytest.raises(FileNotFoundError, match="train-generator"):
        Generator.load(tmp_path / "none.safetensors")


def test_csgm_recovers_an_image_in_the_generators_range():
    g = tiny(1)
    with torch.no_grad():
        x = g(torch.randn(1, 8, generator=torch.Generator().manual_seed(3)))[:, :1]
    op = operators.CompressedSensing(0.1, img_shape=(1, 64, 64), seed=0)
    y = op.A(x)
    res = CSGM(g, restarts=4, max_iter=300, lr=0.05, latent_weight=0.0).solve(y, op)
    assert metrics.psnr(res.x, x) > 35  # 410 measurements, 8 unknowns


def measured_crop(rate):
    """A 64x64 crop of a Set12 image (never in training), its CS operator and measurements."""
    x = center_crop(io.read_image(default_data_root() / "test" / "set12" / "05.png"), 64)
    op = operators.CompressedSensing(rate, img_shape=(1, 64, 64), seed=0)
    return x, op, op.A(x)


def test_iagan_beats_csgm_and_back_projection_fits_y():
    x, op, y = measured_crop(0.25)
    g = pretrained()
    fixed = CSGM(g, restarts=2, max_iter=100)
    csgm = fixed.solve(y, op)
    adapted = IAGAN(g, csgm=fixed, max_iter=80, lr=1e-4, stages=3, patience=50)
    iagan = adapted.solve(y, op)
    adapted.back_projection = True
    bp = adapted.solve(y, op)
    assert metrics.psnr(iagan.x, x) > metrics.psnr(csgm.x, x) + 2
    assert metrics.psnr(bp.x, x) >= metrics.psnr(iagan.x, x)
    # consistent with y up to the final clipping to [0, 1]
    assert (op.A(bp.x) - y).norm() < 0.5 * (op.A(iagan.x) - y).norm()
    assert "hold-out loss was lowest at step" in iagan.message


def test_tv_term_smooths_and_refit_uses_the_held_out_measurements():
    from pnp_internal.priors._dip_fit import tv_loss

    _, op, y = measured_crop(0.1)
    g = pretrained()
    opts = dict(csgm=CSGM(g, restarts=1, max_iter=60), max_iter=40, patience=40, holdout=0.2)
    plain = IAGAN(g, **opts).solve(y, op)
    smooth = IAGAN(g, tv_weight=0.1, **opts).solve(y, op)
    assert tv_loss(smooth.x) < 0.9 * tv_loss(plain.x)
    refit = IAGAN(g, refit=True, **opts).solve(y, op)
    # the same steps and code, fitted to every entry of y: a closer fit of y
    assert refit.n_iter == plain.n_iter and "run again on all of y" in refit.message
    assert (op.A(refit.x) - y).norm() < (op.A(plain.x) - y).norm()
    with pytest.raises(ValueError, match="red_weight >= 0"):
        IAGAN(g, tv_weight=-1)


def test_red_term_pulls_towards_the_denoisers_output():
    from pnp_internal.priors.cnn import pretrained as cnn

    x, op, y = measured_crop(0.1)
    g = pretrained()
    opts = dict(csgm=CSGM(g, restarts=1, max_iter=60), max_iter=40, patience=40, holdout=0.2)
    denoiser = cnn("drunet-lite-gray").eval()

    def off_the_denoiser(res):  # RED's residual |x - D(x)|
        with torch.no_grad():
            return float((res.x - denoiser(res.x, 5 / 255)).norm())

    plain = IAGAN(g, **opts).solve(y, op)
    red = IAGAN(g, red_weight=10.0, red_sigma=5 / 255, **opts).solve(y, op)
    assert off_the_denoiser(red) < 0.95 * off_the_denoiser(plain)
    with pytest.raises(ValueError, match="red_sigma > 0"):
        IAGAN(g, red_sigma=0)


def test_falling_red_sigma_calls_the_denoiser_on_a_geometric_schedule():
    x, op, y = measured_crop(0.1)
    g = pretrained()
    called = []

    def recording(image, sigma):  # the denoiser that the RED term is given
        called.append(sigma)
        return image

    solver = IAGAN(g, csgm=CSGM(g, restarts=1, max_iter=5), max_iter=3, patience=3,
                   red_weight=1.0, red_sigma=0.04, red_sigma_final=0.01, refit=True,
                   red_denoiser=recording)
    res = solver.solve(y, op)
    # 0.04 -> 0.02 -> 0.01 over the 3 steps; the refit starts again at 0.04
    n_refit = len(called) - 3
    assert called[:3] == pytest.approx([0.04, 0.02, 0.01])
    assert called[3:] == pytest.approx([0.04, 0.02, 0.01][:n_refit]) and res.n_iter == 3
    assert IAGAN(g, red_sigma=0.04).red_sigma_at(200) == 0.04  # None: constant
    with pytest.raises(ValueError, match="red_sigma_final must be > 0"):
        IAGAN(g, red_sigma_final=0.0)


def test_coarse_stages_are_a_prefix_of_the_weights_and_codes_are_averaged():
    g = tiny()
    every = list(g.parameters())
    assert [id(p) for p in g.coarse_parameters(5)] == [id(p) for p in every]
    three = g.coarse_parameters(3)
    assert [id(p) for p in three] == [id(p) for p in every[:len(three)]]
    assert three[-1].shape == (2 * 8,)  # the 16x16 stage's batch norm (width 2 ngf)
    for bad in (0, 6):
        with pytest.raises(ValueError, match=r"stages must be in \[1, 5\]"):
            g.coarse_parameters(bad)
    x, op, y = measured_crop(0.25)
    fixed = CSGM(g, restarts=2, max_iter=5)
    before = [p.clone() for p in g.parameters()]
    res = IAGAN(g, csgm=fixed, max_iter=5, stages=2, ensemble=2).solve(y, op)
    assert res.x.shape == x.shape and "first of 2 codes, averaged" in res.message
    # _adapt works on a copy: the generator given keeps its weights
    assert all(torch.equal(a, b) for a, b in zip(g.parameters(), before))
    with pytest.raises(ValueError, match="ensemble=3 needs as many CSGM restarts"):
        IAGAN(g, csgm=fixed, ensemble=3).solve(y, op)


def test_any_other_size_is_refused_with_the_way_out():
    op = operators.Denoising(img_shape=(1, 96, 96))
    with pytest.raises(ValueError, match="64x64.*dip"):
        pi.solve(torch.rand(1, 1, 96, 96), op, method="csgm", noise_std=0.1)


def test_solve_by_name_reads_the_recipes(monkeypatch):
    monkeypatch.setattr(recipes, "CSGM", dataclasses.replace(recipes.CSGM, max_iter=50))
    x = real_image("astronaut", 64)
    op = operators.Inpainting(operators.masks.random_mask(0.5, img_shape=(3, 64, 64), seed=0),
                              img_shape=(3, 64, 64))
    res = pi.solve(op.A(x), op, method="iagan-bp", noise_std=0.0, max_iter=5, patience=5)
    assert res.x.shape == x.shape and {"CSGM", "IAGAN"} <= set(res.recipes)
    assert metrics.psnr(res.x, x) > metrics.psnr(op.A(x), x)


def test_train_generator_writes_samples_and_resumes(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        img = (real_image(name, 72)[0].permute(1, 2, 0).numpy() * 255).round()
        Image.fromarray(img.astype(np.uint8)).save(folder / f"{name}.png")
    out, ckpt = tmp_path / "g.safetensors", tmp_path / "g.ckpt.pt"
    args = ["--data", str(folder), "--out", str(out), "--nz", "8", "--ngf", "8", "--batch",
            "2", "--n-val", "1", "--scales", "1", "--threads", "1", "--checkpoint", str(ckpt)]
    assert train_main([*args, "--steps", "2"]) == 0
    g = Generator.load(out)
    assert "train-generator --data" in g.metadata["training_command"]
    assert Image.open(out.with_suffix(".png")).size == (8 * 66 + 2, 8 * 66 + 2)
    assert train_main([*args, "--steps", "4", "--resume"]) == 0
    assert torch.load(ckpt, weights_only=False)["step"] == 4
    assert train_main([*args, "--steps", "1", "--sigma-x", "0"]) == 2
