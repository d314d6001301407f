"""Cross-scale patch recurrence: the SR kernel under which the image's small patches recur
best in its own downscaled copy (Michaeli & Irani's nonparametric blind SR).

Small patches of natural images recur across scales. If ``y`` was made from the unknown
high-resolution image by the kernel ``k`` and decimation by ``s``, then ``y`` downscaled by the
same ``k`` and ``s`` is to ``y`` what ``y`` is to the high-resolution image, and the patches of
``y`` find their closest look-alikes in that copy. The estimate alternates two steps [1]_:

1. downscale ``y`` with the current kernel and find, for each textured patch ``q_i`` of ``y``,
   its nearest patches ``r_j`` in the copy (weights ``w_ij`` from their distances);
2. each ``r_j`` is linear in the kernel, ``r_j = R_j k`` (``R_j`` built from the patch of ``y``
   it was computed from), so the kernel minimising ``sum w_ij |q_i - R_j k|^2 + lam |grad k|^2``
   with taps summing to 1 is one small linear solve.

The same weighted distance, evaluated for a given kernel (:meth:`PatchRecurrence.error`), ranks
candidate kernels without the ground truth.

References
----------
.. [1] T. Michaeli and M. Irani, "Nonparametric Blind Super-Resolution", ICCV 2013.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from ..operators import kernels
from ..operators.downsampling import check_factor, matlab_bicubic_kernel
from .kernelgan import KernelEstimate, finish_estimate

__all__ = ["PatchRecurrence"]


def _luma(y: torch.Tensor) -> torch.Tensor:
    """``(h, w)`` float64 luma of ``y`` ``(1, 1 or 3, h, w)``."""
    if y.ndim != 4 or y.shape[0] != 1 or y.shape[1] not in (1, 3):
        raise ValueError(f"expected y of shape (1, 1 or 3, h, w), got {tuple(y.shape)}")
    img = y[0].detach().cpu().double()
    if img.shape[0] == 3:
        img = 0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]
    else:
        img = img[0]
    return img


def _bicubic_x2() -> torch.Tensor:
    """The x2 bicubic kernel as an odd-sized array kernel on the bicubic grid (the start)."""
    bic, _ = matlab_bicubic_kernel(2)
    return kernels.centre_on_grid(bic, 2).double()


class PatchRecurrence:
    """Estimate the SR kernel of a low-resolution image from cross-scale patch recurrence [1]_.

    Parameters
    ----------
    factor : int
        2 or 4 (x4: the x2 estimate composed with itself, as for
        :class:`~pnp_internal.blind.KernelGAN`).
    size : int
        Odd side of the estimated x2 kernel.
    patch : int
        Side of the compared patches.
    queries : int
        Patches of ``y`` that look for their recurrences: the most textured ones (flat patches
        match anything and say nothing about the kernel).
    neighbours : int
        Nearest patches of the downscaled copy kept per query.
    max_iter : int
        Alternations of matching and kernel solve.
    smoothness : float
        ``lam`` of the gradient penalty, relative to the mean diagonal of the normal matrix.
    fallback : {"bicubic"} or tensor
        Kernel returned, with a warning, when the estimate is degenerate.

    Notes
    -----
    The copy is computed exactly as :class:`~pnp_internal.operators.Downsampling` with an array
    kernel would (the kernel centred at ``size // 2``, low-resolution pixel ``i`` at
    high-resolution pixel ``2 i``), and only patches whose source region lies inside ``y``
    are used. The weights are ``exp(-d^2 / (2 h^2))`` with ``h^2`` the median squared distance
    to the nearest patch; the estimate starts from the bicubic kernel, and the result is
    centred on the bicubic grid (:func:`~pnp_internal.operators.kernels.centre_on_grid`).

    References
    ----------
    .. [1] T. Michaeli and M. Irani, "Nonparametric Blind Super-Resolution", ICCV 2013.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.blind import PatchRecurrence
    >>> y = torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(0))
    >>> est = PatchRecurrence(max_iter=1, queries=100).estimate(y)
    >>> tuple(est.kernel.shape), round(float(est.kernel.sum()), 4)
    ((13, 13), 1.0)
    """

    def __init__(self, *, factor: int = 2, size: int = 13, patch: int = 5, queries: int = 4000,
                 neighbours: int = 10, max_iter: int = 10, smoothness: float = 0.01,
                 fallback="bicubic"):
        self.factor = check_factor(factor)
        if self.factor not in (2, 4):
            raise ValueError(f"PatchRecurrence estimates x2 and x4 kernels, got factor {factor}")
        if size < 3 or size % 2 == 0 or patch < 3 or patch % 2 == 0:
            raise ValueError(f"size and patch must be odd and >= 3, got {size}, {patch}")
        if queries < 1 or neighbours < 1 or max_iter < 1 or smoothness < 0:
            raise ValueError(f"need queries, neighbours, max_iter >= 1 and smoothness >= 0; got "
                             f"{queries}, {neighbours}, {max_iter}, {smoothness}")
        self.size, self.patch, self.queries = int(size), int(patch), int(queries)
        self.neighbours, self.max_iter = int(neighbours), int(max_iter)
        self.smoothness = float(smoothness)
        self.fallback = fallback

    # -- the two sides of the match -------------------------------------------------------
    def _queries(self, img: torch.Tensor) -> torch.Tensor:
        """``(n, patch^2)``: the most textured patches of ``y`` (highest variance)."""
        q = F.unfold(img[None, None], self.patch)[0].T
        n = min(self.queries, len(q))
        return q[q.var(1).topk(n).indices]

    def _responses(self, img: torch.Tensor) -> torch.Tensor:
        """``(size^2, patch^2, m)``: patch ``j`` of the copy downscaled by the basis kernel
        ``t``, so that the copy's patch ``j`` for kernel ``k`` is ``k_t U[t, :, j]``; only
        copy pixels whose source region lies inside ``y``."""
        s, n = 2, self.size
        h, w = img.shape
        if min(h, w) < n + s * self.patch:
            raise ValueError(f"y is {h}x{w}; the patch-recurrence estimate needs at least "
                             f"{n + s * self.patch} pixels a side")
        # copy pixel (a, b) = sum_{u,v} k[u, v] y[s a - u + n//2, s b - v + n//2] (a true
        # convolution, as Downsampling's), for the pixels with the whole support inside y
        cols = F.unfold(img[None, None], n, stride=s)[0]  # (n*n, m): y[s a' + u', s b' + v']
        hh, ww = (h - n) // s + 1, (w - n) // s + 1
        basis = cols.flip(0).reshape(n * n, 1, hh, ww)  # tap t=(u,v) reads y[.. + n-1-u, ..]
        return F.unfold(basis, self.patch)  # (n*n, patch^2, m)

    def _match(self, q: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                  torch.Tensor]:
        """Nearest copy patches of each query: ``(distances^2, indices)`` ``(n, neighbours)``
        and the weights."""
        kn = min(self.neighbours, r.shape[0])
        d2, idx = [], []
        rr = (r * r).sum(1)
        for chunk in q.split(1024):
            d = (chunk * chunk).sum(1, keepdim=True) + rr[None] - 2 * chunk @ r.T
            v, i = d.clamp(min=0).topk(kn, dim=1, largest=False)
            d2.append(v)
            idx.append(i)
        d2, idx = torch.cat(d2), torch.cat(idx)
        h2 = d2[:, 0].median().clamp(min=1e-12)
        return d2, idx, torch.exp(-d2 / (2 * h2))

    # -- public ---------------------------------------------------------------------------
    def error(self, y: torch.Tensor, kernel) -> float:
        """Mean squared distance per pixel from the textured patches of ``y`` to their nearest
        patch in ``y`` downscaled by 2 with ``kernel`` (an x2 kernel of at most ``size`` taps a
        side): lower when the kernel is closer to the one that made ``y``."""
        img = _luma(y)
        k = self._padded(kernels.as_kernel(kernel, name="kernel").double())
        return self._recurrence(self._queries(img), self._responses(img), k)[0]

    def _recurrence(self, q: torch.Tensor, U: torch.Tensor, k: torch.Tensor):
        """Recurrence error of kernel ``k`` (mean squared distance per pixel to the nearest
        copy patch) with the matches and weights (:meth:`_match`)."""
        d2, idx, wgt = self._match(q, torch.einsum("t,tpm->mp", k.flatten(), U))
        return float(d2[:, 0].mean()) / self.patch ** 2, idx, wgt

    def _padded(self, k: torch.Tensor) -> torch.Tensor:
        """``k`` zero-padded (or refused) to ``size x size`` about its centre."""
        n = self.size
        kh, kw = k.shape
        if kh > n or kw > n or kh % 2 == 0 or kw % 2 == 0:
            raise ValueError(f"kernel must be odd-sized and at most {n}x{n}, got {kh}x{kw}")
        out = torch.zeros(n, n, dtype=k.dtype)
        out[(n - kh) // 2:(n + kh) // 2, (n - kw) // 2:(n + kw) // 2] = k
        return out / out.sum()

    def estimate(self, y: torch.Tensor) -> KernelEstimate:
        """Estimate the kernel that downscaled ``y`` ``(1, C, h, w)`` (colour: on the luma)."""
        t0 = time.perf_counter()
        img = _luma(y)
        n = self.size
        q = self._queries(img)
        U = self._responses(img)
        k = self._padded(_bicubic_x2())
        # gradient penalty and the sum-to-one constraint (KKT system)
        eye = torch.eye(n * n, dtype=torch.float64).reshape(n * n, n, n)
        grads = torch.cat([(eye[:, 1:] - eye[:, :-1]).flatten(1),
                           (eye[:, :, 1:] - eye[:, :, :-1]).flatten(1)], 1)
        penalty = grads @ grads.T
        err, idx, wgt = self._recurrence(q, U, k)
        start, m = err, U.shape[-1]
        for _ in range(self.max_iter):
            W = torch.zeros(m, dtype=torch.float64).index_add_(0, idx.flatten(), wgt.flatten())
            B = torch.zeros(m, self.patch ** 2, dtype=torch.float64).index_add_(
                0, idx.flatten(), (wgt[..., None] * q[:, None, :]).flatten(0, 1))
            used = W.nonzero().flatten()
            Uu = U[:, :, used]
            A = torch.einsum("tpm,m,spm->ts", Uu, W[used], Uu)
            b = torch.einsum("tpm,mp->t", Uu, B[used])
            A = A + self.smoothness * A.diagonal().mean() * penalty
            kkt = torch.zeros(n * n + 1, n * n + 1, dtype=torch.float64)
            kkt[:-1, :-1], kkt[:-1, -1], kkt[-1, :-1] = A, 1.0, 1.0
            sol = torch.linalg.solve(kkt, torch.cat([b, torch.ones(1, dtype=torch.float64)]))
            k_new = sol[:-1].reshape(n, n).clamp(min=0)
            if not float(k_new.sum()) > 0:
                break
            k_new = k_new / k_new.sum()
            # damped step: the solve minimises a surrogate of the recurrence error, so the
            # step is halved until the error itself decreases
            for step in (1.0, 0.5, 0.25):
                trial = (1 - step) * k + step * k_new
                trial_err, trial_idx, trial_wgt = self._recurrence(q, U, trial)
                if trial_err < err:
                    break
            else:
                break
            k, err, idx, wgt = trial, trial_err, trial_idx, trial_wgt
        k, why = finish_estimate(k, self.factor, self.fallback, "PatchRecurrence")
        return KernelEstimate(kernel=k.float(), factor=self.factor,
                              confidence=1 - err / start if start > 0 else 0.0,
                              degenerate=why, seconds=time.perf_counter() - t0)
