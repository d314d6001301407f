"""Reading and writing images as float tensors in [0, 1].

PNG, JPEG, BMP and TIFF, 8 or 16 bit, gray or RGB (RGBA and palette images become RGB, gray
with alpha becomes gray; the alpha channel is dropped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

__all__ = ["read_image", "write_image", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_image(path, *, device="cpu") -> torch.Tensor:
    """Read an image file into a ``(1, C, H, W)`` float32 tensor in [0, 1], C = 1 or 3.

    Parameters
    ----------
    path : str or pathlib.Path
        Image file (png, jpg, bmp, tif; 8 or 16 bit).
    device : str or torch.device
        Where the tensor is created.

    Raises
    ------
    OSError
        If the file is missing or is not a readable image.

    Examples
    --------
    >>> import tempfile, torch
    >>> from pnp_internal.io import read_image, write_image
    >>> path = tempfile.mkdtemp() + "/x.png"
    >>> write_image(path, torch.zeros(1, 3, 4, 5))
    >>> read_image(path).shape
    torch.Size([1, 3, 4, 5])
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"read_image: {str(path)!r} is a folder; give one image file "
                                "(pnp-internal bench takes folders)")
    if not path.is_file():
        raise FileNotFoundError(f"read_image: no such file {str(path)!r}")
    try:
        with Image.open(path) as img:
            img.load()
            array = _to_array(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise OSError(f"read_image: {str(path)!r} is not a readable image ({err})") from err
    tensor = torch.from_numpy(array)
    tensor = tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1)
    return tensor[None].contiguous().to(device)


def _to_array(img: Image.Image) -> np.ndarray:
    """Convert a PIL image to float32 HxW or HxWx3 in [0, 1]."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img, dtype=np.uint16).astype(np.float32) / 65535.0
    if mode == "I":
        a = np.asarray(img, dtype=np.int64)
        peak = 65535.0 if a.max() > 255 else 255.0
        return np.clip(a.astype(np.float32) / peak, 0.0, 1.0)
    if mode == "F":
        return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    if mode in ("1", "L", "LA"):
        return np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def write_image(path, x: torch.Tensor, *, bit_depth: int = 8) -> None:
    """Write a ``(1, C, H, W)`` or ``(C, H, W)`` tensor in [0, 1] to an image file.

    Values are clipped to [0, 1] and rounded. The format follows the suffix; ``bit_depth=16``
    is available for gray PNG/TIFF.

    Raises
    ------
    ValueError
        If the tensor has the wrong shape, a channel count other than 1 or 3, NaN/Inf values,
        or an unsupported bit depth / suffix.
    """
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(
            f"write_image: unsupported suffix {path.suffix!r}; use one of {IMAGE_SUFFIXES}"
        )
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"write_image: x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"write_image: expected a batch of one image, got shape {tuple(x.shape)}")
        x = x[0]
    if x.ndim != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"write_image: expected (1, C, H, W) with C in (1, 3), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("write_image: x contains NaN or Inf values")
    a = x.detach().float().clamp(0, 1).cpu().numpy()
    a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    if bit_depth == 8:
        img = Image.fromarray(np.round(a * 255.0).astype(np.uint8))
    elif bit_depth == 16:
        if a.ndim != 2 or path.suffix.lower() not in (".png", ".tif", ".tiff"):
            raise ValueError("write_image: bit_depth=16 is supported for gray PNG/TIFF only")
        img = Image.fromarray(np.round(a * 65535.0).astype(np.uint16))
    else:
        raise ValueError(f"write_image: bit_depth must be 8 or 16, got {bit_depth}")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
