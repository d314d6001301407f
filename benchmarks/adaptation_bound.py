"""How much can adapting the denoiser gain at most? The same fine-tuning on the ground truth.

An upper bound for the image-adapted methods of issue 5 (a diagnostic, not a method: it reads
the clean image). For each image it runs the plain method, the shipped adapted method, and an
*oracle* that fine-tunes the same pretrained CNN on the ground truth:

- super-resolution (``sr-x2``, ...): ``cnn-idbp``, ``ia-idbp``, and IDBP with
  :class:`~pnp_internal.priors.ImageAdapted` given the true HR luminance as ``x_init`` (clean
  crops + Gaussian noise at ``--sigma-lo`` .. ``--sigma-hi``, the copy used at and below
  ``--switch``; no hold-out);
- denoising (``denoise-s25``, ...): ``cnn``, ``cnn-gaintuning``, and GainTuning whose gains
  minimise the true squared error ``||D(y) - x||^2`` on the whole noisy image: no
  self-supervised loss (SURE estimates this error) can choose better gains for that image.
  With ``--fresh-noise`` the gains are fitted on another noise draw of the clean image, then
  applied to ``y``: the best gains for the image, with no fit to the noise of ``y``.

Example
-------
    python benchmarks/adaptation_bound.py sr-x2 --images ../shared/data/test/set5 --threads 2 \
        --steps 300 --lr 3e-4 --sigma-lo 1 --sigma-hi 24 --switch 255
    python benchmarks/adaptation_bound.py denoise-s25 --images ../shared/data/test/cbsd68 \
        --limit 8 --threads 2 --steps 60 --lr 2e-3
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

from pnp_internal import io, metrics
from pnp_internal.bench.methods.adapted import _base
from pnp_internal.bench.methods.classical import _bicubic, make_solver
from pnp_internal.bench.registry import Problem, get_method
from pnp_internal.bench.runner import list_images
from pnp_internal.bench.tasks import get_task, image_seed


def _sr_oracle(problem, x_true, args):
    """IDBP on the luminance with the CNN fine-tuned on the true HR luminance."""
    import dataclasses

    from pnp_internal.color import rgb_to_ycbcr, ycbcr_to_rgb
    from pnp_internal.operators import Downsampling
    from pnp_internal.priors import ImageAdapted

    colour = problem.img_shape[0] == 3
    y, op, hr = problem.y, problem.operator, x_true
    if colour:
        ycc = rgb_to_ycbcr(y)
        shape = (1, *problem.img_shape[1:])
        op = Downsampling(problem.scale, img_shape=shape, kernel="bicubic", padding="circular")
        problem = dataclasses.replace(problem, y=ycc[:, :1].contiguous(), operator=op,
                                      img_shape=shape)
        hr = rgb_to_ycbcr(x_true)[:, :1]
    prior = ImageAdapted(_base(problem), x_init=hr, sigmas=(args.sigma_lo / 255,
                                                            args.sigma_hi / 255),
                         switch_sigma=args.switch / 255, steps=args.steps, lr=args.lr,
                         holdout=0.0, seed=problem.seed)
    solver, x0 = make_solver(prior, "idbp", problem)
    out = solver.solve(problem.y, op, x0=x0).x
    if colour:
        out = ycbcr_to_rgb(torch.cat([out, _bicubic(ycc[:, 1:], problem.scale)], 1))
    return out.clamp(0, 1), prior.seconds


def _denoise_oracle(problem, x_true, args):
    """GainTuning with the gains fitted to the true error on the whole image."""
    from pnp_internal.priors import GainTuning
    from pnp_internal.priors.finetune import finetune

    gt = GainTuning(_base(problem), seed=problem.seed)
    model, params = gt.model, gt._params()  # the copy, with its gains attached
    y, sigma = problem.y, torch.full((1,), problem.noise_std)
    z = y
    if args.fresh_noise:  # another noise draw: the gains cannot fit the noise of y
        g = torch.Generator().manual_seed(problem.seed + 1)
        z = x_true + problem.noise_std * torch.randn(x_true.shape, generator=g)
    z_cl = z.contiguous(memory_format=torch.channels_last)

    def loss_fn(_batch):
        return F.mse_loss(model(z_cl, sigma).float(), x_true)

    report = finetune(model, params, loss_fn, lambda step: None, steps=args.steps, lr=args.lr,
                      bf16=not args.float32)
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
                   help="denoising: tune in float32 (default bf16 autocast)")
    p.add_argument("--out", help="JSON file for the per-image rows")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    if task.kind not in ("sr", "denoise"):
        raise SystemExit(f"adaptation_bound.py handles sr-* and denoise-* tasks, not {task.name}")
    plain, adapted = ("cnn-idbp", "ia-idbp") if task.kind == "sr" else ("cnn", "cnn-gaintuning")
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
        for name in (plain, adapted):
            x_hat = get_method(name).run(problem)
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
        with open(args.out, "w") as f:
            json.dump({"task": task.name, "options": vars(args), "rows": rows, "mean": mean},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
