"""What the experiment scripts share: their common options, the run through the benchmark
harness, a prior inside a solver with the library's recipe, and the luminance path of colour SR.
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

import pnp_internal
from pnp_internal.bench import runner


def experiment_parser(doc: str) -> argparse.ArgumentParser:
    """A parser with the options every experiment script takes: the task, the images, the
    output file, how many images and how many threads."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True)
    p.add_argument("--out")
    p.add_argument("--limit", type=int)
    p.add_argument("--threads", type=int, default=1)
    return p


def run_methods(args, methods: str, extra=()) -> int:
    """Run the registered ``methods`` (comma-separated) with the benchmark harness, per image."""
    torch.set_num_threads(args.threads)
    argv = [args.task, "--images", args.images, "--methods", methods, "--per-image"]
    argv += ["--out", args.out] if args.out else []
    argv += ["--limit", str(args.limit)] if args.limit else []
    return runner.main(argv + list(extra))


def solve_with(problem, prior, solver: str = "idbp") -> torch.Tensor:
    """``x`` restored by ``prior`` (any prior object) inside ``solver`` (``"idbp"``, ``"hqs"``,
    ``"admm"``) with the library's recipe for the problem's operator kind."""
    return pnp_internal.solve(problem.y, problem.operator, prior=prior, solver=solver,
                              noise_std=problem.noise_std, seed=problem.seed).x


def on_luma(run):
    """Run ``run(problem) -> x`` on the Y channel of a colour bicubic-SR bench problem.

    The luminance (full-range YCbCr) is restored through a gray bicubic
    :class:`~pnp_internal.operators.Downsampling`, Cb and Cr are upscaled by MATLAB bicubic, as
    the library's CNN methods do. Other problems (gray, other kinds or kernels) go to ``run``
    unchanged.
    """
    from deepinv.physics.functional import imresize_matlab

    from pnp_internal.color import rgb_to_ycbcr, ycbcr_to_rgb
    from pnp_internal.operators import Downsampling

    def wrapped(problem):
        op = problem.operator
        if (problem.kind != "sr" or problem.img_shape[0] != 3
                or getattr(op, "kernel_name", None) != "bicubic"):
            return run(problem)
        ycc = rgb_to_ycbcr(problem.y)
        shape = (1, *problem.img_shape[1:])
        luma = Downsampling(problem.scale, img_shape=shape, kernel="bicubic",
                            padding=getattr(op, "padding", "circular")).to(problem.y.device)
        sub = dataclasses.replace(problem, y=ycc[:, :1].contiguous(), operator=luma,
                                  img_shape=shape)
        y_hr = run(sub)
        chroma = imresize_matlab(ycc[:, 1:], scale=problem.scale)
        return ycbcr_to_rgb(torch.cat([y_hr, chroma], dim=1)).clamp(0, 1)

    return wrapped
