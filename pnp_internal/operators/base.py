"""Common base of the forward operators: shape and value checks, noisy measurements, and the
closed-form-or-conjugate-gradient data steps shared by every operator.

Every operator of :mod:`pnp_internal.operators` is a :class:`deepinv.physics.LinearPhysics`
(so deepinv's solvers accept it) that knows its input shape ``img_shape = (C, H, W)`` and its
measurement shape ``meas_shape``. Three data steps are provided:

* ``A_dagger(y)`` -- the minimum-norm least-squares solution ``A^+ y``,
* ``prox_l2(z, y, gamma)`` -- ``argmin_x 1/2 ||Ax - y||^2 + 1/(2 gamma) ||x - z||^2``
  (deepinv's convention),
* ``solve_AAt(r, eps)`` -- ``(A A^T + eps I)^{-1} r``.

A subclass with a closed form for ``(A A^T + eps I)^{-1}`` implements
:meth:`Operator._closed_solve_AAt`; the two other steps then follow exactly from it:
``A^+ y = A^T (A A^T)^+ y`` and ``prox_l2(z, y, gamma) = z + A^T (A A^T + I/gamma)^{-1} (y - A z)``
(Woodbury). Otherwise all three use conjugate gradients (:func:`cg`). No method changes the
operator: iteration counts and tolerances are per call, never written back (deepinv's own
``A_dagger``/``prox_l2`` overwrite ``solver``/``max_iter``/``tol``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from deepinv.physics import DecomposablePhysics, LinearPhysics

#: Default relative cut-off of the pseudo-inverses: singular values below ``RCOND`` times the
#: largest one are treated as zero, as in ``numpy.linalg.pinv(M, rcond=RCOND)``.
RCOND = 1e-3

# Keyword arguments that deepinv's ``Physics.forward`` forwards to ``A`` together with the noise
# model's; they are accepted and ignored (the operators here have fixed parameters).
_NOISE_KEYS = frozenset({"sigma", "gain", "rng", "seed", "noise_level"})


def as_shape(shape, *, name: str = "img_shape", ndim: int | None = 3) -> tuple[int, ...]:
    """Validate a shape given as a sequence of positive ints and return it as a tuple."""
    if isinstance(shape, torch.Size):
        shape = tuple(shape)
    if not isinstance(shape, Sequence) or isinstance(shape, str):
        raise TypeError(f"{name} must be a tuple of ints such as (3, 64, 64), got {shape!r}")
    try:
        out = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a tuple of ints, got {shape!r}") from None
    if any(o != s for o, s in zip(out, shape)) or any(o < 1 for o in out):
        raise ValueError(f"{name} must hold positive integers, got {shape!r}")
    if ndim is not None and len(out) != ndim:
        raise ValueError(
            f"{name} must have {ndim} entries (C, H, W), got {shape!r}; "
            "for a gray image use (1, H, W)"
        )
    return out


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``t`` holds NaN or Inf."""
    if bool(torch.isfinite(t.sum())):  # fast path: NaN/Inf propagate through the sum
        return
    if not bool(torch.isfinite(t).all()):
        n_bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} holds {n_bad} NaN/Inf value(s); expected finite values")


def _check_tensor(t, shape: tuple[int, ...], name: str, what: str) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, {_fmt(shape)}), "
                        f"got {type(t).__name__}")
    if not (t.is_floating_point() or t.is_complex()):
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}; "
                        f"convert it with {name}.float()")
    if t.ndim != len(shape) + 1 or tuple(t.shape[1:]) != shape:
        hint = " (add a batch dimension with [None])" if tuple(t.shape) == shape else ""
        raise ValueError(f"{name}: expected {what} of shape (B, {_fmt(shape)}), "
                         f"got {tuple(t.shape)}{hint}")
    check_finite(t, name)


def _fmt(shape) -> str:
    return ", ".join(str(s) for s in shape)


def _check_eps(eps) -> float:
    if isinstance(eps, torch.Tensor):
        if eps.numel() != 1:
            raise ValueError(f"eps must be a scalar, got a tensor of shape {tuple(eps.shape)}")
        eps = float(eps)
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not math.isfinite(eps) \
            or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    return float(eps)


def _batch_scalar(v, batch: int, ref: torch.Tensor, name: str) -> torch.Tensor | float:
    """A positive step size as a float or a (B, 1, ..., 1) tensor broadcastable to ``ref``."""
    if isinstance(v, torch.Tensor):
        if v.numel() == 1:
            v = float(v)
        else:
            v = v.reshape(-1)
            if v.numel() != batch:
                raise ValueError(f"{name} must be a scalar or hold one value per batch "
                                 f"element ({batch}), got shape {tuple(v.shape)}")
            if not bool(torch.isfinite(v).all()) or bool((v <= 0).any()):
                raise ValueError(f"{name} must be finite and > 0, got {v.tolist()}")
            return v.to(ref.device, ref.real.dtype).reshape((batch,) + (1,) * (ref.ndim - 1))
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return float(v)


def cg(apply: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, *,
       x0: torch.Tensor | None = None, max_iter: int = 100, tol: float = 1e-5,
       precondition: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Batched conjugate gradients for ``apply(x) = b`` with ``apply`` symmetric positive
    (semi-)definite; ``precondition(r)`` (symmetric positive definite, an approximate inverse
    of ``apply``) makes it preconditioned CG.

    Each batch element (dim 0) has its own step sizes; the loop stops when every element
    reaches ``||b - apply(x)|| <= tol ||b||`` (``tol`` is raised to ``4 eps`` of the dtype) or
    after ``max_iter`` iterations. It runs in the dtype of ``b`` (float32 or float64). Started from zero on a singular system, it converges to
    the minimum-norm solution.

    References
    ----------
    .. [1] M. R. Hestenes and E. Stiefel, "Methods of conjugate gradients for solving linear
       systems", J. Res. Nat. Bur. Standards 49(6), 1952.
    """
    dims = tuple(range(1, b.ndim))
    # below a few machine epsilons the recursive residual is meaningless
    tol = max(float(tol), 4 * torch.finfo(b.dtype).eps)

    def dot(u, v):
        return (u * v).sum(dims, keepdim=True)

    if x0 is None:
        x = torch.zeros_like(b)
        r = b.clone()
    else:
        x = x0.clone()
        r = b - apply(x)
    precondition = precondition or (lambda v: v)
    z = precondition(r)
    p = z.clone()
    rz = dot(r, z)
    stop = (tol ** 2) * dot(b, b)
    zero = torch.zeros((), dtype=b.dtype, device=b.device)
    for _ in range(int(max_iter)):
        if bool((dot(r, r) <= stop).all()):
            break
        ap = apply(p)
        pap = dot(p, ap)
        alpha = torch.where(pap > 0, rz / torch.where(pap > 0, pap, 1), zero)
        x = x + alpha * p
        r = r - alpha * ap
        z = precondition(r)
        rz_new = dot(r, z)
        beta = torch.where(rz > 0, rz_new / torch.where(rz > 0, rz, 1), zero)
        p = z + beta * p
        rz = rz_new
    return x


def _check_method(method: str) -> None:
    if method not in ("auto", "cg"):
        raise ValueError(f"method must be 'auto' (closed form when available) or 'cg', "
                         f"got {method!r}")


class Operator(LinearPhysics):
    """Base class of the forward operators: a deepinv ``LinearPhysics`` with fixed shapes.

    Subclasses implement ``_A`` and ``_At`` (unchecked forward and adjoint on batched tensors)
    and, when they have one, ``_closed_solve_AAt``. The public ``A``/``A_adjoint`` check the
    input's shape (``ValueError("expected ..., got ...")``) and reject NaN/Inf.

    Parameters
    ----------
    img_shape : tuple of int
        ``(C, H, W)`` of the images ``x``; the batch size ``B >= 1`` is free.
    meas_shape : tuple of int
        Shape of one measurement (without batch).
    max_iter : int
        Default conjugate-gradient iteration cap of the data steps without a closed form.
    tol : float
        Default relative residual tolerance of those conjugate gradients.
    """

    def __init__(self, *, img_shape, meas_shape, max_iter: int = 100, tol: float = 1e-5):
        if not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")
        if not (isinstance(tol, (int, float)) and tol > 0):
            raise ValueError(f"tol must be a number > 0, got {tol!r}")
        super().__init__(img_size=as_shape(img_shape), max_iter=max_iter, tol=float(tol),
                         solver="CG", implicit_backward_solver=False)
        self.img_shape = as_shape(img_shape)
        self.meas_shape = as_shape(meas_shape, name="meas_shape", ndim=None)
        #: Gaussian noise level of the last :meth:`measure` (``None`` before any).
        self.measured_noise_std = None

    # ----------------------------------------------------------------- to implement
    def _A(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _At(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _closed_solve_AAt(self, r: torch.Tensor, eps: float, rcond: float):
        """``(A A^T + eps I)^{-1} r`` in closed form (pseudo-inverse with cut-off ``rcond``
        when ``eps == 0``), or ``None`` when there is none."""
        return None

    def _closed_prox(self, z, y, gamma):
        """A faster closed-form ``prox_l2``, or ``None`` to use the generic one."""
        return None

    # ----------------------------------------------------------------- checks
    def check_image(self, x: torch.Tensor, name: str = "x") -> None:
        """Raise unless ``x`` is a finite float tensor of shape ``(B, *img_shape)``."""
        _check_tensor(x, self.img_shape, name, "an image batch")

    def check_measurement(self, y: torch.Tensor, name: str = "y") -> None:
        """Raise unless ``y`` is a finite float tensor of shape ``(B, *meas_shape)``."""
        _check_tensor(y, self.meas_shape, name, "a measurement batch")

    @staticmethod
    def _reject(params: dict) -> None:
        bad = [k for k, v in params.items() if v is not None and k not in _NOISE_KEYS]
        if bad:
            raise TypeError(f"unexpected keyword argument(s) {bad}: this operator's parameters "
                            "are fixed at construction; build a new operator instead")

    # ----------------------------------------------------------------- deepinv API
    def A(self, x: torch.Tensor, **params) -> torch.Tensor:
        """Forward operator ``A x`` for ``x`` of shape ``(B, *img_shape)``."""
        self._reject(params)
        self.check_image(x)
        return self._A(x)

    def A_adjoint(self, y: torch.Tensor, **params) -> torch.Tensor:
        """Adjoint ``A^T y`` for ``y`` of shape ``(B, *meas_shape)``."""
        self._reject(params)
        self.check_measurement(y)
        return self._At(y)

    def A_adjoint_A(self, x: torch.Tensor, **params) -> torch.Tensor:
        """``A^T A x`` (one check, no intermediate checks)."""
        self._reject(params)
        self.check_image(x)
        return self._At(self._A(x))

    def A_A_adjoint(self, y: torch.Tensor, **params) -> torch.Tensor:
        """``A A^T y``."""
        self._reject(params)
        self.check_measurement(y)
        return self._A(self._At(y))

    # ----------------------------------------------------------------- data steps
    def solve_AAt(self, r: torch.Tensor, eps: float = 0.0, *, method: str = "auto",
                  max_iter: int | None = None, tol: float | None = None,
                  rcond: float = RCOND) -> torch.Tensor:
        """``(A A^T + eps I)^{-1} r`` for ``r`` of shape ``(B, *meas_shape)``.

        Closed form when the operator has one (with ``eps == 0`` it is the pseudo-inverse
        ``(A A^T)^+`` with relative cut-off ``rcond``), else conjugate gradients from zero
        (``max_iter``/``tol`` default to the operator's). ``method="cg"`` forces CG.
        """
        _check_method(method)
        self.check_measurement(r, "r")
        eps = _check_eps(eps)
        if method == "auto":
            out = self._closed_solve_AAt(r, eps, rcond)
            if out is not None:
                return out
        return cg(lambda v: self._A(self._At(v)) + eps * v, r,
                  max_iter=max_iter or self.max_iter, tol=tol or self.tol)

    def prox_l2(self, z: torch.Tensor, y: torch.Tensor, gamma, *, method: str = "auto",
                max_iter: int | None = None, tol: float | None = None) -> torch.Tensor:
        r"""``argmin_x 1/2 ||A x - y||^2 + 1/(2 gamma) ||x - z||^2`` (deepinv's convention).

        With a closed-form ``(A A^T + I/gamma)^{-1}`` this is exactly
        ``z + A^T (A A^T + I/gamma)^{-1} (y - A z)``; otherwise conjugate gradients on
        ``(A^T A + I/gamma) x = A^T y + z/gamma`` started at ``z``. ``gamma`` is a positive
        float or one value per batch element.
        """
        _check_method(method)
        self.check_image(z, "z")
        self.check_measurement(y, "y")
        g = _batch_scalar(gamma, z.shape[0], z, "gamma")
        if y.shape[0] != z.shape[0]:
            raise ValueError(f"z and y must have the same batch size, got {z.shape[0]} and "
                             f"{y.shape[0]}")
        if method == "auto":
            out = self._closed_prox(z, y, g)
            if out is not None:
                return out
            if isinstance(g, float):
                u = self._closed_solve_AAt(y - self._A(z), 1.0 / g, RCOND)
                if u is not None:
                    return z + self._At(u)
        rho = 1.0 / g
        return cg(lambda v: self._At(self._A(v)) + rho * v, self._At(y) + rho * z, x0=z,
                  max_iter=max_iter or self.max_iter, tol=tol or self.tol,
                  precondition=self._prox_preconditioner(rho))

    def _prox_preconditioner(self, rho):
        """An approximate inverse of ``A^T A + rho I`` for :meth:`prox_l2`'s conjugate
        gradients, or ``None`` (plain CG)."""
        return None

    def A_dagger(self, y: torch.Tensor, *, method: str = "auto", max_iter: int | None = None,
                 tol: float | None = None, rcond: float = RCOND) -> torch.Tensor:
        """Minimum-norm least-squares solution ``A^+ y``.

        Closed form ``A^T (A A^T)^+ y`` when available: singular values below ``rcond`` times
        the largest one are treated as zero (a truncated-SVD pseudo-inverse, as
        ``numpy.linalg.pinv(M, rcond)``), which keeps it stable for blurs whose spectrum
        nearly vanishes. Otherwise conjugate gradients from zero, whose iteration cap acts as
        the regularisation: on ``A A^T u = y``, ``x = A^T u`` when there are fewer
        measurements than unknowns, else on the normal equations ``A^T A x = A^T y``.
        """
        _check_method(method)
        self.check_measurement(y, "y")
        if method == "auto":
            u = self._closed_solve_AAt(y, 0.0, rcond)
            if u is not None:
                return self._At(u)
        opts = dict(max_iter=max_iter or self.max_iter, tol=tol or self.tol)
        if math.prod(self.meas_shape) < math.prod(self.img_shape):
            # fewer measurements than unknowns: CG on A A^T u = y (better conditioned),
            # x = A^T u is the minimum-norm solution
            return self._At(cg(lambda v: self._A(self._At(v)), y, **opts))
        return cg(lambda v: self._At(self._A(v)), self._At(y), **opts)

    # ----------------------------------------------------------------- measurements
    def measure(self, x: torch.Tensor, *, noise_std: float = 0.0, seed: int | None = None,
                poisson_gain: float | None = None) -> torch.Tensor:
        """Noisy measurement ``y = A x (+ noise)``, reproducible for a given ``seed``.

        Parameters
        ----------
        x : torch.Tensor
            Images ``(B, *img_shape)``.
        noise_std : float
            Standard deviation of additive white Gaussian noise (on the [0, 1] scale).
        seed : int or None
            Seed of a private ``torch.Generator``; ``None`` uses torch's global generator.
        poisson_gain : float or None
            If given, ``y = Poisson(gain * A x) / gain`` before the Gaussian noise (needs
            ``A x >= 0``).
        """
        if not isinstance(noise_std, (int, float)) or not math.isfinite(noise_std) \
                or noise_std < 0:
            raise ValueError(f"noise_std must be a finite number >= 0, got {noise_std!r}")
        y = self.A(x)
        gen = None
        if seed is not None:
            gen = torch.Generator(device=y.device).manual_seed(int(seed))
        if poisson_gain is not None:
            if not isinstance(poisson_gain, (int, float)) or not poisson_gain > 0:
                raise ValueError(f"poisson_gain must be a number > 0, got {poisson_gain!r}")
            if bool((y < 0).any()):
                raise ValueError("poisson_gain needs non-negative measurements A x, but A x has "
                                 "negative entries; use Gaussian noise (noise_std) instead")
            y = torch.poisson(y * poisson_gain, generator=gen) / poisson_gain
        if noise_std > 0:
            y = y + noise_std * torch.randn(y.shape, generator=gen, device=y.device,
                                            dtype=y.dtype)
        # remembered so that solve(noise_std=None) uses the level that made y
        self.measured_noise_std = float(noise_std)
        return y

    def extra_repr(self) -> str:
        return f"img_shape={self.img_shape}, meas_shape={self.meas_shape}"


def solve_AAt(op: LinearPhysics, r: torch.Tensor, eps: float = 0.0, *,
              max_iter: int = 100, tol: float = 1e-6) -> torch.Tensor:
    """``(A A^T + eps I)^{-1} r`` for any deepinv ``LinearPhysics``.

    Uses the operator's own ``solve_AAt`` for the operators of this package, the singular
    value decomposition of a deepinv ``DecomposablePhysics`` (``Denoising``, ``Inpainting``,
    ``BlurFFT``...), and conjugate gradients on ``op.A(op.A_adjoint(.)) + eps I`` otherwise.
    The operator is never modified.

    Parameters
    ----------
    op : deepinv.physics.LinearPhysics
        The forward operator.
    r : torch.Tensor
        Right-hand side in the measurement space, ``(B, ...)``.
    eps : float
        Non-negative shift; with ``eps == 0`` the pseudo-inverse is used where ``A A^T`` is
        singular (closed forms) or CG converges to the minimum-norm solution.
    max_iter, tol : int, float
        Conjugate-gradient settings for operators without a closed form.
    """
    if not isinstance(op, LinearPhysics):
        raise TypeError(f"op must be a deepinv LinearPhysics, got {type(op).__name__}")
    eps = _check_eps(eps)
    if isinstance(op, Operator):
        return op.solve_AAt(r, eps, max_iter=max_iter, tol=tol)
    if not isinstance(r, torch.Tensor):
        raise TypeError(f"r must be a torch.Tensor, got {type(r).__name__}")
    check_finite(r, "r")
    if isinstance(op, DecomposablePhysics) and type(op).U is DecomposablePhysics.U \
            and type(op).U_adjoint is DecomposablePhysics.U_adjoint:
        # A = U diag(s) V^T with U the identity: (A A^T + eps)^{-1} = diag(1 / (s^2 + eps)).
        s2 = torch.as_tensor(op.mask, device=r.device).abs() ** 2
        s2 = s2.to(r.real.dtype) if torch.is_tensor(s2) else s2
        if eps > 0:
            return r / (s2 + eps)
        keep = s2 > RCOND ** 2 * s2.max()
        return torch.where(keep, r / torch.where(keep, s2, 1), torch.zeros_like(r))
    return cg(lambda v: op.A(op.A_adjoint(v)) + eps * v, r, max_iter=max_iter, tol=tol)
