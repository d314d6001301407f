"""The plug-and-play CNN on compressed sensing started from TV-ADMM's image instead of from
``A^T y``: how far the shipped denoiser lifts a good start on 64x64 crops.

    python benchmarks/experiments/cs_pnp_from_tv.py --images ../shared/data/test/cbsd68 \\
        --tasks cs-10 --last 8 --out FILE.json

For each crop: ``tv-admm`` (the recipe), then IDBP with the shipped gray CNN from that image,
its ``delta`` falling from each ``--starts`` level to 2/255 over each ``--iters`` count.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from pnp_internal import metrics, solve
from pnp_internal.bench.runner import fresh_path, list_images, machine_info, provenance
from pnp_internal.bench.tasks import center_crop, get_task, image_seed
from pnp_internal.catalog.pnp import shipped_cnn
from pnp_internal.io import read_image
from pnp_internal.solvers import IDBP
from pnp_internal.solvers.schedules import IDBPDecay


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", required=True)
    p.add_argument("--tasks", default="cs-10")
    p.add_argument("--limit", type=int, default=8)
    p.add_argument("--last", type=int, default=None,
                   help="the last N images instead of the first --limit")
    p.add_argument("--starts", default="10,25", help="first delta levels (0-255), comma-separated")
    p.add_argument("--iters", default="30,100", help="iteration counts, comma-separated")
    p.add_argument("--out", required=True)
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cnn = shipped_cnn(1).eval()
    rows = []
    for task_name in args.tasks.split(","):
        task = get_task(task_name)
        for f in list_images(args.images, last=args.last,
                             limit=args.limit if args.last is None else None):
            x, _ = task.prepare(center_crop(read_image(f), 64))
            d = task.degrade(x, seed=image_seed(0, f.name))
            x_tv = solve(d.y, d.operator, "tv-admm").x
            row = {"task": task_name, "image": f.name, "tv-admm": metrics.psnr(x_tv, x).item()}
            for start in map(float, args.starts.split(",")):
                for n in map(int, args.iters.split(",")):
                    res = IDBP(cnn, max_iter=n, schedule=IDBPDecay(start / 255, 2 / 255)).solve(
                        d.y, d.operator, x0=x_tv)
                    row[f"idbp from tv, delta {start:g} to 2, {n} iterations"] = \
                        metrics.psnr(res.x.clamp(0, 1), x).item()
            print(json.dumps(row), flush=True)
            rows.append(row)
    out = fresh_path(Path(args.out))
    out.write_text(json.dumps({"experiment": "cs_pnp_from_tv.py", "argv": argv,
                               "machine": machine_info(), "provenance": provenance(),
                               "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
