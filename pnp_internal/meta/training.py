"""Meta-training of MZSR's start (``pnp-internal train-meta``).

Two phases, MZSR's meta-transfer learning [1]_, on random crops of external images, each
task one kernel of :class:`~pnp_internal.meta.KernelFamily` (bicubic, isotropic and
anisotropic Gaussians with direct subsampling):

1. **Pre-training** (``--pretrain-steps``): L1 loss of ZSSR's network on (interpolated LR, HR)
   pairs, each group of ``--task-batch`` crops degraded by its own kernel; Adam with cosine
   decay over the pre-training steps (or over ``--time-limit`` in a run of pre-training only).
2. **First-order MAML** (``--steps`` meta steps in all): for each of ``--meta-batch`` tasks, a
   copy of the start takes ``--inner-steps`` plain SGD steps (``--inner-lr``) on
   ``--task-batch`` support pairs; the gradient of the L1 loss on ``--task-batch`` query pairs
   of the same kernel (other crops) at the adapted weights is averaged over the tasks and
   applied to the start by Adam (``--meta-lr``).

First-order MAML [2]_ rather than second-order: the second-order term doubles the cost and the
memory of every meta step, which decides what a CPU budget can train, and MZSR's own code
offers the first-order approximation; rather than Reptile [3]_ because its meta-gradient is
that of held-out (query) pairs after adaptation, the quantity the test-time steps must make
small, at the same cost.

At each checkpoint (every ``--checkpoint-every`` seconds) the start is validated as it is
used: on held-out training images (the last ``--n-val`` of every folder, 128x128 centre crops)
degraded by four fixed kernels (bicubic; isotropic Gaussians of std 1.3 and 2.0;
anisotropic 2.0 x 0.8 at 45 degrees; direct subsampling, circular borders; only those the
family draws, so a bicubic-only start is validated on the bicubic one),
:class:`~pnp_internal.meta.MZSR` with the recipe's steps; the mean PSNR (RGB, border =
factor) before and after adaptation is printed, and the best start by the adapted PSNR is
exported to ``--out`` (float32 safetensors, the training command in its metadata). The
checkpoint holds the network, the optimiser, the phase, the step and every random state;
``--resume`` continues from it.

References
----------
.. [1] J. W. Soh, S. Cho, N. I. Cho, "Meta-Transfer Learning for Zero-Shot Super-Resolution",
   CVPR 2020.
.. [2] C. Finn, P. Abbeel, S. Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
   Networks", ICML 2017 (first-order approximation, Sec. 5.2).
.. [3] A. Nichol, J. Achiam, J. Schulman, "On First-Order Meta-Learning Algorithms", 2018.
"""

from __future__ import annotations

import argparse
import copy
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from pnp_internal.meta.family import KernelFamily, resampler_for
from pnp_internal.meta.mzsr import MZSR, network_input, save_start
from pnp_internal.precision import resolve
from pnp_internal.solvers.zssr import ZSSRNet
from pnp_internal.run_checkpoint import RunCheckpoint, command_line
from pnp_internal.training import (add_run_options, cosine_decay, load_folder, random_crops,
                                   run_command, training_device, warmup_ramp)

__all__ = ["main", "build_parser", "train", "VALIDATION_KERNELS"]

#: The validation degradations: (name, kernel) pairs, direct subsampling except bicubic.
VALIDATION_KERNELS = (
    ("bicubic", "bicubic"),
    ("gaussian(1.3)", KernelFamily.gaussian(1.3)),
    ("gaussian(2.0)", KernelFamily.gaussian(2.0)),
    ("gaussian(2.0, 0.8, 45)", KernelFamily.gaussian((2.0, 0.8, 45.0))),
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pnp-internal train-meta",
        description="Meta-train MZSR's start: supervised pre-training over a kernel family, "
                    "then first-order MAML.")
    p.add_argument("--data", nargs="+", required=True, help="folder(s) of training images")
    p.add_argument("--out", required=True, help="safetensors file for the best start")
    p.add_argument("--factor", type=int, default=2, help="SR factor")
    p.add_argument("--pretrain-steps", type=int, default=20_000,
                   help="supervised steps before the meta steps")
    p.add_argument("--steps", type=int, default=100_000,
                   help="total steps (pre-training included)")
    p.add_argument("--time-limit", type=float, default=None,
                   help="seconds of this run; a checkpoint is written when they are spent. "
                        "A run of pre-training only (--steps <= --pretrain-steps) decays its "
                        "lr over these seconds or its steps, whichever ends first")
    p.add_argument("--patch", type=int, default=64, help="HR crop side")
    p.add_argument("--task-batch", type=int, default=4,
                   help="crops per kernel (pre-training groups, MAML support and query)")
    p.add_argument("--meta-batch", type=int, default=4,
                   help="kernels per step (pre-training groups, MAML tasks)")
    p.add_argument("--lr", type=float, default=4e-4, help="pre-training Adam lr")
    p.add_argument("--meta-lr", type=float, default=1e-4, help="MAML outer Adam lr")
    p.add_argument("--inner-steps", type=int, default=5)
    p.add_argument("--inner-lr", type=float, default=1e-2)
    p.add_argument("--bicubic", type=float, default=0.2, help="probability of the bicubic kernel")
    p.add_argument("--isotropic", type=float, default=0.4,
                   help="probability of an isotropic Gaussian (of the non-bicubic kernels)")
    p.add_argument("--std-range", type=float, nargs=2, default=(0.2, 2.6),
                   help="Gaussian standard deviations (HR pixels)")
    p.add_argument("--input-back-projection", type=int, default=0,
                   help="back-projection steps of the network's input onto the LR image (0: "
                        "the cubic interpolation, as MZSR)")
    p.add_argument("--input-momentum", action="store_true",
                   help="FISTA momentum in those back-projection steps (a wide kernel needs "
                        "about 50 such steps where plain ones need 300)")
    p.add_argument("--val-steps", type=int, default=10, help="MZSR steps at validation")
    p.add_argument("--n-val", type=int, default=4,
                   help="images held out at the end of every --data folder")
    p.add_argument("--init", default=None, help="start from this MZSR start (safetensors)")
    p.add_argument("--warmup", type=int, default=0,
                   help="steps over which the pre-training lr ramps up linearly at the start "
                        "of this run (for a warm start)")
    return add_run_options(p)


def _pairs(images, n, args, family, rng, gen, dev):
    """``n`` crops degraded by one random kernel: (network input, HR) on ``dev``."""
    kernel, _ = family.sample(rng)
    rs = resampler_for(kernel, args.factor)
    hr = random_crops(images, n, args.patch, gen).float().div_(255.0)
    inp = network_input(rs.down(hr), rs, hr.shape[-2:], args.input_back_projection,
                        momentum=args.input_momentum)
    return inp.to(dev), hr.to(dev)


def pretrain_lr(args: argparse.Namespace, step: int, elapsed: float) -> float:
    """The pre-training lr at ``step``, ``elapsed`` seconds into the run: a cosine from ``--lr``
    to 5 % of it over the pre-training steps, or over ``--time-limit`` where that ends first in
    a run of pre-training only."""
    frac = step / max(1, args.pretrain_steps)
    if args.time_limit is not None and args.steps <= args.pretrain_steps:
        frac = max(frac, elapsed / args.time_limit)
    return args.lr * cosine_decay(frac, 0.05)


def _l1(net, inp, tgt, prec, dev):
    with prec.autocast(dev):
        out = net(inp)
    return (out.float() - tgt).abs().mean()


def validation_kernels(family: KernelFamily) -> tuple:
    """The (name, kernel) pairs of :data:`VALIDATION_KERNELS` that ``family`` draws: only the
    bicubic one for a bicubic-only family, no bicubic one for a Gaussian-only family."""
    if family.bicubic == 1:
        return VALIDATION_KERNELS[:1]
    return VALIDATION_KERNELS[1:] if family.bicubic == 0 else VALIDATION_KERNELS


def validate(net: ZSSRNet, val, factor: int, steps: int, prec,
             input_back_projection: int = 0,
             kernels: tuple = VALIDATION_KERNELS, *,
             input_momentum: bool = False) -> tuple[float, float]:
    """Mean PSNR (dB, RGB, border = factor) of MZSR from ``net`` with 0 and ``steps`` steps
    over the validation images and ``kernels`` ((name, kernel) pairs)."""
    from pnp_internal.metrics import psnr
    from pnp_internal.operators import Downsampling

    before, after = [], []
    for hr in val:
        c = hr.shape[-1] // factor * factor
        hr = hr[None, :, :c, :c]
        for _, kernel in kernels:
            op = Downsampling(factor, img_shape=hr.shape[1:], kernel=kernel, padding="circular")
            y = op.A(hr)
            for n, out in ((0, before), (steps, after)):
                x = MZSR(steps=n, net=net, precision=prec,
                         input_back_projection=input_back_projection,
                         input_momentum=input_momentum).solve(y, op).x
                out.append(float(psnr(x, hr, border=factor)))
    return float(np.mean(before)), float(np.mean(after))


def train(args: argparse.Namespace, argv: list[str] | None = None) -> dict:
    """Run the training described by the parsed ``args``; returns a summary dict."""
    from tqdm import tqdm

    dev = training_device(args, ("steps", "patch", "task_batch", "meta_batch", "inner_steps",
                                 "val_steps", "factor"))
    if args.input_back_projection < 0:
        raise ValueError(f"--input-back-projection must be >= 0, got "
                         f"{args.input_back_projection}")
    if args.warmup < 0:
        raise ValueError(f"--warmup must be >= 0 steps, got {args.warmup}")
    if args.pretrain_steps < 0:
        raise ValueError(f"--pretrain-steps must be >= 0, got {args.pretrain_steps}")
    if args.time_limit is not None and args.time_limit <= 0:
        raise ValueError(f"--time-limit must be > 0 seconds, got {args.time_limit}")
    if args.patch % args.factor:
        raise ValueError(f"--patch must be a multiple of --factor, got {args.patch} and "
                         f"{args.factor}")
    family = KernelFamily(args.factor, args.bicubic, args.isotropic, tuple(args.std_range))
    out = Path(args.out)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    images, val, desc = load_folder(args.data, 3, n_val=args.n_val, patch=args.patch)
    prec = resolve(args.precision, dev)

    net = ZSSRNet(3, 64, 8, gen)
    if args.init:
        from pnp_internal.meta.mzsr import load_start, start_input

        start, meta = load_start(args.init)
        net.load_state_dict(start.state_dict())
        given = start_input(meta)
        if given != (args.input_back_projection, args.input_momentum):
            warnings.warn(f"--init {args.init} was trained on inputs back-projected {given[0]} "
                          f"times (momentum: {given[1]}); this run trains it on "
                          f"{args.input_back_projection} (momentum: {args.input_momentum}): "
                          "pass the start's own --input-back-projection / --input-momentum "
                          "to continue it unchanged", stacklevel=2)
    net = net.to(dev).to(memory_format=prec.memory_format).train()

    def optimiser(phase):
        return torch.optim.Adam(net.parameters(), lr=args.lr if phase == "pretrain"
                                else args.meta_lr)

    step, best, history = 0, -float("inf"), []
    ckpt = RunCheckpoint(args.checkpoint or out.with_suffix(".ckpt.pt"), args.checkpoint_every)
    phase = "pretrain" if args.pretrain_steps > 0 else "meta"
    opt = optimiser(phase)
    if args.resume:
        ck = ckpt.load(dev)
        net.load_state_dict(ck["net"])
        phase = ck["phase"]
        opt = optimiser(phase)
        opt.load_state_dict(ck["optimizer"])
        step, best, history = ck["step"], ck["best"], ck["history"]
        gen.set_state(ck["gen"])
        rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"])
        print(f"resumed from {ckpt.path} at step {step} ({phase}; best val {best:.2f} dB)",
              flush=True)
    command = command_line("pnp-internal train-meta", argv)
    print(f"data: {desc}; precision {prec.name}", flush=True)

    def checkpoint():
        nonlocal best
        v0, v = validate(net, val, args.factor, args.val_steps, prec,
                         args.input_back_projection, validation_kernels(family),
                         input_momentum=args.input_momentum)
        net.train()
        history.append((step, phase, v0, v))
        improved = v > best
        if improved:
            best = v
            save_start(net, out, factor=args.factor,
                       input_back_projection=args.input_back_projection,
                       input_momentum=args.input_momentum, metadata={
                "training_command": command, "steps": str(step),
                "pretrain_steps": str(min(step, args.pretrain_steps)),
                "meta_steps": str(max(0, step - args.pretrain_steps)), "data": desc,
                "family": repr(family), "val_psnr_start": f"{v0:.3f}",
                f"val_psnr_{args.val_steps}_steps": f"{v:.3f}", "precision": prec.name,
                "seconds": f"{ckpt.seconds():.0f}", "device": str(dev)})
        ckpt.save({"net": net.state_dict(), "optimizer": opt.state_dict(), "phase": phase,
                   "step": step, "best": best, "history": history, "gen": gen.get_state(),
                   "rng": rng.bit_generator.state,
                   "torch_rng": torch.get_rng_state()})
        tqdm.write(f"[step {step}, {phase}] validation {v0:.2f} dB at the start, {v:.2f} dB "
                   f"after {args.val_steps} steps (best {best:.2f})"
                   f"{' -> exported ' + str(out) if improved else ''}")
        sys.stdout.flush()

    bar = tqdm(total=args.steps, initial=step, mininterval=30, ncols=100)
    running, first_step = None, step
    while step < args.steps:
        if args.time_limit is not None and ckpt.elapsed() >= args.time_limit:
            break
        if phase == "pretrain" and step >= args.pretrain_steps:
            checkpoint()  # the pre-trained start, validated before the meta steps
            phase, opt = "meta", optimiser("meta")
        if phase == "pretrain":
            for g in opt.param_groups:
                g["lr"] = (pretrain_lr(args, step, ckpt.elapsed())
                           * warmup_ramp(step - first_step, args.warmup))
            groups = [_pairs(images, args.task_batch, args, family, rng, gen, dev)
                      for _ in range(args.meta_batch)]
            inp = torch.cat([g[0] for g in groups]).contiguous(memory_format=prec.memory_format)
            tgt = torch.cat([g[1] for g in groups])
            loss = _l1(net, inp, tgt, prec, dev)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            loss = _meta_step(net, opt, images, args, family, rng, gen, dev, prec)
        step += 1
        lv = float(loss.detach())
        running = lv if running is None else 0.98 * running + 0.02 * lv
        bar.set_postfix(loss=f"{running:.4f}", phase=phase, refresh=False)
        bar.update(1)
        if ckpt.due():
            checkpoint()
    bar.close()
    if not history or history[-1][0] != step:
        checkpoint()
    return {"steps": step, "phase": phase, "best_val_psnr": best, "out": str(out),
            "checkpoint": str(ckpt.path), "precision": prec.name, "seconds": ckpt.seconds()}


def _meta_step(net, opt, images, args, family, rng, gen, dev, prec) -> torch.Tensor:
    """One first-order MAML step; returns the mean query loss after adaptation."""
    grads = [torch.zeros_like(p) for p in net.parameters()]
    total = 0.0
    fmt = prec.memory_format
    for _ in range(args.meta_batch):
        inp, hr = _pairs(images, 2 * args.task_batch, args, family, rng, gen, dev)
        inp = inp.contiguous(memory_format=fmt)
        n = args.task_batch
        fast = copy.deepcopy(net)
        inner = torch.optim.SGD(fast.parameters(), lr=args.inner_lr)
        for _ in range(args.inner_steps):
            loss = _l1(fast, inp[:n], hr[:n], prec, dev)
            inner.zero_grad(set_to_none=True)
            loss.backward()
            inner.step()
        query = _l1(fast, inp[n:], hr[n:], prec, dev)
        for acc, g in zip(grads, torch.autograd.grad(query, list(fast.parameters()))):
            acc.add_(g, alpha=1.0 / args.meta_batch)
        total += float(query.detach()) / args.meta_batch
    for p, g in zip(net.parameters(), grads):
        p.grad = g
    opt.step()
    return torch.tensor(total)


def main(argv: list[str] | None = None) -> int:
    return run_command(
        "pnp-internal train-meta", build_parser(), train,
        lambda s: f"done: {s['steps']} steps ({s['phase']}), best validation "
                  f"{s['best_val_psnr']:.2f} dB -> {s['out']}", argv)


if __name__ == "__main__":
    sys.exit(main())
