"""Candidate weights of the DRUNet-lite against the shipped ones, through the bench.

Registers ``cnn-candidate`` (one call of the candidate, as ``cnn`` is one call of the shipped
model), ``cnn-candidate-x8`` (its geometric self-ensemble, as ``cnn-x8``) and
``cnn-candidate-hqs`` (the candidate inside HQS with ``cnn-hqs``'s recipe), so that a
record holds the candidate beside ``cnn`` / ``cnn-hqs`` on the same seeded measurements:

    python benchmarks/experiments/denoiser_candidate.py denoise-s25 \\
        --images ../shared/data/test/cbsd68 --weights build/train/color-data.safetensors \\
        --methods cnn,cnn-candidate --out benchmarks/results/candidate_denoise-s25_cbsd68.json

The candidate is a colour or a gray model (read from its metadata); images with the other
number of channels run the shipped model of their kind in both.
"""

from __future__ import annotations

import sys

from _harness import experiment_parser, run_methods, solve_with

from pnp_internal.bench.registry import register
from pnp_internal.catalog.pnp import shipped_cnn
from pnp_internal.priors.cnn import load_denoiser


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument("--weights", required=True, help="candidate safetensors (colour or gray)")
    p.add_argument("--methods", default="cnn,cnn-candidate")
    p.add_argument("--crop", type=int, help="centre crop of the images")
    args = p.parse_args(argv)

    model = load_denoiser(args.weights)  # read once, used for every image

    def candidate(problem):
        if problem.y.shape[1] != model.channels:
            return shipped_cnn(problem.y.shape[1], precision=problem.precision)
        model.precision = problem.precision
        return model

    @register("cnn-candidate", kinds=("denoise",), description="candidate weights, one call")
    def _one_call(problem):
        return candidate(problem)(problem.y, problem.noise_std).clamp(0, 1)

    @register("cnn-candidate-x8", kinds=("denoise",),
              description="candidate weights averaged over the 8 flips and rotations of y")
    def _x8(problem):
        import torch

        from pnp_internal.priors import SelfEnsemble
        with torch.no_grad():
            return SelfEnsemble(candidate(problem))(problem.y, problem.noise_std).clamp(0, 1)

    @register("cnn-candidate-hqs", kinds=("deblur", "sr", "inpaint"),
              description="candidate weights inside HQS (cnn-hqs's recipe)")
    def _hqs(problem):
        return solve_with(problem, candidate(problem), "hqs")

    return run_methods(args, args.methods, ["--crop", str(args.crop)] if args.crop else [])


if __name__ == "__main__":
    sys.exit(main())
