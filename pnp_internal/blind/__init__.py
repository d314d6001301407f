"""Degradation estimation from the image itself: SR kernels (:class:`KernelGAN`,
:class:`PatchRecurrence`), blur kernels with the sharp image (:class:`SelfDeblur`) and from
sparse gradients (:class:`L0Deblur`)."""

from .kernelgan import KernelEstimate, KernelGAN, compose_x4, is_degenerate
from .l0deblur import L0Deblur
from .recurrence import PatchRecurrence
from .selfdeblur import SelfDeblur, SelfDeblurResult

__all__ = ["KernelGAN", "PatchRecurrence", "KernelEstimate", "compose_x4", "is_degenerate",
           "SelfDeblur", "SelfDeblurResult", "L0Deblur"]
