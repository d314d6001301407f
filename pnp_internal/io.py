"""Reading and writing images as float tensors in [0, 1].

Supported files: PNG, JPEG, BMP and TIFF (see ``IMAGE_SUFFIXES``).

Reading (:func:`load_image`) handles gray, gray + alpha, RGB, RGBA, palette (read as RGB, plus
an alpha channel when the palette has transparency) and 1-bit images, 8 or 16 bits per sample.
The colour channels become a ``(1, C, H, W)`` float32 tensor (C = 1 or 3); the alpha channel is
returned separately, exactly as stored (uint8 or uint16), together with the stored bit depth,
so that :func:`save_image` can write a result back in the same layout.

* PNG: 16-bit files are read and written with ``pypng`` (Pillow reads 16-bit colour PNG as
  8 bit); everything else goes through Pillow. A ``tRNS`` colour key becomes an alpha channel.
* TIFF: read and written with ``tifffile`` (gray, gray + alpha, RGB, RGBA; 8 or 16 bit).
  TIFFs ``tifffile`` cannot decode without extra codecs (LZW, JPEG, palette, CMYK, ...) are
  read with Pillow instead.
* JPEG and BMP: Pillow, 8 bit, no alpha. The EXIF orientation of a JPEG is applied on reading.
* 32-bit integer and floating-point samples (Pillow modes ``"I"``/``"F"``, int32/float TIFFs)
  are clipped to [0, 1]: integers are divided by 65535 when their maximum exceeds 255 and by 255
  otherwise, and reported as 16 bit; floats are taken as they are and reported as 8 bit.

Writing is atomic: the image goes to a hidden temporary file in the target folder (its name
contains ``PARTIAL_MARK``) that is renamed onto the target once complete, so a killed run never
leaves a truncated image under the real name. :func:`remove_partials` deletes such leftovers.
"""

from __future__ import annotations

import os
import re
import struct
import uuid
import zlib
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
import png
import tifffile
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "IMAGE_SUFFIXES",
    "PARTIAL_MARK",
    "ImageFile",
    "load_image",
    "read_image",
    "remove_partials",
    "atomic_write",
    "save_image",
    "write_image",
    "write_weights",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
PARTIAL_MARK = ".partial"

_PNG = (".png",)
_TIFF = (".tif", ".tiff")
_SIXTEEN_BIT = _PNG + _TIFF
_WITH_ALPHA = _PNG + _TIFF
_PARTIAL_RE = re.compile(r"^\..+" + re.escape(PARTIAL_MARK) + r"-\d+(-[0-9a-f]+)?\.\w+$")
_DECODE_ERRORS = (
    UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError,
    zlib.error, struct.error, png.Error, Image.DecompressionBombError,
)


@dataclass
class ImageFile:
    """An image as read from disk.

    Attributes
    ----------
    x : torch.Tensor
        ``(1, C, H, W)`` float32 in [0, 1], C = 1 (gray) or 3 (colour), without alpha.
    alpha : numpy.ndarray or None
        The alpha channel as stored, ``(H, W)`` uint8 or uint16; None when there is none.
    bit_depth : int
        8 or 16, bits per sample as stored.
    path : pathlib.Path
        The file that was read.
    """

    x: torch.Tensor
    alpha: np.ndarray | None
    bit_depth: int
    path: Path


# --------------------------------------------------------------------------- reading


def load_image(path, *, device="cpu") -> ImageFile:
    """Read an image file with its alpha channel and bit depth.

    Parameters
    ----------
    path : str or pathlib.Path
        Image file (png, jpg, bmp, tif; 8 or 16 bit; gray, gray + alpha, RGB, RGBA, palette).
    device : str or torch.device
        Where the tensor ``x`` is created.

    Returns
    -------
    ImageFile
        ``x`` (1, C, H, W) float32 in [0, 1], ``alpha`` (H, W) or None, ``bit_depth``, ``path``.

    Raises
    ------
    IsADirectoryError
        If ``path`` is a folder.
    FileNotFoundError
        If ``path`` does not exist.
    OSError
        If the file is not a readable image.

    Examples
    --------
    >>> import tempfile, torch
    >>> from pnp_internal.io import load_image, save_image
    >>> path = tempfile.mkdtemp() + "/x.png"
    >>> save_image(path, torch.zeros(1, 3, 4, 5), bit_depth=16)
    >>> img = load_image(path)
    >>> img.x.shape, img.alpha, img.bit_depth
    (torch.Size([1, 3, 4, 5]), None, 16)
    """
    return _load(Path(path), device, "load_image")


def read_image(path, *, device="cpu") -> torch.Tensor:
    """Read an image file into a ``(1, C, H, W)`` float32 tensor in [0, 1], C = 1 or 3.

    Same as ``load_image(path).x``: any alpha channel is dropped.

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
    return _load(Path(path), device, "read_image").x


def _load(path: Path, device, who: str) -> ImageFile:
    if path.is_dir():
        raise IsADirectoryError(f"{who}: {str(path)!r} is a folder; give one image file "
                                "(pnp-internal bench takes folders)")
    if not path.is_file():
        raise FileNotFoundError(f"{who}: no such file {str(path)!r}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise OSError(f"{who}: cannot read {str(path)!r} ({err})") from err
    try:
        color, alpha, bit_depth = _decode(data, path.suffix.lower())
    except _DECODE_ERRORS as err:
        raise OSError(f"{who}: {str(path)!r} is not a readable image ({err})") from err
    tensor = torch.from_numpy(np.ascontiguousarray(color))
    tensor = tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1)
    return ImageFile(tensor[None].contiguous().to(device), alpha, bit_depth, path)


def _decode(data: bytes, suffix: str):
    """Bytes -> (float32 HxW or HxWx3 in [0, 1], alpha or None, bit depth)."""
    if suffix in _PNG and data.startswith(png.signature):
        reader = png.Reader(bytes=data)
        reader.preamble()
        if reader.bitdepth == 16:
            return _decode_png16(data)
    elif suffix in _TIFF:
        try:
            decoded = _decode_tiff(data)
        except _DECODE_ERRORS as err:
            try:
                return _decode_pil(data)
            except _DECODE_ERRORS:
                raise err from None
        if decoded is not None:
            return decoded
    return _decode_pil(data)


def _decode_png16(data: bytes):
    """16-bit PNG with pypng; raw samples (a ``tRNS`` colour key becomes alpha)."""
    width, height, rows, info = png.Reader(bytes=data).read()
    planes = info["planes"]
    a = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    a = a.reshape(height, width, planes)
    alpha = None
    if info["alpha"]:
        alpha, a = a[..., -1].copy(), a[..., :-1]
    elif info.get("transparent") is not None:
        key = np.asarray(info["transparent"], dtype=np.uint16).reshape(-1)
        alpha = np.where((a == key).all(axis=-1), 0, 65535).astype(np.uint16)
    color = a[..., 0] if a.shape[-1] == 1 else a
    return color.astype(np.float32) / 65535.0, alpha, 16


def _decode_tiff(data: bytes):
    """First page of a TIFF with tifffile; None for layouts better left to Pillow."""
    with tifffile.TiffFile(BytesIO(data)) as tif:
        page = tif.pages[0]
        photometric = page.photometric
        if photometric not in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.MINISWHITE,
                               tifffile.PHOTOMETRIC.RGB) or page.imagedepth != 1:
            return None
        h, w, s = page.imagelength, page.imagewidth, page.samplesperpixel
        expected = 3 if photometric == tifffile.PHOTOMETRIC.RGB else 1
        if s not in (expected, expected + 1):
            return None
        a = page.asarray()
        if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and s > 1:
            a = a.reshape(s, h, w).transpose(1, 2, 0)
        else:
            a = a.reshape(h, w, s)
    if photometric == tifffile.PHOTOMETRIC.MINISWHITE:
        a = ~a if a.dtype == bool else (np.iinfo(a.dtype).max - a if a.dtype.kind in "ui" else a)
    alpha = None
    if s == expected + 1:
        alpha, a = a[..., -1], a[..., :-1]
    color = a[..., 0] if a.shape[-1] == 1 else a
    color, bit_depth, scale = _samples_to_float(color)
    if alpha is not None:
        alpha = _alpha_as_stored(alpha, bit_depth, scale)
    return color, alpha, bit_depth


def _samples_to_float(a: np.ndarray):
    """Samples of any dtype -> (float32 in [0, 1], reported bit depth, divisor used)."""
    if a.dtype == bool:
        return a.astype(np.float32), 8, 1.0
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0, 8, 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0, 16, 65535.0
    if a.dtype.kind in "ui":  # 32-bit or signed integers, like Pillow's "I"
        peak = 65535.0 if a.size and a.max() > 255 else 255.0
        return np.clip(a.astype(np.float32) / peak, 0.0, 1.0), 16, peak
    if a.dtype.kind == "f":
        return np.clip(np.nan_to_num(a.astype(np.float32)), 0.0, 1.0), 8, 1.0
    raise ValueError(f"unsupported sample type {a.dtype}")


def _alpha_as_stored(alpha: np.ndarray, bit_depth: int, scale: float) -> np.ndarray:
    """Keep uint8/uint16 alpha as is; bring other sample types to the reported bit depth."""
    if alpha.dtype in (np.uint8, np.uint16):
        return np.ascontiguousarray(alpha)
    top = 65535 if bit_depth == 16 else 255
    a = np.clip(np.nan_to_num(alpha.astype(np.float64)) / scale, 0.0, 1.0)
    return np.round(a * top).astype(np.uint16 if bit_depth == 16 else np.uint8)


def _decode_pil(data: bytes):
    """Anything Pillow reads (8-bit PNG, JPEG, BMP, TIFFs tifffile cannot decode)."""
    with Image.open(BytesIO(data)) as img:
        img.load()
        img = ImageOps.exif_transpose(img) if img.format == "JPEG" else img
        return _pil_to_arrays(img)


def _pil_to_arrays(img: Image.Image):
    """A PIL image -> (float32 HxW or HxWx3 in [0, 1], alpha or None, bit depth)."""
    mode = img.mode
    has_key = "transparency" in img.info
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        if has_key:
            key = img.info["transparency"]
            a = np.asarray(img, dtype=np.uint16)
            alpha = np.where(a == key, 0, 65535).astype(np.uint16)
            return a.astype(np.float32) / 65535.0, alpha, 16
        return np.asarray(img, dtype=np.uint16).astype(np.float32) / 65535.0, None, 16
    if mode == "I":
        color, bit_depth, _ = _samples_to_float(np.asarray(img, dtype=np.int64))
        return color, None, bit_depth
    if mode == "F":
        return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0), None, 8
    if mode in ("1", "L") and not has_key:
        return np.asarray(img.convert("L"), dtype=np.float32) / 255.0, None, 8
    if mode in ("1", "L", "LA", "La"):
        a = np.asarray(img.convert("LA"))
        return a[..., 0].astype(np.float32) / 255.0, a[..., 1].copy(), 8
    if mode in ("RGBA", "RGBa", "PA") or (mode in ("P", "RGB") and has_key):
        a = np.asarray(img.convert("RGBA"))
        return a[..., :3].astype(np.float32) / 255.0, a[..., 3].copy(), 8
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0, None, 8


# --------------------------------------------------------------------------- writing


def save_image(path, x: torch.Tensor, *, bit_depth: int = 8, alpha: np.ndarray | None = None
               ) -> None:
    """Write a tensor in [0, 1], with an optional alpha channel, to an image file atomically.

    Values are clamped to [0, 1] and rounded to ``bit_depth``. The format follows the suffix.
    The file appears under its name only once complete (temporary file + ``os.replace``);
    missing parent folders are created.

    Parameters
    ----------
    path : str or pathlib.Path
        Target file; suffix one of ``IMAGE_SUFFIXES``.
    x : torch.Tensor
        ``(1, C, H, W)`` or ``(C, H, W)``, C = 1 (gray) or 3 (RGB), finite values.
    bit_depth : {8, 16}
        Bits per sample; 16 for PNG and TIFF only.
    alpha : numpy.ndarray, optional
        ``(H, W)`` uint8 or uint16 alpha channel (PNG and TIFF only). It is converted to
        ``bit_depth`` if needed (uint8 -> uint16: ``* 257``; uint16 -> uint8: ``/ 257``, rounded).

    Raises
    ------
    TypeError
        If ``x`` is not a tensor or ``alpha`` not a numpy array.
    ValueError
        If the shape, values, alpha, bit depth or suffix is not supported.
    """
    _save(Path(path), x, bit_depth, alpha, "save_image")


def write_image(path, x: torch.Tensor, *, bit_depth: int = 8, alpha: np.ndarray | None = None
                ) -> None:
    """Write a ``(1, C, H, W)`` or ``(C, H, W)`` tensor in [0, 1] to an image file.

    Same as :func:`save_image`: values are clamped to [0, 1] and rounded, the format follows the
    suffix, ``bit_depth=16`` is available for PNG/TIFF (gray or RGB), and the write is atomic.

    Raises
    ------
    ValueError
        If the tensor has the wrong shape, a channel count other than 1 or 3, NaN/Inf values,
        or an unsupported bit depth / suffix / alpha.
    """
    _save(Path(path), x, bit_depth, alpha, "write_image")


def _save(path: Path, x, bit_depth: int, alpha, who: str) -> None:
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"{who}: unsupported suffix {path.suffix!r}; use one of {IMAGE_SUFFIXES}")
    if bit_depth not in (8, 16):
        raise ValueError(f"{who}: bit_depth must be 8 or 16, got {bit_depth!r}")
    if bit_depth == 16 and suffix not in _SIXTEEN_BIT:
        raise ValueError(f"{who}: {path.suffix!r} files cannot hold 16 bits per sample; "
                         "use .png or .tif/.tiff for bit_depth=16")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who}: x must be a torch.Tensor, got {type(x).__name__}")
    shape = tuple(x.shape)
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"{who}: expected a batch of one image, got shape {shape}")
        x = x[0]
    if x.ndim != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"{who}: expected (1, C, H, W) with C in (1, 3), got {shape}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{who}: x contains NaN or Inf values (shape {shape})")
    h, w = int(x.shape[1]), int(x.shape[2])
    if alpha is not None:
        alpha = _check_alpha(alpha, h, w, bit_depth, suffix, path, who)
    top, dtype = (65535.0, np.uint16) if bit_depth == 16 else (255.0, np.uint8)
    a = x.detach().float().clamp(0, 1).cpu().numpy()
    a = np.round(a * top).astype(dtype).transpose(1, 2, 0)  # H, W, C
    if alpha is not None:
        a = np.concatenate([a, alpha[..., None]], axis=-1)
    atomic_write(path, lambda tmp: _encode(tmp, a, suffix, bit_depth, alpha is not None))


def _check_alpha(alpha, h: int, w: int, bit_depth: int, suffix: str, path: Path, who: str):
    if not isinstance(alpha, np.ndarray):
        raise TypeError(f"{who}: alpha must be a numpy array or None, got {type(alpha).__name__}")
    if suffix not in _WITH_ALPHA:
        raise ValueError(f"{who}: {path.suffix!r} files cannot hold an alpha channel; "
                         "use .png or .tif/.tiff to keep it")
    if alpha.shape != (h, w):
        raise ValueError(f"{who}: alpha must have the image's shape (H, W) = {(h, w)}, "
                         f"got {tuple(alpha.shape)}")
    if alpha.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{who}: alpha must be uint8 or uint16, got {alpha.dtype}")
    if bit_depth == 16 and alpha.dtype == np.uint8:
        return alpha.astype(np.uint16) * 257
    if bit_depth == 8 and alpha.dtype == np.uint16:
        return ((alpha.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return alpha


def _encode(target: Path, a: np.ndarray, suffix: str, bit_depth: int, has_alpha: bool) -> None:
    """Write H x W x S samples (uint8/uint16, alpha last if any) to ``target``."""
    h, w, s = a.shape
    if suffix in _TIFF:
        photometric = "rgb" if s - has_alpha == 3 else "minisblack"
        kwargs = {"extrasamples": ("unassalpha",)} if has_alpha else {}
        tifffile.imwrite(target, a[..., 0] if s == 1 else a, photometric=photometric,
                         planarconfig="contig", **kwargs)
    elif suffix in _PNG and bit_depth == 16:
        writer = png.Writer(w, h, greyscale=(s - has_alpha) == 1, alpha=has_alpha, bitdepth=16)
        with open(target, "wb") as f:
            writer.write(f, a.reshape(h, w * s))
    else:
        img = Image.fromarray(a[..., 0] if s == 1 else a)
        options = {"quality": 95} if suffix in (".jpg", ".jpeg") else {}
        img.save(target, **options)


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp)`` on a hidden temporary file next to ``path``, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(
        f".{path.stem}{PARTIAL_MARK}-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}"
    )
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_partials(folder) -> list[Path]:
    """Delete temporary files left in ``folder`` by interrupted writes.

    These are hidden files named like ``.photo.partial-<pid>[-<token>].png`` (any final
    suffix, so other writers can use ``PARTIAL_MARK`` the same way). Only ``folder`` itself is
    searched. Do not call this while another process is writing into the folder.

    Parameters
    ----------
    folder : str or pathlib.Path
        Folder to clean; a missing folder yields an empty list.

    Returns
    -------
    list of pathlib.Path
        The files that were deleted.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.iterdir()):
        if _PARTIAL_RE.match(entry.name) and entry.is_file():
            try:
                entry.unlink()
            except FileNotFoundError:
                continue
            removed.append(entry)
    return removed


#: Largest tensor bytes per weights file; more go to shards ``NAME.safetensors.part1``, ...
SHARD_BYTES = 9_000_000


def write_weights(module: torch.nn.Module, path, *, fmt: str, architecture: dict,
                  metadata: dict | None = None, dtype=torch.float16) -> None:
    """Write ``module``'s state dict as safetensors in ``dtype`` (:func:`atomic_write`, readable
    by all) with string metadata: ``format`` (``fmt``), ``architecture`` (JSON) and every entry
    of ``metadata`` (non-strings as JSON). Tensors beyond :data:`SHARD_BYTES` go to shard files
    beside ``path`` (safetensors too), named in the ``shards`` metadata of ``path``; the
    project's loader reads them back (:func:`pnp_internal.priors.load_denoiser`)."""
    import json

    from safetensors.torch import save_file

    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in module.state_dict().items()}
    groups, size = [{}], 0
    for k, v in state.items():
        nbytes = v.numel() * v.element_size()
        if groups[-1] and size + nbytes > SHARD_BYTES:
            groups.append({})
            size = 0
        groups[-1][k], size = v, size + nbytes
    path = Path(path)
    shards = [f"{path.name}.part{i}" for i in range(1, len(groups))]
    meta = {"format": fmt, "architecture": json.dumps(architecture)}
    meta.update({str(k): v if isinstance(v, str) else json.dumps(v)
                 for k, v in (metadata or {}).items() if k != "shards"})
    if shards:
        meta["shards"] = json.dumps(shards)

    def writer(tensors, meta):
        def write(tmp):
            save_file(tensors, str(tmp), metadata=meta)
            tmp.chmod(0o644)
        return write

    for name, tensors in zip(shards, groups[1:]):
        atomic_write(path.parent / name, writer(tensors, {"format": fmt, "shard_of": path.name}))
    atomic_write(path, writer(groups[0], meta))
