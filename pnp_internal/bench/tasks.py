"""Benchmark tasks: how a clean image becomes a seeded measurement, and how the result is scored.

=================  =======  ==============================================================
task               kind     degradation
=================  =======  ==============================================================
denoise-s2 ... s75 denoise  y = x + n, sigma = 2, 15, 25, 50, 60 or 75 (/255); 60 and 75
                            lie outside the shipped CNNs' training range (0-50)
deblur-gauss1.6    deblur   25x25 Gaussian kernel (std 1.6, MATLAB ``fspecial``), circular
                            convolution, noise 2.55/255 (the DPIR setting)
deblur-levin       deblur   the 8 Levin et al. (2009) motion kernels, circular convolution,
                            noise 0.01; the i-th image (0-based, in the sorted list the
                            runner uses) gets kernel ``levin09_{(i mod 8) + 1}``
deblur-levin-blind deblur   as deblur-levin with noise 1/255; the methods must not read the
                            kernel, and the score is taken after the best integer shift of
                            up to half the kernel size (a blind estimate is defined up to a
                            shift), and again after the best quarter-pixel shift
                            (``psnr_subpixel``: Levin et al. 2009's comp_upto_shift, SelfDeblur)
sr-x2/x3/x4        sr       bicubic (MATLAB ``imresize``) anti-aliasing kernel then
                            decimation by s, no noise; the HR image is first cropped to a
                            multiple of s (modcrop)
sr-x2-gauss1.6     sr       25x25 Gaussian kernel (std 1.6, MATLAB ``fspecial``), circular,
                            then decimation by 2, no noise (the non-bicubic, kernel-aware case)
sr-x2-gauss0.2-    sr       MZSR's benchmark: 25x25 Gaussian kernel of std 0.2, 1.3 or 2.0,
direct, 1.3-, 2.0-          circular, direct subsampling by 2 (LR pixel i is blurred pixel
direct                      2i), no noise
sr-x2-aniso,       sr       each image its own random anisotropic Gaussian kernel (DIV2KRK
sr-x4-aniso                 protocol, :func:`~pnp_internal.operators.kernels.random_anisotropic`,
                            11x11 at x2, 31x31 at x4, seeded per image), circular, decimation,
                            no noise (the blind SR benchmark)
inpaint-50         inpaint  50% of the pixels kept (same mask for all channels), no noise
cs-25              cs       25% structured random measurements, gray (colour images are
                            converted to BT.601 luma first), no noise
=================  =======  ==============================================================

Scoring: PSNR/SSIM on all channels without border, except SR which is scored on the Y channel
of BT.601 YCbCr with a border equal to the scale. Estimates are clipped to [0, 1] before scoring.

Every random choice (noise, mask, CS matrix, random kernel) is seeded by :func:`image_seed`
from the run's ``seed`` and the image name, so every method of a run sees the same ``y``.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pnp_internal import operators

__all__ = [
    "Task",
    "Degraded",
    "TASKS",
    "get_task",
    "image_seed",
    "default_data_root",
    "to_gray",
    "to_color",
    "modcrop",
    "center_crop",
    "gaussian_kernel",
    "levin_kernel",
]

_LUMA = (0.299, 0.587, 0.114)


def default_data_root() -> Path:
    """Folder of the shared images: ``$PNP_INTERNAL_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("PNP_INTERNAL_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def image_seed(seed: int, image_name: str) -> int:
    """Seed of one image's degradation, from the run's ``seed`` and the image file name."""
    return (zlib.crc32(image_name.encode("utf-8")) + 1_000_003 * int(seed)) % (2**31 - 1)


# ----------------------------------------------------------------------------- image helpers
def to_gray(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` of ``(B, 3, H, W)``; gray input is returned."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def to_color(x: torch.Tensor) -> torch.Tensor:
    """Replicate a gray ``(B, 1, H, W)`` image on 3 channels; colour input is returned."""
    return x if x.shape[1] == 3 else x.repeat(1, 3, 1, 1)


def center_crop(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """Centre crop to ``size x size`` (each side at most the image's); ``None`` keeps all."""
    if size is None:
        return x
    h, w = x.shape[-2:]
    ch, cw = min(size, h), min(size, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return x[..., top : top + ch, left : left + cw]


def modcrop(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop the bottom/right so that height and width are multiples of ``scale`` (MATLAB)."""
    h, w = x.shape[-2:]
    return x[..., : h - h % scale, : w - w % scale]


# ------------------------------------------------------------------------------- operators
def gaussian_kernel(size: int = 25, std: float = 1.6) -> torch.Tensor:
    """MATLAB ``fspecial('gaussian', size, std)`` as a ``(1, 1, size, size)`` tensor."""
    return operators.kernels.gaussian(std, size=size).float().reshape(1, 1, size, size)


def levin_kernel(index: int, data_root: Path | None = None) -> tuple[torch.Tensor, str]:
    """Levin et al. (2009) kernel number ``(index mod 8) + 1`` as ``(1, 1, k, k)`` and its name."""
    name = f"levin09_{index % 8 + 1}"
    path = Path(data_root or default_data_root()) / "kernels" / "levin09" / f"{name}.npy"
    if not path.is_file():
        raise ValueError(
            f"deblur-levin: kernel file {str(path)!r} not found; pass --data pointing to the "
            "shared data folder (with kernels/levin09/levin09_1..8.npy) or set PNP_INTERNAL_DATA"
        )
    k = operators.kernels.load(path).float()
    return k.reshape(1, 1, *k.shape[-2:]), name


# ----------------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class Degraded:
    """A seeded measurement of one image: ``y``, its operator and details for the record."""

    y: torch.Tensor
    operator: object
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """A benchmark task.

    Attributes
    ----------
    name, kind : str
        Task name (``"sr-x2"``) and family (``"sr"``).
    noise_std : float
        Gaussian noise level on the [0, 1] scale.
    description : str
        One line for listings and ``RESULTS.md``.
    scale : int or None
        SR factor.
    sr_blur_std : float or None
        SR with a 25x25 Gaussian kernel of this std instead of the bicubic one.
    random_kernel : bool
        SR with a random anisotropic kernel per image (DIV2KRK).
    blind : bool
        Scored after the best integer shift of up to half the kernel size
        (:func:`~pnp_internal.metrics.align_up_to_shift`), and in ``psnr_subpixel`` after the
        best quarter-pixel shift (:func:`~pnp_internal.metrics.align_up_to_subpixel_shift`,
        Levin et al.'s ``comp_upto_shift``).
    gray : bool
        The task works on gray images (colour images are converted to luma).
    ratio : float or None
        Kept-pixel ratio (inpainting) or measurement ratio (CS).
    cs_kind : {"structured", "gaussian"}
        The CS matrix (:class:`~pnp_internal.operators.CompressedSensing`).
    """

    name: str
    kind: str
    noise_std: float
    description: str
    scale: int | None = None
    gray: bool = False
    ratio: float | None = None
    sr_blur_std: float | None = None
    random_kernel: bool = False
    blind: bool = False
    cs_kind: str = "structured"

    @property
    def score_options(self) -> dict:
        """Keyword options of :func:`pnp_internal.metrics.psnr` / ``ssim`` for this task."""
        if self.kind == "sr":
            return {"y_channel": True, "border": self.scale}
        return {"y_channel": False, "border": 0}

    def prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
        """Ground truth for this task (gray conversion, modcrop) and notes on what changed."""
        notes = []
        if self.gray and x.shape[1] == 3:
            x = to_gray(x)
            notes.append("colour image converted to gray (BT.601 luma) for this gray task")
        if self.scale:
            h, w = x.shape[-2:]
            x = modcrop(x, self.scale)
            if x.shape[-2:] != (h, w):
                notes.append(f"modcrop {h}x{w} -> {x.shape[-2]}x{x.shape[-1]}")
        return x, notes

    def degrade(self, x: torch.Tensor, *, seed: int, index: int = 0, data_root=None) -> Degraded:
        """Measure the prepared image ``x`` (1, C, H, W) with this task's seeded degradation.

        Parameters
        ----------
        x : torch.Tensor
            Ground truth from :meth:`prepare`.
        seed : int
            Per-image seed (:func:`image_seed`).
        index : int
            Position of the image in the run (picks the Levin kernel).
        data_root : path-like, optional
            Shared data folder (Levin kernels).
        """
        img_shape = tuple(x.shape[1:])
        info = {}
        if self.kind == "denoise":
            op = operators.Denoising(img_shape=img_shape)
        elif self.name.startswith("deblur-levin"):
            kernel, info["kernel"] = levin_kernel(index, data_root)
            op = operators.Blur(kernel, img_shape=img_shape, padding="circular")
        elif self.kind == "deblur":
            op = operators.Blur(gaussian_kernel(25, 1.6), img_shape=img_shape, padding="circular")
            info["kernel"] = "gaussian25_std1.6"
        elif self.kind == "sr" and self.random_kernel:
            kernel = operators.kernels.random_anisotropic(self.scale, seed=seed)
            op = operators.Downsampling(self.scale, img_shape=img_shape, kernel=kernel,
                                        padding="circular")
            info["kernel"] = f"random_anisotropic(factor={self.scale}, seed={seed})"
        elif self.kind == "sr" and self.sr_blur_std:
            kernel = gaussian_kernel(25, self.sr_blur_std)[0, 0]
            op = operators.Downsampling(self.scale, img_shape=img_shape, kernel=kernel,
                                        padding="circular")
            info["kernel"] = f"gaussian25_std{self.sr_blur_std}"
        elif self.kind == "sr":
            op = operators.Downsampling(
                self.scale, img_shape=img_shape, kernel="bicubic", padding="circular"
            )
        elif self.kind == "inpaint":
            mask = operators.masks.random_mask(self.ratio, img_shape=img_shape, seed=seed)
            op = operators.Inpainting(mask, img_shape=img_shape)
        elif self.kind == "cs":
            op = operators.CompressedSensing(
                self.ratio, img_shape=img_shape, kind=self.cs_kind, seed=seed
            )
        else:  # pragma: no cover - TASKS only holds the kinds above
            raise ValueError(f"task {self.name!r} has unknown kind {self.kind!r}")
        with torch.no_grad():
            y = op.measure(x, noise_std=self.noise_std, seed=seed)
        return Degraded(y=y, operator=op, info=info)


def _tasks():
    t = [
        Task(f"denoise-s{s}", "denoise", s / 255, f"Gaussian denoising, sigma {s}/255")
        for s in (2, 15, 25, 50, 60, 75)
    ]
    t.append(
        Task(
            "deblur-gauss1.6", "deblur", 2.55 / 255,
            "25x25 Gaussian blur std 1.6 (circular), noise 2.55/255 (DPIR setting)",
        )
    )
    t.append(
        Task(
            "deblur-levin", "deblur", 0.01,
            "Levin09 motion kernels (image i: kernel i mod 8 + 1; circular), noise 0.01",
        )
    )
    t.append(
        Task(
            "deblur-levin-blind", "deblur", 1 / 255,
            "Levin09 motion kernels (as deblur-levin), noise 1/255, blind: scored after the "
            "best shift of up to half the kernel size", blind=True,
        )
    )
    t += [
        Task(
            f"sr-x{s}", "sr", 0.0,
            f"bicubic x{s} downsampling, no noise; modcrop, scored on Y with border {s}",
            scale=s,
        )
        for s in (2, 3, 4)
    ]
    t.append(
        Task(
            "sr-x2-gauss1.6", "sr", 0.0,
            "25x25 Gaussian kernel std 1.6 (circular), decimation by 2, no noise; modcrop, "
            "scored on Y with border 2", scale=2, sr_blur_std=1.6,
        )
    )
    t += [
        Task(
            f"sr-x2-gauss{std}-direct", "sr", 0.0,
            f"25x25 Gaussian kernel std {std} (circular), direct subsampling by 2, no noise "
            f"(MZSR's protocol); modcrop, scored on Y with border 2", scale=2, sr_blur_std=std,
        )
        for std in (0.2, 1.3, 2.0)
    ]
    t += [
        Task(
            f"sr-x{s}-aniso", "sr", 0.0,
            f"random anisotropic Gaussian kernel per image (DIV2KRK, {10 * s - 9}x{10 * s - 9}), "
            f"decimation by {s}, no noise; modcrop, scored on Y with border {s}",
            scale=s, random_kernel=True,
        )
        for s in (2, 4)
    ]
    t.append(Task("inpaint-50", "inpaint", 0.0, "50% random pixels kept, no noise", ratio=0.5))
    t += [
        Task(
            f"cs-{r}{'' if kind == 'structured' else '-' + kind}", "cs", 0.0,
            f"{r}% {kind} random measurements, gray, no noise", gray=True, ratio=r / 100,
            cs_kind=kind,
        )
        for kind in ("structured", "gaussian") for r in (10, 25, 50)
    ]
    return {task.name: task for task in t}


TASKS: dict[str, Task] = _tasks()


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name lists the known ones."""
    if name not in TASKS:
        raise ValueError(f"unknown benchmark task {name!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[name]
