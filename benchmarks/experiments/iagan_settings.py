"""IAGAN's settings on 64x64 crops: the learning rate of the generator's weights and the
hold-out stop, against CSGM and the best iterate of the path (oracle, for reference only).

    python benchmarks/experiments/iagan_settings.py --images ../shared/data/test/set12 \\
        --tasks cs-10,cs-25,inpaint-50 --limit 4 --lrs 1e-4,1e-3 --out FILE.json
"""

from __future__ import annotations

import argparse
import json
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
    p.add_argument("--tasks", default="cs-10,cs-25,inpaint-50")
    p.add_argument("--limit", type=int, default=4)
    p.add_argument("--lrs", default="1e-4,1e-3")
    p.add_argument("--generator", default=None, help="weights (default: the shipped ones)")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    g = pretrained(path=args.generator)
    rows = []
    for task_name in args.tasks.split(","):
        task = get_task(task_name)
        for f in list_images(args.images, limit=args.limit):
            x, _ = task.prepare(center_crop(read_image(f), 64))
            d = task.degrade(x, seed=image_seed(0, f.name))
            csgm = CSGM(g, **recipes.CSGM.options())
            t0 = time.perf_counter()
            z_res = csgm.solve(d.y, d.operator)
            row = {"task": task_name, "image": f.name, "csgm": metrics.psnr(z_res.x, x).item(),
                   "csgm_seconds": time.perf_counter() - t0}
            for lr in (float(v) for v in args.lrs.split(",")):
                opts = {**recipes.IAGAN.options(), "lr": lr}
                solver = IAGAN(g, csgm=csgm, back_projection=True, noise_std=task.noise_std,
                               **opts)
                t0 = time.perf_counter()
                res = solver.solve(d.y, d.operator, x_true=x)
                row[f"lr{lr:g}"] = {
                    "bp": metrics.psnr(res.x, x).item(), "seconds": time.perf_counter() - t0,
                    "oracle": max(res.history["psnr"]), "message": res.message,
                    "steps": res.n_iter}
                solver.back_projection = False
                row[f"lr{lr:g}"]["iagan"] = metrics.psnr(solver.solve(d.y, d.operator).x,
                                                         x).item()
            print(json.dumps(row), flush=True)
            rows.append(row)
    out = fresh_path(Path(args.out))
    out.write_text(json.dumps({"experiment": "iagan_settings.py", "argv": argv,
                               "machine": machine_info(), "provenance": provenance(),
                               "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
