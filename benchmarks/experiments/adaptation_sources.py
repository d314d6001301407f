"""Which clean-looking source an image-adapted prior should learn from, outside the training
distribution (deblurring and SR).

IDBP-CNN-IA fine-tunes the denoiser on pairs ``(s + sigma n, s)`` cut from a source ``s``
built from the measurement. Sources compared, each inside the recipe book's HQS / IDBP:

- ``rule``: the library's rule for the operator kind (deblurring: a short HQS run with the
  shipped CNN; SR: the low-resolution image itself);
- ``down-F``: the measurement itself downscaled by ``F`` (the blur shrinks by ``F`` too: a
  coarser but sharper copy of the image, the SR rule of Tirer & Giryes carried over to
  deblurring: internal cross-scale recurrence);
- ``estimate``: the plain CNN's restored image (two passes).

Usage::

    python benchmarks/experiments/adaptation_sources.py --task deblur-gauss1.6 \\
        --images test/manga109 --crop 256 --limit 8 --out build/ood/sources.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import pnp_internal as pi
from pnp_internal import io, metrics, recipes
from pnp_internal.bench.runner import fresh_path, list_images, machine_info, provenance
from pnp_internal.bench.tasks import center_crop, default_data_root, get_task, image_seed
from pnp_internal.priors import ImageAdapted, pretrained


def downscale(y: torch.Tensor, factor: float) -> torch.Tensor:
    return F.interpolate(y, scale_factor=1 / factor, mode="bicubic", antialias=True,
                         align_corners=False).clamp(0, 1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="deblur-gauss1.6")
    p.add_argument("--images", required=True)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--limit", type=int, default=8)
    p.add_argument("--solver", default="hqs")
    p.add_argument("--sources", default="rule,down-2,down-3,estimate")
    p.add_argument("--steps", type=int, default=None, help="default: the recipe's")
    p.add_argument("--train", default="all")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    task = get_task(args.task)
    recipe = recipes.IMAGE_ADAPTED[task.kind].options()
    recipe.pop("adapt_every", None)
    if args.steps is not None:
        recipe["steps"] = args.steps
    if args.lr is not None:
        recipe["lr"] = args.lr
    recipe["train"] = args.train
    rows = []
    for f in list_images(default_data_root() / args.images, limit=args.limit):
        x, _ = task.prepare(center_crop(io.read_image(f), args.crop))
        seed = image_seed(0, f.name)
        d = task.degrade(x, seed=seed)
        plain = pi.solve(d.y, d.operator, method=f"cnn-{args.solver}", noise_std=task.noise_std,
                         seed=seed)
        row = {"image": f.name, f"cnn-{args.solver}": float(metrics.psnr(plain.x, x)[0])}
        for source in args.sources.split(","):
            if source == "rule":
                x_init = None
            elif source.startswith("down-"):
                x_init = downscale(d.y, float(source[5:]))
            elif source == "estimate":
                x_init = plain.x
            else:
                raise ValueError(f"unknown source {source!r}")
            prior = ImageAdapted(pretrained(f"drunet-lite-{'color' if x.shape[1] == 3 else 'gray'}"),
                                 x_init=x_init, seed=seed, **recipe)
            t0 = time.perf_counter()
            res = pi.solve(d.y, d.operator, prior=prior, solver=args.solver,
                           noise_std=task.noise_std, seed=seed)
            row[source] = float(metrics.psnr(res.x, x)[0])
            row[f"{source}_seconds"] = time.perf_counter() - t0
            row[f"{source}_steps"] = [r.steps for r in prior.reports]
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}),
              flush=True)
        rows.append(row)
    out = fresh_path(Path(args.out))
    out.write_text(json.dumps({"experiment": "adaptation_sources.py " + " ".join(sys.argv[1:]),
                               "machine": machine_info(), "provenance": provenance(),
                               "recipe": recipe, "rows": rows}, indent=1, default=str) + "\n")
    means = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]
             if k != "image" and not k.endswith(("_seconds", "_steps"))}
    print({k: round(v, 3) for k, v in means.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
