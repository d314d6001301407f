"""What ``pnp-internal restore`` will do: the images it found, where each result goes, and the
forward model of each image (from ``--task``, ``--kernel``, ``--scale``, ``--mask``)."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import io, operators, recipes
from .settings import Settings

__all__ = ["Job", "find_jobs", "Degradation", "degradation", "load_kernel"]


@dataclass(frozen=True)
class Job:
    """One image to restore: its file, its output, and its report (JSON and plot)."""

    source: Path
    output: Path

    @property
    def report(self) -> Path:
        return self.output.parent / "reports" / f"{self.output.name}.json"

    @property
    def plot(self) -> Path:
        return self.output.parent / "reports" / f"{self.output.name}.png"


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in io.IMAGE_SUFFIXES)


def find_jobs(settings: Settings) -> tuple[list[Job], dict[str, str]]:
    """The jobs for ``settings.inputs`` (files, folders, globs) and the inputs that gave none.

    Returns
    -------
    jobs : list of Job
        In the order given (folders and globs sorted by name), duplicates removed.
    errors : dict
        Input -> why it gives no job (matches nothing, a name already taken, would overwrite
        itself).
    """
    jobs, errors, taken = [], {}, {}
    out = settings.out
    for item in settings.inputs:
        path = Path(item)
        if path.is_dir():
            found = _images_in(path)
            if not found:
                errors[item] = f"no image files ({', '.join(io.IMAGE_SUFFIXES)}) in the folder"
        elif path.is_file():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(item, recursive=True)
                           if Path(p).is_file() and Path(p).suffix.lower() in io.IMAGE_SUFFIXES)
            if not found:
                errors[item] = "no such file, folder or matching image"
        for source in found:
            target = out / source.name
            if source.resolve() == target.resolve():
                errors[str(source)] = "its output would overwrite it: choose another --out"
            elif target.name in taken:
                if taken[target.name] != source.resolve():
                    errors[str(source)] = (f"another input ({taken[target.name]}) has the same "
                                           "name; restore them into different --out folders")
            else:
                taken[target.name] = source.resolve()
                jobs.append(Job(source, target))
    return jobs, errors


def load_kernel(spec: str) -> torch.Tensor:
    """``gaussian:STD[:SIZE]`` or a kernel file (``.npy``, ``.mat``, image), sum 1."""
    if spec.lower().startswith("gaussian:"):
        parts = spec.split(":")[1:]
        try:
            std = float(parts[0])
            size = int(parts[1]) if len(parts) > 1 else None
        except (ValueError, IndexError):
            raise ValueError(f"--kernel {spec!r}: expected gaussian:STD or gaussian:STD:SIZE "
                             "(e.g. gaussian:1.6 or gaussian:1.6:25)") from None
        return operators.kernels.gaussian(std, size)
    return operators.kernels.load(spec)


@dataclass(frozen=True)
class Degradation:
    """The forward model of one image and how to cut the restored image back to the output
    size (``crop`` = top, left, height, width; ``None`` keeps it whole)."""

    operator: object
    crop: tuple[int, int, int, int] | None = None

    def output(self, x: torch.Tensor) -> torch.Tensor:
        if self.crop is None:
            return x
        top, left, h, w = self.crop
        return x[..., top:top + h, left:left + w]


def degradation(settings: Settings, y: torch.Tensor, *, kernel=None, mask_file=None
                ) -> Degradation:
    """The forward model of ``y`` (1, C, H, W) for ``settings.task``.

    Deblurring uses the blur of a real photo (:meth:`~pnp_internal.operators.Blur.for_image`:
    the unknown image extends past the frame by the kernel) and crops the result back to the
    photo's size (``--kernel auto`` starts from a blur of the estimator's kernel size, which
    ``solve`` replaces by the estimate); super-resolution is downsampling by ``--scale`` with
    the bicubic kernel or the given one (``--kernel auto`` starts from the bicubic operator;
    ``solve`` replaces its kernel by the estimate); inpainting keeps the white pixels of
    ``--mask``.

    Raises
    ------
    ValueError
        A kernel or mask that does not fit the image, saying what was expected.
    """
    c, h, w = y.shape[1:]
    if settings.task == "denoise":
        return Degradation(operators.Denoising(img_shape=(c, h, w)))
    if settings.task == "deblur":
        if kernel is None:  # --kernel auto: solve estimates a kernel of the recipe's size
            kernel = operators.kernels.delta(recipes.L0_DEBLUR.kernel_size)
        kh, kw = kernel.shape[-2:]
        if kh >= h or kw >= w:
            raise ValueError(f"the {kh}x{kw} kernel {settings.kernel!r} does not fit this "
                             f"{h}x{w} image: expected a kernel smaller than the image")
        op = operators.Blur.for_image(y, kernel)
        return Degradation(op, ((kh - 1) // 2, (kw - 1) // 2, h, w))
    if settings.task == "sr":
        s = settings.scale
        return Degradation(operators.Downsampling(
            s, img_shape=(c, h * s, w * s), kernel="bicubic" if kernel is None else kernel))
    mask = operators.masks.load(mask_file)
    if tuple(mask.shape[-2:]) != (h, w):
        raise ValueError(f"the mask {str(mask_file)!r} is {mask.shape[-1]}x{mask.shape[-2]} "
                         f"(width x height) but this image is {w}x{h}: expected a mask of the "
                         "image's size, white = known pixel")
    return Degradation(operators.Inpainting(mask, img_shape=(c, h, w)))
