"""Self2Self as a solver: denoise ``y`` with a network trained on ``y`` alone.

The training and the dropout ensemble are :class:`pnp_internal.priors.Self2Self` (a denoiser
``D(x, sigma)``); this class gives it the solvers' contract
``solve(y, operator, x0=None, x_true=None, callback=None) -> Result`` so that
:func:`pnp_internal.solve` and the benchmarks run it like any other method.

References
----------
.. [1] Y. Quan, M. Chen, T. Pang, H. Ji, "Self2Self With Dropout: Learning Self-Supervised
   Denoising From Single Image", CVPR 2020.
"""

from __future__ import annotations

import time

from .base import Result

__all__ = ["Self2Self"]


class Self2Self:
    """Self2Self denoising [1]_ of ``y = x + n`` (the operator must be the identity).

    Parameters
    ----------
    steps, warm_steps, lr, p, n_predictions, width, depth, precision, seed
        Options of :class:`pnp_internal.priors.Self2Self`.
    progress : bool
        Accepted for the common contract (the training loop shows no bar).

    Examples
    --------
    >>> import torch, deepinv
    >>> from pnp_internal.solvers.self2self import Self2Self
    >>> op = deepinv.physics.Denoising(deepinv.physics.GaussianNoise(0.1))
    >>> y = op(torch.rand(1, 1, 16, 16))
    >>> Self2Self(steps=2, n_predictions=2).solve(y, op).x.shape
    torch.Size([1, 1, 16, 16])
    """

    def __init__(self, *, steps=1000, warm_steps=100, lr=1e-3, p=0.3, n_predictions=32,
                 width=32, depth=3, precision="auto", seed=0, progress=False):
        from ..priors import Self2Self as Denoiser

        self.denoiser = Denoiser(steps=steps, warm_steps=warm_steps, lr=lr, p=p,
                                 n_predictions=n_predictions, width=width, depth=depth,
                                 precision=precision, seed=seed)
        self.progress = progress

    def solve(self, y, operator, x0=None, x_true=None, callback=None) -> Result:
        """Train on ``y`` and return the ensemble estimate (``x0`` is not used)."""
        from ..api import operator_kind

        if operator_kind(operator) != "denoise":
            raise ValueError(f"Self2Self restores denoising problems only (y = x + n), got "
                             f"{type(operator).__name__}; use DIP or a PnP method for it")
        t0 = time.perf_counter()
        self.denoiser.reset()
        x = self.denoiser.denoise(y).clamp(0, 1)
        history = {"seconds": [time.perf_counter() - t0]}
        if x_true is not None:
            from ..metrics import psnr

            history["psnr"] = [float(psnr(x, x_true).mean())]
        if callback is not None:
            callback(None)
        used = getattr(self.denoiser, "precision_used", "fp32")
        return Result(x, self.denoiser.steps, True, history,
                      f"{self.denoiser.steps} training steps, {self.denoiser.n_predictions} "
                      "dropout predictions", precision=used)
