"""Dot-product tests <A x, y> = <x, A^T y> for every operator, padding and custom wrapper,
on random small shapes (hypothesis), channels 1 and 3, batch 2."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pnp_internal import operators as O

SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


pytestmark = pytest.mark.usefixtures("one_thread")
PADDINGS = ["circular", "reflect", "replicate", "valid"]


def dot_error(op, seed=0):
    """Relative dot-product error on a batch of 2 in float64."""
    g = torch.Generator().manual_seed(seed)
    op = op.to(torch.float64)
    x = torch.randn((2,) + op.img_shape, generator=g, dtype=torch.float64)
    ax = op.A(x)
    y = torch.randn(ax.shape, generator=g, dtype=torch.float64)
    lhs = (ax * y).sum()
    rhs = (x * op.A_adjoint(y)).sum()
    return float((lhs - rhs).abs() / (ax.norm() * y.norm()))


shapes = st.tuples(st.sampled_from([1, 3]), st.integers(9, 17), st.integers(9, 17))


@SETTINGS
@given(shape=shapes, padding=st.sampled_from(PADDINGS), kh=st.integers(1, 7),
       kw=st.integers(1, 7), seed=st.integers(0, 100))
def test_blur_adjoint(shape, padding, kh, kw, seed):
    k = torch.rand((kh, kw), generator=torch.Generator().manual_seed(seed))
    op = O.Blur(k, img_shape=shape, padding=padding)
    assert dot_error(op, seed) < 1e-12
    assert O.adjoint_error(op) < 1e-5  # the public check, float64 by default


@SETTINGS
@given(shape=st.tuples(st.sampled_from([1, 3]), st.integers(18, 26), st.integers(18, 26)),
       factor=st.integers(1, 3), padding=st.sampled_from(PADDINGS),
       kernel=st.sampled_from(["bicubic", "gaussian", "array"]))
def test_downsampling_adjoint(shape, factor, padding, kernel):
    if kernel == "array":
        kernel = O.kernels.motion(4, 20)
    op = O.Downsampling(factor, img_shape=shape, kernel=kernel, padding=padding)
    assert dot_error(op) < 1e-12


@SETTINGS
@given(shape=shapes, ratio=st.floats(0.05, 1.0), per_channel=st.booleans(),
       seed=st.integers(0, 100))
def test_inpainting_adjoint(shape, ratio, per_channel, seed):
    if per_channel:
        g = torch.Generator().manual_seed(seed)
        mask = (torch.rand(shape, generator=g) < ratio).float()
        mask[0, 0, 0] = 1.0
    else:
        mask = O.masks.random_mask(ratio, img_shape=shape, seed=seed)
    assert dot_error(O.Inpainting(mask, img_shape=shape)) < 1e-12


@SETTINGS
@given(shape=shapes, ratio=st.floats(0.05, 1.0), kind=st.sampled_from(["structured", "gaussian"]),
       seed=st.integers(0, 100))
def test_compressed_sensing_adjoint(shape, ratio, kind, seed):
    op = O.CompressedSensing(ratio, img_shape=shape, kind=kind, seed=seed)
    assert dot_error(op, seed) < 1e-12


@SETTINGS
@given(shape=shapes)
def test_denoising_adjoint(shape):
    assert dot_error(O.Denoising(img_shape=shape)) < 1e-12


@SETTINGS
@given(c=st.sampled_from([1, 3]), h=st.integers(2, 8), w=st.integers(2, 8),
       m=st.integers(1, 40), density=st.floats(0.05, 1.0), seed=st.integers(0, 100))
def test_custom_adjoint(c, h, w, m, density, seed):
    n = c * h * w
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((m, n))
    sparse = sp.random(m, n, density=density, random_state=seed, format="csr")
    sparse = (sparse + sp.csr_matrix(([1.0], ([0], [0])), shape=(m, n))).tocsr()  # nnz > 0
    ops = [
        O.from_matrix(dense, img_shape=(c, h, w)),
        O.from_matrix(torch.as_tensor(dense), img_shape=(c, h, w)),
        O.from_matrix(sparse, img_shape=(c, h, w)),
        O.from_scipy(spla.aslinearoperator(sparse), img_shape=(c, h, w)),
    ]
    t = torch.as_tensor(dense)
    ops.append(O.from_functions(
        lambda x: x.reshape(x.shape[0], -1) @ t.to(x.dtype).T,
        lambda y: (y @ t.to(y.dtype)).reshape((y.shape[0], c, h, w)),
        img_shape=(c, h, w), meas_shape=(m,)))
    for op in ops:
        assert dot_error(op, seed) < 1e-6  # matrices are stored in float32


@pytest.mark.parametrize("padding", PADDINGS)
def test_blur_matches_deepinv_convolution(padding):
    """Same convolution (orientation, centre, boundary) as deepinv's conv2d."""
    import deepinv.physics.functional as dF

    g = torch.Generator().manual_seed(1)
    k = torch.rand((5, 3), generator=g)
    x = torch.rand((2, 3, 20, 17), generator=g)
    op = O.Blur(k, img_shape=(3, 20, 17), padding=padding)
    ref = dF.conv2d(x, k[None, None].float(), padding=padding)
    torch.testing.assert_close(op.A(x), ref, atol=1e-5, rtol=1e-5)


def test_structured_cs_rows_orthonormal():
    op = O.CompressedSensing(0.3, img_shape=(3, 10, 7), seed=3).to(torch.float64)
    n = 3 * 10 * 7
    dense = op.A(torch.eye(n, dtype=torch.float64).reshape(n, 3, 10, 7)).T  # (m, n)
    torch.testing.assert_close(dense @ dense.T, torch.eye(op.meas_shape[0],
                                                          dtype=torch.float64))


def test_hartley_is_orthonormal_and_involutive():
    from pnp_internal.operators.compressed_sensing import hartley

    for n in (1, 2, 7, 16):
        v = torch.randn(3, n, dtype=torch.float64)
        f = torch.fft.fft(v)
        torch.testing.assert_close(hartley(v), (f.real - f.imag) / n ** 0.5)
        torch.testing.assert_close(hartley(hartley(v)), v)
