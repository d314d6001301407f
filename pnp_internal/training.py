"""Training of the project's noise-level-conditioned CNN denoiser (``pnp-internal train-denoiser``).

Random patches with the 8 flips/rotations, multi-scale resizing, optional colour augmentation
(random channel permutation, saturation and hue jitter), sigma uniform in [0, 50/255] per patch,
L1 (DRUNet) or L2 (DnCNN) loss, Adam with cosine decay, in the arithmetic chosen by
:func:`pnp_internal.precision.resolve` (``--precision``: bf16 autocast with float32 master
weights where the device computes bf16 natively, float32 elsewhere; channels_last on CPU).
A checkpoint (model, optimizer, scheduler, step, random state) is written every few minutes and
at the end; ``--resume`` continues from it. At each checkpoint the validation PSNR at
sigma=25/255 on held-out training images (the last files of every data folder, excluded
from training) is printed, in float32, and the best weights so far are exported to ``--out`` as
fp16 safetensors with metadata.

References
----------
K. Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser Prior", IEEE TPAMI, 2022.
K. Zhang et al., "Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for Image Denoising",
IEEE TIP, 2017 (Train400, multi-scale augmentation).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pnp_internal.precision import CHOICES, resolve
from pnp_internal.priors.cnn import SIGMA_MAX, CNNDenoiser
from pnp_internal.run_checkpoint import RunCheckpoint, command_line

__all__ = ["main", "build_parser", "load_folder", "random_crops", "training_device", "train",
           "run_command", "add_run_options", "deepen"]

_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def _list_images(d: Path) -> list[Path]:
    if not d.is_dir():
        raise ValueError(f"--data {str(d)!r} is not a folder; give folders of training images")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in _EXTS)
    if not files:
        raise ValueError(f"--data {str(d)!r} holds no images ({', '.join(sorted(_EXTS))})")
    return files


def _read(path: Path, channels: int) -> torch.Tensor:
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("L" if channels == 1 else "RGB")
        a = np.array(im, dtype=np.uint8)
    if a.ndim == 2:
        a = a[None]
    else:
        a = a.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(a))


def _resize(img: torch.Tensor, scale: float) -> torch.Tensor:
    if scale == 1.0:
        return img
    x = img[None].float()
    h, w = x.shape[-2:]
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)[0]


def default_scales(files: list[Path]) -> tuple[float, ...]:
    """Colour JPEGs (Sun-Hays 80) are downscaled by 2 and 3; small PNGs use DnCNN's scales."""
    if any(p.suffix.lower() in {".jpg", ".jpeg"} for p in files):
        return (1 / 2, 1 / 3)
    return (1.0, 0.9, 0.8, 0.7)


def load_folder(dirs, channels: int, *, scales=None, n_val: int = 8, patch: int = 64):
    """Preload training images (uint8, every scale) and the held-out validation images.

    The last ``n_val`` files of every folder are held out for validation (at the folder's first
    scale, centre-cropped to at most 128x128) and excluded from training. Without ``scales``
    each folder gets :func:`default_scales` of its own files.
    """
    files = [_list_images(Path(d)) for d in dirs]
    for d, fs in zip(dirs, files):
        if n_val and len(fs) <= n_val:
            raise ValueError(f"--data folder {str(d)!r} has {len(fs)} images; need more than "
                             f"{n_val} (the last {n_val} of every folder are held out for "
                             "validation; lower --n-val)")
    # each folder its own scales (DnCNN's for small PNGs, 1/2 and 1/3 for large JPEG photos),
    # unless scales are given
    folder_scales = [tuple(scales) if scales is not None else default_scales(fs[:len(fs) - n_val])
                     for fs in files]
    train, val = [], []
    for fs, sc in zip(files, folder_scales):
        cut = len(fs) - n_val
        for p in fs[:cut]:
            img = _read(p, channels)
            for s in sc:
                r = _resize(img, s)
                if min(r.shape[-2:]) >= patch:
                    train.append(r)
        for p in fs[cut:]:
            r = _resize(_read(p, channels), sc[0])
            h, w = r.shape[-2:]
            c = min(128, h, w) // 8 * 8
            t, l = (h - c) // 2, (w - c) // 2
            val.append(r[:, t:t + c, l:l + c].float().div(255.0))
    if not train:
        raise ValueError(f"no training image is at least {patch}x{patch} after resizing; "
                         "lower --patch")
    val_files = [p for fs in files for p in fs[len(fs) - n_val:]]
    n_train = sum(len(fs) for fs in files) - len(val_files)
    at = "; ".join(f"{d} at scales {[round(s, 3) for s in sc]}"
                   for d, sc in zip(dirs, folder_scales))
    desc = (f"{n_train} images from {at} ({len(train)} resized copies); validation: "
            f"{len(val_files)} held-out files, the last {n_val} of each folder "
            f"({', '.join(p.name for p in val_files)})")
    return train, val, desc


def colour_augment(p: torch.Tensor, gen: torch.Generator, *, shuffle: bool, saturation: float,
                   hue: float) -> torch.Tensor:
    """Random channel permutation, saturation factor in [1-s, 1+s] and hue shift in [-h, h] of
    one uint8 RGB patch (torchvision's colour functions)."""
    import torchvision.transforms.v2.functional as TF

    if shuffle:
        p = p[torch.randperm(3, generator=gen)]
    if saturation:
        f = 1 + saturation * (2 * float(torch.rand(1, generator=gen)) - 1)
        p = TF.adjust_saturation(p, f)
    if hue:
        p = TF.adjust_hue(p, hue * (2 * float(torch.rand(1, generator=gen)) - 1))
    return p


def random_crops(images, batch: int, patch: int, gen: torch.Generator, colour=None) -> torch.Tensor:
    """A (batch, C, patch, patch) uint8 stack of random crops with random flips/rotations and,
    given ``colour`` (keyword arguments of :func:`colour_augment`), colour augmentation."""
    idx = torch.randint(len(images), (batch,), generator=gen).tolist()
    out = []
    for i in idx:
        img = images[i]
        h, w = img.shape[-2:]
        t = int(torch.randint(h - patch + 1, (1,), generator=gen))
        l = int(torch.randint(w - patch + 1, (1,), generator=gen))
        p = img[:, t:t + patch, l:l + patch]
        k = int(torch.randint(8, (1,), generator=gen))
        if k >= 4:
            p = p.flip(-1)
        p = torch.rot90(p, k % 4, dims=(-2, -1))
        out.append(colour_augment(p, gen, **colour) if colour else p)
    return torch.stack(out)


def cosine_decay(frac: float, floor: float) -> float:
    """The lr factor ``frac`` of the way through a cosine decay from 1 to ``floor`` (``frac`` past
    1 stays at the floor): the schedule of every trainer of the project."""
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))


def warmup_ramp(steps_done: int, warmup: int) -> float:
    """The lr factor after ``steps_done`` steps of a run that ramps its lr up linearly over its
    first ``warmup`` steps (0: no ramp): a warm start's fresh Adam moments would otherwise move
    every weight by a full lr at once."""
    return min(1.0, (steps_done + 1) / warmup) if warmup else 1.0


@torch.no_grad()
def validate(model: CNNDenoiser, val, *, sigma: float = 25 / 255, seed: int = 1234) -> float:
    """Mean PSNR (dB) at ``sigma`` on the validation images, fixed noise."""
    if not val:
        return float("nan")
    was = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    ps = []
    for x in val:
        x = x[None]
        y = x + sigma * torch.randn(x.shape, generator=gen)
        xh = model(y.to(dev), sigma).cpu().clamp(0, 1)
        mse = float(((xh - x) ** 2).mean())
        ps.append(10 * math.log10(1.0 / max(mse, 1e-12)))
    model.train(was)
    return float(np.mean(ps))


def deepen(shallow: torch.nn.Module, deep: torch.nn.Module) -> None:
    """Copy a DRUNet's weights into a deeper DRUNet (more residual blocks per level), in place.

    The old blocks keep their weights and order; each level's extra blocks come after them
    with their second convolution zeroed, so they start as identities and the deeper network
    computes exactly what the shallower one did (function-preserving growth, as in Net2Net:
    T. Chen et al., "Net2Net: Accelerating Learning via Knowledge Transfer", ICLR 2016).

    Parameters
    ----------
    shallow, deep : deepinv.models.DRUNet
        Same channels and widths; ``deep`` has at least as many blocks per level. ``deep``'s
        own initial weights are kept for the first convolutions of its new blocks.
    """
    from deepinv.models.drunet import ResBlock

    def parts(level):  # its residual blocks, and its other layers (down/upsampling convs)
        blocks = [m for m in level.modules() if isinstance(m, ResBlock)]
        others = [] if isinstance(level, ResBlock) else \
            [m for m in level.children() if not isinstance(m, ResBlock)]
        return blocks, others

    for src, dst in zip(shallow.children(), deep.children()):
        (blocks, others), (new, new_others) = parts(src), parts(dst)
        if not blocks:  # the head and tail convolutions
            dst.load_state_dict(src.state_dict())
        for a, b in [*zip(blocks, new), *zip(others, new_others)]:
            b.load_state_dict(a.state_dict())
        for b in new[len(blocks):]:
            torch.nn.init.zeros_(b.res[2].weight)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pnp-internal train-denoiser",
        description="Train the noise-level-conditioned CNN denoiser (DRUNet-lite).")
    p.add_argument("--data", nargs="+", required=True, help="folder(s) of training images")
    p.add_argument("--channels", type=int, choices=(1, 3), required=True)
    p.add_argument("--out", required=True, help="safetensors file for the best weights")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--time-limit", type=float, default=None,
                   help="seconds of training; with it the cosine decay runs over the time budget "
                        "and training ends when it is spent (or at --steps)")
    p.add_argument("--init", default=None,
                   help="warm start: weights (safetensors or state dict) to start from")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-min", type=float, default=1e-6)
    p.add_argument("--warmup", type=int, default=0,
                   help="steps over which the lr ramps up linearly at the start of this run")
    p.add_argument("--loss", choices=("l1", "l2"), default="l1")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--checkpoint", default=None,
                   help="private checkpoint path (default: OUT with suffix .ckpt.pt)")
    p.add_argument("--checkpoint-every", type=float, default=300.0, help="seconds")
    p.add_argument("--val", default=None,
                   help="folder of validation images (default: the last --n-val files of "
                        "every --data folder)")
    p.add_argument("--scales", type=float, nargs="+", default=None,
                   help="resize factors of every --data folder, the first also for validation "
                        "(default: per folder, 1.0-0.7 for small PNGs, 1/2 and 1/3 for JPEG "
                        "photos)")
    p.add_argument("--n-val", type=int, default=8,
                   help="validation images held out at the end of every --data folder")
    p.add_argument("--channel-shuffle", action="store_true",
                   help="colour: permute the RGB channels of each patch at random")
    p.add_argument("--saturation", type=float, default=0.0,
                   help="colour: saturation factor drawn in [1-S, 1+S] per patch")
    p.add_argument("--hue", type=float, default=0.0,
                   help="colour: hue shift drawn in [-H, H] (in turns, at most 0.5) per patch")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", choices=CHOICES, default="auto",
                   help="arithmetic of the training steps: bf16 autocast where the device "
                        "computes bf16 natively (auto), or forced fp32 / bf16")
    p.add_argument("--no-bf16", dest="precision", action="store_const", const="fp32",
                   help="same as --precision fp32")
    p.add_argument("--nc", type=int, nargs=4, default=(32, 64, 128, 256))
    p.add_argument("--nb", type=int, default=2)
    p.add_argument("--no-residual", action="store_true",
                   help="plain DRUNet output instead of the global residual x + net(x)")
    return p


def training_device(args: argparse.Namespace, positive: tuple[str, ...]) -> torch.device:
    """The device of ``--device`` (checked), after setting ``--threads`` and checking that the
    integer options named in ``positive`` are at least 1."""
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda given but CUDA is not available; use --device cpu")
    for name in positive:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}")
    return dev


def train(args: argparse.Namespace, argv: list[str] | None = None) -> dict:
    """Run the training described by the parsed ``args``; returns a summary dict."""
    from tqdm import tqdm

    dev = training_device(args, ("steps", "batch", "patch"))
    if args.warmup < 0:
        raise ValueError(f"--warmup must be >= 0 steps, got {args.warmup}")
    if not (0 <= args.saturation <= 1 and 0 <= args.hue <= 0.5):
        raise ValueError(f"--saturation must be in [0, 1] and --hue in [0, 0.5]; got "
                         f"{args.saturation} and {args.hue}")
    colour = {"shuffle": args.channel_shuffle, "saturation": args.saturation, "hue": args.hue}
    if args.channels == 1 and any(colour.values()):
        raise ValueError("--channel-shuffle, --saturation and --hue need --channels 3")
    colour = colour if any(colour.values()) else None
    out = Path(args.out)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    if args.scales is not None and not all(0 < f <= 1 for f in args.scales):
        raise SystemExit(f"--scales must lie in (0, 1], got {args.scales}")
    train_imgs, val, desc = load_folder(args.data, args.channels, patch=args.patch,
                                        scales=args.scales, n_val=0 if args.val else args.n_val)
    if args.val:
        val = [x.float() for x in load_folder([args.val], args.channels, n_val=0,
                                              scales=(1.0,), patch=8)[0]]
        val = [v[:, :128, :128].float().div(255.0) for v in val[: args.n_val]]
        desc += f"; validation folder {args.val}"

    model = CNNDenoiser(args.channels, nc=tuple(args.nc), nb=args.nb,
                        residual=not args.no_residual, device=dev, precision="fp32")
    if args.init:
        from pnp_internal.priors.cnn import load_denoiser
        src = load_denoiser(args.init)
        deeper = {**src.config, "nb": model.config["nb"]} == model.config \
            and src.config["nb"] < model.config["nb"]
        if src.config != model.config and not deeper:
            raise ValueError(f"--init {args.init!r} has config {src.config}, but this run trains "
                             f"{model.config}; match --channels/--nc/--no-residual (--nb may "
                             f"be larger: the extra blocks start as identities)")
        if deeper:
            deepen(src.net.float(), model.net)
        else:
            model.net.load_state_dict({k: v.float() for k, v in src.net.state_dict().items()})
        desc_init = f"; warm start from {args.init} ({src.metadata.get('steps', '?')} steps" \
            + (f", deepened from nb={src.config['nb']})" if deeper else ")")
    else:
        desc_init = ""
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model.train()
    prec = resolve(args.precision, dev)
    fmt = prec.memory_format
    model.net.to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr,
                           fused=dev.type in ("cpu", "cuda"))
    lr_floor = min(args.lr_min / args.lr, 1.0)

    def cosine(i: int) -> float:  # closed form, so a resume with another --steps re-plans the decay
        return cosine_decay(i / args.steps, lr_floor)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine)
    step, best, history = 0, -float("inf"), []
    ckpt = RunCheckpoint(args.checkpoint or out.with_suffix(".ckpt.pt"), args.checkpoint_every)
    if args.resume:
        ck = ckpt.load(dev)
        model.net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        for g in opt.param_groups:  # apply the closed-form schedule for this run's --steps
            g["lr"] = args.lr * cosine(sched.last_epoch)
        step, best, history = ck["step"], ck["best"], ck.get("history", [])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        print(f"resumed from {ckpt.path} at step {step} (best val {best:.2f} dB)", flush=True)
    command = command_line("pnp-internal train-denoiser", argv)
    desc += desc_init
    print(f"data: {desc}", flush=True)

    def checkpoint():
        nonlocal best
        v = validate(model, val)
        history.append((step, v))
        improved = v > best
        if improved:
            best = v
            model.save(out, metadata={
                "training_command": command, "steps": str(step), "data": desc,
                "val_psnr_sigma25": f"{v:.3f}", "loss": args.loss, "batch": str(args.batch),
                "patch": str(args.patch), "sigma_range": f"[0, {SIGMA_MAX:.6f}]",
                "precision": prec.name, "colour_augmentation": json.dumps(colour)})
        ckpt.save({"model": model.net.state_dict(), "optimizer": opt.state_dict(),
                   "scheduler": sched.state_dict(), "step": step, "best": best,
                   "history": history, "gen": gen.get_state(),
                   "torch_rng": torch.get_rng_state(), "config": model.config})
        tqdm.write(f"[step {step}] val PSNR(sigma=25) {v:.3f} dB (best {best:.3f})"
                   f"{' -> exported ' + str(out) if improved else ''}; lr {opt.param_groups[0]['lr']:.2e}")
        sys.stdout.flush()

    if args.time_limit is not None and args.time_limit <= 0:
        raise ValueError(f"--time-limit must be > 0 seconds, got {args.time_limit}")
    # noise is drawn where the model runs (on a GPU, drawing it on the CPU is the bottleneck)
    noise_gen = gen if dev.type == "cpu" else torch.Generator(dev).manual_seed(args.seed + step)
    bar = tqdm(total=args.steps, initial=step, mininterval=30, dynamic_ncols=False, ncols=100)
    run_loss, first_step = None, step
    while step < args.steps:
        if args.time_limit is not None:
            spent = ckpt.elapsed() / args.time_limit
            if spent >= 1.0:
                break
        ramp = warmup_ramp(step - first_step, args.warmup)  # times the closed-form schedule
        for g in opt.param_groups:
            g["lr"] = args.lr * ramp * (cosine(sched.last_epoch) if args.time_limit is None
                                        else cosine_decay(spent, lr_floor))
        x = random_crops(train_imgs, args.batch, args.patch, gen, colour).to(dev, non_blocking=True)
        x = x.float().div_(255.0).contiguous(memory_format=fmt)
        sig = torch.rand(args.batch, 1, 1, 1, generator=gen).to(dev) * SIGMA_MAX
        y = x + sig * torch.randn(x.shape, generator=noise_gen, device=dev)
        y = y.contiguous(memory_format=fmt)
        with prec.autocast(dev):
            xh = model.forward_net(y, sig)
        xh = xh.float()
        loss = (xh - x).abs().mean() if args.loss == "l1" else ((xh - x) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if args.time_limit is None:
            sched.step()
        step += 1
        if step % 50 == 0 or dev.type == "cpu":  # a float() syncs the GPU: read the loss rarely
            lv = float(loss.detach())
            run_loss = lv if run_loss is None else 0.99 * run_loss + 0.01 * lv
            bar.set_postfix(loss=f"{run_loss:.4f}", refresh=False)
        bar.update(1)
        if ckpt.due():
            checkpoint()
    bar.close()
    if not history or history[-1][0] != step:
        checkpoint()
    return {"steps": step, "best_val_psnr": best, "out": str(out), "checkpoint": str(ckpt.path),
            "precision": prec.name, "seconds": ckpt.seconds()}


def add_run_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every training command shares: device, resume and checkpoints, threads,
    seed and precision."""
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--checkpoint", default=None,
                   help="private checkpoint path (default: OUT with suffix .ckpt.pt)")
    p.add_argument("--checkpoint-every", type=float, default=300.0, help="seconds")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", choices=CHOICES, default="auto",
                   help="bf16 autocast where the device computes bf16 natively (auto), or "
                        "forced fp32 / bf16")
    return p


def run_command(prog: str, parser: argparse.ArgumentParser, train_fn, done, argv) -> int:
    """A training command's entry point: parse ``argv``, run ``train_fn(args, argv)`` and
    print ``done(summary)``; bad options (``ValueError``, ``OSError``) end with a one-line
    error and exit status 2."""
    args = parser.parse_args(argv)
    try:
        summary = train_fn(args, argv)
    except (ValueError, OSError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    print(done(summary), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``pnp-internal train-denoiser ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    res = train(args, argv)
    print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
