"""Downsampling: MATLAB imresize bicubic (deepinv's DownsamplingMatlab and a hand-computed
case), the Zhao et al. closed form against deepinv and CG, and the factor checks."""

import deepinv as dinv
import numpy as np
import pytest
import torch

from pnp_internal import operators as O
from pnp_internal.operators.downsampling import matlab_bicubic_kernel


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("padding", ["circular", "reflect"])
def test_bicubic_equals_matlab_imresize_in_the_interior(factor, padding, astronaut):
    x = astronaut[..., :48, :48]
    op = O.Downsampling(factor, img_shape=(3, 48, 48), padding=padding)
    ref = dinv.physics.DownsamplingMatlab(factor=factor).A(x)
    y = op.A(x)
    assert y.shape == ref.shape
    b = 3  # low-resolution pixels whose support touches the border (2 * factor HR pixels)
    torch.testing.assert_close(y[..., b:-b, b:-b], ref[..., b:-b, b:-b], atol=1e-5, rtol=0)
    assert (y - ref).abs().max() > 1e-3  # the borders do differ (MATLAB pads symmetrically)


def test_bicubic_x2_hand_computed():
    """imresize(x, 1/2) weights: Keys' cubic (a = -1/2) at distances 0.5..3.5, stretched by 2,
    i.e. cubic(0.25, 0.75, 1.25, 1.75) = 0.8671875, 0.2265625, -0.0703125, -0.0234375,
    normalised by their doubled sum 2: output i sees input 2i - 3 .. 2i + 4."""
    w = np.array([-0.0234375, -0.0703125, 0.2265625, 0.8671875,
                  0.8671875, 0.2265625, -0.0703125, -0.0234375]) / 2.0
    op = O.Downsampling(2, img_shape=(1, 24, 24))
    x = torch.zeros(1, 1, 24, 24)
    x[0, 0, 11, 12] = 1.0  # a delta in the interior
    y = op.A(x)[0, 0].double().numpy()
    expected = np.zeros((12, 12))
    for i in range(12):
        for j in range(12):
            a, b = 11 - 2 * i + 3, 12 - 2 * j + 3  # index into w of input (11, 12)
            if 0 <= a < 8 and 0 <= b < 8:
                expected[i, j] = w[a] * w[b]
    np.testing.assert_allclose(y, expected, atol=1e-7)
    # constant images stay constant (weights sum to 1), a ramp keeps its slope x2
    assert torch.allclose(op.A(torch.full((1, 1, 24, 24), 0.3)), torch.tensor(0.3), atol=1e-6)
    ramp = torch.arange(24.0).repeat(24, 1)[None, None]
    yr = op.A(ramp)[0, 0, 5, 3:9]
    torch.testing.assert_close(yr[1:] - yr[:-1], torch.full((5,), 2.0), atol=1e-4, rtol=0)
    k, offset = matlab_bicubic_kernel(2)
    assert offset == 0 and k.shape == (9, 9)
    np.testing.assert_allclose(k.sum(1).numpy()[::-1][1:], w, atol=1e-15)


def test_zhao_closed_form_matches_deepinv_and_cg(astronaut):
    k = O.kernels.gaussian(1.2, size=7)
    x = astronaut[..., :32, :32]
    ours = O.Downsampling(2, img_shape=(3, 32, 32), kernel=k)
    theirs = dinv.physics.Downsampling(img_size=(3, 32, 32), filter=k[None, None], factor=2,
                                       padding="circular")
    torch.testing.assert_close(ours.A(x), theirs.A(x), atol=1e-6, rtol=0)
    y = ours.measure(x, noise_std=0.01, seed=0)
    z = torch.rand_like(x)
    p = ours.prox_l2(z, y, 0.5)
    torch.testing.assert_close(p, theirs.prox_l2(z, y, 0.5), atol=1e-5, rtol=0)
    pcg = ours.prox_l2(z, y, 0.5, method="cg", max_iter=500, tol=1e-7)
    torch.testing.assert_close(p, pcg, atol=1e-4, rtol=0)


def test_bicubic_sr_pseudo_inverse_is_consistent(astronaut):
    op = O.Downsampling(3, img_shape=(3, 48, 48))
    y = op.A(astronaut[..., :48, :48])
    x = op.A_dagger(y)
    torch.testing.assert_close(op.A(x), y, atol=1e-4, rtol=0)  # A A^+ y = y (full row rank)
    # and the exact projection: prox with a huge gamma gives the same data fit
    torch.testing.assert_close(op.A(op.prox_l2(x * 0, y, 1e6)), y, atol=1e-3, rtol=0)


def test_non_divisible_sizes_fall_back_to_cg():
    op = O.Downsampling(2, img_shape=(1, 19, 20), kernel="gaussian")
    assert op.meas_shape == (1, 10, 10)
    assert O.adjoint_error(op) < 1e-12
    y = op.A(torch.rand(1, 1, 19, 20))
    x = op.A_dagger(y, max_iter=300, tol=1e-8)
    torch.testing.assert_close(op.A(x), y, atol=1e-4, rtol=0)


@pytest.mark.parametrize("factor", [1.5, 0.5, 0, -2, float("nan")])
def test_non_integer_or_small_factor_is_refused(factor):
    with pytest.raises(ValueError, match="factor must be an integer >= 1"):
        O.Downsampling(factor, img_shape=(1, 32, 32))


def test_integer_valued_float_factor_and_bad_kernel_name():
    assert O.Downsampling(2.0, img_shape=(1, 32, 32)).factor == 2
    with pytest.raises(TypeError, match="factor"):
        O.Downsampling("2", img_shape=(1, 32, 32))
    with pytest.raises(ValueError, match="kernel must be 'bicubic', 'gaussian' or a 2-D array"):
        O.Downsampling(2, img_shape=(1, 32, 32), kernel="lanczos")
    with pytest.raises(ValueError, match="larger than the image"):
        O.Downsampling(4, img_shape=(1, 12, 12))


def test_gaussian_kernel_documented_std():
    op = O.Downsampling(4, img_shape=(1, 32, 32), kernel="gaussian")
    torch.testing.assert_close(op.kernel, O.kernels.gaussian(2.0, size=13))
