"""Deep Image Prior runs: PSNR curves, early stop against the oracle, speed.

``dip`` runs :class:`~pnp_internal.solvers.DIP`, ``deepinv`` deepinv's own ``DeepImagePrior``
loop. Every run prints one JSON line: image, config, oracle PSNR and its iteration, the ES-WMV
stop (iteration where it detected, iteration returned, PSNR returned), wall seconds and process
CPU seconds (on a shared machine, CPU seconds are the fairer speed measure).
``dip_summary.py`` tabulates these lines.

Examples
--------
    python benchmarks/experiments/dip_experiments.py dip \
        --image ../shared/data/test/dip/denoising/F16_GT.png --crop 256 --task denoise-s25 \
        --max-iter 1200
    python benchmarks/experiments/dip_experiments.py deepinv --image ... --crop 256 \
        --max-iter 300
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque

import torch

from pnp_internal.io import read_image
from pnp_internal.metrics import psnr


def load(path, crop, gray=False):
    x = read_image(path)
    if gray and x.shape[1] == 3:
        x = x.mean(1, keepdim=True)
    if crop:
        h, w = x.shape[-2:]
        t, l = (h - crop) // 2, (w - crop) // 2
        x = x[..., t:t + crop, l:l + crop]
    return x.contiguous()


def problem(x, task, seed=0, mask_path=None):
    """(y, operator, noise_std, score kwargs) for a task name, with deepinv physics."""
    import deepinv as dinv
    g = torch.Generator().manual_seed(seed)
    if task.startswith("denoise-s"):
        s = float(task[9:]) / 255
        op = dinv.physics.Denoising(dinv.physics.GaussianNoise(s))
        return x + s * torch.randn(x.shape, generator=g), op, s, {}
    if task.startswith("inpaint"):
        if mask_path:
            m = read_image(mask_path)[:, :1]
            m = (m > 0.5).float()
            if m.shape[-2:] != x.shape[-2:]:
                h, w = m.shape[-2:]
                c = x.shape[-1]
                m = m[..., (h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c]
        else:
            m = (torch.rand((1, 1) + x.shape[-2:], generator=g) > 0.5).float()
        m = m.reshape(1, *m.shape[-2:])
        op = dinv.physics.Inpainting(img_size=x.shape[1:], mask=m.expand(x.shape[1:]).clone())
        return op.A(x), op, 0.0, {}
    if task.startswith("sr-x"):
        f = int(task[4:])
        op = dinv.physics.Downsampling(img_size=x.shape[1:], factor=f, filter="bicubic",
                                       padding="circular")
        return op.A(x), op, 0.0, {"y_channel": True, "border": f}
    raise ValueError(task)


def on_device(args):
    """Ground truth, measurement, operator, noise std and scoring options on ``args.device``."""
    x = load(args.image, args.crop, args.gray)
    pseed = args.seed if args.problem_seed is None else args.problem_seed
    y, op, s, sc = problem(x, args.task, pseed, args.mask)
    return x.to(args.device), y.to(args.device), op.to(args.device), s, sc


def run_dip(args):
    from pnp_internal.priors import nets
    from pnp_internal.solvers import DIP, ESWMV

    x, y, op, s, sc = on_device(args)
    c = x.shape[1]
    if args.net == "skip":
        net = nets.skip(c, width=args.width, depth=args.depth,
                        in_channels=c if args.loss == "sure" else args.in_channels,
                        upsample=args.upsample, paper=args.paper)
    else:
        net = nets.DeepDecoder(c, channels=args.width, depth=args.depth)
    torch.manual_seed(args.seed)
    es = ESWMV(window=args.window, patience=args.patience, min_iter=args.window) \
        if args.window else ESWMV.scaled(args.max_iter)
    if args.no_stop:
        es.patience = 10**9
    solver = DIP(net, max_iter=args.max_iter, lr=args.lr, reg_noise_std=args.reg_noise,
                 ema=None if args.ema <= 0 else args.ema, early_stop=es,
                 precision="fp32" if args.fp32 else "bf16", seed=args.seed, device=args.device,
                 loss=args.loss, sigma=s if args.loss == "sure" else None,
                 return_ema=not args.trace)
    scored, trace = [], []
    if args.trace:  # record raw / EMA / window-mean PSNR and the raw-output variance
        probe = ESWMV(window=args.trace, patience=10**9)
        window = deque()  # the last --trace raw outputs and their running sum
        acc = {"ema": None, "sum": None}

    def cb(state):
        it, xc = state.iteration, state.x
        if args.trace:
            probe.update(xc)
            window.append(xc.detach().clone())
            acc["sum"] = window[-1].double() if acc["sum"] is None else acc["sum"] + window[-1]
            if len(window) > args.trace:
                acc["sum"] -= window.popleft()
            e = acc["ema"]
            acc["ema"] = xc.clone() if e is None else e.mul_(args.ema).add_(xc, alpha=1 - args.ema)
            if it % args.score_every == 0:
                mean = (acc["sum"] / len(window)).float()
                trace.append((it, probe.variances[-1], *[float(psnr(v.clamp(0, 1), x, **sc))
                              for v in (xc, acc["ema"], mean)]))
        if it % args.score_every == 0:
            scored.append((it, float(psnr(xc.clamp(0, 1), x, **sc))))
    t, tc = time.perf_counter(), time.process_time()
    r = solver.solve(y, op, callback=cb)
    wall, cpu = time.perf_counter() - t, time.process_time() - tc
    best_it, best_p = max(scored, key=lambda v: v[1])
    out = dict(image=args.image.split("/")[-1], task=args.task, cfg=vars(args), device=args.device,
               n_iter=r.n_iter,
               stop_iter=r.stop_iter, psnr_stop=float(psnr(r.x.clamp(0, 1), x, **sc)),
               oracle_iter=best_it, psnr_oracle=best_p, wall_s=wall, cpu_s=cpu,
               s_per_iter=wall / r.n_iter, cpu_per_iter=cpu / r.n_iter, curve=scored,
               variance=r.history["variance"], trace=trace)
    if args.task.startswith("sr"):
        import torch.nn.functional as F
        bic = F.interpolate(y, scale_factor=int(args.task[4:]), mode="bicubic").clamp(0, 1)
        out["psnr_bicubic"] = float(psnr(bic, x, **sc))
    if args.save:
        torch.save({"x": r.x.cpu(), "stop_iter": r.stop_iter, "cfg": vars(args)}, args.save)
    print(json.dumps(out), flush=True)


def run_deepinv(args):
    """deepinv's DeepImagePrior (ConvDecoder, 256 channels, its defaults), with a PSNR trace.

    The loop is deepinv's ``DeepImagePrior.forward`` with the PSNR of each iterate recorded.
    """
    import deepinv as dinv
    x, y, op, s, sc = on_device(args)
    torch.manual_seed(args.seed)
    gen = dinv.models.ConvDecoder(img_size=x.shape[1:], in_size=(4, 4), channels=256)
    gen = gen.to(args.device)
    z = torch.randn((256, 4, 4)).unsqueeze(0).to(args.device)
    opt = torch.optim.Adam(gen.parameters(), lr=1e-2)
    loss_fn = dinv.loss.mc.MCLoss()
    scored, t, tc = [], time.perf_counter(), time.process_time()
    for it in range(args.max_iter):
        xh = gen(z)
        err = loss_fn(y=y, x_net=xh, physics=op)
        opt.zero_grad()
        err.backward()
        opt.step()
        if it % args.score_every == 0:
            scored.append((it, float(psnr(xh.detach().clamp(0, 1), x, **sc)),
                           time.perf_counter() - t, time.process_time() - tc))
            print(json.dumps({"it": it, "psnr": scored[-1][1], "wall": scored[-1][2],
                              "cpu": scored[-1][3]}), flush=True)
    best = max(scored, key=lambda v: v[1])
    print(json.dumps(dict(image=args.image.split("/")[-1], task=args.task, method="deepinv-dip",
                          n_iter=args.max_iter, oracle_iter=best[0], psnr_oracle=best[1],
                          wall_to_best=best[2], cpu_to_best=best[3],
                          wall_s=time.perf_counter() - t, cpu_s=time.process_time() - tc,
                          curve=scored)), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["dip", "deepinv"])
    p.add_argument("--image", required=True)
    p.add_argument("--mask", default=None)
    p.add_argument("--save", default=None, help="save the returned image (torch .pt) here")
    p.add_argument("--crop", type=int, default=0)
    p.add_argument("--gray", action="store_true")
    p.add_argument("--task", default="denoise-s25")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--problem-seed", type=int, default=None,
                   help="seed of the noise / random mask (default: --seed); set it to vary only "
                        "the DIP run (network, code z, perturbations) on a fixed problem")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu or cuda (timings then are GPU timings)")
    p.add_argument("--max-iter", type=int, default=1200)
    p.add_argument("--net", default="skip", choices=["skip", "deep-decoder"])
    p.add_argument("--paper", action="store_true")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=5)
    p.add_argument("--in-channels", type=int, default=32)
    p.add_argument("--upsample", default="bilinear")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--reg-noise", type=float, default=1 / 30)
    p.add_argument("--ema", type=float, default=0.99)
    p.add_argument("--fp32", action="store_true", help="float32 (default: bf16 autocast)")
    p.add_argument("--loss", default="mse", choices=["mse", "sure"],
                   help="sure: Gaussian denoising only, the noisy image is the input "
                        "(Metzler et al.)")
    p.add_argument("--window", type=int, default=0)
    p.add_argument("--patience", type=int, default=0)
    p.add_argument("--no-stop", action="store_true", help="run the whole budget (oracle curve)")
    p.add_argument("--score-every", type=int, default=10)
    p.add_argument("--trace", type=int, default=0,
                   help="window W: trace raw/EMA/window-mean PSNR and raw-output variance")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    (run_dip if args.mode == "dip" else run_deepinv)(args)


if __name__ == "__main__":
    main()
