"""Generative priors: a small pretrained generator ``G(z)`` of 64x64 images, inverted on the
measurements of one image (:class:`CSGM`) or adapted to them (:class:`IAGAN`)."""

from .csgm import CSGM
from .generator import Generator, pretrained
from .iagan import IAGAN

__all__ = ["Generator", "pretrained", "CSGM", "IAGAN"]
