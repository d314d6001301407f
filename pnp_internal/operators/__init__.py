"""Forward operators: each is a deepinv ``LinearPhysics`` with fixed ``img_shape``/``meas_shape``,
shape and NaN checks, ``measure``, and closed-form (or conjugate-gradient) ``A_dagger``,
``prox_l2`` and ``solve_AAt`` that never modify the operator.

Public names: :class:`Blur`, :class:`Downsampling`, :class:`Inpainting`,
:class:`CompressedSensing`, :class:`Denoising`, the modules :mod:`kernels` and :mod:`masks`,
:func:`from_functions`, :func:`from_matrix`, :func:`from_scipy`, :func:`adjoint_error`,
:func:`check_adjoint`, the base class :class:`Operator` and :func:`solve_AAt` (any deepinv
``LinearPhysics``).
"""

from . import kernels, masks
from .base import Operator, solve_AAt
from .blur import Blur
from .checks import adjoint_error, check_adjoint
from .compressed_sensing import CompressedSensing
from .custom import from_functions, from_matrix, from_scipy
from .denoising import Denoising
from .downsampling import Downsampling
from .inpainting import Inpainting

__all__ = [
    "Blur", "Downsampling", "Inpainting", "CompressedSensing", "Denoising", "kernels", "masks",
    "from_functions", "from_matrix", "from_scipy", "adjoint_error", "check_adjoint",
    "Operator", "solve_AAt",
]
