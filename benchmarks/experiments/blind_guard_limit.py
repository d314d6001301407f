"""The limit of the blind SR guard (``BLIND_SR_GUARD``), read from the records of
``blind_kernel_guard.py``: for each limit, the mean PSNR of ``cnn-hqs`` when each image keeps
its estimated kernel if the estimate's measurement residual is at most that many times the
bicubic kernel's, and takes the bicubic kernel otherwise::

    python benchmarks/experiments/blind_guard_limit.py \
        benchmarks/results/blind-guard_sr-x{2,4}-aniso_{urban100,color80}-holdout.json \
        --out benchmarks/results/blind-guard-limit.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from pnp_internal.bench.runner import machine_info, provenance, write_record

#: Limits compared (``inf``: no guard).
LIMITS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, math.inf)


def guarded_mean(rows: list[dict], limit: float) -> float:
    """Mean PSNR of the rows with the estimate kept up to ``limit``, the bicubic kernel above."""
    return statistics.mean(
        r["estimate psnr"] if r["estimate residual"] <= limit * r["bicubic residual"]
        else r["bicubic psnr"] for r in rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("records", nargs="+", type=Path)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    record = {"experiment": "blind_guard_limit.py", "machine": machine_info(),
              "provenance": provenance(), "sets": {}}
    for path in args.records:
        rows = json.loads(path.read_text())["rows"]
        entry = {"images": len(rows),
                 "estimate": statistics.mean(r["estimate psnr"] for r in rows),
                 "bicubic": statistics.mean(r["bicubic psnr"] for r in rows),
                 "true floor": statistics.mean(r["true floor psnr"] for r in rows),
                 "ratios": sorted(r["estimate residual"] / r["bicubic residual"] for r in rows),
                 "guarded": {f"{limit:g}": guarded_mean(rows, limit) for limit in LIMITS}}
        record["sets"][path.stem] = entry
        print(path.stem, json.dumps({k: round(v, 2) for k, v in entry["guarded"].items()}))
    print(f"wrote {write_record(args.out, record)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
