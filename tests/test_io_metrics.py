"""Image io round trips and the metrics against scikit-image's reference implementations."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

import png
import tifffile

from pnp_internal import io as pio
from pnp_internal.io import (PARTIAL_MARK, load_image, read_image, remove_partials, save_image,
                              write_image)
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


def _u16(rng_np, *shape):
    return rng_np.integers(0, 65536, shape, dtype=np.uint16)


def _write_png16(path, a, *, greyscale, alpha=False):
    """Write rows ``a`` (H, W * planes) uint16 as a 16-bit PNG with pypng."""
    planes = (1 if greyscale else 3) + alpha
    writer = png.Writer(a.shape[1] // planes, a.shape[0], greyscale=greyscale, alpha=alpha,
                        bitdepth=16)
    with open(path, "wb") as f:
        writer.write(f, a)


def test_eight_bit_gray_png_round_trip(tmp_path):
    a = (np.arange(6 * 7).reshape(6, 7) * 6).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "g.png")
    img = load_image(tmp_path / "g.png")
    assert img.x.shape == (1, 1, 6, 7) and img.alpha is None and img.bit_depth == 8
    assert img.path == tmp_path / "g.png"
    save_image(tmp_path / "out.png", img.x, bit_depth=img.bit_depth)
    back = Image.open(tmp_path / "out.png")
    assert back.mode == "L" and np.array_equal(np.asarray(back), a)


@pytest.mark.parametrize("greyscale", [True, False])
def test_sixteen_bit_png_read_with_full_precision(tmp_path, greyscale):
    planes = 1 if greyscale else 3
    a = _u16(np.random.default_rng(0), 5, 6 * planes)
    a[0, 0] = 1  # 1/65535: lost if the file were read as 8 bit
    _write_png16(tmp_path / "a.png", a, greyscale=greyscale)
    img = load_image(tmp_path / "a.png")
    assert img.bit_depth == 16 and img.alpha is None and img.x.shape == (1, planes, 5, 6)
    expected = a.reshape(5, 6, planes).transpose(2, 0, 1)[None] / 65535.0
    assert np.abs(img.x.numpy() - expected).max() < 1e-7
    save_image(tmp_path / "b.png", img.x, bit_depth=16)
    _, _, rows, info = png.Reader(filename=str(tmp_path / "b.png")).read()
    assert info["bitdepth"] == 16 and info["greyscale"] == greyscale
    assert np.array_equal(np.vstack([np.asarray(r) for r in rows]), a)


def test_sixteen_bit_rgb_png_keeps_sixteen_bits(tmp_path, rng):
    x = torch.rand(1, 3, 5, 4, generator=rng)
    write_image(tmp_path / "x.png", x, bit_depth=16)
    assert (read_image(tmp_path / "x.png") - x).abs().max() <= 0.5 / 65535 + 1e-7


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_rgba_png_alpha_round_trips_unchanged(tmp_path, bit_depth):
    gen = np.random.default_rng(1)
    if bit_depth == 8:
        rgba = gen.integers(0, 256, (4, 5, 4), dtype=np.uint8)
        Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    else:
        rgba = _u16(gen, 4, 5, 4)
        _write_png16(tmp_path / "a.png", rgba.reshape(4, 20), greyscale=False, alpha=True)
    img = load_image(tmp_path / "a.png")
    assert img.bit_depth == bit_depth and img.x.shape == (1, 3, 4, 5)
    assert img.alpha.dtype == rgba.dtype and np.array_equal(img.alpha, rgba[..., 3])
    save_image(tmp_path / "b.png", img.x, bit_depth=img.bit_depth, alpha=img.alpha)
    again = load_image(tmp_path / "b.png")
    assert np.array_equal(again.alpha, rgba[..., 3]) and torch.equal(again.x, img.x)


def test_la_png_round_trip(tmp_path):
    la = np.random.default_rng(2).integers(0, 256, (3, 4, 2), dtype=np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    img = load_image(tmp_path / "la.png")
    assert img.x.shape == (1, 1, 3, 4) and img.bit_depth == 8
    assert np.array_equal(img.alpha, la[..., 1])
    assert torch.equal(img.x[0, 0], torch.from_numpy(la[..., 0] / 255.0).float())
    save_image(tmp_path / "out.png", img.x, alpha=img.alpha)
    back = Image.open(tmp_path / "out.png")
    assert back.mode == "LA" and np.array_equal(np.asarray(back), la)


def test_palette_png_becomes_rgb_with_alpha_when_transparent(tmp_path):
    idx = (np.arange(12).reshape(3, 4) % 3).astype(np.uint8)
    pal = Image.fromarray(idx, "P")
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    pal.save(tmp_path / "p.png")
    img = load_image(tmp_path / "p.png")
    assert img.x.shape == (1, 3, 3, 4) and img.alpha is None and img.bit_depth == 8
    assert torch.equal(img.x[0, :, 0, 1], torch.tensor([0.0, 1.0, 0.0]))
    pal.save(tmp_path / "t.png", transparency=1)
    img = load_image(tmp_path / "t.png")
    assert np.array_equal(img.alpha, np.where(idx == 1, 0, 255).astype(np.uint8))
    save_image(tmp_path / "out.png", img.x, alpha=img.alpha)
    assert Image.open(tmp_path / "out.png").mode == "RGBA"


def test_one_bit_png_reads_as_gray(tmp_path):
    Image.fromarray(np.eye(4, dtype=bool)).save(tmp_path / "b.png")
    img = load_image(tmp_path / "b.png")
    assert img.bit_depth == 8 and img.alpha is None
    assert torch.equal(img.x[0, 0], torch.eye(4))


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_rgb_tiff_round_trip(tmp_path, bit_depth):
    top = 2 ** bit_depth - 1
    a = np.random.default_rng(3).integers(0, top + 1, (4, 6, 3)).astype(f"uint{bit_depth}")
    tifffile.imwrite(tmp_path / "a.tif", a, photometric="rgb")
    img = load_image(tmp_path / "a.tif")
    assert img.bit_depth == bit_depth and img.alpha is None and img.x.shape == (1, 3, 4, 6)
    save_image(tmp_path / "b.tiff", img.x, bit_depth=bit_depth)
    assert np.array_equal(tifffile.imread(tmp_path / "b.tiff"), a)


def test_sixteen_bit_rgba_tiff_round_trip(tmp_path):
    rgba = _u16(np.random.default_rng(4), 4, 5, 4)
    tifffile.imwrite(tmp_path / "a.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    img = load_image(tmp_path / "a.tif")
    assert img.bit_depth == 16 and img.x.shape == (1, 3, 4, 5)
    assert img.alpha.dtype == np.uint16 and np.array_equal(img.alpha, rgba[..., 3])
    save_image(tmp_path / "b.tif", img.x, bit_depth=16, alpha=img.alpha)
    assert np.array_equal(tifffile.imread(tmp_path / "b.tif"), rgba)


def test_gray_alpha_tiff_round_trip(tmp_path, rng):
    x = torch.rand(1, 1, 3, 4, generator=rng)
    alpha = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    save_image(tmp_path / "g.tif", x, bit_depth=16, alpha=alpha)
    img = load_image(tmp_path / "g.tif")
    assert img.bit_depth == 16 and img.x.shape == (1, 1, 3, 4)
    assert np.array_equal(img.alpha, alpha.astype(np.uint16) * 257)
    assert (img.x - x).abs().max() <= 0.5 / 65535 + 1e-7


def test_jpeg_and_bmp_round_trips(tmp_path, rng):
    x = torch.rand(1, 3, 8, 8, generator=rng).mul(0.2).add(0.4)
    save_image(tmp_path / "a.jpg", x)
    img = load_image(tmp_path / "a.jpg")
    assert img.bit_depth == 8 and img.alpha is None and img.x.shape == x.shape
    assert (img.x - x).abs().mean() < 0.05
    x8 = torch.randint(0, 256, (1, 3, 5, 7), generator=rng).float() / 255
    save_image(tmp_path / "a.bmp", x8)
    img = load_image(tmp_path / "a.bmp")
    assert img.bit_depth == 8 and img.alpha is None and torch.equal(img.x, x8)


def test_alpha_depth_is_converted_to_the_output_depth(tmp_path):
    x = torch.zeros(1, 1, 1, 3)
    save_image(tmp_path / "a.png", x, alpha=np.array([[0, 32896, 65535]], dtype=np.uint16))
    assert np.array_equal(load_image(tmp_path / "a.png").alpha, [[0, 128, 255]])


def test_save_image_refuses_what_the_format_cannot_hold(tmp_path):
    x = torch.zeros(1, 3, 4, 5)
    with pytest.raises(ValueError, match=r"\(H, W\) = \(4, 5\), got \(5, 4\)"):
        save_image(tmp_path / "a.png", x, alpha=np.zeros((5, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8 or uint16"):
        save_image(tmp_path / "a.png", x, alpha=np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="16 bits.*png.*tif"):
        save_image(tmp_path / "a.jpg", x, bit_depth=16)
    with pytest.raises(ValueError, match="alpha.*png.*tif"):
        save_image(tmp_path / "a.jpg", x, alpha=np.zeros((4, 5), np.uint8))
    with pytest.raises(ValueError, match=r"NaN.*\(1, 3, 4, 5\)"):
        save_image(tmp_path / "a.png", x + float("inf"))
    assert not list(tmp_path.iterdir())


def test_writes_are_atomic(tmp_path, monkeypatch):
    save_image(tmp_path / "sub" / "ok.png", torch.zeros(1, 1, 2, 2))
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["ok.png"]

    def broken(target, *args):
        Path(target).write_bytes(b"half an image")
        raise RuntimeError("disk full")

    monkeypatch.setattr(pio, "_encode", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        save_image(tmp_path / "bad.png", torch.zeros(1, 1, 2, 2))
    with pytest.raises(RuntimeError, match="disk full"):
        write_image(tmp_path / "sub" / "ok.png", torch.ones(1, 1, 2, 2))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["ok.png", "sub"]
    assert torch.equal(read_image(tmp_path / "sub" / "ok.png"), torch.zeros(1, 1, 2, 2))


def test_remove_partials_deletes_only_leftovers(tmp_path):
    leftover = tmp_path / f".x{PARTIAL_MARK}-123.png"
    leftover.write_bytes(b"")
    (tmp_path / f".y{PARTIAL_MARK}-4-0a1b2c3d.tif").write_bytes(b"")
    (tmp_path / f".r.json{PARTIAL_MARK}-7.json").write_bytes(b"")
    keep = [tmp_path / "x.png", tmp_path / ".hidden.png", tmp_path / "x.partial-1.png"]
    for p in keep:
        p.write_bytes(b"")
    removed = remove_partials(tmp_path)
    assert sorted(removed) == sorted([leftover, tmp_path / f".y{PARTIAL_MARK}-4-0a1b2c3d.tif",
                                      tmp_path / f".r.json{PARTIAL_MARK}-7.json"])
    assert sorted(tmp_path.iterdir()) == sorted(keep)
    assert remove_partials(tmp_path / "missing") == []


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow on the corrupt TIFF
def test_load_image_errors_name_the_path(tmp_path):
    (tmp_path / "bad.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(OSError, match="bad.tif.*not a readable image"):
        load_image(tmp_path / "bad.tif")
    (tmp_path / "bad16.png").write_bytes(png.signature + b"\x00\x00")
    with pytest.raises(OSError, match="bad16.png.*not a readable image"):
        load_image(tmp_path / "bad16.png")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_image(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_image(tmp_path / "missing.png")


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
