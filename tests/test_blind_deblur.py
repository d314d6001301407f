"""Blind deblurring: SelfDeblur fits an image and a kernel to the blurred image alone; scoring
up to a shift; the blind methods never read the operator's kernel."""

import pytest
import torch

import pnp_internal as pi
from conftest import real_image
from pnp_internal.blind import SelfDeblur
from pnp_internal.bench.tasks import get_task
from pnp_internal.metrics import align_up_to_shift, psnr
from pnp_internal.operators import Blur, kernels

TINY = dict(width=8, skip_channels=2, depth=2)


def test_align_up_to_shift_undoes_an_integer_shift():
    x = real_image("camera", 48, gray=True)
    moved = torch.roll(x, (2, -1), (-2, -1))
    a, b = align_up_to_shift(moved, x, 3)
    assert a.shape == b.shape == (1, 1, 42, 42) and torch.equal(a, b)
    assert float(psnr(*align_up_to_shift(x, x, 0))) == float("inf")
    with pytest.raises(ValueError, match="max_shift"):
        align_up_to_shift(x, x, 24)


def test_selfdeblur_returns_an_image_and_a_blur_kernel_that_explain_y():
    x = real_image("camera", 48, gray=True)
    k = kernels.motion(5, 30)
    y = Blur(k, img_shape=(1, 48, 48), padding="circular")(x)
    short = SelfDeblur(7, max_iter=1, seed=0, **TINY).run(y)
    longer = SelfDeblur(7, max_iter=150, seed=0, **TINY).run(y)
    assert longer.x.shape == y.shape and longer.kernel.shape == (7, 7)
    assert float(longer.kernel.min()) >= 0
    assert float(longer.kernel.sum()) == pytest.approx(1, abs=1e-5)
    assert longer.loss < short.loss  # the fit of y improves
    again = SelfDeblur(7, max_iter=150, seed=0, **TINY).run(y)
    torch.testing.assert_close(again.x, longer.x)
    rgb = SelfDeblur(7, max_iter=2, seed=0, **TINY).run(y.repeat(1, 3, 1, 1))
    assert rgb.x.shape == (1, 3, 48, 48)


def test_selfdeblur_refuses_bad_input():
    with pytest.raises(ValueError, match="odd"):
        SelfDeblur(6)
    with pytest.raises(ValueError, match="too small"):
        SelfDeblur(3, depth=5).run(torch.rand(1, 1, 20, 20))
    with pytest.raises(ValueError, match="expected y"):
        SelfDeblur(3).run(torch.rand(1, 2, 40, 40))


def test_blind_methods_refuse_an_operator_they_cannot_replace():
    x = real_image("camera", 48, gray=True)
    op = Blur.for_image(x, kernels.gaussian(1.0, 5))
    with pytest.raises(ValueError, match="circular, reflect or replicate"):
        pi.solve(op(torch.rand(1, 1, 52, 52)), op, method="selfdeblur", noise_std=0.01)


def test_blind_levin_task_scores_up_to_a_shift():
    task = get_task("deblur-levin-blind")
    assert task.blind and task.noise_std == pytest.approx(1 / 255)
    assert not get_task("deblur-levin").blind
