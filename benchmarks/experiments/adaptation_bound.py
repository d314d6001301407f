"""How much can adapting the denoiser gain at most? The same fine-tuning on the ground truth.

An upper bound for the image-adapted methods (a diagnostic, not a method: it reads the clean
image). For each image it prints the PSNR of the plain method, of the library's adapted method,
and of an *oracle* that fine-tunes the same pretrained CNN on the ground truth:

- super-resolution (``sr-x2``, ...): ``cnn-idbp``, ``ia-idbp``, and IDBP with
  :class:`~pnp_internal.priors.ImageAdapted` given the true HR luminance as ``x_init`` (clean
  crops + Gaussian noise at ``--sigma-lo`` .. ``--sigma-hi``, the copy used at and below
  ``--switch``; no hold-out);
- denoising (``denoise-s25``, ...): ``cnn``, ``cnn-gaintuning`` (``--adapted``), and the
  one-call CNN's per-channel gains (``--train``: or a rank-4 update, or every weight) fitted to
  the true squared error ``||D(y) - x||^2`` on the whole noisy image: no self-supervised loss
  (SURE estimates this error) can choose better gains for that image. With ``--fresh-noise``
  they are fitted on another noise draw of the clean image, then applied to ``y``: the best
  gains for the image, with no fit to the noise of ``y``. With ``--crop``, on random crops of
  the clean image with a fresh draw at every step, the check with the lowest error on ``y``
  kept: what adapting to this image can gain at most; with ``--on-y`` as well, the inputs
  are the crops of ``y`` itself: the best a loss computed on ``y`` alone could do, were it
  the true error (SURE estimates it); with ``--r2r a``, on Recorrupted-to-Recorrupted pairs of
  those crops (self-supervised, the checks against the truth: the best of its path).
  With ``--train-on FILE`` the crops come from another
  clean image (what the noise level alone teaches), with ``--source-scale s`` from the clean
  image rescaled by ``s`` (what its structures at another scale teach).

SR with ``--start FILE`` (a gray start written by ``pnp-internal train-meta-prior``): the three
rows use that start instead of the shipped prior: IDBP with it unadapted, with
:class:`~pnp_internal.priors.ImageAdapted` and the library's ``sr`` recipe from it, and the
oracle from it (the plain and adapted columns are then named ``start-idbp`` and
``start-ia-idbp``).

Examples
--------
    python benchmarks/experiments/adaptation_bound.py sr-x2 --images ../shared/data/test/set5 \
        --threads 2 --steps 300 --lr 3e-4 --sigma-lo 1 --sigma-hi 24 --switch 255
    python benchmarks/experiments/adaptation_bound.py sr-x2 --images ../shared/data/test/set5 \
        --start build/meta/drunet-lite-gray-meta-x2.safetensors --out FILE.json
    python benchmarks/experiments/adaptation_bound.py denoise-s25 \
        --images ../shared/data/test/cbsd68 --limit 8 --threads 2 --steps 60 --lr 2e-3
    python benchmarks/experiments/adaptation_bound.py denoise-s75 \
        --images ../shared/data/test/cbsd68 --limit 3 --train lora --lr 1e-3 --crop 192 \
        --steps 300 --adapted none
"""

from __future__ import annotations

import argparse
import copy
import functools
import sys
import time

import torch
import torch.nn.functional as F

import pnp_internal
from pnp_internal import io, metrics
from pnp_internal.bench.registry import Problem
from pnp_internal.bench.runner import list_images, machine_info, provenance, write_record
from pnp_internal.bench.tasks import get_task, image_seed
from pnp_internal.catalog.pnp import shipped_cnn

from _harness import noisy_crop_pair, on_luma, solve_with


@functools.lru_cache(maxsize=2)
def _read_start(path: str, channels: int):
    from pnp_internal.priors.cnn import load_denoiser

    return load_denoiser(path, channels=channels)


@functools.lru_cache(maxsize=1)
def _read_clean(path: str, task_name: str) -> torch.Tensor:
    """``--train-on``'s image, prepared as the task prepares its test images (read once)."""
    return get_task(task_name).prepare(io.read_image(path))[0]


def _start(args, channels: int):
    """A fresh copy of the CNN the SR rows start from: ``--start`` (read once) or the shipped
    prior."""
    return copy.deepcopy(_read_start(args.start, channels)) if args.start else shipped_cnn(channels)


def _sr_start_rows(problem, args) -> dict:
    """``start-idbp`` and ``start-ia-idbp``: IDBP on the luminance with ``--start`` as it is
    and adapted by :class:`~pnp_internal.priors.ImageAdapted` with the library's ``sr``
    recipe."""
    from pnp_internal import recipes
    from pnp_internal.priors import ImageAdapted

    def plain(p):
        return solve_with(p, _start(args, p.img_shape[0]), "idbp")

    def adapted(p):
        prior = ImageAdapted(_start(args, p.img_shape[0]), seed=p.seed,
                             **recipes.IMAGE_ADAPTED["sr"].options())
        return solve_with(p, prior, "idbp")

    return {"start-idbp": on_luma(plain)(problem).clamp(0, 1),
            "start-ia-idbp": on_luma(adapted)(problem).clamp(0, 1)}


def _sr_oracle(problem, x_true, args):
    """IDBP on the luminance with the CNN fine-tuned on the true HR luminance."""
    from pnp_internal.color import rgb_to_ycbcr
    from pnp_internal.priors import ImageAdapted

    hr = rgb_to_ycbcr(x_true)[:, :1] if problem.img_shape[0] == 3 else x_true
    priors = []

    def run(p):
        prior = ImageAdapted(_start(args, p.img_shape[0]), x_init=hr,
                             sigmas=(args.sigma_lo / 255, args.sigma_hi / 255),
                             switch_sigma=args.switch / 255, steps=args.steps, lr=args.lr,
                             holdout=0.0, seed=p.seed)
        priors.append(prior)
        return solve_with(p, prior, "idbp")

    out = on_luma(run)(problem)
    return out.clamp(0, 1), priors[0].seconds


def _denoise_oracle(problem, x_true, args):
    """The CNN's gains (or a low-rank update, or every weight: ``--train``) fitted to the true
    error; with ``--crop``, on random crops of the clean image with fresh noise at every step,
    the best check (every ``--check-every`` steps, scored on ``y`` against the truth) kept."""
    from pnp_internal.priors.finetune import finetune, trainable_parameters

    model = shipped_cnn(problem.img_shape[0], one_call=True).eval()  # the start of `cnn`
    params = trainable_parameters(model, args.train)
    y, sigma = problem.y, torch.full((1,), problem.noise_std)
    z = y
    if args.fresh_noise:  # another noise draw: the update cannot fit the noise of y
        g = torch.Generator().manual_seed(problem.seed + 1)
        z = x_true + problem.noise_std * torch.randn(x_true.shape, generator=g)
    z_cl = z.contiguous(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(problem.seed + 2)
    source = x_true
    if args.train_on:  # another clean image: what the noise level alone teaches
        source = _read_clean(args.train_on, args.task)
    if args.source_scale != 1:  # the image at another scale: what its own structures teach
        source = F.interpolate(source, scale_factor=args.source_scale, mode="bicubic",
                               antialias=True).clamp(0, 1)

    def sample(step):
        if not args.crop:
            return z_cl, x_true, sigma
        noisy, clean, (i, j) = noisy_crop_pair(source, args.crop, problem.noise_std, g)
        if args.r2r:  # recorrupted pairs of the crop of y: no clean pixel in the loss
            crop = y[..., i:i + clean.shape[-2], j:j + clean.shape[-1]]
            a, s = args.r2r, problem.noise_std
            n = s * torch.randn(crop.shape, generator=g)
            return crop + a * n, crop - n / a, torch.full((1,), s * (1 + a * a) ** 0.5)
        if args.on_y:  # the same crop of y: its one noise draw, as a loss on y sees it
            return y[..., i:i + clean.shape[-2], j:j + clean.shape[-1]], clean, sigma
        return noisy, clean, sigma

    def loss_fn(batch):
        noisy, target, level = batch
        return F.mse_loss(model(noisy, level).float(), target)

    def true_error():  # the oracle's stopping rule: the error on y itself
        return float(F.mse_loss(model(y, sigma).float().clamp(0, 1), x_true))

    report = finetune(model, params, loss_fn, sample, steps=args.steps, lr=args.lr,
                      holdout_loss=true_error if args.crop else None,
                      check_every=args.check_every, patience=10 ** 6,
                      precision="fp32" if args.float32 else "auto")
    for q in params:
        q.requires_grad_(False)
    with torch.no_grad():
        out = model(y, sigma).clamp(0, 1)
    return out, report.seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True)
    p.add_argument("--limit", type=int)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=96)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--sigma-lo", type=float, default=3.0, help="SR: fine-tuning noise, 0-255")
    p.add_argument("--sigma-hi", type=float, default=3.0)
    p.add_argument("--switch", type=float, default=4.0,
                   help="SR: use the tuned copy at and below this sigma (0-255)")
    p.add_argument("--fresh-noise", action="store_true",
                   help="denoising: fit the gains on another noise draw of the clean image, "
                        "then denoise y (the best gains for the image, not for y's noise)")
    p.add_argument("--train", default="gains", choices=("gains", "lora", "all"),
                   help="denoising: what the oracle fits")
    p.add_argument("--crop", type=int, default=0,
                   help="denoising: fit on random crops of the clean image with fresh noise "
                        "every step (0: the whole image, one noise draw)")
    p.add_argument("--on-y", action="store_true",
                   help="denoising with --crop: the inputs are crops of y (its noise), not "
                        "fresh draws: what a loss on y could reach if it were the true error")
    p.add_argument("--r2r", type=float, default=0.0,
                   help="denoising with --crop: train on Recorrupted-to-Recorrupted pairs of "
                        "the crops of y (Pang et al. 2021; input y + a n, target y - n / a, "
                        "n of y's level, the input's level sigma sqrt(1 + a^2)): a self-"
                        "supervised loss, the checks against the truth (its path's best)")
    p.add_argument("--check-every", type=int, default=25,
                   help="denoising with --crop: steps between the oracle's checks on y")
    p.add_argument("--adapted", default=None,
                   help="the adapted method of the second column (default: ia-idbp for SR, "
                        "cnn-gaintuning for denoising; 'none' leaves it out)")
    p.add_argument("--float32", action="store_true",
                   help="denoising: tune in float32 (default: bf16 autocast)")
    p.add_argument("--start", default=None,
                   help="SR: gray CNN weights to start from instead of the shipped prior (a "
                        "train-meta-prior output)")
    p.add_argument("--train-on", default=None,
                   help="denoising with --crop: train on crops of this clean image instead of "
                        "the test image's (what the noise level alone teaches; not --on-y)")
    p.add_argument("--source-scale", type=float, default=1.0,
                   help="denoising with --crop: rescale the clean source by this factor first")
    p.add_argument("--out", help="JSON file for the per-image rows")
    args = p.parse_args(argv)
    if (args.train_on or args.source_scale != 1) and (not args.crop or args.on_y):
        raise SystemExit("--train-on and --source-scale need --crop and exclude --on-y")
    if args.r2r and (not args.crop or args.train_on or args.source_scale != 1):
        raise SystemExit("--r2r needs --crop and excludes --train-on and --source-scale")
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    if task.kind not in ("sr", "denoise"):
        raise SystemExit(f"adaptation_bound.py handles sr-* and denoise-* tasks, not {task.name}")
    if args.start and task.kind != "sr":
        raise SystemExit("--start applies to sr-* tasks")
    plain, adapted = ("cnn-idbp", "ia-idbp") if task.kind == "sr" else ("cnn", "cnn-gaintuning")
    if args.start:
        plain, adapted = "start-idbp", "start-ia-idbp"
    elif args.adapted:
        adapted = None if args.adapted == "none" else args.adapted
    oracle = _sr_oracle if task.kind == "sr" else _denoise_oracle
    rows = []
    for path in list_images(args.images, limit=args.limit):
        x_true, _ = task.prepare(io.read_image(path))
        seed = image_seed(0, path.name)
        d = task.degrade(x_true, seed=seed)
        problem = Problem(y=d.y, operator=d.operator, noise_std=task.noise_std, kind=task.kind,
                          task=task.name, img_shape=tuple(x_true.shape[1:]), scale=task.scale,
                          seed=seed)
        row = {"image": path.name}
        if args.start:
            for name, x_hat in _sr_start_rows(problem, args).items():
                row[name] = float(metrics.psnr(x_hat, x_true, **task.score_options)[0])
        for name in () if args.start else (m for m in (plain, adapted) if m):
            x_hat = pnp_internal.solve(problem.y, problem.operator, method=name,
                                       noise_std=problem.noise_std, seed=problem.seed).x
            row[name] = float(metrics.psnr(x_hat.clamp(0, 1), x_true, **task.score_options)[0])
        t0 = time.perf_counter()
        x_hat, tune_s = oracle(problem, x_true, args)
        row["oracle"] = float(metrics.psnr(x_hat, x_true, **task.score_options)[0])
        row["oracle_tune_s"], row["oracle_s"] = tune_s, time.perf_counter() - t0
        rows.append(row)
        shown = "  ".join(f"{k} {row[k]:.2f}" for k in (plain, adapted, "oracle") if k)
        print(f"{path.name}: {shown} dB (tuning {tune_s:.1f} s)", flush=True)
    n = len(rows)
    mean = {k: sum(r[k] for r in rows) / n for k in (plain, adapted, "oracle") if k}
    print(f"mean over {n}: " + "  ".join(f"{k} {v:.3f} ({v - mean[plain]:+.3f})"
                                         for k, v in mean.items()))
    if args.out:
        record = {"experiment": "adaptation_bound.py", "task": task.name, "options": vars(args),
                  "machine": machine_info(), "provenance": provenance(), "rows": rows,
                  "mean": mean}
        print(f"wrote {write_record(args.out, record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
