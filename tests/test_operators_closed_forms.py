"""prox_l2, A_dagger and solve_AAt against dense least-squares solves (the operator's matrix
built column by column on tiny images), closed forms against conjugate gradients, no
mutation, and deepinv's solvers running on these operators."""

import deepinv as dinv
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pnp_internal import operators as O
from pnp_internal.operators.base import RCOND, solve_AAt

SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


pytestmark = pytest.mark.usefixtures("one_thread")


CG = dict(method="cg", max_iter=1000, tol=1e-10)


def dense(op):
    """The matrix of ``op`` (float64), shape (m, n)."""
    n = int(np.prod(op.img_shape))
    basis = torch.eye(n, dtype=torch.float64).reshape((n,) + op.img_shape)
    return op.A(basis).reshape(n, -1).T.numpy()


def build(name, c, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    if name == "blur-circular":
        return O.Blur(O.kernels.gaussian((1.0, 0.6, 30.0)), img_shape=(c, h, w))
    if name.startswith("blur-"):
        return O.Blur(torch.rand((3, 4), generator=g), img_shape=(c, h, w),
                      padding=name.split("-")[1])
    if name == "down-circular":
        return O.Downsampling(2, img_shape=(c, h, w), kernel=O.kernels.gaussian(0.8, 5))
    if name == "down-bicubic":
        return O.Downsampling(2, img_shape=(c, h, w))
    if name == "down-reflect":
        return O.Downsampling(2, img_shape=(c, h, w), kernel=O.kernels.gaussian(0.8, 5),
                              padding="reflect")
    if name == "inpainting":
        return O.Inpainting(O.masks.random_mask(0.6, img_shape=(h, w), seed=seed),
                            img_shape=(c, h, w))
    if name == "cs-structured":
        return O.CompressedSensing(0.4, img_shape=(c, h, w), seed=seed)
    if name == "cs-gaussian":
        return O.CompressedSensing(0.4, img_shape=(c, h, w), kind="gaussian", seed=seed)
    if name == "denoising":
        return O.Denoising(img_shape=(c, h, w))
    if name == "matrix":
        return O.from_matrix(torch.randn((20, c * h * w), generator=g), img_shape=(c, h, w))
    raise KeyError(name)


CLOSED = ["blur-circular", "down-circular", "down-bicubic", "inpainting", "cs-structured",
          "cs-gaussian", "denoising", "matrix"]
ITERATIVE = ["blur-reflect", "blur-replicate", "blur-valid", "down-reflect"]


@SETTINGS
@given(name=st.sampled_from(CLOSED + ITERATIVE), c=st.sampled_from([1, 3]),
       seed=st.integers(0, 50), gamma=st.floats(0.05, 20.0), eps=st.floats(0.01, 2.0))
def test_prox_and_solve_AAt_match_dense_solve(name, c, seed, gamma, eps):
    size = 12 if c == 1 else 10
    op = build(name, c, size, size, seed).to(torch.float64)
    M = dense(op)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn((2,) + op.img_shape, generator=g, dtype=torch.float64)
    y = torch.randn((2,) + op.meas_shape, generator=g, dtype=torch.float64)
    n = M.shape[1]
    Zf, Yf = z.reshape(2, -1).numpy().T, y.reshape(2, -1).numpy().T
    ref = np.linalg.solve(M.T @ M + np.eye(n) / gamma, M.T @ Yf + Zf / gamma)
    kw = {} if name in CLOSED else dict(max_iter=1000, tol=1e-10)
    got = op.prox_l2(z, y, gamma, **kw).reshape(2, -1).numpy().T
    np.testing.assert_allclose(got, ref, atol=1e-8 * max(1, np.abs(ref).max()))
    ref = np.linalg.solve(M @ M.T + eps * np.eye(M.shape[0]), Yf)
    got = op.solve_AAt(y, eps, **kw).reshape(2, -1).numpy().T
    np.testing.assert_allclose(got, ref, atol=1e-8 * max(1, np.abs(ref).max()))
    # the module-level function gives the same for our operators
    torch.testing.assert_close(solve_AAt(op, y, eps, max_iter=1000, tol=1e-10),
                               op.solve_AAt(y, eps, **kw))


@SETTINGS
@given(name=st.sampled_from(CLOSED), c=st.sampled_from([1, 3]), seed=st.integers(0, 50))
def test_A_dagger_matches_pinv(name, c, seed):
    size = 12 if c == 1 else 10
    op = build(name, c, size, size, seed).to(torch.float64)
    M = dense(op)
    u, sv, vt = np.linalg.svd(M, full_matrices=False)
    rel = sv / sv.max()
    # no singular value near the cut-off, where pinv and the closed form may disagree
    assume(not np.any((rel > RCOND / 2) & (rel < RCOND * 2)))
    keep = rel > RCOND
    g = torch.Generator().manual_seed(seed)
    y = torch.randn((2,) + op.meas_shape, generator=g, dtype=torch.float64)
    uty = u.T @ y.reshape(2, -1).numpy().T
    ref = vt[keep].T @ (uty[keep] / sv[keep, None])  # numpy.linalg.pinv(M, rcond=RCOND) @ y
    got = op.A_dagger(y).reshape(2, -1).numpy().T
    np.testing.assert_allclose(got, ref, atol=1e-8 * max(1, np.abs(ref).max()))
    # with eps = 0, solve_AAt is the pseudo-inverse of A A^T
    got = op.solve_AAt(y).reshape(2, -1).numpy().T
    ref = u[:, keep] @ (uty[keep] / sv[keep, None] ** 2)
    np.testing.assert_allclose(got, ref, atol=1e-6 * max(1, np.abs(ref).max()))


@pytest.mark.parametrize("name", ["blur-valid", "down-reflect"])
def test_A_dagger_cg_is_minimum_norm_least_squares(name):
    op = build(name, 1, 10, 10, 0).to(torch.float64)
    M = dense(op)
    y = torch.randn((2,) + op.meas_shape, dtype=torch.float64)
    ref = np.linalg.pinv(M) @ y.reshape(2, -1).numpy().T
    got = op.A_dagger(y, max_iter=5000, tol=1e-14).reshape(2, -1).numpy().T
    np.testing.assert_allclose(got, ref, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("name", CLOSED)
def test_closed_forms_agree_with_conjugate_gradients(name):
    """The float32 closed forms equal CG (run in float64) on a 3x32x32 image."""
    op = build(name, 3, 32, 32, 1)
    g = torch.Generator().manual_seed(2)
    z = torch.rand((2,) + op.img_shape, generator=g)
    y = op.A(torch.rand((2,) + op.img_shape, generator=g))
    fast = op.prox_l2(z, y, 2.0)
    slow = op.to(torch.float64).prox_l2(z.double(), y.double(), 2.0, **CG)
    torch.testing.assert_close(fast.double(), slow, atol=2e-5, rtol=0)
    fast = op.float().solve_AAt(y, 0.05)
    slow = op.to(torch.float64).solve_AAt(y.double(), 0.05, **CG)
    torch.testing.assert_close(fast.double(), slow, atol=2e-4 * slow.abs().max(), rtol=0)


def test_per_sample_gamma_and_tensor_gamma():
    op = build("blur-circular", 1, 16, 16, 0)
    z, y = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    both = op.prox_l2(z, y, torch.tensor([0.5, 3.0]))
    torch.testing.assert_close(both[:1], op.prox_l2(z[:1], y[:1], 0.5))
    torch.testing.assert_close(both[1:], op.prox_l2(z[1:], y[1:], 3.0))


@pytest.mark.parametrize("name", CLOSED + ITERATIVE)
def test_data_steps_do_not_mutate_the_operator(name):
    op = build(name, 1, 16, 16, 0)
    before = {k: v.clone() for k, v in op.state_dict().items()}
    attrs = (op.max_iter, op.tol, op.solver)
    y = op.A(torch.rand((1,) + op.img_shape))
    op.A_dagger(y, max_iter=7, tol=1e-2)
    op.prox_l2(torch.zeros((1,) + op.img_shape), y, 1.0, method="cg", max_iter=3, tol=1e-1)
    op.solve_AAt(y, 0.1, method="cg", max_iter=5)
    op.measure(torch.rand((1,) + op.img_shape), noise_std=0.1, seed=0)
    assert (op.max_iter, op.tol, op.solver) == attrs
    after = op.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k


def test_solve_AAt_on_deepinv_physics():
    g = torch.Generator().manual_seed(0)
    mask = (torch.rand(1, 8, 8, generator=g) > 0.4).float()
    r = torch.randn(2, 1, 8, 8, generator=g)
    inp = dinv.physics.Inpainting(img_size=(1, 8, 8), mask=mask)
    torch.testing.assert_close(solve_AAt(inp, r, 0.5), r / (mask + 0.5))
    torch.testing.assert_close(solve_AAt(inp, r), r * mask)
    # a generic LinearPhysics goes through CG
    blur = dinv.physics.Blur(filter=O.kernels.gaussian(1.0)[None, None], padding="circular")
    ours = O.Blur(O.kernels.gaussian(1.0), img_shape=(1, 8, 8))
    torch.testing.assert_close(solve_AAt(blur, r, 0.3, max_iter=500, tol=1e-7),
                               ours.solve_AAt(r, 0.3), atol=1e-4, rtol=0)


def test_deepinv_hqs_runs_on_our_operator(camera):
    """deepinv's optimiser calls our prox_l2 and improves on the observation."""
    op = O.Blur(O.kernels.gaussian(1.2), img_shape=(1, 64, 64))
    y = op.measure(camera, noise_std=0.01, seed=0)
    denoiser = dinv.models.MedianFilter(kernel_size=3)
    model = dinv.optim.HQS(prior=dinv.optim.PnP(denoiser), data_fidelity=dinv.optim.L2(),
                           stepsize=1.0, sigma_denoiser=0.05, max_iter=8)
    with torch.no_grad():
        x_hat = model(y, op)
    # the same iterations by hand with our own prox_l2
    x = op.A_adjoint(y)
    for _ in range(8):
        x = denoiser(op.prox_l2(x, y, 1.0), 0.05)
    torch.testing.assert_close(x_hat, x, atol=1e-5, rtol=0)
    psnr = dinv.metric.PSNR()
    assert float(psnr(x_hat, camera)) > float(psnr(y, camera)) + 0.5


def test_deepinv_noise_model_and_compose():
    op = O.Inpainting(O.masks.block_mask(4, img_shape=(8, 8)), img_shape=(1, 8, 8))
    op.noise_model = dinv.physics.GaussianNoise(sigma=0.1, rng=torch.Generator().manual_seed(0))
    x = torch.rand(2, 1, 8, 8)
    y = op(x)
    assert y.shape == x.shape and not torch.equal(y, op.A(x))
    assert float(op.compute_sqnorm(x[:1], verbose=False)) == pytest.approx(1.0, abs=1e-3)


def test_float64_conversion_keeps_the_operator():
    op = O.Downsampling(2, img_shape=(3, 16, 16))
    x = torch.rand(1, 3, 16, 16)
    y32 = op.A(x)
    y64 = op.to(torch.float64).A(x.double())
    assert y64.dtype == torch.float64
    torch.testing.assert_close(y64.float(), y32, atol=1e-6, rtol=0)
