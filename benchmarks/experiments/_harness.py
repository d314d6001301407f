"""What the experiment scripts share: their common options, the run through the benchmark
harness, a prior inside a solver with the library's recipe, and the luminance path of colour SR.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import NamedTuple

import torch

import pnp_internal
from pnp_internal.bench import runner
from pnp_internal.bench.tasks import Degraded, center_crop, image_seed, to_gray


def experiment_parser(doc: str) -> argparse.ArgumentParser:
    """A parser with the options every experiment script takes: the task, the images, the
    output file, how many images and how many threads."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True)
    p.add_argument("--out")
    p.add_argument("--limit", type=int)
    p.add_argument("--last", type=int, help="the last N images (those training holds out)")
    p.add_argument("--threads", type=int, default=1)
    return p


def parse_with_out(p: argparse.ArgumentParser, argv=None):
    """``(args, argv)``: ``argv`` (default: the command line) parsed by ``p``, with ``--out``
    required and torch's threads set to ``--threads``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    if not args.out:
        p.error("--out is required")
    torch.set_num_threads(args.threads)
    return args, argv


def folders_parser(doc: str) -> argparse.ArgumentParser:
    """A parser for the scripts that score settings on several folders (often the files
    training holds out): the task, ``--images`` folders, ``--last``, ``--crop``, ``--threads``
    and ``--out``."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", nargs="+", required=True)
    p.add_argument("--last", type=int, help="the last N images of each folder")
    p.add_argument("--crop", type=int)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out")
    return p


class BenchImage(NamedTuple):
    """One image of :func:`degraded_images`: ``label`` is ``folder/name``, ``seed`` the seed
    ``pnp-internal bench`` gives the image (its degradation's, which the methods take too)."""

    label: str
    name: str
    seed: int
    x: torch.Tensor
    degraded: Degraded


def degraded_images(task, folders, *, limit=None, last=None, crop=None, gray: bool = False):
    """A :class:`BenchImage` for each image of ``folders`` (the first ``limit`` or the last
    ``last`` of each): centre-cropped, prepared (and its luma with ``gray``), then degraded with
    the seed and the position (the Levin kernel of a ``deblur-levin*`` task) ``pnp-internal
    bench`` gives it."""
    from pnp_internal.bench.runner import list_images
    from pnp_internal.io import read_image

    for folder in folders:
        for index, path in enumerate(list_images(folder, limit=limit, last=last)):
            x, _ = task.prepare(center_crop(read_image(path), crop))
            x = to_gray(x) if gray else x
            seed = image_seed(0, path.name)
            yield BenchImage(f"{folder}/{path.name}", path.name, seed, x,
                             task.degrade(x, seed=seed, index=index))


def run_methods(args, methods: str, extra=()) -> int:
    """Run the registered ``methods`` (comma-separated) with the benchmark harness, per image."""
    torch.set_num_threads(args.threads)
    argv = [args.task, "--images", args.images, "--methods", methods, "--per-image"]
    argv += ["--out", args.out] if args.out else []
    argv += ["--limit", str(args.limit)] if args.limit else []
    argv += ["--last", str(args.last)] if args.last else []
    return runner.main(argv + list(extra))


def finish_record(path, record: dict) -> int:
    """Add the mean of every float column of ``record["rows"]`` as ``record["mean"]``, print it
    and write the record to ``path``; 0, the scripts' exit status."""
    import json
    import statistics

    from pnp_internal.bench.runner import write_record

    keys = [k for k, v in record["rows"][0].items() if isinstance(v, float)]
    record["mean"] = {k: statistics.mean(r[k] for r in record["rows"]) for k in keys}
    print(json.dumps(record["mean"], indent=1))
    print(f"wrote {write_record(path, record)}")
    return 0


def noisy_crop_pair(clean: torch.Tensor, crop: int, sigma: float, generator: torch.Generator):
    """A random ``crop`` x ``crop`` window of ``clean`` plus fresh Gaussian noise of level
    ``sigma``, and the window: ``(noisy, clean_window, (i, j))``."""
    c = min(crop, clean.shape[-2], clean.shape[-1])
    i = int(torch.randint(clean.shape[-2] - c + 1, (1,), generator=generator))
    j = int(torch.randint(clean.shape[-1] - c + 1, (1,), generator=generator))
    window = clean[..., i:i + c, j:j + c]
    return window + sigma * torch.randn(window.shape, generator=generator), window, (i, j)


def solve_with(problem, prior, solver: str = "idbp") -> torch.Tensor:
    """``x`` restored by ``prior`` (any prior object) inside ``solver`` (``"idbp"``, ``"hqs"``,
    ``"admm"``) with the library's recipe for the problem's operator kind."""
    return pnp_internal.solve(problem.y, problem.operator, prior=prior, solver=solver,
                              noise_std=problem.noise_std, seed=problem.seed).x


def on_luma(run):
    """Run ``run(problem) -> x`` on the Y channel of a colour bicubic-SR bench problem.

    The split is the library's (:func:`pnp_internal.catalog.pnp.luminance_sr`): the luminance
    restored through a gray bicubic operator, Cb and Cr upscaled by MATLAB bicubic. Other
    problems (gray, other kinds or kernels) go to ``run`` unchanged.
    """
    from pnp_internal.catalog.pnp import luminance_sr

    def wrapped(problem):
        split = luminance_sr(problem.y, problem.operator, problem.scale) \
            if problem.kind == "sr" else None
        if split is None:
            return run(problem)
        y_luma, luma, to_rgb = split
        return to_rgb(run(dataclasses.replace(problem, y=y_luma, operator=luma,
                                              img_shape=luma.img_shape)))

    return wrapped


def sr_on_luma_with_next_scale(d, scale: int):
    """``(y, operator, to_rgb, y_low, low_op)`` for a degraded SR bench image ``d``: the problem
    on its luminance as the CNN priors run it (:func:`pnp_internal.catalog.pnp.luminance_sr`;
    gray or non-bicubic problems unchanged, ``to_rgb`` the identity), and ``y`` downscaled once
    more by the bicubic operator of the same factor (the LR image's own next scale, the only
    ground truth an SR image carries)."""
    from pnp_internal.catalog.pnp import luminance_sr
    from pnp_internal.operators import Downsampling

    y, operator, to_rgb = d.y, d.operator, (lambda v: v)
    split = luminance_sr(d.y, d.operator, scale)
    if split is not None:
        y, operator, to_rgb = split
    low_op = Downsampling(scale, img_shape=tuple(y.shape[1:]), kernel="bicubic",
                          padding=getattr(operator, "padding", "circular"))
    return y, operator, to_rgb, low_op.A(y), low_op


def plot_kernels(drawn, path) -> None:
    """A PNG with one row per image of ``drawn`` (``(name, true kernel, {label: kernel},
    {label: kernel error})``): the true kernel, then each estimate with its kernel error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ["true"] + list(drawn[0][2])
    fig, axes = plt.subplots(len(drawn), len(cols), figsize=(1.9 * len(cols), 1.9 * len(drawn)),
                             squeeze=False)
    for row, (name, true, candidates, errs) in zip(axes, drawn):
        n = max(k.shape[0] for k in [true, *candidates.values()])
        for ax, col in zip(row, cols):
            k = true if col == "true" else candidates[col]
            pad = (n - k.shape[0]) // 2, (n - k.shape[1]) // 2
            k = torch.nn.functional.pad(k.float(), (pad[1], pad[1], pad[0], pad[0]))
            ax.imshow(k.numpy(), cmap="magma")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name if col == "true" else f"{col}\n{errs[col]:.4f}", fontsize=8)
    fig.suptitle("true kernel, then each estimate with its kernel error", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
