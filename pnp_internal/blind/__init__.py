"""Degradation estimation from the image itself: SR kernels (:class:`KernelGAN`) and blur
kernels with the sharp image (:class:`SelfDeblur`)."""

from .kernelgan import KernelEstimate, KernelGAN, compose_x4, is_degenerate
from .selfdeblur import SelfDeblur, SelfDeblurResult

__all__ = ["KernelGAN", "KernelEstimate", "compose_x4", "is_degenerate", "SelfDeblur",
           "SelfDeblurResult"]
