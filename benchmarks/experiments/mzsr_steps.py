"""MZSR: PSNR against the number of adaptation steps, from the shipped start.

For each image of the folder, the task's seeded degradation (as ``pnp-internal bench``), then
:class:`pnp_internal.meta.MZSR` with the recipe's settings and 0, 1, 2, 5, 10, 20 and 100
steps (0: the start without adaptation); PSNR on Y with border = scale, and seconds per image
(adaptation and inference). ``--start`` compares another start file (for example the
pre-trained one, before the meta steps). With the shipped start at the recipe's steps, ZSSR's
test-time additions are measured one by one: neither, 10 back-projection steps, the geometric
self-ensemble, both. Prints a markdown table, writes the per-image numbers,
the machine and the commit to ``--out`` (JSON) and the curve to ``--plot`` (PNG).

Run: ``python benchmarks/experiments/mzsr_steps.py sr-x2-gauss2.0-direct --images
../shared/data/test/set5 --threads 2``
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch

from _harness import experiment_parser
from pnp_internal import recipes
from pnp_internal.bench.runner import list_images, machine_info, provenance
from pnp_internal.bench.tasks import get_task, image_seed
from pnp_internal.io import read_image
from pnp_internal.meta import MZSR
from pnp_internal.metrics import psnr

ROOT = Path(__file__).resolve().parents[2]
STEPS = (0, 1, 2, 5, 10, 20, 100)
VARIANTS = {"neither": {"ensemble": False, "back_projection": 0},
            "back-projection": {"ensemble": False, "back_projection": 10},
            "ensemble": {"ensemble": True, "back_projection": 0},
            "both": {"ensemble": True, "back_projection": 10}}


def run(task_name, images, starts, *, limit=None, last=None, seed=0) -> dict:
    task = get_task(task_name)
    rows = []
    for path in list_images(images, limit=limit, last=last):
        x, _ = task.prepare(read_image(path))
        deg = task.degrade(x, seed=image_seed(seed, path.name))
        recipe = {k: v for k, v in recipes.MZSR.options().items() if k != "steps"}
        runs = [(label, start, n, "recipe", recipe) for label, start in starts.items()
                for n in STEPS]
        runs += [("shipped", starts["shipped"], recipes.MZSR.steps, name, options)
                 for name, options in VARIANTS.items()]
        for label, start, n, variant, options in runs:
            t0 = time.perf_counter()
            out = MZSR(steps=n, weights=start, seed=seed,
                       **{**recipe, **options}).solve(deg.y, deg.operator).x
            sec = time.perf_counter() - t0
            rows.append({"image": path.name, "start": label, "steps": n, "variant": variant,
                         "psnr": float(psnr(out, x, **task.score_options)), "seconds": sec})
            print(f"{path.name} {label} {variant} {n:3d} steps: {rows[-1]['psnr']:.2f} dB, "
                  f"{sec:.1f} s", flush=True)
    return {"task": task_name, "images": str(images), "steps": list(STEPS), "rows": rows}


def _mean(rows, **match) -> dict:
    rows = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return {k: statistics.fmean(r[k] for r in rows) for k in ("psnr", "seconds")}


def summary(result) -> dict:
    rows = result["rows"]
    return {label: {n: _mean(rows, start=label, steps=n, variant="recipe") for n in STEPS}
            for label in dict.fromkeys(r["start"] for r in rows)}


def variants(result) -> dict:
    return {name: _mean(result["rows"], start="shipped", variant=name) for name in VARIANTS}


def plot(result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, cells in result["summary"].items():
        xs = [n for n in STEPS if n > 0]
        ax.plot(xs, [cells[n]["psnr"] for n in xs], "-o", label=f"{label} start")
        ax.axhline(cells[0]["psnr"], ls=":", lw=0.8, color=ax.lines[-1].get_color())
    ax.set_xscale("log")
    ax.set_xlabel("adaptation steps (dotted: no adaptation)")
    ax.set_ylabel("PSNR on Y (dB)")
    ax.set_title(f"MZSR on {Path(result['images']).name}, {result['task']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument("--start", action="append", default=[],
                   help="LABEL=PATH of another start to compare (repeatable)")
    p.add_argument("--plot", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    starts = {"shipped": None}  # MZSR's own choice for each operator (meta.shipped_start)
    starts.update(dict(s.split("=", 1) for s in args.start))
    stem = f"mzsr-steps_{args.task}_{Path(args.images).name}"
    out = Path(args.out) if args.out else ROOT / "benchmarks/results" / f"{stem}.json"
    plot_path = args.plot or out.with_suffix(".png")
    t0 = time.perf_counter()
    result = run(args.task, args.images, starts, limit=args.limit, last=args.last)
    result["summary"] = summary(result)
    result["variants"] = variants(result)
    result["seconds"] = time.perf_counter() - t0
    result["threads"] = args.threads
    result["machine"] = machine_info()
    result["provenance"] = provenance()
    print("\n| start | " + " | ".join(f"{n} steps" for n in STEPS) + " |")
    print("|---|" + "---:|" * len(STEPS))
    for label, cells in result["summary"].items():
        print(f"| {label} | " + " | ".join(f"{cells[n]['psnr']:.2f} ({cells[n]['seconds']:.1f} s)"
                                          for n in STEPS) + " |")
    ten = result["summary"]["shipped"][recipes.MZSR.steps]
    print(f"\n| shipped start, {recipes.MZSR.steps} steps | PSNR | seconds |\n|---|---:|---:|")
    print(f"| the recipe | {ten['psnr']:.2f} | {ten['seconds']:.1f} |")
    for name, cell in result["variants"].items():
        print(f"| {name} | {cell['psnr']:.2f} | {cell['seconds']:.1f} |")
    out.write_text(json.dumps(result, indent=1))
    plot(result, plot_path)
    print(f"\nwrote {out} and {plot_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
