"""Meta-training of the image-adapted prior's start (``pnp-internal train-meta-prior``).

:class:`~pnp_internal.priors.ImageAdapted` (IDBP-CNN-IA) fine-tunes the shipped DRUNet-lite on
pairs made from the low-resolution image ``y`` itself. From the shipped weights, which sit at a
minimum of their external training, those steps gain little (Set5 x2: +0.19 dB, +0.32 even when
tuned on the true HR image). This command changes the start instead, with first-order MAML
[1]_ [2]_ over tasks that are what ``ia-idbp`` meets at test time:

- a task is one random HR crop of an external image and its bicubic LR image (``--factor``);
- **support**: ImageAdapted's own pairs of the LR image (:class:`PairSampler`: noise of level
  ``(factor + 1)/255``, crops of 32-48 px, scales 1 and 0.9, flips), ``--inner-steps`` Adam
  steps at ``--inner-lr`` from a copy of the start (ImageAdapted's optimiser and learning rate);
- **query**: the HR crop itself with noise of the same level, where ImageAdapted uses the
  adapted copy in IDBP (up to its switch level); L1 loss at the adapted weights.

The gradient of the query loss at the adapted weights, averaged over ``--meta-batch`` tasks, is
applied to the start by Adam (``--meta-lr``): first-order MAML rather than Reptile because its
signal is the HR denoising after adaptation, the quantity ``ia-idbp`` needs, at the same cost
(as :mod:`pnp_internal.meta.training` argues for MZSR). Pure first-order MAML makes the start
itself a worse denoiser while it learns to gain from the steps, and ImageAdapted's hold-out
guard may keep the start; ``--start-weight w`` mixes in the query loss of the start itself
(``(1 - w) L(adapted) + w L(start)``, the multi-step loss of MAML++ [3]_ at its two ends).

At each checkpoint the start is validated as it is used: on held-out training images (the
last ``--n-val`` of every folder, centre crops of ``--patch`` px), the PSNR of the denoised HR
crop before and after the inner steps; the best start by the adapted PSNR is exported to
``--out`` (float32 DRUNet-lite safetensors that :func:`~pnp_internal.priors.cnn.load_denoiser`
reads, the training command in its metadata). ``--resume`` continues from the checkpoint.

References
----------
.. [1] C. Finn, P. Abbeel, S. Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
   Networks", ICML 2017 (first-order approximation, Sec. 5.2).
.. [2] T. Tirer, R. Giryes, "Super-Resolution via Image-Adapted Denoising CNNs: Incorporating
   External and Internal Learning", IEEE SPL 26(7), 2019.
.. [3] A. Antoniou, H. Edwards, A. Storkey, "How to train your MAML", ICLR 2019.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from pnp_internal.precision import resolve
from pnp_internal.priors.training_pairs import PairSampler, sr_pair_noise
from pnp_internal.run_checkpoint import RunCheckpoint, command_line
from pnp_internal.training import (add_run_options, load_folder, random_crops, run_command,
                                   training_device)

__all__ = ["main", "build_parser", "train", "validate"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pnp-internal train-meta-prior",
        description="Meta-train the start of the image-adapted CNN prior (ia-idbp) for "
                    "super-resolution by first-order MAML.")
    p.add_argument("--data", nargs="+", required=True, help="folder(s) of training images")
    p.add_argument("--out", required=True, help="safetensors file for the best start")
    p.add_argument("--init", default=None,
                   help="start from these denoiser weights (default: the shipped prior of "
                        "--channels)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=1,
                   help="1: the gray prior that ia-idbp uses on the luminance")
    p.add_argument("--factor", type=int, default=2, help="SR factor of the tasks")
    p.add_argument("--patch", type=int, default=128, help="HR crop side of a task")
    p.add_argument("--steps", type=int, default=100_000, help="meta steps")
    p.add_argument("--time-limit", type=float, default=None,
                   help="seconds of this run; a checkpoint is written when they are spent")
    p.add_argument("--meta-batch", type=int, default=2, help="tasks per meta step")
    p.add_argument("--meta-lr", type=float, default=1e-5, help="outer Adam lr")
    p.add_argument("--inner-steps", type=int, default=16, help="adaptation steps per task")
    p.add_argument("--inner-lr", type=float, default=1e-4, help="adaptation Adam lr")
    p.add_argument("--start-weight", type=float, default=0.0,
                   help="weight in [0, 1) of the start's own query loss (0: first-order MAML)")
    p.add_argument("--n-val", type=int, default=4,
                   help="images held out at the end of every --data folder")
    return add_run_options(p)


def _support(hr: torch.Tensor, factor: int, seed: int) -> PairSampler:
    """ImageAdapted's pairs of the bicubic LR image of ``hr`` ``(1, C, H, W)``: its noise
    level, and its crop sizes, scales and batch size (its defaults), without the hold-out."""
    from pnp_internal.operators import Downsampling
    from pnp_internal.priors import ImageAdapted

    defaults = inspect.signature(ImageAdapted).parameters
    op = Downsampling(factor, img_shape=tuple(hr.shape[1:]), kernel="bicubic",
                      padding="circular")
    return PairSampler([op.A(hr).clamp(0, 1)], sigmas=sr_pair_noise(factor), holdout=0,
                       seed=seed, **{k: defaults[k].default
                                     for k in ("crop", "scales", "batch_size")})


def _adapt(start, support: PairSampler, steps: int, lr: float, precision: str):
    """A copy of ``start`` after ``steps`` Adam steps on ``support`` (L1, as ImageAdapted)."""
    fast = copy.deepcopy(start).train()
    fast.precision = precision
    for p in fast.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(fast.parameters(), lr=lr)
    for step in range(steps):
        noisy, clean, sigma = support.batch(step)
        loss = F.l1_loss(fast(noisy, sigma).float(), clean)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return fast


def _query(hr: torch.Tensor, factor: int, seed: int):
    """``(noisy, sigma)``: the HR crop with noise of the pairs' level (fixed by ``seed``)."""
    sigma = sr_pair_noise(factor)
    noise = torch.randn(hr.shape, generator=torch.Generator().manual_seed(seed))
    return hr + sigma * noise, torch.full((hr.shape[0],), sigma)


def validate(start, val, *, factor: int, steps: int, lr: float, precision: str,
             patch: int) -> tuple[float, float]:
    """Mean PSNR (dB) of the denoised HR crops of ``val`` from ``start`` with no step and
    after ``steps`` adaptation steps on each crop's own LR pairs."""
    from pnp_internal.metrics import psnr

    before, after = [], []
    for i, v in enumerate(val):
        hr = v[None, :, :patch, :patch].float()
        noisy, sigma = _query(hr, factor, 5000 + i)
        for model, scores in ((copy.deepcopy(start), before),
                              (_adapt(start, _support(hr, factor, 100 + i), steps, lr,
                                      precision), after)):
            model.eval()
            model.precision = "fp32"
            with torch.no_grad():
                scores.append(float(psnr(model(noisy, sigma).clamp(0, 1), hr)))
    return sum(before) / len(before), sum(after) / len(after)


def train(args: argparse.Namespace, argv: list[str] | None = None) -> dict:
    """Run the meta-training described by the parsed ``args``; returns a summary dict."""
    from tqdm import tqdm

    from pnp_internal.priors.cnn import load_denoiser, pretrained

    dev = training_device(args, ("steps", "patch", "meta_batch", "inner_steps", "factor"))
    if dev.type != "cpu":
        raise ValueError("train-meta-prior runs on the CPU (ImageAdapted's pairs are built "
                         "there); use --device cpu")
    if args.time_limit is not None and args.time_limit <= 0:
        raise ValueError(f"--time-limit must be > 0 seconds, got {args.time_limit}")
    if not 0 <= args.start_weight < 1:
        raise ValueError(f"--start-weight must be in [0, 1), got {args.start_weight}")
    if args.patch % args.factor or args.patch // args.factor < 56:
        raise ValueError(f"--patch must be a multiple of --factor with an LR side of at least 56 "
                         f"(ImageAdapted's crops up to 48 px at scale 0.9), got {args.patch}")
    out = Path(args.out)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    images, val, desc = load_folder(args.data, args.channels, n_val=args.n_val, patch=args.patch)
    prec = resolve(args.precision, dev).name
    net = (load_denoiser(args.init, channels=args.channels) if args.init else
           pretrained("drunet-lite-gray" if args.channels == 1 else "drunet-lite-color"))
    start_desc = args.init or ("drunet-lite-gray" if args.channels == 1 else "drunet-lite-color")
    net.precision = prec
    net.train()  # gradients through the start itself (--start-weight); DRUNet has no batch norm
    for p in net.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(net.parameters(), lr=args.meta_lr)
    step, best, history = 0, -float("inf"), []
    ckpt = RunCheckpoint(args.checkpoint or out.with_suffix(".ckpt.pt"), args.checkpoint_every)
    if args.resume:
        ck = ckpt.load(dev)
        net.load_state_dict(ck["net"])
        opt.load_state_dict(ck["optimizer"])
        step, best, history = ck["step"], ck["best"], ck["history"]
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        print(f"resumed from {ckpt.path} at step {step} (best val {best:.3f} dB)", flush=True)
    command = command_line("pnp-internal train-meta-prior", argv)
    print(f"data: {desc}; start {start_desc}; precision {prec}", flush=True)
    kw = dict(factor=args.factor, steps=args.inner_steps, lr=args.inner_lr, precision=prec,
              patch=args.patch)

    def checkpoint():
        nonlocal best
        v0, v = validate(net, val, **kw)
        history.append((step, v0, v))
        improved = v > best
        if improved:
            best = v
            net.save(out, half=False, metadata={
                "training_command": command, "meta_steps": str(step), "data": desc,
                "start": start_desc, "factor": str(args.factor),
                "inner_steps": str(args.inner_steps), "val_psnr_start": f"{v0:.3f}",
                f"val_psnr_{args.inner_steps}_steps": f"{v:.3f}", "precision": prec,
                "seconds": f"{ckpt.seconds():.0f}", "device": str(dev)})
        ckpt.save({"net": net.state_dict(), "optimizer": opt.state_dict(), "step": step,
                   "best": best, "history": history, "gen": gen.get_state(),
                   "torch_rng": torch.get_rng_state()})
        tqdm.write(f"[meta step {step}] validation {v0:.3f} dB with no step, {v:.3f} dB after "
                   f"{args.inner_steps} steps (best {best:.3f})"
                   f"{' -> exported ' + str(out) if improved else ''}")
        sys.stdout.flush()

    if not history:
        checkpoint()  # the initial start, the one to beat
    bar = tqdm(total=args.steps, initial=step, mininterval=30, ncols=100)
    running = None
    while step < args.steps:
        if args.time_limit is not None and ckpt.elapsed() >= args.time_limit:
            break
        grads = [torch.zeros_like(p) for p in net.parameters()]
        total = 0.0
        for t in range(args.meta_batch):
            hr = random_crops(images, 1, args.patch, gen).float().div_(255.0)
            seed = int(torch.randint(2 ** 31 - 1, (1,), generator=gen))
            fast = _adapt(net, _support(hr, args.factor, seed), args.inner_steps,
                          args.inner_lr, prec)
            noisy, sigma = _query(hr, args.factor, seed + 1)
            w = args.start_weight
            for model, weight in ((fast, 1 - w), (net, w)):
                if weight == 0:
                    continue
                query = F.l1_loss(model(noisy, sigma).float(), hr)
                for acc, g in zip(grads, torch.autograd.grad(query, list(model.parameters()))):
                    acc.add_(g, alpha=weight / args.meta_batch)
                total += weight * float(query.detach()) / args.meta_batch
        for p, g in zip(net.parameters(), grads):
            p.grad = g
        opt.step()
        step += 1
        running = total if running is None else 0.95 * running + 0.05 * total
        if not math.isfinite(running):
            raise FloatingPointError(f"meta step {step}: the query loss is not finite; lower "
                                     f"--meta-lr (got {args.meta_lr})")
        bar.set_postfix(loss=f"{running:.5f}", refresh=False)
        bar.update(1)
        if ckpt.due():
            checkpoint()
    bar.close()
    if history[-1][0] != step:
        checkpoint()
    return {"steps": step, "best_val_psnr": best, "out": str(out),
            "checkpoint": str(ckpt.path), "precision": prec, "seconds": ckpt.seconds()}


def main(argv: list[str] | None = None) -> int:
    return run_command(
        "pnp-internal train-meta-prior", build_parser(), train,
        lambda s: f"done: {s['steps']} meta steps, best validation {s['best_val_psnr']:.3f} dB "
                  f"-> {s['out']}", argv)


if __name__ == "__main__":
    sys.exit(main())
