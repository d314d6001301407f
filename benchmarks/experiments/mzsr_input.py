"""MZSR's network input: how close the back-projected interpolation gets, and at what cost.

For each task and image (the task's seeded degradation, as ``pnp-internal bench``), the
cubic interpolation of ``y`` back-projected onto ``y`` n times, plainly or with FISTA's momentum
(:func:`pnp_internal.meta.mzsr.network_input`); PSNR on Y with border = scale, and the
seconds of the largest image. No network: this is the input a start is trained on. Prints a
markdown table and writes the per-image numbers, the machine and the commit to ``--out``.

Run: ``python benchmarks/experiments/mzsr_input.py sr-x2-gauss2.0-direct sr-x2-gauss1.3-direct
sr-x2-gauss0.2-direct sr-x2 --images ../shared/data/test/set5 --out
benchmarks/results/mzsr-input_set5.json``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from pnp_internal.bench.runner import list_images, machine_info, provenance
from pnp_internal.bench.tasks import get_task, image_seed
from pnp_internal.io import read_image
from pnp_internal.meta.mzsr import network_input
from pnp_internal.metrics import psnr
from pnp_internal.solvers.zssr_data import Resampler

#: (label, back-projection steps, momentum)
INPUTS = (("interpolation", 0, False), ("plain 10", 10, False), ("plain 50", 50, False),
          ("plain 300", 300, False), ("momentum 10", 10, True), ("momentum 30", 30, True),
          ("momentum 50", 50, True))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tasks", nargs="+")
    p.add_argument("--images", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    record = {"machine": machine_info(), "provenance": provenance(), "tasks": {}}
    print("| task | " + " | ".join(label for label, _, _ in INPUTS) + " |")
    print("|---|" + "---:|" * len(INPUTS))
    for name in args.tasks:
        task = get_task(name)
        rows = []
        for path in list_images(args.images):
            x, _ = task.prepare(read_image(path))
            deg = task.degrade(x, seed=image_seed(0, path.name))
            rs = Resampler(deg.operator, tuple(x.shape[1:]))
            row = {"image": path.name}
            for label, steps, momentum in INPUTS:
                t0 = time.perf_counter()
                u = network_input(deg.y, rs, x.shape[-2:], steps, momentum=momentum)
                row[label] = {"psnr": float(psnr(u.clamp(0, 1), x, **task.score_options)),
                              "seconds": time.perf_counter() - t0}
            row["pixels"] = x.numel()
            rows.append(row)
        largest = max(rows, key=lambda r: r["pixels"])
        seconds = {label: largest[label]["seconds"] for label, _, _ in INPUTS}
        mean = {label: statistics.mean(r[label]["psnr"] for r in rows) for label, _, _ in INPUTS}
        record["tasks"][name] = {"rows": rows, "mean_psnr": mean, "largest_image_seconds": seconds}
        print(f"| {name} | " + " | ".join(f"{mean[label]:.2f} ({seconds[label]:.2f} s)"
                                           for label, _, _ in INPUTS) + " |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(record, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
