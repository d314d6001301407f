"""IAGAN's settings on 64x64 crops: the generator's stages adapted, the learning rate of
their weights and the codes averaged, against CSGM and the best iterate of the path (oracle,
for reference only).

    python benchmarks/experiments/iagan_settings.py --images ../shared/data/test/set12 \\
        --tasks cs-10,cs-25 --limit 4 --variants 3:1e-4:1:0:0,3:1e-4:1:1e-2:1 --out FILE.json

A variant is ``stages:lr:ensemble:tv_weight:refit`` (``refit`` 0 or 1), optionally followed by
``:red_weight:red_sigma`` (the RED term, ``IAGAN(red_weight=, red_sigma=)``; sigma in 0-255)
and then ``:max_iter`` (the cap of the joint steps; default the recipe's).
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
from pnp_internal.operators.base import solve_AAt


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", required=True)
    p.add_argument("--tasks", default="cs-10,cs-25")
    p.add_argument("--limit", type=int, default=4)
    p.add_argument("--variants", default="3:1e-4:1:0:0,3:1e-4:1:1e-2:0,3:1e-4:1:1e-2:1",
                   help="comma-separated stages:lr:ensemble:tv_weight:refit")
    p.add_argument("--generator", default=None, help="weights (default: the shipped ones)")
    p.add_argument("--out", required=True)
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    g = pretrained(path=args.generator)
    variants = [v.split(":") for v in args.variants.split(",")]
    if any(len(v) not in (5, 7, 8) for v in variants):
        p.error("a variant is stages:lr:ensemble:tv_weight:refit[:red_weight:red_sigma"
                "[:max_iter]]")
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
            for variant in variants:
                opts = {**recipes.IAGAN.options(), "stages": int(variant[0]),
                        "lr": float(variant[1]), "ensemble": int(variant[2]),
                        "tv_weight": float(variant[3]), "refit": bool(int(variant[4]))}
                if len(variant) >= 7:
                    opts.update(red_weight=float(variant[5]), red_sigma=float(variant[6]) / 255)
                if len(variant) == 8:
                    opts.update(max_iter=int(variant[7]))
                solver = IAGAN(g, csgm=csgm, **opts)
                t0 = time.perf_counter()
                res = solver.solve(d.y, d.operator, x_true=x)
                seconds = time.perf_counter() - t0
                with torch.no_grad():
                    bp = res.x + d.operator.A_adjoint(solve_AAt(
                        d.operator, d.y - d.operator.A(res.x), task.noise_std))
                row[":".join(variant)] = {
                    "iagan": metrics.psnr(res.x, x).item(),
                    "bp": metrics.psnr(bp.clamp(0, 1), x).item(), "seconds": seconds,
                    "oracle_first_code": max(res.history["psnr"]), "message": res.message,
                    "steps": res.n_iter}
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
