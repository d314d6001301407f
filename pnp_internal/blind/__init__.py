"""Degradation estimation from the image itself: SR kernels (:class:`KernelGAN`,
:class:`PatchRecurrence`) and blur kernels with the sharp image (:class:`SelfDeblur`)."""

from .kernelgan import KernelEstimate, KernelGAN, compose_x4, is_degenerate
from .recurrence import PatchRecurrence
from .selfdeblur import SelfDeblur, SelfDeblurResult

__all__ = ["KernelGAN", "PatchRecurrence", "KernelEstimate", "compose_x4", "is_degenerate",
           "SelfDeblur", "SelfDeblurResult"]
