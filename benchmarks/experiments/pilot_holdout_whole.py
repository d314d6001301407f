"""``cnn-pilot-x8-wiener`` with the hold-out SURE on the whole of ``y`` (``holdout_whole``).

Registers ``pilot-holdout-whole`` (the method of the catalog with
``PilotFineTuned(holdout_whole=True)``, the rest of the recipe ``PILOT_DENOISE``) and measures
it with the benchmark harness, so images, noise and scoring are those of ``pnp-internal bench``.
Its records (``pilot-holdout-whole_*``) chose the option that ``PILOT_DENOISE`` takes;
with that recipe the method is ``cnn-pilot-x8-wiener``.

Example
-------
    python benchmarks/experiments/pilot_holdout_whole.py denoise-s75 \\
        --images ../shared/data/test/cbsd68 --limit 4 --out benchmarks/results/NAME.json
"""

from __future__ import annotations

import sys

import pnp_internal as pi
from pnp_internal.bench.registry import register

from _harness import experiment_parser, run_methods


def main(argv=None):
    args = experiment_parser(__doc__).parse_args(argv)

    def run(problem):
        return pi.solve(problem.y, problem.operator, method="cnn-pilot-x8-wiener",
                        noise_std=problem.noise_std, seed=problem.seed, holdout_whole=True).x

    register("pilot-holdout-whole", kinds=("denoise",),
             description="cnn-pilot-x8-wiener, hold-out SURE on the whole of y")(run)
    return run_methods(args, "pilot-holdout-whole")


if __name__ == "__main__":
    sys.exit(main())
