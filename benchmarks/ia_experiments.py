"""Image-adapted IDBP variants (issue 5): which fine-tuning recipe gains over the plain CNN?

Registers ``ia-exp`` (IDBP with :class:`~pnp_internal.priors.ImageAdapted` built from the
command-line options, on the luminance for colour SR like ``ia-idbp``) and runs it with the
benchmark harness, so images, degradations and scoring are those of ``pnp-internal bench``.

Example
-------
    python benchmarks/ia_experiments.py sr-x2 --images ../shared/data/test/set5 --holdout 0 \
        --steps 48 --lr 5e-5
"""

from __future__ import annotations

import sys

import torch

from pnp_internal.bench.methods.adapted import IA_SETTINGS, _base, on_luma
from pnp_internal.bench.methods.classical import make_solver
from pnp_internal.bench.registry import register

from _harness import experiment_parser, run_methods


def main(argv=None):
    p = experiment_parser(__doc__)
    p.add_argument("--crop-images", type=int, help="centre crop of the test images")
    p.add_argument("--solver", default="idbp")
    p.add_argument("--when", default="before", choices=["before", "during", "both"])
    p.add_argument("--train", default=None, choices=["all", "last", "gains"])
    p.add_argument("--last-k", type=int, default=4)
    p.add_argument("--steps", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--holdout", type=float, default=0.15)
    # options left out keep the ``ia-idbp`` settings (bench.methods.adapted.IA_SETTINGS)
    p.add_argument("--patience", type=int)
    p.add_argument("--check-every", type=int)
    p.add_argument("--switch-sigma", default="auto",
                   help="'auto', 'none' or a value on the 0-255 scale")
    p.add_argument("--sigma", type=float, help="fine-tuning noise level, 0-255 scale")
    p.add_argument("--sigma-hi", type=float,
                   help="with --sigma: noise levels drawn in [sigma, sigma-hi], 0-255 scale")
    p.add_argument("--adapt-every", type=int, default=10)
    args = p.parse_args(argv)
    switch = {"auto": "auto", "none": None}.get(args.switch_sigma)
    if args.switch_sigma not in ("auto", "none"):
        switch = float(args.switch_sigma) / 255

    def run(problem):
        from pnp_internal.priors import ImageAdapted

        opts = dict(IA_SETTINGS[problem.kind])
        for key in ("steps", "lr", "batch_size", "train", "patience", "check_every"):
            if getattr(args, key) is not None:
                opts[key] = getattr(args, key)
        if args.when != "before":
            opts.update(adapt_every=args.adapt_every)
        if args.sigma is not None:
            opts["sigmas"] = args.sigma / 255 if args.sigma_hi is None else (
                args.sigma / 255, args.sigma_hi / 255)
        prior = ImageAdapted(_base(problem), when=args.when, seed=problem.seed,
                             holdout=args.holdout, last_k=args.last_k, switch_sigma=switch,
                             **opts)
        solver, x0 = make_solver(prior, args.solver, problem)
        return solver.solve(problem.y, problem.operator, x0=x0).x

    register("ia-exp", kinds=("sr", "deblur", "inpaint", "cs"), description=str(vars(args)))(
        on_luma(run))
    crop = ["--crop", str(args.crop_images)] if args.crop_images else []
    return run_methods(args, "ia-exp", crop)


if __name__ == "__main__":
    sys.exit(main())
