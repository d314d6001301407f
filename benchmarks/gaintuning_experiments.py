"""GainTuning recipes for plain Gaussian denoising (issue 5): which budget gains over ``cnn``?

Registers ``gt-exp`` (:class:`~pnp_internal.priors.GainTuning` with SURE on ``y``, built from the
command-line options; options left out keep the ``cnn-gaintuning`` settings) and runs it with
the benchmark harness next to the methods named in ``--also`` (e.g. ``cnn``), on the same noisy
images.

Example
-------
    python benchmarks/gaintuning_experiments.py denoise-s25 --images ../shared/data/test/cbsd68 \
        --limit 8 --steps 60 --crop 128 --batch-size 4 --also cnn
"""

from __future__ import annotations

import argparse
import sys

import torch

from pnp_internal.bench import runner
from pnp_internal.bench.methods.adapted import GT_SETTINGS, _base
from pnp_internal.bench.registry import register


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True)
    p.add_argument("--out")
    p.add_argument("--limit", type=int)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--also", default="", help="other methods, comma-separated")
    p.add_argument("--train", default="gains", choices=["gains", "all", "last"])
    for name, kind in [("steps", int), ("lr", float), ("batch-size", int), ("crop", int),
                       ("holdout", float), ("check-every", int), ("patience", int)]:
        p.add_argument(f"--{name}", type=kind)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    opts = dict(GT_SETTINGS)
    for key in ("steps", "lr", "batch_size", "crop", "holdout", "check_every", "patience"):
        if getattr(args, key) is not None:
            opts[key] = getattr(args, key)

    def run(problem):
        from pnp_internal.priors import SUREFineTuned

        prior = SUREFineTuned(_base(problem), train=args.train, seed=problem.seed, **opts)
        prior.fit(problem.y, problem.noise_std)
        with torch.no_grad():
            return prior(problem.y, problem.noise_std).clamp(0, 1)

    register("gt-exp", kinds=("denoise",), description=f"{args.train} {opts}")(run)
    methods = ",".join(["gt-exp"] + [m for m in args.also.split(",") if m])
    argv = [args.task, "--images", args.images, "--methods", methods, "--per-image"]
    argv += ["--out", args.out] if args.out else []
    argv += ["--limit", str(args.limit)] if args.limit else []
    return runner.main(argv)


if __name__ == "__main__":
    sys.exit(main())
