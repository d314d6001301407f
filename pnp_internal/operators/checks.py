"""Adjointness checks (the dot-product test) for any linear operator.

Examples
--------
>>> import torch
>>> from pnp_internal.operators import Blur, kernels, adjoint_error, check_adjoint
>>> op = Blur(kernels.box(3), img_shape=(1, 16, 16), padding="reflect")
>>> adjoint_error(op) < 1e-12
True
"""

from __future__ import annotations

import torch
from deepinv.physics import LinearPhysics

__all__ = ["adjoint_error", "check_adjoint"]


def _img_shape(op, img_shape):
    if img_shape is not None:
        return tuple(int(s) for s in img_shape)
    for attr in ("img_shape", "img_size", "imsize"):
        shape = getattr(op, attr, None)
        if shape is not None:
            return tuple(int(s) for s in shape)
    raise ValueError(f"cannot tell the input shape of {type(op).__name__}: pass "
                     "img_shape=(C, H, W)")


def _device(op) -> torch.device:
    for t in list(op.buffers()) + list(op.parameters()):
        return t.device
    return torch.device("cpu")


def _dot_test(op, shape, n_samples, seed, dtype, device):
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    x = torch.randn((n_samples,) + shape, generator=gen, dtype=torch.float64)
    x = x.to(device, dtype)
    ax = op.A(x)
    y = torch.randn(ax.shape, generator=gen, dtype=torch.float64).to(device, dtype)
    aty = op.A_adjoint(y)
    if tuple(aty.shape) != tuple(x.shape):
        raise ValueError(f"A_adjoint returned shape {tuple(aty.shape)}, expected "
                         f"{tuple(x.shape)} (the shape of the images)")
    s1 = (ax.double() * y.double()).reshape(n_samples, -1).sum(1)
    s2 = (x.double() * aty.double()).reshape(n_samples, -1).sum(1)
    norm = s1.square().mean().sqrt()
    if float(norm) == 0.0:
        norm = s2.square().mean().sqrt()
        if float(norm) == 0.0:
            return 0.0
    return float((s1 - s2).square().mean().sqrt() / norm)


def adjoint_error(op: LinearPhysics, *, img_shape=None, seed: int = 0, n_samples: int = 8,
                  dtype: torch.dtype | None = None) -> float:
    r"""Relative error of the adjoint, estimated by the dot-product test.

    With ``n_samples`` pairs of standard Gaussian ``x`` (images) and ``y`` (measurements),
    returns ``sqrt(mean (<A x, y> - <x, A^T y>)^2) / sqrt(mean <A x, y>^2)``, an unbiased
    Monte-Carlo estimate of ``||A - (A^T)^T||_F / ||A||_F`` (deepinv's
    ``adjointness_test``). It is about the machine precision for an exact adjoint and of
    order 1 for a wrong one.

    Parameters
    ----------
    op : deepinv.physics.LinearPhysics
        Any operator with ``A`` and ``A_adjoint`` on batched tensors.
    img_shape : tuple, optional
        ``(C, H, W)`` when ``op`` does not say it (``op.img_shape``/``op.img_size``).
    seed : int
        Seed of the random vectors.
    n_samples : int
        Number of random pairs (the batch size of the test).
    dtype : torch.dtype, optional
        Precision of the test; default float64, falling back to float32 when the operator
        only works in float32.
    """
    shape = _img_shape(op, img_shape)
    if not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    device = _device(op)
    if dtype is not None:
        return _dot_test(op, shape, n_samples, seed, dtype, device)
    try:
        return _dot_test(op, shape, n_samples, seed, torch.float64, device)
    except (RuntimeError, TypeError):
        return _dot_test(op, shape, n_samples, seed, torch.float32, device)


def check_adjoint(op: LinearPhysics, tol: float = 1e-5, *, img_shape=None,
                  seed: int = 0) -> float:
    """Raise ``ValueError`` if :func:`adjoint_error` exceeds ``tol``; return the error.

    The message prints the measured relative error, e.g. ``"adjoint test failed: relative
    error 4.1e-01 > tol 1e-05 ..."``.
    """
    err = adjoint_error(op, img_shape=img_shape, seed=seed)
    if not err <= tol:
        raise ValueError(f"adjoint test failed for {type(op).__name__}: relative error "
                         f"{err:.3e} > tol {tol:g}; A_adjoint is not the transpose of A "
                         "(check the adjoint's formula, its boundary handling and scaling)")
    return err
