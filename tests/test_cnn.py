"""The project's CNN denoiser: shipped weights denoise real images, loaders, bad inputs."""

import math
import warnings

import pytest
import torch
from deepinv.models import DRUNet, DnCNN

from conftest import real_image
from pnp_internal.priors import TV, CNNDenoiser, available, load_denoiser, pretrained
from pnp_internal.priors.cnn import SIGMA_MAX

SIGMA = 25 / 255


def psnr(a, b):
    return 10 * math.log10(1.0 / float(((a.clamp(0, 1) - b) ** 2).mean()))


def small(channels=3, seed=0, residual=False):
    torch.manual_seed(seed)
    return CNNDenoiser(channels, nc=(8, 16, 32, 64), nb=1, residual=residual).eval()


def test_weights_are_shipped():
    assert {"drunet-lite-color", "drunet-lite-gray"} <= set(available())


@pytest.mark.parametrize("name", available())
def test_shipped_weights_denoise_real_image(name):
    gray = "gray" in name
    x = real_image("camera" if gray else "astronaut", 96, gray=gray)
    y = x + SIGMA * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    model = pretrained(name)
    assert model.metadata["format"] == "pnp_internal-denoiser-v1"
    for key in ("architecture", "training_command", "steps", "data", "val_psnr_sigma25"):
        assert key in model.metadata
    assert next(model.parameters()).dtype == torch.float32
    xh = model(y, SIGMA)
    p_cnn, p_noisy = psnr(xh, x), psnr(y, x)
    p_tv = psnr(TV()(y, SIGMA), x)
    assert p_cnn > p_noisy + 6, (p_cnn, p_noisy)
    assert p_cnn > p_tv, (p_cnn, p_tv)


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match="available: .*drunet-lite"):
        pretrained("no-such-model")


def test_matches_deepinv_drunet_and_any_size(tmp_path):
    """A deepinv DRUNet state dict loads and gives deepinv's output; odd sizes are padded."""
    torch.manual_seed(1)
    ref = DRUNet(3, 3, nc=(8, 16, 32, 64), nb=1, pretrained=None).eval()
    torch.save(ref.state_dict(), tmp_path / "drunet.pth")
    model = load_denoiser(tmp_path / "drunet.pth")
    assert isinstance(model, CNNDenoiser) and model.config["nc"] == [8, 16, 32, 64]
    model.precision = "fp32"  # exact float32 comparison
    x = torch.rand(2, 3, 32, 40)
    with torch.no_grad():
        expected = ref(x, 0.1)
    torch.testing.assert_close(model(x, 0.1), expected, atol=1e-5, rtol=1e-5)
    sig = torch.tensor([0.05, 0.1])  # per-image sigma
    torch.testing.assert_close(model(x, sig)[1:], expected[1:], atol=1e-5, rtol=1e-5)
    odd = torch.rand(1, 3, 37, 45)
    out = model(odd, 0.1)
    assert out.shape == odd.shape and torch.isfinite(out).all()
    # padding is local: the crop-back of a padded run equals the run on the padded image
    padded = torch.nn.functional.pad(odd, (0, 3, 0, 3), mode="reflect")
    torch.testing.assert_close(out, model(padded, 0.1)[..., :37, :45])


def test_loads_deepinv_dncnn(tmp_path):
    torch.manual_seed(2)
    ref = DnCNN(1, 1, depth=4, nf=8, pretrained=None).eval()
    torch.save({"state_dict": ref.state_dict()}, tmp_path / "dncnn.pt")
    model = load_denoiser(tmp_path / "dncnn.pt")
    assert model.config == {"arch": "dncnn", "channels": 1, "depth": 4, "nf": 8, "bias": True}
    x = torch.rand(1, 1, 20, 24)
    with torch.no_grad():
        torch.testing.assert_close(model(x, 0.1), ref(x))


def test_safetensors_roundtrip_fp16(tmp_path):
    m = small(1, residual=True)
    m.precision = "fp32"
    m.save(tmp_path / "m.safetensors", metadata={"steps": 3})
    back = load_denoiser(tmp_path / "m.safetensors")
    back.precision = "fp32"
    assert back.metadata["steps"] == "3" and back.residual
    plain = CNNDenoiser(1, nc=(8, 16, 32, 64), nb=1, precision="fp32")
    plain.net.load_state_dict(m.net.state_dict())
    x = torch.rand(1, 1, 16, 16)
    torch.testing.assert_close(m(x, 0.1), x + plain.eval()(x, 0.1))  # global residual
    x = real_image("camera", 32, gray=True)
    torch.testing.assert_close(back(x, 0.1), m(x, 0.1), atol=2e-3, rtol=0)
    with pytest.raises(ValueError, match="1-channel model, expected channels=3"):
        load_denoiser(tmp_path / "m.safetensors", channels=3)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_denoiser(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="not a valid safetensors"):
        load_denoiser(tmp_path / "bad.safetensors")
    (tmp_path / "bad.pth").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="weights_only"):
        load_denoiser(tmp_path / "bad.pth")
    sd = DRUNet(3, 3, nc=(8, 16, 32, 64), nb=1, pretrained=None).state_dict()
    sd.pop("m_tail.weight")
    torch.save(sd, tmp_path / "missing_key.pth")
    with pytest.raises(ValueError, match="missing keys .*m_tail"):
        load_denoiser(tmp_path / "missing_key.pth")
    torch.save({"foo.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="unrecognised state dict"):
        load_denoiser(tmp_path / "other.pth")
    # architecture metadata says nb=2 but the tensors are for nb=1
    from safetensors.torch import save_file
    m = small(3)
    save_file({k: v.contiguous() for k, v in m.net.state_dict().items()},
              str(tmp_path / "lie.safetensors"),
              metadata={"architecture": '{"arch": "drunet", "channels": 3, '
                                        '"nc": [8, 16, 32, 64], "nb": 2}'})
    with pytest.raises(ValueError, match="does not match"):
        load_denoiser(tmp_path / "lie.safetensors")


def test_noise_level_map_for_spatially_varying_noise():
    """A constant map is the scalar call; on noise whose level ramps from 5 to 50 (/255) across
    a real image, the true map beats the single mean level."""
    x = real_image("camera", 96, gray=True)
    model = pretrained("drunet-lite-gray")
    assert torch.equal(model(x, 0.1), model(x, torch.full((1, 1, 96, 96), 0.1)))
    ramp = torch.linspace(5 / 255, 50 / 255, 96).view(1, 1, 1, 96).expand(1, 1, 96, 96)
    y = x + ramp * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    p_map, p_mean = psnr(model(y, ramp), x), psnr(model(y, float(ramp.mean())), x)
    assert p_map > p_mean + 3, (p_map, p_mean)
    with pytest.raises(ValueError, match="noise-level map must have shape"):
        model(y, ramp[..., :95])
    with pytest.raises(ValueError, match="noise-level map.*>= 0"):
        model(y, -ramp)


def test_bad_inputs_and_sigma_warning():
    m = small(3)
    with pytest.raises(ValueError, match="RGBA.*x\\[:, :3\\]"):
        m(torch.rand(1, 4, 16, 16), 0.1)
    with pytest.raises(ValueError, match="2 channels.*x\\[:, :1\\]"):
        m(torch.rand(1, 2, 16, 16), 0.1)
    with pytest.raises(ValueError, match="gray model"):
        m(torch.rand(1, 1, 16, 16), 0.1)
    with pytest.raises(ValueError, match="sigma"):
        m(torch.rand(1, 3, 16, 16), -0.1)
    with pytest.raises(ValueError, match="shape"):
        m(torch.rand(2, 3, 16, 16), torch.tensor([0.1, 0.1, 0.1]))
    with pytest.warns(RuntimeWarning, match="above the trained range"):
        out = m(torch.rand(1, 3, 16, 16), 2 * SIGMA_MAX)
    assert torch.isfinite(out).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m(torch.rand(1, 3, 16, 16), 2 * SIGMA_MAX)  # warned once per instance only


def test_gradients_flow_when_input_requires_grad():
    m = small(1)
    x = torch.rand(1, 1, 16, 16, requires_grad=True)
    m(x, 0.1).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with torch.no_grad():
        assert not m(torch.rand(1, 1, 16, 16), 0.1).requires_grad


def test_bf16_inference_close_to_float32():
    m = small(3, residual=True)
    x = real_image("astronaut", 40)
    m.precision = "fp32"
    ref = m(x, 0.1)
    assert m.precision_used == "fp32"
    m.precision = "bf16"
    assert (m(x, 0.1) - ref).abs().max() < 2e-2 and m.precision_used == "bf16"
    m.precision = "auto"  # calls that need gradients stay in float32
    xg = x.clone().requires_grad_(True)
    out = m(xg, 0.1)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.detach(), ref)
    assert m.precision_used == "fp32"


def test_self_ensemble_is_equivariant_and_beats_one_call():
    """The mean over the 8 flips/rotations commutes with a flip (a noise map turns with the
    image) and denoises a real photo better than one call."""
    from pnp_internal.priors import SelfEnsemble

    x = real_image("astronaut", 96)
    y = x + SIGMA * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    model = pretrained("drunet-lite-color")
    ensemble = SelfEnsemble(model)
    out = ensemble(y, SIGMA)
    assert torch.allclose(ensemble(y.flip(-1), SIGMA), out.flip(-1), atol=1e-5)
    ramp = torch.linspace(0.02, 0.2, 96).view(1, 1, 1, 96).expand(1, 1, 96, 96)
    turned = ensemble(y.transpose(-2, -1), ramp.transpose(-2, -1))
    assert torch.allclose(turned, ensemble(y, ramp).transpose(-2, -1), atol=1e-5)
    assert psnr(out, x) > psnr(model(y, SIGMA), x)


def test_self_ensemble_over_chosen_transforms_and_the_orientation_groups():
    """``transforms=`` averages those flips/rotations only (one: the prior sees the image
    turned); the copies' groups are disjoint and cover the 8; bad choices are refused."""
    from pnp_internal.priors import SelfEnsemble
    from pnp_internal.priors.self_ensemble import ORIENTATIONS, orientation_group
    from pnp_internal.solvers.zssr_data import dihedral

    shift = lambda x, sigma: torch.roll(x, 1, dims=-1)  # noqa: E731 (not flip-equivariant)
    x = torch.rand(1, 1, 8, 8)
    turned = SelfEnsemble(shift, transforms=(5,))(x, 0.1)
    assert torch.equal(turned, dihedral(shift(dihedral(x, 5), 0.1), 5, inverse=True))
    assert not torch.equal(turned, shift(x, 0.1))
    pair = SelfEnsemble(shift, transforms=(0, 5))(x, 0.1)
    assert torch.allclose(pair, (shift(x, 0.1) + turned) / 2)
    every = SelfEnsemble(shift, transforms=range(8))(x, 0.1)
    assert torch.allclose(every, SelfEnsemble(shift)(x, 0.1))
    assert orientation_group(0, 1) == (0,)
    assert sorted(orientation_group(0, 4) + orientation_group(1, 4)) == list(range(8))
    assert sorted(ORIENTATIONS) == list(range(8))
    with pytest.raises(ValueError, match="fewer copies"):
        orientation_group(2, 4)
    with pytest.raises(ValueError, match="subset of 0..7"):
        SelfEnsemble(shift, transforms=(8,))
    with pytest.raises(ValueError, match="subset of 0..7"):
        SelfEnsemble(shift, transforms=())


def test_one_call_and_adapted_denoisers_use_the_recipe_books_colour_weights():
    """``cnn`` applies ``ONE_CALL_WEIGHTS`` to a colour ``y``; the solvers' prior stays
    ``drunet-lite-color``; the one-call weights denoise a real photo."""
    import pnp_internal as pi
    from pnp_internal import recipes
    from pnp_internal.catalog.pnp import shipped_cnn

    x = real_image("astronaut", 64)
    y = x + SIGMA * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    den = pi.operators.Denoising(img_shape=(3, 64, 64))
    res = pi.solve(y, den, method="cnn", noise_std=SIGMA)
    one_call = pretrained(recipes.ONE_CALL_WEIGHTS.value[3])
    with torch.no_grad():
        assert torch.allclose(res.x, one_call(y, SIGMA).clamp(0, 1), atol=1e-4)
    prior = shipped_cnn(3)
    assert prior.metadata["steps"] != one_call.metadata["steps"]
    assert psnr(res.x, x) > psnr(y.clamp(0, 1), x) + 5
    # the adapted denoisers start from the same weights: with no step they are ``cnn`` (both in
    # float32: SURE tunes and applies in float32, while ``cnn`` takes bf16 where it is native)
    plain = pi.solve(y, den, method="cnn", noise_std=SIGMA, precision="fp32")
    for method in ("cnn-sure", "cnn-gaintuning"):
        adapted = pi.solve(y, den, method=method, noise_std=SIGMA, steps=0, precision="fp32")
        assert torch.allclose(adapted.x, plain.x, atol=1e-4), method
    # and the tuned CNN inside the x8-Wiener pipeline is that pipeline (to the bm3d package's
    # repeatability, as in tests/test_methods.py)
    x8 = pi.solve(y, den, method="cnn-x8-wiener", noise_std=SIGMA, precision="fp32")
    for method in ("cnn-sure-x8-wiener", "cnn-pilot-x8-wiener"):
        adapted = pi.solve(y, den, method=method, noise_std=SIGMA, steps=0, precision="fp32")
        assert abs(float(psnr(adapted.x, x) - psnr(x8.x, x))) < 0.02, method
        assert "BM3D's Wiener" in adapted.message


def test_weights_beyond_the_shard_size_go_to_shards_and_load_back(tmp_path, monkeypatch):
    """``io.write_weights`` splits a state dict over ``SHARD_BYTES`` into shard files named in
    the first file's metadata; ``load_denoiser`` reads them all back, weights unchanged."""
    from pnp_internal import io

    monkeypatch.setattr(io, "SHARD_BYTES", 40_000)
    model = CNNDenoiser(1, nc=(8, 16, 32, 64), nb=1)
    model.save(tmp_path / "w.safetensors", metadata={"shards": "stale"})
    assert len(list(tmp_path.glob("w.safetensors.part*"))) >= 2
    back = load_denoiser(tmp_path / "w.safetensors")
    assert all(torch.equal(v.half().float(), back.net.state_dict()[k])
               for k, v in model.net.state_dict().items())
    (tmp_path / "w.safetensors.part1").unlink()
    with pytest.raises(FileNotFoundError, match="part1, which is missing"):
        load_denoiser(tmp_path / "w.safetensors")
