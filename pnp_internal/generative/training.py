"""Training of the project's 64x64 generator (``pnp-internal train-generator``).

The generator is the decoder of a variational auto-encoder [1]_: a convolutional encoder maps
a 64x64 crop to the mean and log-variance of ``q(z | x)``, the generator maps a sample back, and
the loss is the negative evidence lower bound with a Gaussian likelihood of standard deviation
``--sigma-x``: ``|x - G(z)|^2 / (2 sigma_x^2) + KL(q(z | x) || N(0, I))``. A VAE rather than a
GAN because it trains stably on a CPU budget with one loss and no balancing, and because its
latent space is Gaussian by construction, which is what CSGM's ``|z|^2`` regulariser assumes
(its samples are blurrier than a GAN's; IAGAN's weight adaptation is what removes that
representation error).

Random 64x64 crops with the 8 flips/rotations of the training images at the ``--scales``
(gray images as three equal channels), Adam with cosine decay, in the arithmetic of
:func:`pnp_internal.precision.resolve`. A checkpoint (encoder, generator, optimizer, step, random
state) is written every few minutes; ``--resume`` continues from it. At each checkpoint the mean
PSNR of the reconstructions ``G(mean of q(z | x))`` of 64x64 centre crops of held-out training
images (the last ``--n-val`` of every folder) is printed, and the best generator so far is
exported to ``--out`` (safetensors, with the training command in the metadata) beside a PNG
grid of 64 samples ``G(z)``, ``z ~ N(0, I)``.

References
----------
.. [1] D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

from pnp_internal.generative.generator import SIZE, Generator
from pnp_internal.precision import resolve
from pnp_internal.run_checkpoint import RunCheckpoint, command_line
from pnp_internal.training import (add_run_options, cosine_decay, load_folder, random_crops,
                                   run_command, training_device)

__all__ = ["Encoder", "main", "build_parser", "train"]


class Encoder(nn.Module):
    """64x64 colour crops to the mean and log-variance of ``q(z | x)`` (the mirror image of
    the DCGAN generator: four stride-2 convolutions, batch norm, leaky ReLU)."""

    def __init__(self, nz: int = 128, ndf: int = 64):
        super().__init__()
        layers, c_in = [], 3
        for i, c_out in enumerate((ndf, 2 * ndf, 4 * ndf, 8 * ndf)):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=i == 0)]
            layers += [nn.BatchNorm2d(c_out)] if i else []
            layers += [nn.LeakyReLU(0.2, inplace=True)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(8 * ndf * 4 * 4, 2 * nz)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.head(self.features(2 * x - 1).flatten(1)).chunk(2, dim=1)
        return mean, logvar.clamp(-12, 6)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pnp-internal train-generator",
                                description="Train the 64x64 generator (a VAE's decoder).")
    p.add_argument("--data", nargs="+", required=True, help="folder(s) of training images")
    p.add_argument("--out", required=True, help="safetensors file for the best generator")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--time-limit", type=float, default=None,
                   help="seconds of training; the cosine decay then runs over the time budget")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--lr-min", type=float, default=1e-5)
    p.add_argument("--nz", type=int, default=128, help="latent dimension")
    p.add_argument("--ngf", type=int, default=64, help="generator and encoder width")
    p.add_argument("--sigma-x", type=float, default=0.1,
                   help="standard deviation of the Gaussian likelihood ([0, 1] scale)")
    p.add_argument("--scales", type=float, nargs="+", default=(1.0, 0.5),
                   help="resizing factors of the training images")
    p.add_argument("--n-val", type=int, default=8,
                   help="images held out at the end of every --data folder")
    return add_run_options(p)


@torch.no_grad()
def validate(encoder: Encoder, generator: Generator, val: torch.Tensor) -> float:
    """Mean PSNR (dB) of ``G(mean of q(z | x))`` over the validation crops ``val``."""
    encoder.eval(), generator.eval()
    mean, _ = encoder(val)
    mse = ((generator(mean) - val) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    encoder.train(), generator.train()
    return float((-10 * torch.log10(mse)).mean())


def _samples(generator: Generator, path: Path, seed: int) -> None:
    from torchvision.utils import save_image

    generator.eval()
    with torch.no_grad():
        z = torch.randn(64, generator.nz, generator=torch.Generator().manual_seed(seed))
        save_image(generator(z.to(next(generator.parameters()).device)).cpu(), str(path),
                   nrow=8, padding=2)
    generator.train()


def train(args: argparse.Namespace, argv: list[str] | None = None) -> dict:
    """Run the training described by the parsed ``args``; returns a summary dict."""
    from tqdm import tqdm

    dev = training_device(args, ("steps", "batch", "nz", "ngf"))
    if not args.sigma_x > 0:
        raise ValueError(f"--sigma-x must be > 0, got {args.sigma_x}")
    if args.time_limit is not None and args.time_limit <= 0:
        raise ValueError(f"--time-limit must be > 0 seconds, got {args.time_limit}")
    out = Path(args.out)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    images, val_images, desc = load_folder(args.data, 3, scales=tuple(args.scales),
                                           n_val=args.n_val, patch=SIZE)
    val = torch.stack([_centre(v, SIZE) for v in val_images if min(v.shape[-2:]) >= SIZE])
    val = val.to(dev)

    encoder = Encoder(args.nz, args.ngf).to(dev)
    generator = Generator(nz=args.nz, ngf=args.ngf).to(dev)
    encoder.train(), generator.train()
    params = [*encoder.parameters(), *generator.parameters()]
    opt = torch.optim.Adam(params, lr=args.lr, betas=(0.5, 0.999))
    prec = resolve(args.precision, dev)
    floor = min(args.lr_min / args.lr, 1.0)

    step, best, history = 0, -float("inf"), []
    ckpt = RunCheckpoint(args.checkpoint or out.with_suffix(".ckpt.pt"), args.checkpoint_every)
    if args.resume:
        ck = ckpt.load(dev)
        encoder.load_state_dict(ck["encoder"])
        generator.net.load_state_dict(ck["generator"])
        opt.load_state_dict(ck["optimizer"])
        step, best, history = ck["step"], ck["best"], ck["history"]
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        print(f"resumed from {ckpt.path} at step {step} (best val {best:.2f} dB)", flush=True)
    command = command_line("pnp-internal train-generator", argv)
    print(f"data: {desc}; validation: {len(val)} centre crops {SIZE}x{SIZE}", flush=True)

    def checkpoint():
        nonlocal best
        v = validate(encoder, generator, val)
        history.append((step, v))
        improved = v > best
        if improved:
            best = v
            generator.save(out, metadata={
                "training_command": command, "steps": str(step), "data": desc,
                "model": "VAE decoder", "sigma_x": str(args.sigma_x),
                "val_reconstruction_psnr": f"{v:.3f}", "batch": str(args.batch),
                "precision": prec.name, "seconds": f"{ckpt.seconds():.0f}",
                "device": str(dev)})
            _samples(generator, out.with_suffix(".png"), args.seed)
        ckpt.save({"encoder": encoder.state_dict(), "generator": generator.net.state_dict(),
                   "optimizer": opt.state_dict(), "step": step, "best": best,
                   "history": history, "gen": gen.get_state(),
                   "torch_rng": torch.get_rng_state()})
        tqdm.write(f"[step {step}] validation reconstruction {v:.2f} dB (best {best:.2f})"
                   f"{' -> exported ' + str(out) if improved else ''}; "
                   f"lr {opt.param_groups[0]['lr']:.2e}")
        sys.stdout.flush()

    bar = tqdm(total=args.steps, initial=step, mininterval=30, ncols=100)
    running = None
    while step < args.steps:
        frac = (ckpt.seconds() / args.time_limit if args.time_limit is not None
                else step / args.steps)
        if frac >= 1.0:
            break
        for g in opt.param_groups:
            g["lr"] = args.lr * cosine_decay(frac, floor)
        x = random_crops(images, args.batch, SIZE, gen).to(dev).float().div_(255.0)
        with prec.autocast(dev):
            mean, logvar = encoder(x)
            mean, logvar = mean.float(), logvar.float()
            z = mean + torch.randn(mean.shape, generator=gen).to(dev) * (0.5 * logvar).exp()
            x_hat = generator(z)
        recon = ((x_hat.float() - x) ** 2).flatten(1).sum(1) / (2 * args.sigma_x ** 2)
        kl = 0.5 * (mean ** 2 + logvar.exp() - logvar - 1).sum(1)
        loss = (recon + kl).mean() / x[0].numel()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0 or dev.type == "cpu":  # a float() syncs the GPU: read the loss rarely
            lv = float(loss.detach())
            running = lv if running is None else 0.98 * running + 0.02 * lv
            bar.set_postfix(loss=f"{running:.4f}", kl=f"{float(kl.detach().mean()):.0f}",
                            refresh=False)
        bar.update(1)
        if ckpt.due():
            checkpoint()
    bar.close()
    if not history or history[-1][0] != step:
        checkpoint()
    return {"steps": step, "best_val_psnr": best, "out": str(out),
            "checkpoint": str(ckpt.path), "precision": prec.name, "seconds": ckpt.seconds()}


def _centre(img: torch.Tensor, size: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    t, l = (h - size) // 2, (w - size) // 2
    return img[:, t:t + size, l:l + size]


def main(argv: list[str] | None = None) -> int:
    return run_command(
        "pnp-internal train-generator", build_parser(), train,
        lambda s: f"done: {s['steps']} steps, best validation reconstruction "
                  f"{s['best_val_psnr']:.2f} dB -> {s['out']}", argv)


if __name__ == "__main__":
    sys.exit(main())
