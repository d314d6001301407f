"""Image-adapted PnP variants: which fine-tuning recipe gains over the plain CNN?

Registers ``ia-exp`` (a solver with :class:`~pnp_internal.priors.ImageAdapted` built from the
command-line options, on the luminance for colour SR like ``ia-idbp``; options left out keep
the recipe :data:`pnp_internal.recipes.IMAGE_ADAPTED`) and measures its PSNR with the
benchmark harness, so images, degradations and scoring are those of ``pnp-internal bench``.

Example
-------
    python benchmarks/experiments/ia_experiments.py sr-x2 --images ../shared/data/test/set5 \
        --holdout 0 --steps 48 --lr 5e-5
"""

from __future__ import annotations

import argparse
import sys

from pnp_internal import recipes
from pnp_internal.bench.registry import register
from pnp_internal.catalog.pnp import adapted_copies, shipped_cnn

from _harness import experiment_parser, on_luma, run_methods, solve_with


def main(argv=None):
    p = experiment_parser(__doc__)
    p.add_argument("--crop-images", type=int, help="centre crop of the test images")
    p.add_argument("--solver", default="idbp", choices=["idbp", "hqs", "admm"])
    p.add_argument("--when", default="before", choices=["before", "during", "both"])
    p.add_argument("--train", default=None, choices=["all", "last", "gains", "lora"])
    p.add_argument("--last-k", type=int, default=4)
    p.add_argument("--rank", type=int)
    p.add_argument("--steps", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--train-crop", type=int, nargs="+",
                   help="crop sides of the training pairs (one drawn per step)")
    p.add_argument("--holdout", type=float)
    p.add_argument("--sure-check", type=float,
                   help="ImageAdapted's sure_check, 0-255 scale ('0': none)")
    # options left out keep the ``ia-idbp`` recipe (recipes.IMAGE_ADAPTED)
    p.add_argument("--refit", action=argparse.BooleanOptionalAction, default=None,
                   help="run the hold-out's number of steps again on all the pixels")
    p.add_argument("--patience", type=int)
    p.add_argument("--check-every", type=int)
    p.add_argument("--switch-sigma", default="auto",
                   help="'auto', 'none' or a value on the 0-255 scale")
    p.add_argument("--sigma", type=float, help="fine-tuning noise level, 0-255 scale")
    p.add_argument("--sigma-hi", type=float,
                   help="with --sigma: noise levels drawn in [sigma, sigma-hi], 0-255 scale")
    p.add_argument("--adapt-every", type=int, default=10)
    p.add_argument("--scales", type=float, nargs="+",
                   help="rescalings of the sources (default ImageAdapted's 1 and 0.9)")
    p.add_argument("--pilot", nargs="+", choices=["cnn", "x8", "bm3d"],
                   help="fine-tune on a pilot restoration instead of the recipe's source: the "
                        "mean of the solver's results with the shipped CNN, its x8 "
                        "self-ensemble, BM3D (those named)")
    p.add_argument("--copies", type=int,
                   help="average the outputs of this many adapted copies, each tuned with its "
                        "own seed")
    p.add_argument("--orient", type=int,
                   help="each copy averages this many of the 8 flips/rotations of the image, "
                        "copy k the k-th group (orientation_group; 0: the image as it is; "
                        "default the recipe's)")
    p.add_argument("--rounds", type=int, default=1,
                   help="with --pilot: fine-tune again from the shipped weights on the result "
                        "of the last round's adapted prior, this many times in all")
    args = p.parse_args(argv)
    switch = {"auto": "auto", "none": None}.get(args.switch_sigma)
    if args.switch_sigma not in ("auto", "none"):
        switch = float(args.switch_sigma) / 255

    def pilot(problem):
        from pnp_internal.priors import BM3D, SelfEnsemble

        cnn = shipped_cnn(problem.img_shape[0])
        make = {"cnn": lambda: cnn, "x8": lambda: SelfEnsemble(cnn), "bm3d": BM3D}
        return sum(solve_with(problem, make[name](), args.solver)
                   for name in args.pilot) / len(args.pilot)

    def run(problem):
        recipe = recipes.IMAGE_ADAPTED.get(problem.kind, recipes.IMAGE_ADAPTED["other"])
        opts = recipe.options()
        n_copies = args.copies or recipe.copies
        turns = recipe.orientations if args.orient is None else args.orient
        for key in ("steps", "lr", "batch_size", "train", "rank", "patience", "check_every",
                    "holdout", "refit"):
            if getattr(args, key) is not None:
                opts[key] = getattr(args, key)
        if args.sure_check is not None:
            opts["sure_check"] = args.sure_check / 255 if args.sure_check else None
        if args.train_crop:
            opts["crop"] = tuple(args.train_crop)
        if args.scales:
            opts["scales"] = tuple(args.scales)
        if args.when != "before":
            opts.update(adapt_every=args.adapt_every)
        if args.sigma is not None:
            opts["sigmas"] = args.sigma / 255 if args.sigma_hi is None else (
                args.sigma / 255, args.sigma_hi / 255)
        restored = pilot(problem) if args.pilot else None
        for _ in range(args.rounds if args.pilot else 1):
            if restored is not None:
                opts["x_init"] = restored
            prior = adapted_copies(lambda: shipped_cnn(problem.img_shape[0]), problem.seed,
                                   n_copies, turns, when=args.when, last_k=args.last_k,
                                   switch_sigma=switch, **opts)
            restored = solve_with(problem, prior, args.solver)
        return restored

    register("ia-exp", kinds=("sr", "deblur", "inpaint", "cs"), description=str(vars(args)))(
        on_luma(run))
    crop = ["--crop", str(args.crop_images)] if args.crop_images else []
    return run_methods(args, "ia-exp", crop)


if __name__ == "__main__":
    sys.exit(main())
