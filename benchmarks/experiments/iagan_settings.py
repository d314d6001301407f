"""IAGAN's settings on 64x64 crops: the generator's stages adapted, the learning rate of
their weights and the codes averaged, against CSGM and the best iterate of the path (oracle,
for reference only).

    python benchmarks/experiments/iagan_settings.py --images ../shared/data/test/set12 \\
        --tasks cs-10,cs-25 --limit 4 --variants 3:1e-4:1:0:0,3:1e-4:1:1e-2:1 --out FILE.json

A variant is ``stages:lr:ensemble:tv_weight:refit`` (``refit`` 0 or 1), optionally followed by
``:red_weight:red_sigma`` (the RED term, ``IAGAN(red_weight=, red_sigma=)``; sigma in 0-255)
and then ``:max_iter`` (the cap of the joint steps; default the recipe's). A variant with ``=``
is a list of ``IAGAN`` options that replace the recipe's, such as ``patience=400:red_sigma=0.04``
(values on the library's scales; ``red_sigma_final=none`` for a constant RED sigma).
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
from pnp_internal.catalog.pnp import shipped_cnn
from pnp_internal.generative import CSGM, IAGAN, pretrained
from pnp_internal.io import read_image
from pnp_internal.operators.base import solve_AAt


def variant_options(text: str) -> dict:
    """The ``IAGAN`` options of a variant: the recipe's, with those the variant names."""
    opts = recipes.IAGAN.options()
    fields = text.split(":")
    if "=" in text:
        for field in fields:
            key, _, value = field.partition("=")
            if key not in opts:
                raise ValueError(f"{key!r} is not an option of the IAGAN recipe: {sorted(opts)}")
            if value.lower() == "none" or opts[key] is None:  # an option that may be None
                opts[key] = None if value.lower() == "none" else float(value)
                continue
            kind = type(opts[key])
            opts[key] = bool(int(value)) if kind is bool else kind(value)
        return opts
    if len(fields) not in (5, 7, 8):
        raise ValueError("a variant is stages:lr:ensemble:tv_weight:refit[:red_weight:"
                         "red_sigma[:max_iter]] or key=value[:key=value...]")
    opts.update(stages=int(fields[0]), lr=float(fields[1]), ensemble=int(fields[2]),
                tv_weight=float(fields[3]), refit=bool(int(fields[4])))
    if len(fields) >= 7:
        opts.update(red_weight=float(fields[5]), red_sigma=float(fields[6]) / 255)
    if len(fields) == 8:
        opts.update(max_iter=int(fields[7]))
    return opts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", required=True)
    p.add_argument("--tasks", default="cs-10,cs-25")
    p.add_argument("--limit", type=int, default=4)
    p.add_argument("--last", type=int, default=None,
                   help="the last N images instead of the first --limit")
    p.add_argument("--variants", default="3:1e-4:1:0:0,3:1e-4:1:1e-2:0,3:1e-4:1:1e-2:1",
                   help="comma-separated variants (see above)")
    p.add_argument("--histories", action="store_true",
                   help="keep the first code's hold-out loss and PSNR at every step")
    p.add_argument("--generator", default=None, help="weights (default: the shipped ones)")
    p.add_argument("--red-one-call", action="store_true",
                   help="the RED term's denoiser: the one-call CNN weights (ONE_CALL_WEIGHTS) "
                        "instead of the priors'")
    p.add_argument("--out", required=True)
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    g = pretrained(path=args.generator)
    try:
        variants = {v: variant_options(v) for v in args.variants.split(",")}
    except ValueError as e:
        p.error(str(e))
    rows = []
    for task_name in args.tasks.split(","):
        task = get_task(task_name)
        for f in list_images(args.images, last=args.last,
                             limit=args.limit if args.last is None else None):
            x, _ = task.prepare(center_crop(read_image(f), 64))
            d = task.degrade(x, seed=image_seed(0, f.name))
            csgm = CSGM(g, **recipes.CSGM.options())
            t0 = time.perf_counter()
            z_res = csgm.solve(d.y, d.operator)
            row = {"task": task_name, "image": f.name, "csgm": metrics.psnr(z_res.x, x).item(),
                   "csgm_seconds": time.perf_counter() - t0}
            for variant, opts in variants.items():
                if args.red_one_call:
                    opts = {**opts, "red_denoiser": shipped_cnn(x.shape[1], one_call=True).eval()}
                solver = IAGAN(g, csgm=csgm, **opts)
                t0 = time.perf_counter()
                res = solver.solve(d.y, d.operator, x_true=x)
                seconds = time.perf_counter() - t0
                with torch.no_grad():
                    bp = res.x + d.operator.A_adjoint(solve_AAt(
                        d.operator, d.y - d.operator.A(res.x), task.noise_std))
                row[variant] = {
                    "iagan": metrics.psnr(res.x, x).item(),
                    "bp": metrics.psnr(bp.clamp(0, 1), x).item(), "seconds": seconds,
                    "oracle_first_code": max(res.history["psnr"]), "message": res.message,
                    "steps": res.n_iter}
                if args.histories:
                    row[variant].update(  # curves: left out of the records' citations
                        holdout_curve=[round(v, 5) for v in res.history["residual"]],
                        psnr_curve=[round(v, 3) for v in res.history["psnr"]])
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
