"""Image adaptation for SR on the solver's own inputs, one scale down (a negative result).

IDBP-CNN-IA fine-tunes the denoiser on the LR image plus *Gaussian* noise, but late in IDBP the
denoiser's input is the back-projected estimate, whose error is not Gaussian. This variant
builds pairs with that error, by cross-scale self-similarity (as ZSSR does): the LR luminance
``c = y`` is downscaled by the same operator, IDBP with the pretrained CNN is run on ``H c``,
and its denoiser inputs with sigma at or below ``--record`` become training inputs with target
``c``; a fraction ``--mix`` of each batch, the rest Gaussian pairs ``c + sigma n -> c``
(``--sigma-lo`` .. ``--sigma-hi``). IDBP on ``y`` then uses the tuned copy at and below
``--switch``. ``--mix 0`` is ``ia-idbp`` without the hold-out. The method, registered as
``ia-solver-inputs``, is scored by the benchmark harness.

Example
-------
    python benchmarks/experiments/ia_solver_inputs.py sr-x2 --images ../shared/data/test/set5 \
        --threads 2 --mix 0.5 --record 4 --switch 4
"""

from __future__ import annotations

import copy
import dataclasses
import sys

import torch
import torch.nn.functional as F

from pnp_internal.bench.registry import register
from pnp_internal.catalog.pnp import shipped_cnn
from pnp_internal.operators import Downsampling
from pnp_internal.priors.finetune import finetune
from pnp_internal.priors.training_pairs import PairSampler

from _harness import experiment_parser, on_luma, run_methods, solve_with


def _dihedral(x, k):
    """One of the 8 flips/rotations (``k`` in 0..7) of a square crop."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


class _Recorder:
    """The denoiser, keeping a copy of each input whose sigma is at most ``limit``."""

    def __init__(self, net, limit):
        self.net, self.limit, self.inputs = net, limit, []

    def __call__(self, x, sigma):
        s = float(torch.as_tensor(sigma).max())
        if s <= self.limit + 1e-9:
            self.inputs.append((x.detach().clone(), s))
        return self.net(x, sigma)


class _Switch:
    """The tuned copy at and below ``level``, the original above."""

    def __init__(self, original, tuned, level):
        self.original, self.tuned, self.level = original, tuned, level

    def __call__(self, x, sigma):
        s = float(torch.as_tensor(sigma).max())
        return (self.tuned if s <= self.level + 1e-9 else self.original)(x, sigma)


def main(argv=None):
    p = experiment_parser(__doc__)
    p.add_argument("--steps", type=int, default=96)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--mix", type=float, default=0.5, help="fraction of solver-input pairs")
    p.add_argument("--record", type=float, default=4.0, help="record inputs at sigma <= (0-255)")
    p.add_argument("--switch", type=float, default=4.0, help="use the copy at sigma <= (0-255)")
    p.add_argument("--sigma-lo", type=float, help="Gaussian pairs' noise (0-255; default s+1)")
    p.add_argument("--sigma-hi", type=float)
    args = p.parse_args(argv)

    def run(problem):
        net, s = shipped_cnn(problem.img_shape[0]).eval(), problem.scale
        y = problem.y
        h, w = (y.shape[-2] // s) * s, (y.shape[-1] // s) * s
        c = y[..., :h, :w].contiguous()
        small = Downsampling(s, img_shape=(1, h, w), kernel="bicubic", padding="circular")
        rec = _Recorder(net, args.record / 255)
        sub = dataclasses.replace(problem, y=small.A(c), operator=small, img_shape=(1, h, w))
        solve_with(sub, rec, "idbp")
        inputs = torch.cat([x for x, _ in rec.inputs])
        levels = torch.tensor([v for _, v in rec.inputs])
        lo = (s + 1) / 255 if args.sigma_lo is None else args.sigma_lo / 255
        hi = lo if args.sigma_hi is None else args.sigma_hi / 255
        gauss = PairSampler([y], sigmas=(lo, hi), batch_size=16, holdout=0.0, seed=problem.seed)
        n_solver = int(round(16 * args.mix))
        model = copy.deepcopy(net)

        def sample(step):
            noisy, clean, sigma = gauss.batch(step)
            if n_solver == 0:
                return noisy, clean, sigma
            g = torch.Generator().manual_seed(1000 + step)
            cs = noisy.shape[-1]
            ins, tgt, lev = [], [], []
            for _ in range(n_solver):
                k = int(torch.randint(len(inputs), (1,), generator=g))
                i = int(torch.randint(h - cs + 1, (1,), generator=g))
                j = int(torch.randint(w - cs + 1, (1,), generator=g))
                d = int(torch.randint(8, (1,), generator=g))
                ins.append(_dihedral(inputs[k, :, i:i + cs, j:j + cs], d))
                tgt.append(_dihedral(c[0, :, i:i + cs, j:j + cs], d))
                lev.append(levels[k])
            cl = torch.channels_last
            return (torch.cat([noisy[n_solver:], torch.stack(ins)]).contiguous(memory_format=cl),
                    torch.cat([clean[n_solver:], torch.stack(tgt)]).contiguous(memory_format=cl),
                    torch.cat([sigma[n_solver:], torch.stack(lev)]))

        def loss_fn(batch):
            noisy, clean, sigma = batch
            return F.l1_loss(model(noisy, sigma).float(), clean)

        params = list(model.parameters())
        for q in params:
            q.requires_grad_(True)
        finetune(model, params, loss_fn, sample, steps=args.steps, lr=args.lr)
        for q in params:
            q.requires_grad_(False)
        return solve_with(problem, _Switch(net, model.eval(), args.switch / 255), "idbp")

    register("ia-solver-inputs", kinds=("sr",), description=str(vars(args)))(on_luma(run))
    return run_methods(args, "ia-solver-inputs")


if __name__ == "__main__":
    sys.exit(main())
