"""Priors: denoisers ``D(x, sigma)`` with an optional adaptation hook (see ``priors.base``)."""

from .base import AdaptContext, Prior, as_prior
from .classical import BM3D, TV, Identity
from .cnn import CNNDenoiser, available, load_denoiser, pretrained
from .adapted import ImageAdapted
from .gaintuning import GainTuning
from .sure import SUREFineTuned
from .pilot import PilotFineTuned
from .dip import DIPDenoiser
from .self2self import Self2Self
from .tiled import Tiled
from .self_ensemble import SelfEnsemble
from .collaborative_wiener import CollaborativeWiener, x8_wiener
from .blend import Blend
from .mean import MeanOfPriors
from . import nets
