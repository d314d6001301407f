"""No silent wrong results: each common mistake gets an error, a warning or a repaired image."""

import warnings

import pytest
import torch

import pnp_internal as pi
from pnp_internal import operators as O
from pnp_internal.metrics import psnr


@pytest.fixture(scope="module")
def scene():
    from conftest import real_image

    return real_image("camera", 96, gray=True)


def _blurred(x, noise=2.55 / 255):
    op = O.Blur(O.kernels.gaussian(1.6, 25), img_shape=tuple(x.shape[1:]))
    y = op.A(x) + noise * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    return op, y  # made without measure(): the operator does not know the noise level


def test_noise_level_left_out_is_estimated_and_said(scene):
    op, y = _blurred(scene)
    with pytest.warns(UserWarning, match=r"noise_std was not given: estimated .* pass noise_std="):
        res = pi.solve(y, op, method="cnn-hqs")
    assert psnr(res.x, scene) > psnr(y, scene) + 2  # was 6.9 dB, far below the input


def test_values_on_the_0_255_scale_are_refused(scene):
    op, y = _blurred(scene)
    with pytest.raises(ValueError, match="divide 8-bit data by 255"):
        pi.solve(y * 255, op, noise_std=0.01)
    with pytest.raises(ValueError, match=r"noise_std=25 is above 1.*noise_std=25/255"):
        pi.solve(y, op, noise_std=25)
    with pytest.raises(TypeError, match=r"dtype torch.uint8.*y.float\(\) / 255"):
        pi.solve((y * 255).clamp(0, 255).to(torch.uint8), op, noise_std=0.01)
    # sigma 75/255 on a [0, 1] image spreads it over about [-1.3, 2.3]: accepted
    heavy = y + 75 / 255 * torch.randn(y.shape, generator=torch.Generator().manual_seed(0))
    assert heavy.max() > 2 or heavy.min() < -1
    assert pi.solve(heavy, op, method="pseudo-inverse", noise_std=75 / 255).x.shape == y.shape
    bad = y.clone()
    bad[0, 0, 3, 4] = float("nan")
    with pytest.raises(ValueError, match="1 NaN/Inf value"):
        pi.solve(bad, op, noise_std=0.01)


def test_dip_on_the_projects_denoising_operator_uses_sure(scene):
    op = O.Denoising(img_shape=tuple(scene.shape[1:]))
    y = op.measure(scene, noise_std=25 / 255, seed=0)
    res = pi.solvers.DIP(max_iter=150, seed=0).solve(y, op)
    assert res.loss == "sure"
    assert psnr(res.x, scene) > psnr(y, scene) + 1.5  # (with the MSE loss: 11.4 dB, -9 dB)


def test_a_prior_that_ruins_the_estimate_is_reported(scene):
    op, y = _blurred(scene)

    def flat(x, sigma):  # a "denoiser" that throws the image away
        return torch.full_like(x, 0.5)

    with pytest.warns(RuntimeWarning, match="fits y worse than the initial estimate"):
        pi.solve(y, op, prior=flat, solver="hqs", noise_std=2.55 / 255)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        pi.solve(y, op, prior="tv", solver="hqs", noise_std=2.55 / 255)


def test_blur_for_a_real_photo_does_not_wrap_around():
    """A photo's blur mixes in what lies outside the frame: restoring with the circular model
    leaves ringing along the borders, ``Blur.for_image`` does not."""
    from conftest import real_image

    big = real_image("astronaut", 160)
    k = O.kernels.gaussian(1.6, 13)
    photo_op = O.Blur(k, img_shape=tuple(big.shape[1:]), padding="valid")
    y = photo_op.measure(big, noise_std=1 / 255, seed=0)  # what a camera records
    inner = big[..., 6:-6, 6:-6]
    circular = O.Blur(k, img_shape=tuple(y.shape[1:]))
    wrong = pi.solve(y, circular, method="cnn-hqs", noise_std=1 / 255)
    right = pi.solve(y, O.Blur.for_image(y, k), method="cnn-hqs", noise_std=1 / 255)
    assert right.x.shape == big.shape
    assert psnr(right.x[..., 6:-6, 6:-6], inner) > psnr(wrong.x, inner) + 2


def test_result_is_clamped_unless_asked(scene):
    op, y = _blurred(scene)
    res = pi.solve(y, op, method="tv-hqs", noise_std=2.55 / 255)
    raw = pi.solve(y, op, method="tv-hqs", noise_std=2.55 / 255, clamp=False)
    assert 0 <= float(res.x.min()) and float(res.x.max()) <= 1
    assert torch.equal(res.x, raw.x.clamp(0, 1))


def test_read_image_on_a_folder_says_so(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder; give one image file"):
        pi.io.read_image(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        pi.io.read_image(tmp_path / "missing.png")


def test_adaptation_reports_progress_in_the_solver_bar(scene):
    """With ``progress=True`` the solver hands the prior a ``progress`` callback, which the
    fine-tuning loop calls at every step."""
    from pnp_internal.priors import ImageAdapted, pretrained

    seen = []

    class Spy(ImageAdapted):
        def adapt(self, context):
            report = context.progress
            context.progress = lambda text: (seen.append(text), report(text))
            super().adapt(context)

    op, y = _blurred(scene[..., :64, :64])
    prior = Spy(pretrained("drunet-lite-gray"), steps=3, batch_size=2, check_every=1)
    pi.solvers.HQS(prior, max_iter=2, noise_std=2.55 / 255, progress=True).solve(y, op)
    assert seen and seen[-1].startswith("adapting the CNN 3/3, loss")


def test_early_stopping_waits_for_a_tenth_of_the_budget(scene):
    """ES-WMV may not pick the quiet first outputs of a DIP run (still a blur)."""
    from pnp_internal.priors import nets

    op = O.Denoising(img_shape=tuple(scene.shape[1:]))
    y = op.measure(scene, noise_std=25 / 255, seed=0)
    res = pi.solvers.DIP(nets.skip(1, width=8, depth=3), loss="mse", max_iter=300,
                         seed=0).solve(y, op)
    assert res.stop_iter >= 30
    assert ("ES-WMV stop" in res.message) == res.converged


def _motion_then_decimate(img_shape, length=7):
    """A user's operator the library does not recognise: the mean of ``length`` horizontal
    shifts (camera shake), then 2x decimation."""
    c, h, w = img_shape

    def A(x):
        return torch.stack([x.roll(t, dims=-1) for t in range(length)]).mean(0)[..., ::2, ::2]

    def At(y):
        up = torch.zeros(y.shape[0], c, h, w, dtype=y.dtype)
        up[..., ::2, ::2] = y
        return torch.stack([up.roll(-t, dims=-1) for t in range(length)]).mean(0)

    return O.from_functions(A, At, img_shape=img_shape, meas_shape=(c, h // 2, w // 2))


def test_custom_operator_starts_sensibly_and_cnn_beats_tv(scene):
    """From ``A^+ y`` the CNN prior ended at 8-10 dB on this operator; the recipe for unknown
    operators starts from the normalised adjoint."""
    op = _motion_then_decimate(tuple(scene.shape[1:]))
    y = op.measure(scene, noise_std=2.55 / 255, seed=0)
    best = pi.solve(y, op)
    tv = pi.solve(y, op, method="tv-hqs")
    assert best.method == "cnn-hqs"
    assert psnr(best.x, scene) > psnr(tv.x, scene) > 20


def test_dip_denoiser_out_of_steps_is_reported(scene):
    """``DIPDenoiser`` with a small budget inside HQS ended below the blurred input (24.0 dB
    against 25.5) without a word; the solver says the prior ran out of steps."""
    from pnp_internal.priors import DIPDenoiser

    op, y = _blurred(scene[..., :64, :64])
    with pytest.warns(RuntimeWarning, match=r"ran out of steps in \d+ of 8 calls"):
        pi.solve(y, op, prior=DIPDenoiser(steps=20, warm_steps=5), solver="hqs",
                 noise_std=2.55 / 255)
