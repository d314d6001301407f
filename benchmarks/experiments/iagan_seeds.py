"""IAGAN run from several seeds (CSGM's starting codes and the hold-out draw) on 64x64 crops:
the PSNR of each run and of the mean of the first k runs' images.

    python benchmarks/experiments/iagan_seeds.py cs-10 --images ../shared/data/test/cbsd68 \\
        --limit 8 --runs 3 --out FILE.json

The first run has the bench's seed (the image's degradation seed), so it is the bench's
``iagan`` row; the others add 1, 2, ... to it.
"""

from __future__ import annotations

import json
import time

import torch

from pnp_internal import metrics, recipes
from pnp_internal.bench.runner import machine_info, provenance
from pnp_internal.bench.tasks import get_task
from pnp_internal.generative import CSGM, IAGAN, pretrained

from _harness import degraded_images, experiment_parser, finish_record, parse_with_out


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument("--runs", type=int, default=3)
    args, argv = parse_with_out(p, argv)
    task = get_task(args.task)
    g = pretrained()
    record = {"experiment": "iagan_seeds.py", "argv": argv, "machine": machine_info(),
              "provenance": provenance(), "rows": []}
    for _, name, seed, x, d in degraded_images(task, [args.images], limit=args.limit, last=args.last,
                                       crop=64):
        row, images = {"image": name}, []
        for k in range(args.runs):
            t0 = time.perf_counter()
            solver = IAGAN(g, csgm=CSGM(g, **recipes.CSGM.options(), seed=seed + k),
                           seed=seed + k, **recipes.IAGAN.options())
            images.append(solver.solve(d.y, d.operator).x)
            row[f"psnr_seed+{k}"] = metrics.psnr(images[-1], x).item()
            row[f"seconds_seed+{k}"] = time.perf_counter() - t0
        for k in range(2, args.runs + 1):
            row[f"psnr_mean_of_{k}"] = metrics.psnr(torch.stack(images[:k]).mean(0), x).item()
        print(json.dumps(row), flush=True)
        record["rows"].append(row)
    return finish_record(args.out, record)


if __name__ == "__main__":
    raise SystemExit(main())
