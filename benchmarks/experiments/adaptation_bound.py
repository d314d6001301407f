"""How much can adapting the denoiser gain at most? The same fine-tuning on the ground truth.

An upper bound for the image-adapted methods (a diagnostic, not a method: it reads the clean
image). For each image it prints the PSNR of the plain method, of the library's adapted method,
and of an *oracle* that fine-tunes the same pretrained CNN on the ground truth:

- super-resolution (``sr-x2``, ...): ``cnn-idbp``, ``ia-idbp``, and IDBP with
  :class:`~pnp_internal.priors.ImageAdapted` given the true HR luminance as ``x_init`` (clean
  crops + Gaussian noise at ``--sigma-lo`` .. ``--sigma-hi``, the copy used at and below
  ``--switch``; no hold-out);
- denoising (``denoise-s25``, ...): ``cnn``, ``cnn-gaintuning``, and per-channel gains
  (:func:`~pnp_internal.priors.gaintuning.attach_gains`) fitted to the true squared error
  ``||D(y) - x||^2`` on the whole noisy image: no self-supervised loss (SURE estimates this
  error) can choose better gains for that image. With ``--fresh-noise`` the gains are fitted
  on another noise draw of the clean image, then applied to ``y``: the best gains for the
  image, with no fit to the noise of ``y``.

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

from _harness import on_luma, solve_with


@functools.lru_cache(maxsize=2)
def _read_start(path: str, channels: int):
    from pnp_internal.priors.cnn import load_denoiser

    return load_denoiser(path, channels=channels)


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
    """Per-channel gains fitted to the true error on the whole image."""
    from pnp_internal.priors.finetune import finetune
    from pnp_internal.priors.gaintuning import attach_gains

    model = shipped_cnn(problem.img_shape[0]).eval()
    for q in model.parameters():
        q.requires_grad_(False)
    params = attach_gains(model)
    for g in params:
        g.requires_grad_(True)
    y, sigma = problem.y, torch.full((1,), problem.noise_std)
    z = y
    if args.fresh_noise:  # another noise draw: the gains cannot fit the noise of y
        g = torch.Generator().manual_seed(problem.seed + 1)
        z = x_true + problem.noise_std * torch.randn(x_true.shape, generator=g)
    z_cl = z.contiguous(memory_format=torch.channels_last)

    def loss_fn(_batch):
        return F.mse_loss(model(z_cl, sigma).float(), x_true)

    report = finetune(model, params, loss_fn, lambda step: None, steps=args.steps, lr=args.lr,
                      precision="fp32" if args.float32 else "bf16")
    for g in params:
        g.requires_grad_(False)
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
    p.add_argument("--float32", action="store_true",
                   help="denoising: tune in float32 (default: bf16 autocast)")
    p.add_argument("--start", default=None,
                   help="SR: gray CNN weights to start from instead of the shipped prior (a "
                        "train-meta-prior output)")
    p.add_argument("--out", help="JSON file for the per-image rows")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    if task.kind not in ("sr", "denoise"):
        raise SystemExit(f"adaptation_bound.py handles sr-* and denoise-* tasks, not {task.name}")
    if args.start and task.kind != "sr":
        raise SystemExit("--start applies to sr-* tasks")
    plain, adapted = ("cnn-idbp", "ia-idbp") if task.kind == "sr" else ("cnn", "cnn-gaintuning")
    if args.start:
        plain, adapted = "start-idbp", "start-ia-idbp"
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
        for name in () if args.start else (plain, adapted):
            x_hat = pnp_internal.solve(problem.y, problem.operator, method=name,
                                       noise_std=problem.noise_std, seed=problem.seed).x
            row[name] = float(metrics.psnr(x_hat.clamp(0, 1), x_true, **task.score_options)[0])
        t0 = time.perf_counter()
        x_hat, tune_s = oracle(problem, x_true, args)
        row["oracle"] = float(metrics.psnr(x_hat, x_true, **task.score_options)[0])
        row["oracle_tune_s"], row["oracle_s"] = tune_s, time.perf_counter() - t0
        rows.append(row)
        print(f"{path.name}: {plain} {row[plain]:.2f}  {adapted} {row[adapted]:.2f}  "
              f"oracle {row['oracle']:.2f} dB (tuning {tune_s:.1f} s)", flush=True)
    n = len(rows)
    mean = {k: sum(r[k] for r in rows) / n for k in (plain, adapted, "oracle")}
    print(f"mean over {n}: {plain} {mean[plain]:.3f}  {adapted} {mean[adapted]:.3f} "
          f"({mean[adapted] - mean[plain]:+.3f})  oracle {mean['oracle']:.3f} "
          f"({mean['oracle'] - mean[plain]:+.3f})")
    if args.out:
        record = {"experiment": "adaptation_bound.py", "task": task.name, "options": vars(args),
                  "machine": machine_info(), "provenance": provenance(), "rows": rows,
                  "mean": mean}
        print(f"wrote {write_record(args.out, record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
