"""Adapting the denoiser to its own result: a rank-4 update trained on the pilot plus fresh noise.

SURE fits the update to ``y`` and so partly to its noise; at sigma 60 and 75 its path never
gets more than 0.05 dB above the plain CNN (``notes/off-distribution.md``), while the same
update trained on the *clean* image with fresh noise gains about 0.4 dB
(``adaptation_bound.py --crop``). This experiment replaces the clean image by a pilot computed
from ``y`` (the CNN's result, its geometric self-ensemble, or that blended with BM3D's Wiener
stage as ``cnn-x8-wiener`` calls it; with ``--rounds 2`` a second round on the tuned CNN's
``cnn-x8-wiener`` result, as ``cnn-pilot-x8-wiener`` does): random crops of the pilot plus
fresh noise of the known level are the inputs, the pilot crops the targets (the pairs of
Noisy-as-Clean, Xu et al. 2020, made from a denoised image as in BM3D's second stage). It
prints the PSNR of the tuned CNN on ``y`` every ``--check-every`` steps (the ground truth reads
the path; it does not steer it).

Examples
--------
    python benchmarks/experiments/pilot_adaptation.py denoise-s75 \
        --images ../shared/data/test/cbsd68 --limit 3 --steps 300 --pilot x8
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F

from pnp_internal import io, metrics
from pnp_internal.bench.runner import list_images, machine_info, provenance, write_record
from pnp_internal.bench.tasks import get_task, image_seed
from pnp_internal.catalog.pnp import shipped_cnn
from pnp_internal.priors import SelfEnsemble, x8_wiener
from pnp_internal.priors.finetune import finetune, trainable_parameters

from _harness import noisy_crop_pair


def path_of(y, sigma_value, x_true, args, seed):
    """PSNR of the tuned CNN (and of its self-ensemble at the end) along the steps."""
    model = shipped_cnn(y.shape[1], one_call=True).eval()
    sigma = torch.full((1,), sigma_value)
    with torch.no_grad():
        pilot = {"cnn": model, "x8": SelfEnsemble(model),
                 "x8-wiener": x8_wiener(model, y.shape[1])}[args.pilot](y, sigma).clamp(0, 1)
    params = trainable_parameters(model, "lora", rank=args.rank)
    g = torch.Generator().manual_seed(seed)
    train_sigma = sigma_value * args.sigma_factor

    pilots = [pilot]

    def sample(step):
        return noisy_crop_pair(pilots[-1], args.crop, train_sigma, g)[:2]

    def loss_fn(batch):
        noisy, clean = batch
        return F.mse_loss(model(noisy, torch.full((1,), train_sigma)).float(), clean)

    curve, seconds = [], 0.0

    def score():  # reads the path; a falling score keeps the finetune loop on the last step
        with torch.no_grad():
            curve.append(float(metrics.psnr(model(y, sigma).float().clamp(0, 1), x_true)[0]))
        return -float(len(curve))

    for r in range(args.rounds):  # each round after the first: the tuned CNN's result as pilot
        if r:
            with torch.no_grad():
                pilots.append(x8_wiener(model, y.shape[1])(y, sigma).clamp(0, 1))
        report = finetune(model, params, loss_fn, sample, steps=args.steps, lr=args.lr,
                          holdout_loss=score, check_every=args.check_every, patience=10 ** 6,
                          precision="auto")
        seconds += report.seconds
    round_pilots = [float(metrics.psnr(q, x_true)[0]) for q in pilots]
    with torch.no_grad():
        x8 = float(metrics.psnr(SelfEnsemble(model)(y, sigma).clamp(0, 1), x_true)[0])
        wiener = float(metrics.psnr(x8_wiener(model, y.shape[1])(y, sigma).clamp(0, 1),
                                    x_true)[0])
        pilot_psnr = float(metrics.psnr(pilot, x_true)[0])
    return {"pilot": pilot_psnr, "round_pilots": round_pilots, "curve": curve, "x8_end": x8,
            "x8_wiener_end": wiener, "seconds": seconds}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True)
    p.add_argument("--limit", type=int)
    p.add_argument("--crop", type=int, default=192)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--rank", type=int, default=4)
    p.add_argument("--pilot", choices=("cnn", "x8", "x8-wiener"), default="x8")
    p.add_argument("--sigma-factor", type=float, default=1.0,
                   help="training noise level in units of the task's")
    p.add_argument("--check-every", type=int, default=25)
    p.add_argument("--rounds", type=int, default=1,
                   help="rounds of --steps; each after the first trains on the tuned CNN's "
                        "cnn-x8-wiener result")
    p.add_argument("--out", help="JSON record")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    task = get_task(args.task)
    rows = []
    for path in list_images(args.images, limit=args.limit):
        x_true, _ = task.prepare(io.read_image(path))
        seed = image_seed(0, path.name)
        y = task.degrade(x_true, seed=seed).y
        t0 = time.perf_counter()
        row = {"image": path.name, **path_of(y, task.noise_std, x_true, args, seed)}
        row["cnn"] = row["curve"][0]
        row["wall_s"] = time.perf_counter() - t0
        rows.append(row)
        print(f"{path.name}: cnn {row['cnn']:.2f}  pilot {row['pilot']:.2f}  path "
              + " ".join(f"{v:.2f}" for v in row["curve"]) + f"  end x8 {row['x8_end']:.2f}"
              + f" x8-wiener {row['x8_wiener_end']:.2f}"
              + "  pilots " + " ".join(f"{v:.2f}" for v in row["round_pilots"]),
              flush=True)
    if args.out:
        record = {"experiment": "pilot_adaptation.py", "task": task.name, "options": vars(args),
                  "machine": machine_info(), "provenance": provenance(), "rows": rows}
        print(f"wrote {write_record(args.out, record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
