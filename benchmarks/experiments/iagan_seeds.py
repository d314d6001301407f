"""IAGAN run from several seeds (CSGM's starting codes and the hold-out draw) on 64x64 crops:
the PSNR of each run and of the mean of the first k runs' images.

    python benchmarks/experiments/iagan_seeds.py --images ../shared/data/test/cbsd68 \\
        --tasks cs-10 --limit 8 --runs 3 --out FILE.json

The first run has the bench's seed (the image's degradation seed), so it is the bench's
``iagan`` row; the others add 1, 2, ... to it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from pnp_internal import metrics, recipes
from pnp_internal.bench.runner import fresh_path, list_images, machine_info, provenance
from pnp_internal.bench.tasks import center_crop, get_task, image_seed
from pnp_internal.generative import CSGM, IAGAN, pretrained
from pnp_internal.io import read_image


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", required=True)
    p.add_argument("--tasks", default="cs-10")
    p.add_argument("--limit", type=int, default=8)
    p.add_argument("--last", type=int, default=None,
                   help="the last N images instead of the first --limit")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", required=True)
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    g = pretrained()
    rows = []
    for task_name in args.tasks.split(","):
        task = get_task(task_name)
        for f in list_images(args.images, last=args.last,
                             limit=args.limit if args.last is None else None):
            x, _ = task.prepare(center_crop(read_image(f), 64))
            seed = image_seed(0, f.name)
            d = task.degrade(x, seed=seed)
            row = {"task": task_name, "image": f.name, "runs": []}
            images = []
            for k in range(args.runs):
                t0 = time.perf_counter()
                solver = IAGAN(g, csgm=CSGM(g, **recipes.CSGM.options(), seed=seed + k),
                               seed=seed + k, **recipes.IAGAN.options())
                res = solver.solve(d.y, d.operator)
                images.append(res.x)
                row["runs"].append({"seed": seed + k, "psnr": metrics.psnr(res.x, x).item(),
                                    "seconds": time.perf_counter() - t0,
                                    "message": res.message})
            row["mean_of_first"] = [metrics.psnr(torch.stack(images[:k]).mean(0), x).item()
                                    for k in range(1, args.runs + 1)]
            print(json.dumps(row), flush=True)
            rows.append(row)
    out = fresh_path(Path(args.out))
    out.write_text(json.dumps({"experiment": "iagan_seeds.py", "argv": argv,
                               "machine": machine_info(), "provenance": provenance(),
                               "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
