"""GainTuning recipes for plain Gaussian denoising: which budget gains over ``cnn``?

Registers ``gt-exp`` (SURE fine-tuning on ``y`` of the gains, all weights or the last layers,
built from the command-line options; options left out keep the ``cnn-gaintuning`` recipe,
:data:`pnp_internal.recipes.GAINTUNING_DENOISE`) and measures its PSNR with the benchmark
harness next to the methods named in ``--also`` (e.g. ``cnn``), on the same noisy images.

Example
-------
    python benchmarks/experiments/gaintuning_experiments.py denoise-s25 \
        --images ../shared/data/test/cbsd68 --limit 8 --steps 60 --crop 128 --batch-size 4 \
        --also cnn
"""

from __future__ import annotations

import sys

import torch

from pnp_internal import recipes
from pnp_internal.bench.registry import register
from pnp_internal.catalog.pnp import shipped_cnn

from _harness import experiment_parser, run_methods


def main(argv=None):
    p = experiment_parser(__doc__)
    p.add_argument("--also", default="", help="other methods, comma-separated")
    p.add_argument("--train", default="gains", choices=["gains", "all", "last"])
    for name, kind in [("steps", int), ("lr", float), ("batch-size", int), ("crop", int),
                       ("holdout", float), ("check-every", int), ("patience", int)]:
        p.add_argument(f"--{name}", type=kind)
    args = p.parse_args(argv)
    opts = recipes.GAINTUNING_DENOISE.options()
    for key in ("steps", "lr", "batch_size", "crop", "holdout", "check_every", "patience"):
        if getattr(args, key) is not None:
            opts[key] = getattr(args, key)

    def run(problem):
        from pnp_internal.priors import SUREFineTuned

        prior = SUREFineTuned(shipped_cnn(problem.img_shape[0]), train=args.train,
                              seed=problem.seed, **opts)
        prior.fit(problem.y, problem.noise_std)
        with torch.no_grad():
            return prior(problem.y, problem.noise_std).clamp(0, 1)

    register("gt-exp", kinds=("denoise",), description=f"{args.train} {opts}")(run)
    methods = ",".join(["gt-exp"] + [m for m in args.also.split(",") if m])
    return run_methods(args, methods)


if __name__ == "__main__":
    sys.exit(main())
