"""The one vocabulary of operator kinds: ``denoise``, ``deblur``, ``sr``, ``inpaint``, ``cs``,
``other``, read from the class hierarchy (so deepinv's own physics are recognised too)."""

from __future__ import annotations

__all__ = ["operator_kind", "KIND_BY_CLASS"]

#: Class name (anywhere in the operator's MRO) -> kind.
KIND_BY_CLASS = {
    "Denoising": "denoise",
    "Inpainting": "inpaint", "Demosaicing": "inpaint",
    "Downsampling": "sr", "DownsamplingMatlab": "sr",
    "Blur": "deblur", "BlurFFT": "deblur", "SpaceVaryingBlur": "deblur",
    "CompressedSensing": "cs", "StructuredRandom": "cs", "SinglePixelCamera": "cs",
}


def operator_kind(operator) -> str:
    """``"denoise"``, ``"deblur"``, ``"sr"``, ``"inpaint"``, ``"cs"`` or ``"other"``."""
    for cls in type(operator).__mro__:
        kind = KIND_BY_CLASS.get(cls.__name__)
        if kind is not None:
            return kind
    return "other"
