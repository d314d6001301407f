r"""A denoiser fine-tuned on its own pilot estimate of the clean image.

SURE fits a denoiser to the one noisy image it is given, noise draw included: on one draw its
gradient differs from the true error's by a field the update fits as well, and on drawn images
at sigma 25 it finds about a third of what the same update gains when trained on the clean
image (``benchmarks/notes/off-distribution.md``). Here the clean image is replaced by a pilot
computed from ``y`` (by default the denoiser's own self-ensemble blended with BM3D's Wiener
stage, the project's best one-pass denoiser): the steps take random crops of the pilot plus
fresh noise of the known level as inputs and the pilot crops as targets, the pairs of
Noisy-as-Clean [1]_ made from a denoised image as BM3D's second stage uses its first [2]_. Each
step sees a new noise draw, so nothing ties the update to ``y``'s. How far to go is decided by
SURE on a strip of ``y``, as in :class:`~pnp_internal.priors.SUREFineTuned`. The crops cover the
whole pilot, the strip included: the update never sees ``y``, only the pilot plus noise drawn
afresh, so it cannot fit the strip's noise draw, and leaving a third of the image out of the
crops (the strip of a 512 px image with 192 px crops) cost a tenth of a dB on drawn images
(``benchmarks/notes/off-distribution.md``).

References
----------
.. [1] J. Xu, Y. Huang, M.-M. Cheng, L. Liu, F. Zhu, Z. Xu, L. Shao, "Noisy-As-Clean: Learning
   Self-supervised Denoising from Corrupted Image", IEEE TIP 29, 2020.
.. [2] K. Dabov, A. Foi, V. Katkovnik, K. Egiazarian, "Image Denoising by Sparse 3-D
   Transform-Domain Collaborative Filtering", IEEE TIP 16(8), 2007.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .collaborative_wiener import x8_wiener
from .finetune import FinetuneReport
from .sure import SUREFineTuned
from .training_pairs import PairSampler

__all__ = ["PilotFineTuned"]


class PilotFineTuned(SUREFineTuned):
    r"""A denoiser fine-tuned on pairs made from a pilot estimate of its clean input [1]_.

    Parameters
    ----------
    denoiser : torch.nn.Module
        Pretrained denoiser with weights; deep-copied (the original stays untouched).
    pilot : callable, optional
        ``pilot(denoiser) -> callable(y, sigma)``: how a denoiser makes the pilot, computed
        without gradients at the start of each round. Default: the denoiser averaged over the 8
        flips and rotations and blended with BM3D's Wiener stage piloted by that
        (``cnn-x8-wiener``'s way of calling the shipped CNN).
    rounds : int
        Tunings in a row: the first on the pilot of ``denoiser``, each next one, from the
        weights the last kept, on the pilot of the tuned copy.
    holdout_whole : bool
        Compute the hold-out SURE on the whole of ``y`` instead of a strip of it (the update
        never sees ``y``, only the pilot plus fresh noise). At sigma 75 the strip let through
        rounds that lost on the rest of the image (``benchmarks/notes/off-distribution.md``);
        it costs about three times the strip's SURE per check. The recipe book's
        ``PILOT_DENOISE`` takes it.
    train, last_k, rank, steps, lr, batch_size, crop, holdout, check_every, patience,
    min_decrease, min_gain, holdout_probes, max_seconds, seed, precision
        As in :class:`~pnp_internal.priors.SUREFineTuned`, per round; the hold-out is SURE on
        a strip of ``y``, or all of it with ``holdout_whole`` (the pilot's crops cover the whole
        image). The steps run in ``precision`` (bf16 where the CPU computes it natively): their
        loss is a plain squared error; the hold-out SURE stays float32.

    Examples
    --------
    >>> import torch
    >>> from deepinv.models import DnCNN
    >>> from pnp_internal.priors import PilotFineTuned, SelfEnsemble
    >>> net = DnCNN(1, 1, depth=3, nf=8, pretrained=None)
    >>> tuned = PilotFineTuned(net, pilot=SelfEnsemble, steps=2, crop=16, train="all", lr=1e-4)
    >>> report = tuned.fit(torch.rand(1, 1, 48, 48), 0.1)
    >>> tuned(torch.rand(1, 1, 48, 48), 0.1).shape
    torch.Size([1, 1, 48, 48])
    """

    _train_default = "lora"

    def __init__(self, denoiser, *, pilot=None, rounds: int = 1, holdout_whole: bool = False,
                 **kwargs):
        if "loss" in kwargs or "recorrupt" in kwargs:
            raise TypeError("PilotFineTuned trains on the pilot's pairs and holds out by SURE; "
                            "it takes no loss= or recorrupt=")
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be an int >= 1, got {rounds!r}")
        super().__init__(denoiser, **kwargs)
        if not isinstance(holdout_whole, bool):
            raise ValueError(f"holdout_whole must be True or False, got {holdout_whole!r}")
        self.pilot, self.rounds, self.holdout_whole = pilot, rounds, holdout_whole
        self._source = self.original

    def pilot_of(self, denoiser, channels: int):
        """The denoiser that makes the pilot from ``denoiser`` (``pilot``, or the default)."""
        if self.pilot is not None:
            return self.pilot(denoiser)
        return x8_wiener(denoiser, channels)

    def fit(self, y: torch.Tensor, sigma, *, seed: int | None = None) -> FinetuneReport:
        """Tune on the noisy image ``y`` (B=1, C, H, W) of noise level ``sigma``, ``rounds``
        times; one report for all of them (steps counted from the first round's start)."""
        seed = self.seed if seed is None else seed
        rounds = []
        for r in range(self.rounds):
            self._source = self.original if r == 0 or self._untouched else self.model
            rounds.append(super().fit(y, sigma, seed=None if seed is None else seed + r))
        self._source = self.original
        del self.reports[-self.rounds:]
        report = _chained(rounds)
        self.reports.append(report)
        return report

    def _holdout_images(self, sampler: PairSampler, z: torch.Tensor) -> torch.Tensor | None:
        """With ``holdout_whole``, all of ``y`` (the update never sees it); else the strip."""
        if self.holdout_whole and self.holdout > 0:
            return z
        return super()._holdout_images(sampler, z)

    def _steps(self, sampler: PairSampler, z: torch.Tensor, sigma: float, crop: int, base: int,
               device):
        """Crops of the whole pilot plus fresh noise of level ``sigma``, scored against the
        pilot (made at the first step: none when there is no step)."""
        made = self.pilot_of(self._source, z.shape[1])
        level = torch.full((self.batch_size,), sigma, device=device)
        pairs = []

        def sample(step):
            if not pairs:  # in eval mode: the tuned copy is in training mode here
                training = self.model.training
                self.model.eval()
                with torch.no_grad():
                    estimate = made(z.to(device), sigma).float().cpu()
                self.model.train(training)
                pairs.append(PairSampler(list(estimate), sigmas=sigma, crop=crop,
                                         batch_size=self.batch_size, scales=(1.0,),
                                         holdout=0.0, seed=base, clip=False))
            noisy, clean, _ = pairs[0].batch(step)
            return noisy.to(device), clean.to(device)

        def loss_fn(batch):
            noisy, clean = batch
            return F.mse_loss(self.model(noisy, level).float(), clean.float())

        return sample, loss_fn

    def _steps_precision(self) -> str:
        return self.precision


def _chained(reports: list[FinetuneReport]) -> FinetuneReport:
    """The reports of tunings run one after the other as one: steps counted from the first's
    start, the weights kept those of the last round that moved them."""
    out = FinetuneReport(precision=reports[0].precision, stopped=reports[-1].stopped)
    for r in reports:
        if not r.kept_initial:
            out.best_step, out.kept_initial = out.steps + r.best_step, False
        out.holdout += [(out.steps + step, value) for step, value in r.holdout]
        out.train_loss += r.train_loss
        out.steps += r.steps
        out.seconds += r.seconds
        out.cpu_seconds += r.cpu_seconds
    return out
