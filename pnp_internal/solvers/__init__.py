"""Iterative plug-and-play solvers and direct internal methods, all returning :class:`Result`."""

from .base import Result, Solver, SolverState
from .idbp import IDBP
from .admm import ADMM
from .hqs import HQS
from . import schedules
from .zssr import ZSSR, ZSSRNet
from .dip import DIP
from .early_stopping import ESWMV
from .self2self import Self2Self
