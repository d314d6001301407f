"""Does the hold-out of the image-adapted prior tell when adapting pays? Per image: the plain
CNN prior and the image-adapted one (the recipe ``IMAGE_ADAPTED[kind]``, ``min_gain`` 0) inside
the same solver, and the relative decrease of the fine-tuning's hold-out loss
(``FinetuneReport.holdout_gain``) that the rule ``ImageAdaptation.min_gain`` compares with its
threshold.
Colour bicubic SR runs on the luminance, as ``ia-idbp`` does (``catalog.pnp.luminance_sr``).
With ``--gaintuning`` the adapted prior is GainTuning inside the solver (``gt-*``,
``GAINTUNING_IN_SOLVER``), tuned every ``adapt_every`` iterations; the decrease recorded is
the largest of its tunings.

    python benchmarks/experiments/ia_holdout_gain.py deblur-gauss1.6 \\
        --images ../shared/data/train/urban100 --last 8 --crop 256 --out FILE.json

The images, degradations and seeds are those of ``pnp-internal bench``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pnp_internal as pi
from pnp_internal import metrics, recipes
from pnp_internal.bench.runner import fresh_path, list_images, machine_info, provenance
from pnp_internal.bench.tasks import center_crop, get_task, image_seed
from pnp_internal.catalog.pnp import luminance_sr, shipped_cnn
from pnp_internal.io import read_image
from pnp_internal.priors import GainTuning, ImageAdapted

from _harness import experiment_parser, parse_with_out


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument("--crop", type=int, default=None, help="centre crop (default: whole images)")
    p.add_argument("--solver", default="hqs", choices=["hqs", "idbp"])
    p.add_argument("--gaintuning", action="store_true",
                   help="GainTuning inside the solver (GAINTUNING_IN_SOLVER, min_gain 0) instead "
                        "of the image-adapted prior; the decrease is the largest of its tunings")
    args, argv = parse_with_out(p, argv)
    task = get_task(args.task)
    recipe = dataclasses.replace(recipes.GAINTUNING_IN_SOLVER if args.gaintuning
                                 else recipes.IMAGE_ADAPTED[task.kind], min_gain=0.0)
    adapted_prior = GainTuning if args.gaintuning else ImageAdapted
    rows = []
    for f in list_images(args.images, limit=args.limit, last=args.last):
        image = read_image(f)
        x, _ = task.prepare(center_crop(image, args.crop) if args.crop else image)
        seed = image_seed(0, f.name)
        d = task.degrade(x, seed=seed)
        y, operator, to_rgb = d.y, d.operator, (lambda v: v)
        split = luminance_sr(d.y, d.operator, task.scale) if task.kind == "sr" else None
        if split is not None:
            y, operator, to_rgb = split
        common = dict(solver=args.solver, noise_std=task.noise_std, seed=seed)
        channels = y.shape[1]
        plain = to_rgb(pi.solve(y, operator, prior=shipped_cnn(channels), **common).x)
        prior = adapted_prior(shipped_cnn(channels), seed=seed, **recipe.options())
        t0 = time.perf_counter()
        adapted = to_rgb(pi.solve(y, operator, prior=prior, **common).x)
        decreases = [r.holdout_gain for r in prior.reports if r.holdout]
        score = task.score_options
        row = {"image": f.name, "plain": metrics.psnr(plain.clamp(0, 1), x, **score).item(),
               "adapted": metrics.psnr(adapted.clamp(0, 1), x, **score).item(),
               "holdout_decrease": max(decreases, default=0.0),
               "holdout_decreases": decreases, "best_step": prior.reports[0].best_step,
               "adapted_seconds": time.perf_counter() - t0}
        print(json.dumps(row), flush=True)
        rows.append(row)
    out = fresh_path(Path(args.out))
    out.write_text(json.dumps({"experiment": "ia_holdout_gain.py", "argv": argv,
                               "recipe": recipe.options(), "machine": machine_info(),
                               "provenance": provenance(), "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
