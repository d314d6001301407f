"""User-defined forward models: from two functions, a matrix, or a SciPy linear operator.

All three return an :class:`~pnp_internal.operators.base.Operator` (a deepinv
``LinearPhysics``) and, unless ``check=False``, run the dot-product test on construction: a
wrong adjoint raises ``ValueError`` with the measured relative error.

Examples
--------
>>> import torch
>>> from pnp_internal.operators import from_functions
>>> A = lambda x: x[..., ::2, :]                    # keep every other row
>>> def At(y):
...     x = y.new_zeros(y.shape[:-2] + (2 * y.shape[-2], y.shape[-1]))
...     x[..., ::2, :] = y
...     return x
>>> op = from_functions(A, At, img_shape=(1, 8, 8), meas_shape=(1, 4, 8))
>>> op.A_dagger(op.A(torch.ones(1, 1, 8, 8))).shape
torch.Size([1, 1, 8, 8])
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from .base import Operator, as_shape
from .checks import check_adjoint

__all__ = ["from_functions", "from_matrix", "from_scipy", "FunctionOperator",
           "MatrixOperator", "ScipyOperator"]

#: Largest number of rows for which a dense matrix operator uses the exact
#: eigendecomposition of ``M M^T`` (computed once, O(m^2 n)); above it, conjugate gradients.
MAX_EIGH_ROWS = 4096


class FunctionOperator(Operator):
    """Operator given by two functions on batched tensors; data steps by conjugate gradients.

    See :func:`from_functions`.
    """

    def __init__(self, A: Callable, A_adjoint: Callable, *, img_shape, meas_shape):
        if not callable(A) or not callable(A_adjoint):
            raise TypeError("A and A_adjoint must be callables mapping batched tensors")
        super().__init__(img_shape=img_shape, meas_shape=meas_shape)
        self._fn, self._fn_adj = A, A_adjoint

    def _A(self, x):
        y = self._fn(x)
        if not isinstance(y, torch.Tensor) or tuple(y.shape) != (x.shape[0],) + self.meas_shape:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"A returned {got}, expected shape {(x.shape[0],) + self.meas_shape}"
                             " (B, *meas_shape)")
        return y

    def _At(self, y):
        x = self._fn_adj(y)
        if not isinstance(x, torch.Tensor) or tuple(x.shape) != (y.shape[0],) + self.img_shape:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"A_adjoint returned {got}, expected shape "
                             f"{(y.shape[0],) + self.img_shape} (B, *img_shape)")
        return x


class MatrixOperator(Operator):
    r"""``y = M vec(x)`` for a dense or sparse matrix ``M`` of shape ``(m, C*H*W)``.

    ``vec`` flattens ``(C, H, W)`` in C order; measurements have shape ``(B, m)``. For a
    dense ``M`` with ``m <= MAX_EIGH_ROWS`` the data steps are exact, from the
    eigendecomposition ``M M^T = Q diag(lambda) Q^T`` computed once on first use (float64)
    and cached per device/dtype; otherwise conjugate gradients.
    """

    def __init__(self, matrix, *, img_shape):
        img_shape = as_shape(img_shape)
        n = math.prod(img_shape)
        sparse = False
        try:
            import scipy.sparse as sp

            if sp.issparse(matrix):
                coo = sp.coo_matrix(matrix)
                idx = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.long)
                m_t = torch.sparse_coo_tensor(idx, torch.as_tensor(coo.data, dtype=torch.float32),
                                              coo.shape, check_invariants=True).coalesce()
                sparse = True
        except ImportError:  # pragma: no cover - scipy is a dependency
            pass
        if not sparse:
            if isinstance(matrix, torch.Tensor):
                m_t = matrix.detach().to(torch.float32)
                sparse = m_t.is_sparse
                if sparse:
                    m_t = m_t.coalesce()
            else:
                m_t = torch.as_tensor(np.asarray(matrix, dtype=np.float32))
        if m_t.ndim != 2:
            raise ValueError(f"matrix must be 2-D (m, n), got shape {tuple(m_t.shape)}")
        if m_t.shape[1] != n:
            raise ValueError(f"matrix: expected {n} columns (C*H*W for img_shape={img_shape}), "
                             f"got shape {tuple(m_t.shape)}")
        values = m_t.values() if sparse else m_t
        if not bool(torch.isfinite(values).all()):
            raise ValueError("matrix holds NaN/Inf values")
        super().__init__(img_shape=img_shape, meas_shape=(int(m_t.shape[0]),))
        self.sparse = sparse
        self.register_buffer("matrix", m_t)
        if sparse:
            self.register_buffer("_matrix_t", m_t.t().coalesce())
        self._eig: dict = {}

    def _mat(self, dtype, t=False):
        m = self._matrix_t if (t and self.sparse) else self.matrix
        return m if m.dtype == dtype else m.to(dtype)

    def _A(self, x):
        v = x.reshape(x.shape[0], -1)
        if self.sparse:
            return torch.sparse.mm(self._mat(x.dtype), v.T).T
        return v @ self._mat(x.dtype).T

    def _At(self, y):
        if self.sparse:
            v = torch.sparse.mm(self._mat(y.dtype, t=True), y.T).T
        else:
            v = y @ self._mat(y.dtype)
        return v.reshape((y.shape[0],) + self.img_shape)

    def _eigh(self, device, dtype):
        key = (str(device), dtype)
        if key not in self._eig:
            with torch.inference_mode(False), torch.no_grad():
                m = self.matrix.to(torch.float64)
                lam, q = torch.linalg.eigh(m @ m.T)
                self._eig[key] = (lam.clamp_min(0).to(device, dtype), q.to(device, dtype))
        return self._eig[key]

    def _closed_solve_AAt(self, r, eps, rcond):
        if self.sparse or self.meas_shape[0] > MAX_EIGH_ROWS:
            return None
        lam, q = self._eigh(r.device, r.dtype)
        if eps > 0:
            inv = 1.0 / (lam + eps)
        else:
            keep = lam > (rcond ** 2) * lam.max()
            inv = torch.where(keep, 1.0 / torch.where(keep, lam, 1.0), torch.zeros_like(lam))
        return ((r @ q) * inv) @ q.T


class ScipyOperator(Operator):
    """Operator wrapping a ``scipy.sparse.linalg.LinearOperator`` (CPU, float64 inside);
    data steps by conjugate gradients. See :func:`from_scipy`."""

    def __init__(self, linear_operator, *, img_shape):
        import scipy.sparse.linalg as spla

        img_shape = as_shape(img_shape)
        try:
            lo = spla.aslinearoperator(linear_operator)
        except TypeError:
            raise TypeError("linear_operator must be a scipy LinearOperator (or a matrix), "
                            f"got {type(linear_operator).__name__}") from None
        n = math.prod(img_shape)
        if lo.shape[1] != n:
            raise ValueError(f"linear_operator: expected {n} columns (C*H*W for img_shape="
                             f"{img_shape}), got shape {lo.shape}")
        super().__init__(img_shape=img_shape, meas_shape=(int(lo.shape[0]),))
        self.linear_operator = lo

    def _run(self, t, fn, out_shape):
        v = t.detach().reshape(t.shape[0], -1).to("cpu", torch.float64).numpy().T
        out = np.asarray(fn(np.ascontiguousarray(v)), dtype=np.float64)
        if out.ndim == 1:
            out = out[:, None]
        return torch.from_numpy(np.ascontiguousarray(out.T)).to(t.device, t.dtype).reshape(
            (t.shape[0],) + out_shape)

    def _A(self, x):
        return self._run(x, self.linear_operator.matmat, self.meas_shape)

    def _At(self, y):
        return self._run(y, self.linear_operator.rmatmat, self.img_shape)


def from_functions(A: Callable, A_adjoint: Callable, *, img_shape, meas_shape,
                   check: bool = True) -> FunctionOperator:
    """An operator from a forward function and its adjoint.

    Parameters
    ----------
    A : callable
        ``A(x) -> y`` on batched tensors: ``(B, *img_shape) -> (B, *meas_shape)``, linear.
    A_adjoint : callable
        ``A_adjoint(y) -> x``, the transpose of ``A``.
    img_shape, meas_shape : tuple of int
        Shapes of one image ``(C, H, W)`` and of one measurement.
    check : bool
        Run :func:`~pnp_internal.operators.checks.check_adjoint` (tolerance 1e-5) on construction.

    Returns
    -------
    FunctionOperator
        A deepinv ``LinearPhysics`` whose data steps use conjugate gradients.

    Raises
    ------
    ValueError
        If ``check`` and the adjoint is wrong (the message prints the relative error).
    """
    op = FunctionOperator(A, A_adjoint, img_shape=img_shape, meas_shape=meas_shape)
    if check:
        check_adjoint(op)
    return op


def from_matrix(M, *, img_shape, check: bool = True) -> MatrixOperator:
    """An operator ``y = M vec(x)`` from a dense tensor/ndarray or a SciPy sparse matrix of
    shape ``(m, C*H*W)``; measurements are ``(B, m)``. See :class:`MatrixOperator`."""
    op = MatrixOperator(M, img_shape=img_shape)
    if check:
        check_adjoint(op)
    return op


def from_scipy(linear_operator, *, img_shape, check: bool = True) -> ScipyOperator:
    """An operator from a ``scipy.sparse.linalg.LinearOperator`` of shape ``(m, C*H*W)``
    (its ``matmat``/``rmatmat`` are used; CPU only, computed in float64)."""
    op = ScipyOperator(linear_operator, img_shape=img_shape)
    if check:
        check_adjoint(op)
    return op
