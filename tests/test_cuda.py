"""Every family of methods on CUDA (skipped where no GPU exists)."""

import dataclasses

import pytest
import torch

import pnp_internal as pi
from pnp_internal import operators, recipes

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("method, options", [
    ("cnn-hqs", {}), ("ia-idbp", {}), ("gt-idbp", {}), ("dip", {"max_iter": 20}),
    ("zssr-fast", {"max_iter": 20, "min_iter": 10}),
])
def test_method_runs_on_cuda(method, options, camera, monkeypatch):
    ia = recipes.IMAGE_ADAPTED["sr"]
    monkeypatch.setitem(recipes.IMAGE_ADAPTED, "sr", dataclasses.replace(ia, steps=4))
    op = operators.Downsampling(2, img_shape=(1, 64, 64))
    y = op.measure(camera)
    res = pi.solve(y, op, method=method, noise_std=0.0, device="cuda", **options)
    assert res.x.device.type == "cuda" and torch.isfinite(res.x).all()
    assert pi.metrics.psnr(res.x.cpu(), camera) > 20
