"""Bad inputs raise clear errors; kernel and mask builders/loaders; reproducible measurements;
custom operators with a wrong adjoint are refused."""

import numpy as np
import pytest
import scipy.io
import scipy.sparse.linalg as spla
import torch
from PIL import Image

from pnp_internal import operators as O


pytestmark = pytest.mark.usefixtures("one_thread")


def all_ops(c=3, h=16, w=16):
    return [
        O.Blur(O.kernels.box(3), img_shape=(c, h, w)),
        O.Blur(O.kernels.box(3), img_shape=(c, h, w), padding="valid"),
        O.Downsampling(2, img_shape=(c, h, w), kernel="gaussian"),
        O.Inpainting(O.masks.random_mask(0.5, img_shape=(h, w)), img_shape=(c, h, w)),
        O.CompressedSensing(0.5, img_shape=(c, h, w)),
        O.Denoising(img_shape=(c, h, w)),
        O.from_matrix(np.eye(c * h * w)[::2], img_shape=(c, h, w)),
    ]


# ----------------------------------------------------------------------- shapes and values
@pytest.mark.parametrize("op", all_ops(), ids=lambda o: type(o).__name__)
def test_shape_mismatch_and_nonfinite_inputs_raise(op):
    x = torch.rand((2,) + op.img_shape)
    y = op.A(x)
    with pytest.raises(ValueError, match=r"expected an image batch of shape \(B, 3, 16, 16\), "
                                         r"got \(2, 1, 16, 16\)"):
        op.A(torch.rand(2, 1, 16, 16))
    with pytest.raises(ValueError, match=r"add a batch dimension"):
        op.A(x[0])
    with pytest.raises(ValueError, match="expected a measurement batch of shape"):
        op.A_adjoint(torch.rand(2, 5))
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"x holds 1 NaN/Inf"):
        op.A(bad)
    bad_y = y.clone()
    bad_y.view(-1)[0] = float("inf")
    with pytest.raises(ValueError, match="NaN/Inf"):
        op.A_adjoint(bad_y)
    with pytest.raises(ValueError, match="NaN/Inf"):
        op.A_dagger(bad_y)
    with pytest.raises(ValueError, match="gamma must be a finite number > 0"):
        op.prox_l2(x, y, 0.0)
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        op.solve_AAt(y, -1.0)
    with pytest.raises(ValueError, match="method must be"):
        op.A_dagger(y, method="lsqr")
    with pytest.raises(TypeError, match="floating-point"):
        op.A(x.to(torch.int64))
    with pytest.raises(TypeError, match="parameters are fixed"):
        op.A(x, filter=torch.ones(3, 3))


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"img_shape must have 3 entries \(C, H, W\)"):
        O.Denoising(img_shape=(16, 16))
    with pytest.raises(ValueError, match="larger than the image"):
        O.Blur(O.kernels.gaussian(3.0), img_shape=(1, 16, 16))
    with pytest.raises(ValueError, match="padding must be one of"):
        O.Blur(O.kernels.box(3), img_shape=(1, 16, 16), padding="zeros")
    with pytest.raises(ValueError, match="kernel holds NaN/Inf"):
        O.Blur(torch.tensor([[1.0, float("nan")]]), img_shape=(1, 16, 16))
    with pytest.raises(ValueError, match="kernel must be a non-empty 2-D array"):
        O.Blur(torch.ones(3), img_shape=(1, 16, 16))
    with pytest.raises(ValueError, match="all zeros: no pixel is known"):
        O.Inpainting(torch.zeros(16, 16), img_shape=(1, 16, 16))
    with pytest.raises(ValueError, match="mask is empty"):
        O.Inpainting(torch.zeros(0, 16), img_shape=(1, 16, 16))
    with pytest.raises(ValueError, match="only 0 \\(missing\\) and 1 \\(known\\)"):
        O.Inpainting(torch.full((16, 16), 0.5), img_shape=(1, 16, 16))
    with pytest.raises(ValueError, match=r"expected spatial size \(16, 16\)"):
        O.Inpainting(torch.ones(8, 8), img_shape=(1, 16, 16))
    with pytest.raises(ValueError, match="expected 3 channels"):
        O.Inpainting(torch.ones(2, 16, 16), img_shape=(3, 16, 16))
    with pytest.raises(ValueError, match="ratio .* must be in \\(0, 1\\]"):
        O.CompressedSensing(0.0, img_shape=(1, 16, 16))
    with pytest.raises(ValueError, match="kind='structured'"):
        O.CompressedSensing(0.5, img_shape=(3, 256, 256), kind="gaussian")
    with pytest.raises(ValueError, match="kind must be"):
        O.CompressedSensing(0.5, img_shape=(1, 16, 16), kind="bernoulli")
    with pytest.raises(ValueError, match="expected 256 columns"):
        O.from_matrix(np.ones((4, 10)), img_shape=(1, 16, 16))


# ----------------------------------------------------------------------- measurements
def test_measure_is_reproducible_and_noisy():
    op = O.Blur(O.kernels.gaussian(1.0), img_shape=(3, 16, 16))
    x = torch.rand(2, 3, 16, 16)
    a = op.measure(x, noise_std=0.1, seed=3)
    assert torch.equal(a, op.measure(x, noise_std=0.1, seed=3))
    assert not torch.equal(a, op.measure(x, noise_std=0.1, seed=4))
    assert float((a - op.A(x)).std()) == pytest.approx(0.1, rel=0.1)
    assert torch.equal(op.measure(x), op.A(x))
    p = op.measure(x, poisson_gain=50.0, seed=1)
    assert torch.equal(p, op.measure(x, poisson_gain=50.0, seed=1))
    assert torch.allclose(p * 50, (p * 50).round(), atol=1e-3)  # counts / gain
    with pytest.raises(ValueError, match="noise_std must be a finite number >= 0"):
        op.measure(x, noise_std=-0.1)
    with pytest.raises(ValueError, match="non-negative measurements"):
        O.CompressedSensing(0.5, img_shape=(3, 16, 16)).measure(x, poisson_gain=10.0)


# ----------------------------------------------------------------------- kernels
def test_kernel_builders():
    g = O.kernels.gaussian(1.5)
    assert g.shape == (11, 11) and float(g.sum()) == pytest.approx(1.0, abs=1e-6)
    torch.testing.assert_close(g, g.T)
    aniso = O.kernels.gaussian((3.0, 1.0, 0.0), size=15)
    assert aniso[7].sum() > aniso[:, 7].sum()  # wide along x (columns)
    torch.testing.assert_close(O.kernels.gaussian((3.0, 1.0, 90.0), size=15), aniso.T,
                               atol=1e-6, rtol=0)
    b = O.kernels.box((3, 5))
    assert b.shape == (3, 5) and torch.allclose(b, torch.full((3, 5), 1 / 15))
    m = O.kernels.motion(7, 0)
    assert float(m.sum()) == pytest.approx(1.0, abs=1e-6)
    assert float(m[m.shape[0] // 2].sum()) == pytest.approx(1.0, abs=1e-6)  # horizontal
    torch.testing.assert_close(O.kernels.motion(7, 90), m.T, atol=1e-6, rtol=0)
    for bad in (lambda: O.kernels.gaussian(0.0), lambda: O.kernels.gaussian(1.0, size=4),
                lambda: O.kernels.motion(0.5), lambda: O.kernels.box(0)):
        with pytest.raises(ValueError):
            bad()


def test_kernel_loaders(tmp_path):
    k = np.random.default_rng(0).random((5, 7))
    np.save(tmp_path / "k.npy", k)
    scipy.io.savemat(tmp_path / "k.mat", {"h": k})
    scipy.io.savemat(tmp_path / "two.mat", {"a": k, "b": k})
    Image.fromarray((k / k.max() * 255).astype(np.uint8)).save(tmp_path / "k.png")
    ref = torch.from_numpy(k / k.sum()).float()
    torch.testing.assert_close(O.kernels.load(tmp_path / "k.npy"), ref)
    torch.testing.assert_close(O.kernels.load(tmp_path / "k.mat"), ref)
    assert O.kernels.load(tmp_path / "k.png").shape == (5, 7)
    torch.testing.assert_close(O.kernels.load(tmp_path / "two.mat", key="b"), ref)
    with pytest.raises(ValueError, match="expected exactly one 2-D array: pass key=NAME"):
        O.kernels.load(tmp_path / "two.mat")
    import h5py

    with h5py.File(tmp_path / "v73.mat", "w") as f:  # MATLAB v7.3 stores transposed
        f.create_dataset("kernel", data=k.T)
    torch.testing.assert_close(O.kernels.load(tmp_path / "v73.mat"), ref)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(OSError, match="cannot read the kernel image"):
        O.kernels.load(tmp_path / "bad.png")
    with pytest.raises(OSError, match="does not exist"):
        O.kernels.load(tmp_path / "missing.npy")
    np.save(tmp_path / "neg.npy", -np.ones((3, 3)))
    with pytest.raises(ValueError, match="expected a positive sum"):
        O.kernels.load(tmp_path / "neg.npy")


def test_levin_kernels_from_the_shared_data():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "shared" / "data" / "kernels" / "levin09"
    if not root.is_dir():
        pytest.skip("shared data not available")
    k = O.kernels.load(root / "Levin09.mat", index=0)
    torch.testing.assert_close(k, O.kernels.load(root / "levin09_1.npy"), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="cell array of 8 kernels: pass index"):
        O.kernels.load(root / "Levin09.mat")


# ----------------------------------------------------------------------- masks
def test_mask_builders(tmp_path):
    m = O.masks.random_mask(0.3, img_shape=(3, 20, 10), seed=1)
    assert m.shape == (20, 10) and int(m.sum()) == 60
    assert torch.equal(m, O.masks.random_mask(0.3, img_shape=(20, 10), seed=1))
    assert not torch.equal(m, O.masks.random_mask(0.3, img_shape=(20, 10), seed=2))
    t = O.masks.text_mask("pnp", img_shape=(64, 64))
    assert t.shape == (64, 64) and 0.02 < float(1 - t.mean()) < 0.6
    b = O.masks.block_mask(4, img_shape=(16, 16))
    assert int((b == 0).sum()) == 16 and b[6:10, 6:10].sum() == 0
    r = O.masks.block_mask((2, 3), img_shape=(16, 16), n_blocks=3, seed=0)
    assert torch.equal(r, O.masks.block_mask((2, 3), img_shape=(16, 16), n_blocks=3, seed=0))
    arr = np.zeros((16, 16), dtype=np.uint8)
    arr[:, :8] = 255  # white = known
    Image.fromarray(arr).save(tmp_path / "m.png")
    loaded = O.masks.load(tmp_path / "m.png")
    assert float(loaded[:, :8].min()) == 1 and float(loaded[:, 8:].max()) == 0
    op = O.Inpainting(tmp_path / "m.png", img_shape=(3, 16, 16))
    assert op.ratio == 0.5
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(OSError, match="cannot read the mask image"):
        O.masks.load(tmp_path / "bad.png")
    with pytest.raises(ValueError, match="ratio"):
        O.masks.random_mask(1.5, img_shape=(8, 8))
    with pytest.raises(ValueError, match="text must be a non-empty string"):
        O.masks.text_mask("", img_shape=(8, 8))


def test_inpainting_solve_AAt_on_kept_and_missing_entries():
    mask = O.masks.random_mask(0.5, img_shape=(8, 8), seed=0)
    op = O.Inpainting(mask, img_shape=(1, 8, 8))
    r = torch.rand(1, 1, 8, 8) + 0.5
    out = op.solve_AAt(r, 0.25)
    torch.testing.assert_close(out[..., mask == 1], r[..., mask == 1] / 1.25)
    torch.testing.assert_close(out[..., mask == 0], r[..., mask == 0] / 0.25)
    assert float(op.solve_AAt(r)[..., mask == 0].abs().max()) == 0.0  # pseudo-inverse


# ----------------------------------------------------------------------- custom operators
def test_wrong_adjoint_is_refused_with_its_error():
    k = torch.rand(5, 5, generator=torch.Generator().manual_seed(0))  # not point-symmetric
    op = O.Blur(k, img_shape=(1, 16, 16))
    with pytest.raises(ValueError, match=r"adjoint test failed .* relative error \d\.\d+e[-+]\d+"):
        O.from_functions(op.A, op.A, img_shape=(1, 16, 16), meas_shape=(1, 16, 16))
    scaled = O.from_functions(op.A, lambda y: 1.01 * op.A_adjoint(y), img_shape=(1, 16, 16),
                              meas_shape=(1, 16, 16), check=False)
    assert O.adjoint_error(scaled) == pytest.approx(0.01, rel=1e-3)
    with pytest.raises(ValueError, match="relative error 1.000e-02"):
        O.check_adjoint(scaled)
    good = O.from_functions(op.A, op.A_adjoint, img_shape=(1, 16, 16), meas_shape=(1, 16, 16))
    assert O.check_adjoint(good) < 1e-6
    with pytest.raises(ValueError, match="A returned"):
        O.from_functions(lambda x: x[..., :4], op.A_adjoint, img_shape=(1, 16, 16),
                         meas_shape=(1, 16, 16))


def test_from_scipy_and_custom_data_steps_match_builtin():
    """A SciPy LinearOperator version of a circular blur gives the same data steps (by CG)."""
    op = O.Blur(O.kernels.gaussian(0.8), img_shape=(1, 12, 12))
    shape = (1, 12, 12)

    def mv(v):
        x = torch.from_numpy(np.ascontiguousarray(v.T)).reshape((-1,) + shape).float()
        return op.A(x).reshape(x.shape[0], -1).double().numpy().T

    def rmv(v):
        y = torch.from_numpy(np.ascontiguousarray(v.T)).reshape((-1,) + shape).float()
        return op.A_adjoint(y).reshape(y.shape[0], -1).double().numpy().T

    lo = spla.LinearOperator((144, 144), matvec=mv, rmatvec=rmv, matmat=mv, rmatmat=rmv,
                             dtype=np.float64)
    custom = O.from_scipy(lo, img_shape=shape)
    z, y = torch.rand(2, *shape), op.A(torch.rand(2, *shape))
    torch.testing.assert_close(custom.prox_l2(z, y.reshape(2, -1), 1.0, tol=1e-7, max_iter=300),
                               op.prox_l2(z, y, 1.0), atol=1e-4, rtol=0)
    mat = O.from_matrix(custom.A(torch.eye(144).reshape(144, *shape)).T, img_shape=shape)
    torch.testing.assert_close(mat.solve_AAt(y.reshape(2, -1), 0.1).reshape(2, *shape),
                               op.solve_AAt(y, 0.1), atol=1e-4, rtol=0)
