"""The validation history of training runs, read from their checkpoints, as one record.

``pnp-internal train-meta`` (and the other training commands) keep every validation in the
checkpoint's ``history``; this writes them, with each run's label, steps and seconds, the
machine and the commit, to ``--out`` (JSON), so that notes can cite a run's curve by record id.

Run: ``python benchmarks/experiments/training_history.py LABEL=CHECKPOINT... --out FILE``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from pnp_internal.bench.runner import fresh_path, machine_info, provenance


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="LABEL=CHECKPOINT")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    runs = {}
    for item in args.runs:
        label, path = item.split("=", 1)
        ck = torch.load(path, map_location="cpu", weights_only=False)
        runs[label] = {"checkpoint": Path(path).name, "step": ck["step"],
                       "seconds": ck.get("seconds"), "history": ck["history"]}
        for row in ck["history"]:
            print(label, *row)
    out = fresh_path(args.out)
    out.write_text(json.dumps({"runs": runs, "machine": machine_info(),
                               "provenance": provenance()}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
