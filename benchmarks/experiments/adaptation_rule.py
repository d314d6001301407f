"""How much to adapt: the stopping rule of :func:`pnp_internal.priors.finetune.finetune` replayed
on recorded adaptation paths (``adaptation_paths.py`` records).

A path holds, every ``every`` steps, the hold-out SURE (what the rule sees) and the PSNR of the
whole image (what it should predict). The rule is deterministic given the path, so replaying
it is exact: stop after ``patience`` checks without a relative hold-out decrease of
``min_decrease``, or at ``max_steps``; keep the checked weights with the lowest hold-out. For
each setting the script prints, per record, the mean PSNR gain over the CNN, the worst image,
and the mean number of steps.

Usage::

    python benchmarks/experiments/adaptation_rule.py --variant lora4 \\
        benchmarks/results/adaptation-paths_*.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path


def replay(holdout, psnr, *, patience: int, min_decrease: float, max_steps: int):
    """``(kept step, PSNR at it, steps run)`` of the rule on one recorded path."""
    psnr = dict(psnr)
    best_step, best = 0, math.inf
    last_step, last = 0, math.inf
    every = holdout[1][0] - holdout[0][0] if len(holdout) > 1 else 1
    ran = 0
    for step, value in holdout:
        if step > max_steps:
            break
        ran = step
        if value < best:
            best_step, best = step, value
        if step == 0 or value < last - min_decrease * abs(last):
            last_step, last = step, value
        elif step - last_step >= patience * every:
            break
    return best_step, psnr[best_step], ran


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("records", nargs="+")
    p.add_argument("--variant", default="lora4")
    p.add_argument("--patience", default="1,2,3")
    p.add_argument("--min-decrease", default="0,0.005,0.01,0.02")
    p.add_argument("--max-steps", default="100,200")
    args = p.parse_args(argv)
    data = {Path(r).stem: json.loads(Path(r).read_text()) for r in args.records}
    grid = itertools.product(map(int, args.patience.split(",")),
                             map(float, args.min_decrease.split(",")),
                             map(int, args.max_steps.split(",")))
    names = list(data)
    print("| patience | min_decrease | max steps | " + " | ".join(
        f"{n.removeprefix('adaptation-paths_')}: mean gain, worst, steps" for n in names) + " |")
    print("|---:|---:|---:|" + "---|" * len(names))
    for patience, min_decrease, max_steps in grid:
        cells = []
        for name in names:
            gains, steps = [], []
            for image in data[name]["images"].values():
                path = image["variants"].get(args.variant)
                if path is None:
                    continue
                _, value, ran = replay(path["holdout"], path["psnr_curve"], patience=patience,
                                       min_decrease=min_decrease, max_steps=max_steps)
                gains.append(value - image["cnn"])
                steps.append(ran)
            cells.append(f"{sum(gains) / len(gains):+.3f}, {min(gains):+.3f}, "
                         f"{sum(steps) / len(steps):.0f}" if gains else "-")
        print(f"| {patience} | {min_decrease} | {max_steps} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
