"""ZSSR variants: what closes the gap to the paper's Set5 numbers?

Registers one benchmark method, ``zssr-exp`` (:class:`~pnp_internal.solvers.ZSSR` built from
the command-line options), and measures its PSNR and time with the benchmark harness (same
images, same degradation, same scoring as ``pnp-internal bench``). Options that are not ZSSR
parameters:

``--luma``
    Train and super-resolve the Y channel only (chroma by cubic upscaling), as the metric is
    computed on Y; the paper's code trains on RGB.
``--init paper``
    The official code's initialisation: normal with variance ``0.1 / fan_in`` for every layer
    (ours: Kaiming normal, last layer scaled by 0.1), drawn for each new network before its
    first pass (not with ``--warm``, whose stages start from the previous network).
``--gradual [--warm]``
    Gradual SR (x2: the official six stages 1x1.5 ... 2x2; x4: 2x2 then 4x4), each stage
    warm-started from the previous one with ``--warm``.
``--stages 2,3``
    Gradual SR through these intermediate scales before the final jump (``1x1.5`` for
    anisotropic ones).
``--rebase [2,3|all|none]``
    With gradual SR, each isotropic intermediate output (or those at the scales given) becomes
    the input of the next stages (the official ``base_change_sfs``): x4 as x2 then x2.
    Without the option: ZSSR's default (at 2 with ``--gradual`` above x2).
``--affine P``
    Affine training fathers with probability ``P`` (the official code: 0.5).
``--assume-bicubic``
    Train with the bicubic kernel whatever the task's kernel: what a bicubic-trained method
    does on ``sr-x2-gauss1.6``.
``--device cuda``
    Train on a GPU (the LR image and the operator stay on the CPU; timings are then GPU timings).

Examples
--------
    python benchmarks/experiments/zssr_experiments.py sr-x2 --images ../shared/data/test/set5 \
        --luma --out benchmarks/results/zssr_exp_luma.json
"""

from __future__ import annotations

import contextlib
import math
import sys
import weakref

import torch

from pnp_internal.bench.registry import register
from pnp_internal.solvers import ZSSR

from _harness import experiment_parser, on_luma, run_methods


@contextlib.contextmanager
def _paper_init(seed):
    """Inside: every ``nn.Conv2d`` gets the official ZSSR initialisation, weights
    N(0, 0.1 / fan_in), before its first forward pass (biases as built: zero in ZSSR's net)."""
    gen = torch.Generator().manual_seed(seed)
    seen = weakref.WeakSet()

    def hook(module, _inputs):
        if isinstance(module, torch.nn.Conv2d) and module not in seen:
            seen.add(module)
            w = module.weight
            fan_in = w.shape[1] * w.shape[2] * w.shape[3]
            with torch.no_grad():
                w.copy_(torch.randn(w.shape, generator=gen) * math.sqrt(0.1 / fan_in))

    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _scale(text):
    """``1.5`` (both axes) or ``1.5x2`` (s_h x s_w)."""
    parts = [float(v) for v in text.split("x")]
    return parts[0] if len(parts) == 1 else tuple(parts)


def main(argv=None):
    p = experiment_parser(__doc__)
    p.add_argument("--luma", action="store_true")
    p.add_argument("--init", choices=["ours", "paper"], default="ours")
    p.add_argument("--device", default=None)
    p.add_argument("--max-iter", type=int, default=3000)
    p.add_argument("--min-iter", type=int, default=256)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--test-every", type=int, default=50)
    p.add_argument("--slope-window", type=int, default=256)
    p.add_argument("--n-scales", type=int, default=6)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-min", type=float, default=1e-6)
    p.add_argument("--gradual", action="store_true")
    p.add_argument("--stages", default=None,
                   help="comma-separated intermediate scales for gradual SR, e.g. 2,3 at x4")
    p.add_argument("--rebase", nargs="?", const="all", default=None,
                   help="rebase at every isotropic stage ('all'), never ('none') or at these "
                   "comma-separated scales; default: the ZSSR default")
    p.add_argument("--warm", action="store_true", help="gradual: each stage goes on training "
                   "the previous stage's net")
    p.add_argument("--affine", type=float, default=0.0,
                   help="probability of an affine (rotated, sheared) father; official: 0.5")
    p.add_argument("--seed-offset", type=int, default=0)
    p.add_argument("--assume-bicubic", action="store_true",
                   help="train with the bicubic kernel whatever the task's kernel (mismatch)")
    args = p.parse_args(argv)
    if args.init == "paper" and args.warm:
        p.error("--init paper draws each new network before its first pass: it would overwrite "
                "the weights --warm carries over from the previous stage")
    settings = dict(max_iter=args.max_iter, min_iter=args.min_iter, crop=args.crop,
                    test_every=args.test_every, slope_window=args.slope_window,
                    n_scales=args.n_scales, lr=args.lr, lr_min=args.lr_min, ensemble=True,
                    back_projection=10, device=args.device)

    def run(problem):
        gradual = ([_scale(v) for v in args.stages.split(",")] if args.stages
                   else args.gradual)
        rebase = {None: None, "all": True, "none": False}.get(args.rebase) if args.rebase in (
            None, "all", "none") else [float(v) for v in args.rebase.split(",")]
        solver = ZSSR(**settings, gradual=gradual, warm_start=args.warm, rebase=rebase,
                      affine=args.affine,
                      noise_std=problem.noise_std, seed=problem.seed + args.seed_offset)
        op = problem.operator
        if args.assume_bicubic:
            from pnp_internal.operators import Downsampling

            op = Downsampling(problem.scale, img_shape=tuple(problem.img_shape),
                              kernel="bicubic", padding="circular")
        init = (_paper_init(problem.seed + args.seed_offset) if args.init == "paper"
                else contextlib.nullcontext())
        with init:
            return solver.solve(problem.y, op).x

    register("zssr-exp", kinds=("sr",), description=str(vars(args)))(
        on_luma(run) if args.luma else run)
    return run_methods(args, "zssr-exp")


if __name__ == "__main__":
    sys.exit(main())
