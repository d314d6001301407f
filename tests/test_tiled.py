"""Tiled priors match whole-image passes; tile sizes follow free memory; methods that cannot
tile refuse, before any work, an image that will not fit."""

import pytest
import torch

import pnp_internal as pi
from pnp_internal import memory, metrics, operators
from pnp_internal.priors import Tiled

from conftest import real_image


def test_tiled_cnn_inside_hqs_matches_the_whole_image():
    """Inside the image the tiles match the whole-image pass (within 0.01 dB); at the image's
    own border a tile sees the reflected image where the whole pass sees the network's padding,
    which moves the 160 px restoration by less than 0.1 dB."""
    x = real_image("astronaut", 160)
    blur = operators.Blur(operators.kernels.gaussian(1.6, 11), img_shape=x.shape[1:])
    y = blur.measure(x, noise_std=5 / 255, seed=0)
    whole = pi.solve(y, blur, method="cnn-hqs", tile=None, max_iter=6)
    tiled = pi.solve(y, blur, method="cnn-hqs", tile=48, max_iter=6)
    gap = float(metrics.psnr(whole.x, x) - metrics.psnr(tiled.x, x))
    inner = float(metrics.psnr(whole.x, x, border=32) - metrics.psnr(tiled.x, x, border=32))
    assert abs(inner) < 0.01, inner
    assert abs(gap) < 0.1, gap
    assert float(metrics.psnr(tiled.x, x)) > float(metrics.psnr(y, x)) + 2


def test_tiles_cover_odd_sizes_exactly_with_a_local_filter():
    def local(x, sigma):  # a 5x5 mean with reflect borders: exact under tiling with margin 2
        return torch.nn.functional.avg_pool2d(
            torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect"), 5, 1)

    x = torch.rand(2, 3, 37, 83, generator=torch.Generator().manual_seed(0))
    for tile, batch in ((16, 1), (20, 3), (64, 2)):
        out = Tiled(local, tile=tile, margin=2, batch=batch)(x, torch.tensor([0.1, 0.2]))
        assert torch.allclose(out, local(x, 0.1), atol=1e-6), tile


def test_a_noise_level_map_is_cut_with_the_image():
    def scale(x, sigma):  # pixel-wise in the map: exact under tiling with any margin
        return x * sigma

    x = torch.rand(2, 3, 37, 83, generator=torch.Generator().manual_seed(0))
    level = torch.rand(1, 1, 37, 83, generator=torch.Generator().manual_seed(1))
    for tile, margin, batch in ((16, 0, 1), (20, 3, 4)):
        out = Tiled(scale, tile=tile, margin=margin, batch=batch)(x, level)
        assert torch.allclose(out, x * level, atol=1e-6), tile
    with pytest.raises(ValueError, match="one level per pixel"):
        Tiled(scale, tile=16)(x, level[..., :80])


def test_tiled_keeps_the_adaptation_hook():
    from pnp_internal.priors import ImageAdapted
    from pnp_internal.catalog.pnp import shipped_cnn

    inner = ImageAdapted(shipped_cnn(1), when="during", adapt_every=5, steps=1)
    wrapped = Tiled(inner, tile=32)
    assert wrapped.adapt_every == 5 and wrapped.adapt.__func__ is Tiled.adapt
    with pytest.raises(ValueError, match="tile must be"):
        Tiled(inner, tile=8)


def test_tile_size_follows_free_memory():
    gb = 2**30
    assert memory.auto_tile(256, 256, free=8 * gb) is None
    side = memory.auto_tile(3000, 4000, free=8 * gb)
    assert side is not None and 64 <= side <= 1024 and side % 16 == 0
    assert memory.auto_tile(3000, 4000, free=int(0.2 * gb)) < side
    with pytest.raises(MemoryError, match="64 px tile"):
        memory.auto_tile(3000, 4000, free=1000)


def test_methods_that_cannot_tile_refuse_before_any_work(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": 50 * 2**20)
    x = real_image("camera", 256, gray=True)
    den = operators.Denoising(img_shape=x.shape[1:])
    y = den.measure(x, noise_std=0.1, seed=0)
    for method in ("dip", "self2self"):
        with pytest.raises(MemoryError, match="cannot restore in tiles"):
            pi.solve(y, den, method=method)
    sr = operators.Downsampling(4, img_shape=(1, 1024, 1024))
    with pytest.raises(MemoryError, match="zssr cannot restore in tiles"):
        pi.solve(torch.rand(1, 1, 256, 256), sr, method="zssr", noise_std=0.0)
    res = pi.solve(y, den, method="cnn")  # the CNN tiles instead
    assert float(metrics.psnr(res.x, x)) > float(metrics.psnr(y, x)) + 5
