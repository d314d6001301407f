"""Blind deblurring: SelfDeblur fits an image and a kernel to the blurred image alone; scoring
up to a shift; the blind methods never read the operator's kernel."""

import pytest
import torch

import pnp_internal as pi
from conftest import real_image
from pnp_internal.blind import SelfDeblur
from pnp_internal.bench.tasks import get_task
from pnp_internal.metrics import align_up_to_shift, align_up_to_subpixel_shift, psnr
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


def test_subpixel_alignment_undoes_a_fractional_shift_that_integers_cannot():
    from scipy.ndimage import shift

    x = real_image("camera", 64, gray=True)
    moved = torch.from_numpy(shift(x[0, 0].double().numpy(), (1.5, -0.75), order=3,
                                   mode="grid-wrap")).float()[None, None]
    whole = float(psnr(*align_up_to_shift(moved, x, 3)))
    fine = float(psnr(*align_up_to_subpixel_shift(moved, x, 3)))
    assert fine > whole + 4  # cubic there, bilinear back: close, not exact
    assert float(psnr(*align_up_to_subpixel_shift(x, x, 2))) == float("inf")
    with pytest.raises(ValueError, match="step must divide 1"):
        align_up_to_subpixel_shift(x, x, 2, step=0.3)


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
    with pytest.raises(ValueError, match=r"circular, reflect or\s+replicate"):
        pi.solve(op(torch.rand(1, 1, 52, 52)), op, method="selfdeblur", noise_std=0.01)


def test_blind_levin_task_scores_up_to_a_shift():
    task = get_task("deblur-levin-blind")
    assert task.blind and task.noise_std == pytest.approx(1 / 255)
    assert not get_task("deblur-levin").blind


def _blurred_camera(size=128, noise=1 / 255):
    """The cameraman blurred by a 9-pixel motion at 30 degrees (circular), noise 1/255."""
    x = real_image("camera", size, gray=True)
    k = kernels.motion(9, 30)
    op = Blur(k, img_shape=(1, size, size), padding="circular")
    y = op(x) + noise * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    return x, k, op, y


def test_l0deblur_recovers_a_motion_kernel_from_the_blurred_image_alone():
    from pnp_internal.blind import L0Deblur
    from pnp_internal.metrics import kernel_error

    x, k, op, y = _blurred_camera()
    est = L0Deblur(15, lam=(4e-3, 1e-2), alternations=5).estimate(y)
    assert est.kernel.shape == (15, 15) and est.degenerate == ""
    assert float(est.kernel.min()) >= 0 and float(est.kernel.sum()) == pytest.approx(1, abs=1e-5)
    assert 0 < est.confidence <= 1
    guess = kernels.gaussian(1.6, 15)
    assert kernel_error(est.kernel, k) < 0.25 * kernel_error(guess, k)
    # the same estimate whatever the colour: RGB is estimated on its luma
    rgb = L0Deblur(15, lam=(4e-3, 1e-2), alternations=5).estimate(y.repeat(1, 3, 1, 1))
    torch.testing.assert_close(rgb.kernel, est.kernel, atol=1e-4, rtol=0)


def test_l0deblur_refuses_bad_input():
    from pnp_internal.blind import L0Deblur

    with pytest.raises(ValueError, match="odd"):
        L0Deblur(8)
    with pytest.raises(ValueError, match="lam > 0"):
        L0Deblur(9, lam=())
    with pytest.raises(ValueError, match="too small"):
        L0Deblur(27).estimate(torch.rand(1, 1, 40, 40))


def test_blind_deblurring_with_the_estimated_kernel_beats_a_wrong_guess(monkeypatch):
    """``cnn-hqs-l0`` (and ``solve(kernel="estimate")``, the same path) restores the blurred
    cameraman far better than ``cnn-hqs`` assuming a Gaussian blur, most of the way to it given
    the true kernel; the operator's kernel is never read."""
    import dataclasses

    from pnp_internal import recipes

    monkeypatch.setattr(recipes, "L0_DEBLUR", dataclasses.replace(
        recipes.L0_DEBLUR, kernel_size=15, lam=(4e-3, 1e-2), alternations=5))
    x, k, op, y = _blurred_camera()

    def score(r):
        return float(psnr(*align_up_to_shift(r.x, x, 7)))

    blind = pi.solve(y, op, method="cnn-hqs-l0", noise_std=1 / 255)
    wrong = pi.solve(y, op, method="cnn-hqs-gaussian", noise_std=1 / 255)
    true = pi.solve(y, op, method="cnn-hqs", noise_std=1 / 255)
    assert blind.kernel["source"] == "L0Deblur" and blind.kernel["kernel"].shape == (15, 15)
    scores = score(wrong), score(blind), score(true)
    assert scores[1] > scores[0] + 3.0, scores
    assert scores[1] - scores[0] > 0.6 * (scores[2] - scores[0]), scores  # most of the way
    other = Blur(kernels.gaussian(3.0, 9), img_shape=(1, 128, 128), padding="circular")
    composed = pi.solve(y, other, method="cnn-hqs", kernel="estimate", noise_std=1 / 255)
    torch.testing.assert_close(composed.x, blind.x)
    with pytest.raises(ValueError, match="'estimate' or a 2-D array"):
        pi.solve(y, op, method="cnn-hqs", kernel="bicubic", noise_std=1 / 255)
    with pytest.raises(TypeError, match="chooses its kernel"):
        pi.solve(y, op, method="cnn-hqs-l0", kernel="estimate", noise_std=1 / 255)


def test_an_estimated_kernel_fits_the_geometry_of_a_photo_blur(monkeypatch):
    """With ``Blur.for_image`` (``padding="valid"``), the estimate takes the operator's kernel
    size, so the restored image keeps the operator's size."""
    import dataclasses

    from pnp_internal import recipes

    monkeypatch.setattr(recipes, "L0_DEBLUR", dataclasses.replace(
        recipes.L0_DEBLUR, kernel_size=15, lam=(1e-2,), alternations=2))
    _, _, _, y = _blurred_camera(96)
    op = Blur.for_image(y, kernels.gaussian(1.0, 11))
    res = pi.solve(y, op, method="cnn-hqs", kernel="estimate", noise_std=1 / 255, max_iter=2)
    assert res.x.shape == (1, 1, 106, 106)
    assert res.kernel["kernel"].shape == (15, 15)
