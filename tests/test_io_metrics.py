"""Image io round trips and the metrics against scikit-image's reference implementations."""

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from pnp_internal.io import read_image, write_image
from pnp_internal.metrics import psnr, rgb_to_y, ssim


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
@pytest.mark.parametrize("channels", [1, 3])
def test_lossless_round_trip_is_exact_to_8_bits(tmp_path, suffix, channels, rng):
    x = torch.randint(0, 256, (1, channels, 9, 7), generator=rng).float() / 255
    write_image(tmp_path / f"x{suffix}", x)
    assert torch.equal(read_image(tmp_path / f"x{suffix}"), x)


def test_sixteen_bit_png_keeps_sixteen_bits(tmp_path, rng):
    x = torch.rand(1, 1, 8, 8, generator=rng)
    write_image(tmp_path / "x.png", x, bit_depth=16)
    assert (read_image(tmp_path / "x.png") - x).abs().max() <= 0.5 / 65535 + 1e-7


def test_rgba_and_palette_become_rgb(tmp_path):
    rgba = (np.arange(4 * 5 * 4).reshape(4, 5, 4) % 256).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    x = read_image(tmp_path / "a.png")
    assert x.shape == (1, 3, 4, 5)
    assert torch.allclose(x[0].permute(1, 2, 0), torch.from_numpy(rgba[..., :3] / 255.0).float())
    Image.fromarray(rgba[..., 0]).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape[1] == 3


def test_jpeg_reads_close_to_written(tmp_path, astronaut):
    write_image(tmp_path / "a.jpg", astronaut)
    assert psnr(read_image(tmp_path / "a.jpg"), astronaut).item() > 25


def test_bad_files_raise_oserror(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(OSError, match="not a readable image"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(OSError, match="no such file"):
        read_image(tmp_path / "missing.png")


def test_write_rejects_bad_tensors(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        write_image(tmp_path / "x.png", torch.full((1, 1, 4, 4), float("nan")))
    with pytest.raises(ValueError, match="C in"):
        write_image(tmp_path / "x.png", torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="suffix"):
        write_image(tmp_path / "x.gif", torch.zeros(1, 1, 4, 4))


def test_psnr_matches_skimage(astronaut, rng):
    noisy = (astronaut + 0.05 * torch.randn(astronaut.shape, generator=rng)).clamp(0, 1)
    ref = peak_signal_noise_ratio(astronaut.numpy(), noisy.numpy(), data_range=1.0)
    assert psnr(noisy, astronaut).item() == pytest.approx(ref, abs=1e-4)


def test_psnr_is_per_image_and_border_crops(astronaut):
    x = torch.cat([astronaut, astronaut])
    y = x.clone()
    y[0, :, 0, :] += 0.5  # error only on the first row of the first image
    values = psnr(y, x, border=1)
    assert values.shape == (2,) and torch.isinf(values).all()
    assert torch.isfinite(psnr(y, x)[0])


def test_y_channel_uses_bt601():
    white, black = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    assert torch.allclose(rgb_to_y(white), torch.full((1, 1, 2, 2), 235 / 255))
    assert torch.allclose(rgb_to_y(black), torch.full((1, 1, 2, 2), 16 / 255))


def test_ssim_is_one_on_identity_and_drops_with_noise(astronaut, rng):
    noisy = (astronaut + 0.1 * torch.randn(astronaut.shape, generator=rng)).clamp(0, 1)
    assert ssim(astronaut, astronaut).item() == pytest.approx(1.0, abs=1e-5)
    assert ssim(noisy, astronaut).item() < 0.8


def test_metric_shape_errors(astronaut):
    with pytest.raises(ValueError, match="same shape"):
        psnr(astronaut, astronaut[..., :32])
    with pytest.raises(ValueError, match="border"):
        psnr(astronaut, astronaut, border=40)
