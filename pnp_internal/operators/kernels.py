"""Blur kernel builders and loaders.

Every builder returns a 2-D ``float32`` tensor of non-negative weights that sum to 1, with its
centre at index ``(kh // 2, kw // 2)`` (the convention of :class:`~pnp_internal.operators.Blur`
and of ``scipy.ndimage``). Angles are in degrees, counter-clockwise from the horizontal
(column) axis.

Examples
--------
>>> from pnp_internal.operators import kernels
>>> k = kernels.gaussian(1.6, size=25)
>>> k.shape, round(float(k.sum()), 6)
(torch.Size([25, 25]), 1.0)
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["gaussian", "box", "delta", "motion", "load", "as_kernel", "random_anisotropic",
           "anisotropic_gaussian", "centre_on_grid", "average"]


def _normalise(k: np.ndarray, what: str) -> torch.Tensor:
    k = np.asarray(k, dtype=np.float64)
    if k.ndim != 2 or k.size == 0:
        raise ValueError(f"{what}: expected a non-empty 2-D kernel, got shape {k.shape}")
    if not np.isfinite(k).all():
        raise ValueError(f"{what}: the kernel holds NaN/Inf values")
    s = k.sum()
    if not s > 0:
        raise ValueError(f"{what}: the kernel sums to {s:g}; expected a positive sum to "
                         "normalise it to 1")
    return torch.from_numpy(k / s).to(torch.float32)


def _size_pair(size, name: str = "size") -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints, got {size!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"{name} must be positive, got {size!r}")
    return h, w


def gaussian(std, size=None) -> torch.Tensor:
    """Gaussian kernel, isotropic or anisotropic.

    Parameters
    ----------
    std : float or (float, float, float)
        Standard deviation in pixels, or ``(std_x, std_y, angle)``: the standard deviations
        along the horizontal and vertical axes, the ellipse then rotated by ``angle`` degrees.
    size : int, (int, int) or None
        Odd kernel size; default ``2 * ceil(3 * max std) + 1`` (covers +-3 std).

    Returns
    -------
    torch.Tensor
        ``(kh, kw)`` float32 kernel summing to 1.
    """
    if isinstance(std, (int, float)) and not isinstance(std, bool):
        sx = sy = float(std)
        angle = 0.0
    else:
        try:
            sx, sy, angle = (float(v) for v in std)
        except (TypeError, ValueError):
            raise TypeError("std must be a float or a triple (std_x, std_y, angle), "
                            f"got {std!r}") from None
    if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)
            and math.isfinite(angle)):
        raise ValueError(f"std must be finite and > 0, got {std!r}")
    if size is None:
        r = math.ceil(3 * max(sx, sy))
        size = 2 * r + 1
    kh, kw = _size_pair(size)
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"size must be odd so that the kernel has a centre pixel, got {size!r}")
    yy, xx = np.mgrid[-(kh // 2):kh // 2 + 1, -(kw // 2):kw // 2 + 1].astype(np.float64)
    t = math.radians(angle)
    c, s = math.cos(t), math.sin(t)
    # coordinates in the rotated frame (y axis pointing up on screen, hence -yy)
    u = c * xx + s * (-yy)
    v = -s * xx + c * (-yy)
    k = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    return _normalise(k, "gaussian")


def centre_on_grid(kernel, factor: int) -> torch.Tensor:
    """Shift ``kernel`` (cubic spline interpolation) so that its centre of mass lies where the
    low-resolution grid of :class:`~pnp_internal.operators.Downsampling` with this kernel
    matches the bicubic one: low-resolution pixel ``i`` centred at high-resolution coordinate
    ``factor * i + (factor - 1) / 2`` (MATLAB ``imresize``).

    A kernel estimated from one image is defined up to a shift, which moves the whole image;
    this convention fixes it (as KernelGAN's centring [1]_ does), so that a kernel and its
    estimate, and the bicubic kernel, see the same grid. Negative taps left by the
    interpolation are set to zero and the kernel is normalised to sum 1.

    Parameters
    ----------
    kernel : array or tensor
        ``(kh, kw)`` non-negative kernel of odd size (centre at ``(kh // 2, kw // 2)``).
    factor : int
        Downsampling factor.

    References
    ----------
    .. [1] S. Bell-Kligler, A. Shocher and M. Irani, "Blind Super-Resolution Kernel Estimation
       using an Internal-GAN", NeurIPS 2019.
    """
    from scipy import ndimage

    k = as_kernel(kernel, name="kernel").numpy().clip(min=0)
    if not k.sum() > 0:
        raise ValueError("kernel has no positive weight to centre")
    kh, kw = k.shape
    target = np.array([kh // 2, kw // 2]) - (int(factor) - 1) / 2
    shift = target - np.array(ndimage.center_of_mass(k))
    return _normalise(ndimage.shift(k, shift, order=3, mode="constant").clip(min=0),
                      "centre_on_grid")


def average(*kernels_) -> torch.Tensor:
    """Mean of odd-sized kernels that share their centre (``(kh // 2, kw // 2)``), each
    zero-padded about its centre to the largest size; normalised to sum 1.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.operators import kernels
    >>> k = kernels.average(torch.ones(1, 1), torch.ones(3, 3) / 9)
    >>> tuple(k.shape), round(float(k[1, 1]), 4), round(float(k.sum()), 4)
    ((3, 3), 0.5556, 1.0)
    """
    ks = [as_kernel(k, name="kernel") for k in kernels_]
    if not ks:
        raise ValueError("average needs at least one kernel")
    if any(n % 2 == 0 for k in kernels_ for n in np.shape(k)[-2:]):
        raise ValueError("average takes odd-sized kernels (a common centre); centre even-sized "
                         "ones first, for example with centre_on_grid")
    h, w = max(k.shape[0] for k in ks), max(k.shape[1] for k in ks)
    total = torch.zeros(h, w, dtype=torch.float64)
    for k in ks:
        dh, dw = (h - k.shape[0]) // 2, (w - k.shape[1]) // 2
        total[dh:dh + k.shape[0], dw:dw + k.shape[1]] += k / k.sum()
    return (total / total.sum()).float()


def random_anisotropic(factor: int, *, size: int | None = None, seed=None) -> torch.Tensor:
    """A random anisotropic Gaussian SR kernel of the DIV2KRK protocol [1]_.

    Covariance eigenvalues drawn uniformly in ``[0.175 factor, 2.5 factor]`` (pixels
    squared), rotation uniform in ``[0, pi)``, every tap multiplied by ``1 + u`` with ``u``
    uniform in ``[-0.25, 0.25]``, then centred with :func:`centre_on_grid` and normalised (the
    settings of the authors' public BlindSR dataset generator).

    Parameters
    ----------
    factor : int
        Downsampling factor.
    size : int, optional
        Odd kernel size; default ``10 factor - 9`` (11 at x2, 31 at x4, as in DIV2KRK).
    seed : int or numpy Generator, optional
        Seed of the draw.

    References
    ----------
    .. [1] S. Bell-Kligler, A. Shocher and M. Irani, "Blind Super-Resolution Kernel Estimation
       using an Internal-GAN", NeurIPS 2019.
    """
    s = int(factor)
    n = 10 * s - 9 if size is None else int(size)
    if s < 2 or n < 3 or n % 2 == 0:
        raise ValueError(f"factor must be >= 2 and size odd >= 3, got factor={factor!r}, "
                         f"size={size!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    lam = rng.uniform(0.175 * s, 2.5 * s, size=2)
    theta = rng.uniform(0, np.pi)
    k = _gaussian_taps(lam, theta, n)
    k = k * (1 + rng.uniform(-0.25, 0.25, size=k.shape))
    return centre_on_grid(k, s)


def anisotropic_gaussian(variances, angle: float, size: int) -> torch.Tensor:
    """An anisotropic Gaussian kernel: covariance ``R diag(variances) R^T``, ``R`` the rotation
    by ``angle`` (radians, the first variance along ``(cos angle, sin angle)`` in (x, y)),
    sampled on a ``size x size`` grid centred at ``size // 2`` and normalised to sum 1 (the
    family of :func:`random_anisotropic` before its tap noise).

    Examples
    --------
    >>> from pnp_internal.operators import kernels
    >>> k = kernels.anisotropic_gaussian((4.0, 1.0), 0.0, 9)
    >>> bool(k[4, 6] > k[6, 4]), round(float(k.sum()), 4)
    (True, 1.0)
    """
    lam = np.asarray(variances, dtype=np.float64)
    if lam.shape != (2,) or not (lam > 0).all() or size < 1 or size % 2 == 0:
        raise ValueError(f"need two positive variances and an odd size, got {variances!r}, "
                         f"size={size!r}")
    return _normalise(_gaussian_taps(lam, float(angle), int(size)), "anisotropic_gaussian")


def _gaussian_taps(lam: np.ndarray, angle: float, n: int) -> np.ndarray:
    """Unnormalised taps of :func:`anisotropic_gaussian` (float64)."""
    q = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    inv = np.linalg.inv(q @ np.diag(lam) @ q.T)
    yy, xx = np.mgrid[:n, :n].astype(np.float64) - n // 2
    z = np.stack([xx, yy], -1)
    return np.exp(-0.5 * np.einsum("...i,ij,...j->...", z, inv, z))


def box(size) -> torch.Tensor:
    """Uniform ``size x size`` (or ``(h, w)``) averaging kernel; even sizes have their centre
    at index ``size // 2``."""
    kh, kw = _size_pair(size)
    return _normalise(np.ones((kh, kw)), "box")


def delta(size: int) -> torch.Tensor:
    """The ``size x size`` identity kernel (no blur): 1 at the centre tap ``size // 2``."""
    k = np.zeros((size, size))
    k[size // 2, size // 2] = 1.0
    return _normalise(k, "delta")


def motion(length: float, angle: float = 0.0) -> torch.Tensor:
    """Linear motion blur: a segment of ``length`` pixels through the centre, at ``angle``
    degrees, rasterised with bilinear weights (anti-aliased) on an odd square grid.

    Parameters
    ----------
    length : float
        Length of the motion in pixels, ``>= 1``.
    angle : float
        Direction in degrees, counter-clockwise from the horizontal.
    """
    if not isinstance(length, (int, float)) or not math.isfinite(length) or length < 1:
        raise ValueError(f"length must be a number >= 1 (pixels), got {length!r}")
    if not isinstance(angle, (int, float)) or not math.isfinite(angle):
        raise ValueError(f"angle must be a finite number of degrees, got {angle!r}")
    r = math.ceil((length - 1) / 2) + 1
    n = 2 * r + 1
    t = math.radians(angle)
    samples = np.linspace(-(length - 1) / 2, (length - 1) / 2, max(2, int(20 * length)))
    px = r + samples * math.cos(t)
    py = r - samples * math.sin(t)
    k = np.zeros((n, n))
    x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
    fx, fy = px - x0, py - y0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            np.add.at(k, (np.clip(y0 + dy, 0, n - 1), np.clip(x0 + dx, 0, n - 1)), wy * wx)
    return _normalise(k, "motion")


def _from_mat(path: Path, key, index) -> np.ndarray:
    import scipy.io

    import h5py

    h5 = None
    try:
        if h5py.is_hdf5(str(path)):  # MATLAB v7.3 files are HDF5
            h5 = h5py.File(str(path), "r")
            arrays = {k: h5[k] for k in h5.keys() if not k.startswith("#")}
        else:
            data = scipy.io.loadmat(str(path))
            arrays = {k: v for k, v in data.items() if not k.startswith("__")}
    except Exception as exc:
        raise OSError(f"cannot read the MATLAB file {str(path)!r}: {exc}") from exc
    try:
        if key is None:
            cands = [k for k, v in arrays.items() if getattr(v, "ndim", 0) == 2]
            if len(cands) != 1:
                raise ValueError(f"{str(path)!r} holds the variables {sorted(arrays)}; "
                                 "expected exactly one 2-D array: pass key=NAME")
            key = cands[0]
        if key not in arrays:
            raise ValueError(f"key {key!r} not in {str(path)!r}; available: {sorted(arrays)}")
        arr = arrays[key]
        if h5 is not None:
            if arr.dtype == object:  # cell array of references
                refs = np.asarray(arr).ravel()
                arr = [np.asarray(h5[ref]).T for ref in refs]
            else:
                arr = np.asarray(arr).T  # MATLAB is column-major
        elif arr.dtype == object:
            arr = list(np.asarray(arr).ravel())
        if isinstance(arr, list):
            if index is None:
                raise ValueError(f"variable {key!r} of {str(path)!r} is a cell array of "
                                 f"{len(arr)} kernels: pass index=I (0-based)")
            if not 0 <= index < len(arr):
                raise ValueError(f"index must be in [0, {len(arr)}), got {index}")
            arr = arr[index]
        return np.asarray(arr, dtype=np.float64)
    finally:
        if h5 is not None:
            h5.close()


def load(path, *, key: str | None = None, index: int | None = None) -> torch.Tensor:
    """Load a kernel from a ``.npy`` file, a ``.mat`` file, or an image, normalised to sum 1.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy`` (a 2-D array), ``.mat`` (MATLAB v5 via ``scipy.io.loadmat`` or v7.3 via
        ``h5py``; the file must hold exactly one 2-D array unless ``key`` names it), or an
        image file (PNG, BMP, TIFF...; converted to gray).
    key : str, optional
        Variable name inside a ``.mat`` file.
    index : int, optional
        Element of a MATLAB cell array of kernels (0-based), e.g. Levin et al.'s
        ``Levin09.mat``.

    Raises
    ------
    OSError
        Missing or unreadable file.
    ValueError
        Not exactly one 2-D array, NaN/Inf, or a non-positive sum.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise OSError(f"kernel file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise OSError(f"cannot read the .npy file {str(path)!r}: {exc}") from exc
    elif suffix == ".mat":
        arr = _from_mat(path, key, index)
    else:
        from PIL import Image

        try:
            with Image.open(path) as im:
                im.load()
                arr = np.asarray(im.convert("F"), dtype=np.float64)
        except OSError as exc:
            raise OSError(f"cannot read the kernel image {str(path)!r}: {exc}") from exc
    arr = np.asarray(arr)
    if arr.ndim != 2:
        squeezed = np.squeeze(arr)
        if squeezed.ndim != 2:
            raise ValueError(f"{str(path)!r}: expected a 2-D kernel, got shape {arr.shape}")
        arr = squeezed
    return _normalise(arr, f"kernel file {str(path)!r}")


def as_kernel(kernel, *, name: str = "kernel") -> torch.Tensor:
    """Validate a user kernel (tensor or array, ``(kh, kw)`` or ``(1, 1, kh, kw)``) and return
    it as a float64 tensor of odd size, even sizes zero-padded at the end so that the centre
    stays at ``size // 2``. The weights are kept as given (not renormalised)."""
    if isinstance(kernel, torch.Tensor):
        k = kernel.detach().to("cpu", torch.float64)
    else:
        try:
            k = torch.as_tensor(np.asarray(kernel, dtype=np.float64))
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a 2-D tensor or array, got {type(kernel).__name__}"
                            ) from None
    if k.ndim == 4 and k.shape[:2] == (1, 1):
        k = k[0, 0]
    if k.ndim != 2 or k.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (kh, kw), got shape "
                         f"{tuple(k.shape)}")
    if not bool(torch.isfinite(k).all()):
        raise ValueError(f"{name} holds NaN/Inf values")
    if not bool(k.abs().sum() > 0):
        raise ValueError(f"{name} is all zeros")
    kh, kw = k.shape
    if kh % 2 == 0 or kw % 2 == 0:
        k = torch.nn.functional.pad(k, (0, 1 - kw % 2, 0, 1 - kh % 2))
    return k
