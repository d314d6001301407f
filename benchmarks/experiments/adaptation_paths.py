"""What to adapt, and for how long, on images unlike the training data.

For each image, ``y = x + sigma n`` (seeded as the bench does); the shipped CNN denoises it once;
then each variant of :class:`pnp_internal.priors.SUREFineTuned` (all weights, the last layers,
gains only = GainTuning, a low-rank update) is fitted to ``y`` by SURE for ``--steps`` steps
without early stopping. Every ``--every`` steps the run records the hold-out SURE (what a rule
may use: no ground truth) and the PSNR of the whole image (what the rule should predict). The
JSON record keeps both curves per image and variant, so stopping rules can be compared on it
without rerunning.

Usage::

    python benchmarks/experiments/adaptation_paths.py --images test/manga109 --limit 3 \\
        --sigma 25 --out benchmarks/results/adaptation-paths_manga109_s25.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from pnp_internal import io, metrics
from pnp_internal.bench.runner import fresh_path, list_images, machine_info, provenance
from pnp_internal.bench.tasks import center_crop, default_data_root, get_task, image_seed
from pnp_internal.priors import SUREFineTuned, pretrained

#: name -> options of SUREFineTuned
VARIANTS = {
    "gains": dict(train="gains", lr=2e-3),
    "all-1e-5": dict(train="all", lr=1e-5),
    "all-5e-5": dict(train="all", lr=5e-5),
    "last4": dict(train="last", last_k=4, lr=1e-4),
    "lora4": dict(train="lora", rank=4, lr=1e-3),
    "lora4-3e-3": dict(train="lora", rank=4, lr=3e-3),
    "lora4-recorrupt": dict(train="lora", rank=4, lr=1e-3, recorrupt=0.5),
    "lora4-3e-4-recorrupt": dict(train="lora", rank=4, lr=3e-4, recorrupt=0.5),
}


def run_image(x, sigma, seed, variants, steps, every, crop, probes=1, one_call=False):
    task = get_task(f"denoise-s{round(sigma)}")
    y = task.degrade(x, seed=seed).y
    if one_call:  # the start of the bench's cnn-sure
        from pnp_internal.catalog.pnp import shipped_cnn
        net = shipped_cnn(x.shape[1], one_call=True)
    else:
        net = pretrained(f"drunet-lite-{'color' if x.shape[1] == 3 else 'gray'}")
    s = sigma / 255
    with torch.no_grad():
        base = float(metrics.psnr(net(y, s).clamp(0, 1), x)[0])
    out = {"cnn": base, "variants": {}}
    for name in variants:
        prior = SUREFineTuned(net, steps=steps, batch_size=1, crop=crop, check_every=every,
                              patience=10**6, seed=seed, holdout_probes=probes,
                              **VARIANTS[name])
        curve = []

        def on_step(step, total, loss, prior=prior, curve=curve):
            if step % every == 0:
                model = prior.model
                model.eval()
                with torch.no_grad():
                    curve.append((step, float(metrics.psnr(model(y, s).clamp(0, 1), x)[0])))
                model.train()

        prior._on_step = on_step
        t0 = time.perf_counter()
        report = prior.fit(y, s)
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            kept = float(metrics.psnr(prior(y, s).clamp(0, 1), x)[0])
        out["variants"][name] = {"psnr_curve": [(0, base)] + curve, "holdout": report.holdout,
                                 "kept_step": report.best_step, "psnr_kept": kept,
                                 "seconds": seconds}
        print(f"  {name}: kept step {report.best_step} {kept:.2f} dB (cnn {base:.2f}); best "
              f"on the curve {max(p for _, p in curve):.2f}; {seconds:.0f} s; curve "
              + " ".join(f"{p:.2f}" for _, p in curve), flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", required=True, help="folder, relative to the data root")
    p.add_argument("--limit", type=int, default=3)
    p.add_argument("--crop", type=int, default=None, help="centre crop of each image")
    p.add_argument("--sigma", type=float, default=25)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--every", type=int, default=20)
    p.add_argument("--train-crop", type=int, default=192, help="SURE crop side per step")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--holdout-probes", type=int, default=1, help="SURE probes of the hold-out")
    p.add_argument("--one-call", action="store_true",
                   help="start from the one-call weights (cnn-sure's start), not the priors'")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    variants = args.variants.split(",")
    files = list_images(default_data_root() / args.images, limit=args.limit)
    images = {}
    for f in files:
        print(f.name, flush=True)
        x = center_crop(io.read_image(f), args.crop)
        images[f.name] = run_image(x, args.sigma, image_seed(args.seed, f.name), variants,
                                   args.steps, args.every, args.train_crop,
                                   args.holdout_probes, args.one_call)
    out = fresh_path(Path(args.out))
    out.write_text(json.dumps({"experiment": "adaptation_paths.py " + " ".join(sys.argv[1:]),
                               "machine": machine_info(), "provenance": provenance(),
                               "variants": {v: VARIANTS[v] for v in variants},
                               "images": images}, indent=1, default=str) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
