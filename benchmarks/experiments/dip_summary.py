"""Summarise ``dip_experiments.py`` outputs (one JSON line per run) as a markdown table.

For each run (every JSON line of every file): image, task (with ``/sure`` for the SURE loss),
device (``-fp32`` without bf16), seed, budget, the ES-WMV pick (iteration: PSNR), the best
PSNR along the run (the oracle, scored every ``--score-every`` iterations), the gap between
them and the process CPU seconds; then the mean per task.

Example
-------
    python benchmarks/experiments/dip_summary.py benchmarks/results/dip_runs.jsonl
"""

from __future__ import annotations

import json
from collections import defaultdict


def load(paths):
    runs = []
    for path in paths:
        with open(path) as f:
            runs += [json.loads(line) for line in f if line.startswith('{"image"')]
    return runs


def table(runs) -> str:
    out = ["| image | task | device | seed | budget | ES-WMV pick (iter: dB) | best (iter: dB) "
           "| gap dB | CPU s |", "|---|---|---|---:|---:|---|---|---:|---:|"]
    per_task = defaultdict(list)
    for r in sorted(runs, key=lambda r: (r["task"], r["image"], r["cfg"]["seed"])):
        cfg = r["cfg"]
        gap = r["psnr_oracle"] - r["psnr_stop"]
        device = r.get("device", "cpu") + ("-fp32" if cfg.get("fp32") else "")
        task = r["task"] + ("/sure" if cfg.get("loss") == "sure" else "")
        out.append(f"| {r['image']} | {task} | {device} | {cfg['seed']} | "
                   f"{cfg['max_iter']} | {r['stop_iter']}: {r['psnr_stop']:.2f} | "
                   f"{r['oracle_iter']}: {r['psnr_oracle']:.2f} | {gap:.2f} | {r['cpu_s']:.0f} |")
        per_task[(task, device)].append(r)
    out.append("")
    for (task, device), rs in sorted(per_task.items()):
        n = len(rs)
        out.append(f"- {task} ({device}, {n} runs): ES-WMV mean "
                   f"{sum(r['psnr_stop'] for r in rs) / n:.2f} dB, oracle mean "
                   f"{sum(r['psnr_oracle'] for r in rs) / n:.2f} dB, CPU s mean "
                   f"{sum(r['cpu_s'] for r in rs) / n:.0f}")
    return "\n".join(out)


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--budget", type=int, help="keep only runs with this --max-iter")
    p.add_argument("--loss", choices=["mse", "sure"], help="keep only runs with this loss")
    p.add_argument("--seed", type=int, help="keep only runs with this seed")
    args = p.parse_args(argv)
    runs = load(args.files)
    if args.budget:
        runs = [r for r in runs if r["cfg"]["max_iter"] == args.budget]
    if args.loss:
        runs = [r for r in runs if r["cfg"].get("loss", "mse") == args.loss]
    if args.seed is not None:
        runs = [r for r in runs if r["cfg"]["seed"] == args.seed]
    print(table(runs))


if __name__ == "__main__":
    main()
