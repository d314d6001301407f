"""CSGM: the image is the generator's output ``G(z)`` whose measurements best match ``y``.

References
----------
.. [1] A. Bora, A. Jalal, E. Price and A. G. Dimakis, "Compressed Sensing using Generative
   Models", ICML 2017.
"""

from __future__ import annotations

import time

import torch

from ..metrics import psnr
from ..solvers.result import Result
from .generator import SIZE, Generator, pretrained

__all__ = ["CSGM", "generator_for", "measurement_loss"]


def generator_for(operator, y: torch.Tensor, generator: Generator | None) -> Generator:
    """The generator for the image behind ``y`` (luma output for a gray image), after
    checking that the image is 64x64: the operator may mix every pixel (compressed sensing),
    so an image cannot be cut into tiles that the generator would restore one by one."""
    shape = tuple(operator.A_adjoint(y).shape)
    if len(shape) != 4 or shape[-2:] != (SIZE, SIZE) or shape[1] not in (1, 3):
        raise ValueError(f"csgm and iagan restore {SIZE}x{SIZE} gray or colour images (the "
                         f"generator's size); the operator's image has shape {shape}. Crop the "
                         f"image to {SIZE}x{SIZE} pieces measured separately, or use dip, "
                         "which restores any size")
    g = pretrained() if generator is None else generator
    g = g.gray() if shape[1] == 1 else g
    if g.channels != shape[1]:
        raise ValueError(f"the generator makes {g.channels}-channel images, the operator's "
                         f"image has {shape[1]}")
    return g.to(y.device).eval()


def measurement_loss(operator, x: torch.Tensor, y: torch.Tensor,
                     weight: torch.Tensor | None = None) -> torch.Tensor:
    """``sum |A x - y|^2`` per batch item (only where ``weight`` is 1, when given)."""
    r = (operator.A(x) - y) ** 2
    if weight is not None:
        r = r * weight
    return r.flatten(1).sum(1)


class CSGM:
    """Compressed sensing with a generative model [1]_:
    ``min_z |A G(z) - y|^2 + lam |z|^2`` with Adam from ``restarts`` random codes
    ``z ~ N(0, I)`` (run as one batch), keeping the code with the lowest objective.

    Parameters
    ----------
    generator : Generator, optional
        Default: the shipped generator (:func:`pnp_internal.generative.pretrained`).
    restarts : int
        Random starting codes.
    max_iter : int
        Adam steps.
    lr : float
        Adam learning rate of ``z``.
    latent_weight : float
        ``lam`` in units of the mean squared measurement ``|y|^2 / m`` (``m`` entries of
        ``y``), so that it means the same for every operator and image.
    seed : int or None
        Seed of the starting codes.
    progress : bool
        Show a progress bar.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal import operators
    >>> from pnp_internal.generative import CSGM, Generator
    >>> op = operators.CompressedSensing(0.25, img_shape=(3, 64, 64))
    >>> g = Generator(nz=8, ngf=4).eval()
    >>> res = CSGM(g, restarts=2, max_iter=3).solve(op.A(torch.rand(1, 3, 64, 64)), op)
    >>> res.x.shape
    torch.Size([1, 3, 64, 64])
    """

    def __init__(self, generator: Generator | None = None, *, restarts: int = 4,
                 max_iter: int = 500, lr: float = 0.05, latent_weight: float = 1e-3,
                 seed: int | None = 0, progress: bool = False):
        if restarts < 1 or max_iter < 1 or not lr > 0 or latent_weight < 0:
            raise ValueError(f"need restarts >= 1, max_iter >= 1, lr > 0, latent_weight >= 0; "
                             f"got {restarts}, {max_iter}, {lr}, {latent_weight}")
        self.generator, self.restarts, self.max_iter = generator, int(restarts), int(max_iter)
        self.lr, self.latent_weight, self.seed = float(lr), float(latent_weight), seed
        self.progress = progress

    def fit_latent(self, g: Generator, y: torch.Tensor, operator, *, weight=None, x_true=None,
                   history=None, keep: int = 1) -> torch.Tensor:
        """The ``keep`` best codes ``(keep, nz)`` for ``y`` (a single measurement, batch 1),
        best first, fitted to the entries of ``y`` where ``weight`` (same shape, 0 or 1) is 1,
        when given."""
        from tqdm import tqdm

        if not 1 <= keep <= self.restarts:
            raise ValueError(f"keep must be in [1, restarts={self.restarts}], got {keep}")

        gen = torch.Generator().manual_seed(0 if self.seed is None else self.seed)
        z = torch.randn(self.restarts, g.nz, generator=gen).to(y.device).requires_grad_()
        ys = y.expand(self.restarts, *y.shape[1:])
        lam = self.latent_weight * float((y ** 2).sum()) / y[0].numel()
        opt = torch.optim.Adam([z], lr=self.lr)
        for p in g.parameters():
            p.requires_grad_(False)
        t0 = time.perf_counter()
        with torch.enable_grad():
            for it in tqdm(range(self.max_iter), disable=not self.progress, desc="CSGM"):
                x = g(z)
                objective = measurement_loss(operator, x, ys, weight) + lam * (z ** 2).sum(1)
                opt.zero_grad(set_to_none=True)
                objective.sum().backward()
                opt.step()
                if history is not None:
                    best = int(objective.detach().argmin())
                    history["seconds"].append(time.perf_counter() - t0)
                    history["residual"].append(float(objective[best].detach()))
                    if x_true is not None:
                        best_x = x[best:best + 1].detach().clamp(0, 1)
                        history["psnr"].append(float(psnr(best_x, x_true)))
        with torch.no_grad():
            objective = measurement_loss(operator, g(z), ys, weight) + lam * (z ** 2).sum(1)
        return z[objective.argsort()[:keep]].detach()

    def solve(self, y: torch.Tensor, operator, *, x_true: torch.Tensor | None = None) -> Result:
        """Restore the 64x64 image behind ``y`` (batch items one by one)."""
        g = generator_for(operator, y, self.generator)
        history = {"seconds": [], "residual": [], "psnr": []} if len(y) == 1 else None
        out = []
        for i in range(len(y)):
            truth = None if x_true is None else x_true[i:i + 1]
            z = self.fit_latent(g, y[i:i + 1], operator, x_true=truth,
                                history=history)
            with torch.no_grad():
                out.append(g(z))
        history = {k: v for k, v in (history or {}).items() if v}
        return Result(x=torch.cat(out).clamp(0, 1), n_iter=self.max_iter, converged=False,
                      history=history, message=f"CSGM: {self.max_iter} Adam steps from "
                                                f"{self.restarts} random codes")
