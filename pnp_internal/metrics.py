"""Image quality metrics with the protocols of the restoration literature.

PSNR and SSIM are computed per image on all channels, or on the luminance (Y of BT.601 YCbCr,
as the super-resolution papers do) with an optional border crop.
"""

from __future__ import annotations

import math

import torch

__all__ = ["psnr", "ssim", "rgb_to_y", "kernel_error", "align_up_to_shift",
           "align_up_to_subpixel_shift"]

_Y_WEIGHTS = (65.481, 128.553, 24.966)


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """Luminance of BT.601 YCbCr (MATLAB ``rgb2ycbcr``), in [16/255, 235/255].

    Parameters
    ----------
    x : torch.Tensor
        RGB images ``(B, 3, H, W)`` in [0, 1].

    Returns
    -------
    torch.Tensor
        ``(B, 1, H, W)``.
    """
    _check_image(x, "x")
    if x.shape[1] != 3:
        raise ValueError(f"rgb_to_y: expected 3 channels, got x of shape {tuple(x.shape)}")
    w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return ((x * w).sum(dim=1, keepdim=True) + 16.0) / 255.0


def _prepare(x, ref, y_channel, border):
    _check_image(x, "x")
    _check_image(ref, "ref")
    if x.shape != ref.shape:
        raise ValueError(
            f"x and ref must have the same shape, got {tuple(x.shape)} and {tuple(ref.shape)}"
        )
    if border < 0 or 2 * border >= min(x.shape[-2:]):
        raise ValueError(f"border must be in [0, {min(x.shape[-2:]) // 2}), got {border}")
    x, ref = x.float(), ref.float()
    if y_channel and x.shape[1] == 3:
        x, ref = rgb_to_y(x), rgb_to_y(ref)
    if border:
        x = x[..., border:-border, border:-border]
        ref = ref[..., border:-border, border:-border]
    return x, ref


def psnr(x, ref, *, y_channel=False, border=0, data_range=1.0):
    """Peak signal-to-noise ratio in dB, one value per image.

    Parameters
    ----------
    x, ref : torch.Tensor
        Estimate and reference, ``(B, C, H, W)`` in [0, ``data_range``].
    y_channel : bool
        Score the BT.601 luminance of RGB images (gray images are scored as they are).
    border : int
        Pixels removed on each side before scoring (the SR convention is the scale factor).
    data_range : float
        Peak value.

    Returns
    -------
    torch.Tensor
        ``(B,)`` PSNR values (``inf`` for identical images).

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.metrics import psnr
    >>> ref = torch.full((1, 1, 8, 8), 0.5)
    >>> round(psnr(ref + 0.1, ref).item(), 2)
    20.0
    """
    x, ref = _prepare(x, ref, y_channel, border)
    mse = (x - ref).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(data_range**2 / mse)


def ssim(x, ref, *, y_channel=False, border=0, data_range=1.0):
    """Structural similarity (Wang et al. 2004: Gaussian window 11, std 1.5), one value per image.

    Multi-channel images are scored per channel and averaged. Parameters as :func:`psnr`.

    References
    ----------
    .. [1] Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment:
       from error visibility to structural similarity", IEEE TIP 2004.
    """
    # imported here: torchmetrics brings scipy.signal and matplotlib, a second on every start
    from torchmetrics.functional.image import structural_similarity_index_measure

    x, ref = _prepare(x, ref, y_channel, border)
    return structural_similarity_index_measure(
        x, ref, data_range=data_range, kernel_size=11, sigma=1.5, reduction="none"
    )


def align_up_to_shift(x, ref, max_shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, ref)`` cropped so that ``x`` is moved by the integer shift, up to ``max_shift``
    pixels each way, that fits ``ref`` best (least squared error on ``ref`` without a border of
    ``max_shift``): the scoring of blind deblurring, whose estimate is defined up to a shift
    (Levin et al. 2009, "comp_upto_shift"). Score the returned pair with :func:`psnr` /
    :func:`ssim`.

    Parameters
    ----------
    x, ref : torch.Tensor
        ``(B, C, H, W)`` estimate and reference of the same shape.
    max_shift : int
        Largest shift along each axis (the kernel's half size, say).
    """
    s = int(max_shift)
    _check_pair(x, ref, s, border=s)
    core, moved = _cropped(ref, s), _moved(x, s)
    return moved(*_best_integer_shift(moved, core, s)), core


def _check_pair(x, ref, max_shift: int, *, border: int) -> None:
    _check_image(x, "x")
    _check_image(ref, "ref")
    if x.shape != ref.shape:
        raise ValueError(f"x and ref must have the same shape, got {tuple(x.shape)} and "
                         f"{tuple(ref.shape)}")
    h, w = x.shape[-2:]
    if max_shift < 0 or 2 * border >= min(h, w):
        raise ValueError(f"max_shift must be in [0, {min(h, w) // 2 - (border - max_shift)}), "
                         f"got {max_shift}")


def _cropped(x: torch.Tensor, border: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    return x[..., border:h - border, border:w - border]


def _moved(x: torch.Tensor, border: int):
    """``(dy, dx) ->`` the window of ``x`` that :func:`_cropped` keeps, moved by whole pixels."""
    h, w = x.shape[-2:]
    return lambda dy, dx: x[..., border + dy:h - border + dy, border + dx:w - border + dx]


def _best_integer_shift(moved, core: torch.Tensor, max_shift: int) -> tuple[int, int]:
    """The ``(dy, dx)``, each in ``[-max_shift, max_shift]``, whose window fits ``core`` best
    (least squared error; the first in row order on ties)."""
    r = range(-max_shift, max_shift + 1)
    return min(((i, j) for i in r for j in r),
               key=lambda t: float((moved(*t) - core).pow(2).mean()))


def align_up_to_subpixel_shift(x, ref, max_shift: int, *,
                               step: float = 0.25) -> tuple[torch.Tensor, torch.Tensor]:
    """As :func:`align_up_to_shift`, then refined to the best shift on a grid of ``step``
    pixels within one pixel of it, ``x`` resampled bilinearly: the scoring of Levin et al.'s
    ``comp_upto_shift.m`` (shifts in quarter pixels, ``interp2``), which SelfDeblur's and
    later blind-deblurring evaluations use. A blind estimate is defined up to any shift, not
    only an integer one: a kernel whose centre is off by half a pixel moves the whole image
    by half a pixel, which an integer shift cannot undo. ``ref`` loses a border of
    ``max_shift + 1``.

    Parameters
    ----------
    x, ref : torch.Tensor
        ``(B, C, H, W)`` estimate and reference of the same shape.
    max_shift : int
        Largest integer shift along each axis (the kernel's half size, say).
    step : float
        The sub-pixel grid (0.25 as in Levin et al.); it must divide 1.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.metrics import align_up_to_subpixel_shift
    >>> ref = torch.linspace(0, 1, 32).repeat(1, 1, 32, 1)
    >>> half = (ref + torch.roll(ref, 1, -1)) / 2  # moved by half a pixel
    >>> a, b = align_up_to_subpixel_shift(half, ref, 2)
    >>> float((a - b).abs().max()) < 1e-6
    True
    """
    s, n = int(max_shift), round(1 / step)
    _check_pair(x, ref, s, border=s + 1)
    if not (step > 0 and abs(n * step - 1) < 1e-9):
        raise ValueError(f"step must divide 1 (0.5, 0.25, 0.1, ...), got {step}")
    core, moved = _cropped(ref, s + 1), _moved(x, s + 1)

    def at(ty: float, tx: float) -> torch.Tensor:  # bilinear, x sampled at (i + ty, j + tx)
        iy, ix = math.floor(ty), math.floor(tx)
        fy, fx = ty - iy, tx - ix
        out = (1 - fy) * (1 - fx) * moved(iy, ix)
        if fx > 0:
            out = out + (1 - fy) * fx * moved(iy, ix + 1)
        if fy > 0:
            out = out + fy * (1 - fx) * moved(iy + 1, ix)
            if fx > 0:
                out = out + fy * fx * moved(iy + 1, ix + 1)
        return out

    iy, ix = _best_integer_shift(moved, core, s)
    fine = [k * step for k in range(-n + 1, n)]
    shifts = [(iy + a, ix + c) for a in fine for c in fine
              if -s <= iy + a <= s and -s <= ix + c <= s]
    best = min(shifts, key=lambda t: float((at(*t) - core).pow(2).mean()))
    return at(*best), core


def kernel_error(estimate, true, *, max_shift: int = 3) -> float:
    """Sum of squared differences between two blur kernels, after the best integer shift.

    A kernel estimated from one image is defined up to a shift (which moves the whole image),
    so the estimate is compared with the true kernel at the integer shift, up to ``max_shift``
    pixels each way, that fits best. Both are zero-padded to a common odd size about their
    centres and normalised to sum 1.

    Parameters
    ----------
    estimate, true : array or torch.Tensor
        ``(kh, kw)`` kernels with their centres at ``(kh // 2, kw // 2)``.
    max_shift : int
        Largest shift tried along each axis.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.metrics import kernel_error
    >>> k = torch.zeros(5, 5); k[2, 2] = 1
    >>> kernel_error(torch.roll(k, 1, 0), k)
    0.0
    """
    from .operators.kernels import as_kernel

    a, b = (as_kernel(k, name=n) for k, n in ((estimate, "estimate"), (true, "true")))
    a, b = a / a.sum(), b / b.sum()
    n = max(*a.shape, *b.shape) + 2 * max_shift

    def pad(k):
        top, left = (n - k.shape[0]) // 2, (n - k.shape[1]) // 2
        return torch.nn.functional.pad(k, (left, n - k.shape[1] - left, top,
                                           n - k.shape[0] - top))
    a, b = pad(a), pad(b)
    r = range(-max_shift, max_shift + 1)
    return min(float(((torch.roll(a, (i, j), (0, 1)) - b) ** 2).sum()) for i in r for j in r)


def _check_image(x, name):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W), got {tuple(x.shape)}")
