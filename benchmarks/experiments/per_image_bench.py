"""``pnp-internal bench`` one image per job: the images of a folder spread over single-thread
processes, each finished image appended to a checkpoint, one stamped record at the end.

The result is the record the bench command writes for the same task, folder, methods and
seed (each image keeps its seeded degradation: ``run_task(names=)``); only the wall time is
spread over ``--jobs`` cores. An interrupted run resumes from the checkpoint; a second run on
the same checkpoint with ``--reverse`` takes the images from the other end (a core freed later
joins in; each run reads the checkpoint before every image), and the run that finds nothing
left writes the whole record.

    python benchmarks/experiments/per_image_bench.py sr-x2-aniso \\
        --images ../shared/data/test/set14 --methods zssr-fast,zssr-fast-kernelgan \\
        --out benchmarks/results/blind_sr-x2-aniso_set14.json --jobs 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import torch

from pnp_internal.bench.runner import list_images, mean_rows, run_task, write_record


def _one(task: str, images: str, methods: list[str], name: str, seed: int) -> dict:
    torch.set_num_threads(1)
    return run_task(task, images, methods, names=[name], seed=seed, log=None)


def _read(checkpoint: Path) -> dict:
    """The finished images of the checkpoint, by name (the first entry of a name counts)."""
    done = {}
    if checkpoint.is_file():
        for line in checkpoint.read_text().splitlines():
            part = json.loads(line)
            done.setdefault(part["name"], part)
    return done


def merge(parts: list[dict]) -> dict:
    """One record from per-image records of the same task, methods and seed."""
    first = parts[0]
    settings = json.loads(json.dumps(first["settings"], default=str))
    for part in parts[1:]:
        settings["kernels"].update(part["settings"]["kernels"])
        settings["notes"] += part["settings"]["notes"]
        for method, read in part["settings"]["recipes"].items():
            settings["recipes"].setdefault(method, {}).update(read)
    settings["n_images"] = len(parts)
    settings["images_per_job"] = 1
    # each job stamps the tree when it starts: keep every image's stamp
    settings["provenance_per_image"] = {p["name"]: p["settings"]["provenance"] for p in parts}
    rows = [r for p in parts for r in p["rows"]]
    rows.sort(key=lambda r: (r["image"], r["method"]))
    out = {"task": first["task"], "settings": settings, "rows": rows, "mean": mean_rows(rows)}
    errors = [e for p in parts for e in p.get("errors", [])]
    if errors:
        out["errors"] = errors
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True)
    p.add_argument("--methods", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--reverse", action="store_true", help="take the images from the last")
    args = p.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    names = [f.name for f in list_images(args.images)]
    checkpoint = Path(args.out).with_suffix(".checkpoint.jsonl")
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    order = names[::-1] if args.reverse else names
    running = {}
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        while True:
            done = _read(checkpoint)  # another run on the same checkpoint may have done some
            free = [n for n in order if n not in done and n not in running.values()]
            while free and len(running) < args.jobs:
                name = free.pop(0)
                running[pool.submit(_one, args.task, args.images, methods, name, args.seed)] = name
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                part = future.result() | {"name": name}
                with checkpoint.open("a") as f:
                    f.write(json.dumps(part, default=str) + "\n")
                for r in part["rows"]:
                    print(f"{r['image']} {r['method']}: {r['psnr']:.2f} dB, "
                          f"{r['seconds']:.1f} s", flush=True)
    done = _read(checkpoint)
    missing = [n for n in names if n not in done]
    if missing:
        print(f"{len(missing)} image(s) not in {checkpoint} yet (another run has them); run "
              "again when it ends to write the record")
        return 0
    record = merge([done[n] for n in names])
    print(f"wrote {write_record(args.out, record)}")
    return 1 if record.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
