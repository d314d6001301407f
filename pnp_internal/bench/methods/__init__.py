"""Benchmark method families; importing this package registers all of them."""

from . import baselines  # noqa: F401  pseudo-inverse, bicubic, deepinv-*
from . import classical  # noqa: F401  bm3d, tv, {tv,bm3d}-{idbp,hqs,admm}
from . import cnn  # noqa: F401  cnn (project DRUNet-lite denoiser)
from . import adapted  # noqa: F401  cnn-{idbp,hqs,admm}, ia-*, gt-idbp, cnn-sure, cnn-gaintuning
from . import zssr  # noqa: F401  zssr, zssr-fast
from . import dip  # noqa: F401  dip, dip-tv, deep-decoder, self2self, dip-admm, deepinv-dip
