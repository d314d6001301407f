"""The plug-and-play CNN on compressed sensing started from TV-ADMM's image instead of from
``A^T y``: how far the shipped denoiser lifts a good start on 64x64 crops.

    python benchmarks/experiments/cs_pnp_from_tv.py cs-10 --images ../shared/data/test/cbsd68 \\
        --last 16 --out FILE.json

For each crop: ``tv-admm`` (the recipe), then IDBP with the shipped gray CNN from that image,
its ``delta`` falling from each ``--starts`` level to 2/255 over each ``--iters`` count.
"""

from __future__ import annotations

import json

from pnp_internal import metrics, solve
from pnp_internal.bench.runner import machine_info, provenance
from pnp_internal.bench.tasks import get_task
from pnp_internal.catalog.pnp import shipped_cnn
from pnp_internal.solvers import IDBP
from pnp_internal.solvers.schedules import IDBPDecay

from _harness import degraded_images, experiment_parser, finish_record, parse_with_out


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument("--starts", default="10,25", help="first delta levels (0-255), comma-separated")
    p.add_argument("--iters", default="30,100", help="iteration counts, comma-separated")
    args, argv = parse_with_out(p, argv)
    task = get_task(args.task)
    cnn = shipped_cnn(1).eval()
    record = {"experiment": "cs_pnp_from_tv.py", "argv": argv, "machine": machine_info(),
              "provenance": provenance(), "rows": []}
    for _, name, _, x, d in degraded_images(task, [args.images], limit=args.limit, last=args.last,
                                       crop=64):
        x_tv = solve(d.y, d.operator, "tv-admm").x
        row = {"image": name, "tv-admm": metrics.psnr(x_tv, x).item()}
        for start in map(float, args.starts.split(",")):
            for n in map(int, args.iters.split(",")):
                res = IDBP(cnn, max_iter=n, schedule=IDBPDecay(start / 255, 2 / 255)).solve(
                    d.y, d.operator, x0=x_tv)
                row[f"idbp from tv, delta {start:g} to 2, {n} iterations"] = \
                    metrics.psnr(res.x.clamp(0, 1), x).item()
        print(json.dumps(row), flush=True)
        record["rows"].append(row)
    return finish_record(args.out, record)


if __name__ == "__main__":
    raise SystemExit(main())
