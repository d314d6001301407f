"""Compressed sensing: random projections of the whole image."""

from __future__ import annotations

import math

import torch

from .base import Operator, as_shape
from .custom import MatrixOperator

#: Largest dense Gaussian matrix (bytes, float32) that ``kind="gaussian"`` builds.
GAUSSIAN_MAX_BYTES = 256 * 2 ** 20


def _n_meas(ratio, n: int) -> int:
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise ValueError(f"ratio (measurements per pixel, m/n) must be in (0, 1], got {ratio!r}")
    return max(1, round(ratio * n))


def hartley(v: torch.Tensor) -> torch.Tensor:
    """Orthonormal discrete Hartley transform along the last dim,
    ``H v = (Re F v - Im F v) / sqrt(n)``; ``H`` is symmetric and ``H H = I``."""
    n = v.shape[-1]
    f = torch.fft.rfft(v)
    a = f.real - f.imag  # k = 0 .. n//2
    b = (f.real + f.imag)[..., 1:n - n // 2].flip(-1)  # k = n//2+1 .. n-1 via F[n-k]
    return torch.cat([a, b], dim=-1) / math.sqrt(n)


class CompressedSensing(Operator):
    r"""Compressed sensing ``y = A vec(x)`` with ``m = round(ratio * C*H*W)`` measurements.

    Parameters
    ----------
    ratio : float
        Measurements per unknown, ``m / n`` in (0, 1].
    img_shape : tuple of int
        ``(C, H, W)``; the image is flattened in C order, measurements are ``(B, m)``.
    kind : {"structured", "gaussian"}
        ``"structured"``: ``A = P H D`` with ``D`` random signs, ``H`` the orthonormal
        discrete Hartley transform (one real FFT, O(n log n)) and ``P`` a random choice of
        ``m`` rows. Its rows are orthonormal, ``A A^T = I``, so ``A^+ = A^T`` exactly and
        ``||A x|| ~ sqrt(m/n) ||x||``. ``"gaussian"``: a dense ``m x n`` matrix of i.i.d.
        ``N(0, 1/m)`` entries (``E ||A x||^2 = ||x||^2``), refused when it would exceed
        ``max_bytes`` (256 MB, float32); its data steps are exact from the
        eigendecomposition of ``A A^T`` (see :class:`~pnp_internal.operators.custom.MatrixOperator`).
    seed : int
        Seed of the random signs/rows or of the Gaussian matrix.
    max_bytes : int
        Memory budget of ``kind="gaussian"``.

    Notes
    -----
    The structured operator is a subsampled randomised orthonormal transform in the spirit
    of the subsampled randomised Hadamard/DCT transforms [1]_; the Hartley transform is used
    because it is real, symmetric and involutory for every length ``n``. With ``A A^T = I``:
    ``solve_AAt(r, eps) = r / (1 + eps)``, ``A_dagger(y) = A^T y`` and
    ``prox_l2(z, y, gamma) = z + A^T (y - A z) gamma / (1 + gamma)``.

    References
    ----------
    .. [1] T. T. Do, L. Gan, N. H. Nguyen and T. D. Tran, "Fast and efficient compressive
       sensing using structurally random matrices", IEEE Trans. Signal Process. 60(1), 2012.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.operators import CompressedSensing
    >>> op = CompressedSensing(0.25, img_shape=(1, 32, 32), seed=0)
    >>> op.meas_shape
    (256,)
    """

    def __init__(self, ratio, *, img_shape, kind: str = "structured", seed: int = 0,
                 max_bytes: int = GAUSSIAN_MAX_BYTES):
        if kind not in ("structured", "gaussian"):
            raise ValueError(f"kind must be 'structured' or 'gaussian', got {kind!r}")
        img_shape = as_shape(img_shape)
        n = math.prod(img_shape)
        m = _n_meas(ratio, n)
        gen = torch.Generator().manual_seed(int(seed))
        if kind == "gaussian":
            need = 4 * m * n
            if need > max_bytes:
                raise ValueError(
                    f"CompressedSensing(kind='gaussian') would need a {m} x {n} float32 matrix "
                    f"({need / 2**20:.0f} MB) for img_shape={img_shape}, above the budget of "
                    f"{max_bytes / 2**20:.0f} MB; use kind='structured' (a fast O(n log n) "
                    "operator) or a smaller image")
        super().__init__(img_shape=img_shape, meas_shape=(m,))
        self.kind = kind
        self.ratio = m / n
        if kind == "gaussian":
            mat = torch.randn((m, n), generator=gen) / math.sqrt(m)
            self.dense = MatrixOperator(mat, img_shape=img_shape)
        else:
            signs = torch.randint(0, 2, (n,), generator=gen).to(torch.float32) * 2 - 1
            rows = torch.randperm(n, generator=gen)[:m].sort().values
            self.register_buffer("signs", signs)
            self.register_buffer("rows", rows)

    def _A(self, x):
        if self.kind == "gaussian":
            return self.dense._A(x)
        v = x.reshape(x.shape[0], -1) * self.signs
        return hartley(v).index_select(-1, self.rows)

    def _At(self, y):
        if self.kind == "gaussian":
            return self.dense._At(y)
        full = y.new_zeros((y.shape[0], self.signs.numel()))
        full[:, self.rows] = y
        return (hartley(full) * self.signs).reshape((y.shape[0],) + self.img_shape)

    def _closed_solve_AAt(self, r, eps, rcond):
        if self.kind == "gaussian":
            return self.dense._closed_solve_AAt(r, eps, rcond)
        return r / (1.0 + eps)

    def _closed_prox(self, z, y, gamma):
        if self.kind == "gaussian":
            return None
        return z + self._At(y - self._A(z)) * (gamma / (1.0 + gamma))

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, ratio={self.ratio:.4f}, " + super().extra_repr()
