"""What image adaptation costs and buys: PSNR gain per second of fine-tuning.

Runs ``cnn-idbp`` and ``ia-idbp-timed`` (``ia-idbp``: IDBP with
:class:`~pnp_internal.priors.ImageAdapted` and the recipe
:data:`pnp_internal.recipes.IMAGE_ADAPTED`, its priors kept) through the benchmark harness,
image by image. With ``--out`` it writes and prints for each image the size of the observation
the denoiser is tuned from, the gain of ``ia-idbp`` over ``cnn-idbp``, the wall and CPU seconds
of the fine-tuning loop alone (``ImageAdapted.reports``) and the gain per second of
fine-tuning.

Example
-------
    python benchmarks/experiments/ia_cost.py sr-x2 --images ../shared/data/test/set5 \
        --threads 2 --out ia_cost.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pnp_internal import recipes
from pnp_internal.bench.registry import register
from pnp_internal.catalog.pnp import shipped_cnn

from _harness import experiment_parser, on_luma, run_methods, solve_with


def main(argv=None):
    p = experiment_parser(__doc__)
    p.add_argument("--crop", type=int, help="centre crop of the test images")
    args = p.parse_args(argv)
    priors, shapes = [], []

    def adapted_idbp(problem):
        from pnp_internal.priors import ImageAdapted

        opts = recipes.IMAGE_ADAPTED.get(problem.kind, recipes.IMAGE_ADAPTED["other"]).options()
        prior = ImageAdapted(shipped_cnn(problem.img_shape[0]), seed=problem.seed, **opts)
        priors.append(prior)
        shapes.append(tuple(problem.y.shape[-2:]))
        return solve_with(problem, prior, "idbp")

    register("ia-idbp-timed", kinds=("sr", "deblur", "inpaint", "cs"),
             description="ia-idbp, keeping its adaptation reports")(on_luma(adapted_idbp))

    out = Path(args.out) if args.out else None
    args.out = str(out.with_suffix(".bench.json")) if out else None
    crop = ["--crop", str(args.crop)] if args.crop else []
    rc = run_methods(args, "cnn-idbp,ia-idbp-timed", crop)
    if not out:
        return rc
    rows = json.loads(Path(args.out).read_text())["rows"]
    plain = {r["image"]: r["psnr"] for r in rows if r["method"] == "cnn-idbp"}
    adapted = [r for r in rows if r["method"] == "ia-idbp-timed"]
    table = []
    for row, prior, shape in zip(adapted, priors, shapes):
        rep = prior.reports[0]
        gain = row["psnr"] - plain[row["image"]]
        table.append(dict(image=row["image"], tuned_on=list(shape),
                          plain=plain[row["image"]], adapted=row["psnr"], gain=gain,
                          steps=rep.steps, kept_step=rep.best_step, seconds=rep.seconds,
                          cpu_seconds=rep.cpu_seconds, gain_per_second=gain / rep.seconds))
    out.write_text(json.dumps(table, indent=1) + "\n")
    print("\n| image | tuned on | cnn-idbp | ia-idbp | gain | fine-tuning s (CPU-s) | dB/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for t in table:
        print(f"| {t['image']} | {'x'.join(map(str, t['tuned_on']))} | {t['plain']:.2f} | "
              f"{t['adapted']:.2f} | {t['gain']:+.3f} | {t['seconds']:.1f} "
              f"({t['cpu_seconds']:.1f}) | {t['gain_per_second']:+.4f} |")
    n = len(table)
    if n:
        gain = sum(t["gain"] for t in table) / n
        sec = sum(t["seconds"] for t in table) / n
        print(f"| mean | | {sum(t['plain'] for t in table) / n:.2f} | "
              f"{sum(t['adapted'] for t in table) / n:.2f} | {gain:+.3f} | {sec:.1f} | "
              f"{gain / sec:+.4f} |")
    return rc


if __name__ == "__main__":
    sys.exit(main())
