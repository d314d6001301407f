"""Degradation estimation from the image itself: SR kernels (:class:`KernelGAN`)."""

from .kernelgan import KernelEstimate, KernelGAN, compose_x4, is_degenerate

__all__ = ["KernelGAN", "KernelEstimate", "compose_x4", "is_degenerate"]
