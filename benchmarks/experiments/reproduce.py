"""``make reproduce``: the survey's three first experiments with the published protocols, ours
beside the published number, with the spread over 3 seeds.

- DIP, Gaussian denoising sigma 25 with automatic early stopping (ES-WMV) and output
  averaging: the paper's F16 (the only one of its 9 colour images with a ground truth here).
- ZSSR, bicubic SR: Set5 x2 and x4, Set14 x4 (Y channel, border = scale).
- IDBP with the image-adapted CNN (IDBP-CNN-IA): Set5 x2 and x3 (Y, border = scale).

Each cell runs through ``pnp_internal.bench.runner.run_task`` (so through
:func:`pnp_internal.solve` with the recipe book) for seeds 0, 1, 2; a seed changes the
degradation noise and every random choice of the method. The (cell, seed, image) jobs run two
at a time, each with one core's share of torch threads (``--jobs``); every finished job is
appended to a checkpoint file with the commit that computed it, so an interrupted run
resumes where it stopped. The checkpoint of the full run lives beside the records
(``benchmarks/results/partial/``) and is committed with them, so that a run spread over
several machines' hours resumes from any clone; it is removed once the record is written.

Usage::

    python benchmarks/experiments/reproduce.py            # full protocols (hours on 2 cores)
    python benchmarks/experiments/reproduce.py --quick    # first image, small crops (9.3 min)

The table is printed and written to ``benchmarks/results/reproduce[-quick].json`` (never over an
earlier record).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import torch

from pnp_internal.bench.runner import fresh_path, list_images, machine_info, provenance, run_task
from pnp_internal.bench.tasks import default_data_root

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Cell:
    """One line of the table: ``method`` on ``task`` over ``images`` against a paper's number."""

    experiment: str
    task: str
    images: str
    method: str
    published: float
    source: str
    quick_crop: int

    @property
    def key(self) -> str:
        return f"{self.experiment}/{self.task}/{Path(self.images).name}/{self.method}"


CELLS = [
    Cell("DIP denoising", "denoise-s25", "test/dip/denoising", "dip-mse", 30.43,
         "Ulyanov et al. 2018, 9 colour images, with averaging", 128),
    Cell("ZSSR", "sr-x2", "test/set5", "zssr", 37.37, "Shocher et al. 2018", 96),
    Cell("ZSSR", "sr-x4", "test/set5", "zssr", 31.13, "Shocher et al. 2018", 96),
    Cell("ZSSR", "sr-x4", "test/set14", "zssr", 28.01, "Shocher et al. 2018", 96),
    # the paper's method: one adapted copy and the hold-out's pick (ia-idbp refits and averages two)
    Cell("IDBP-CNN-IA", "sr-x2", "test/set5", "ia-idbp-single", 37.35, "Tirer & Giryes 2019", 96),
    Cell("IDBP-CNN-IA", "sr-x3", "test/set5", "ia-idbp-single", 33.43, "Tirer & Giryes 2019", 96),
]


def _images(cell: Cell, data_root: Path, quick: bool) -> Path:
    """The image folder; the DIP cell keeps the images that have a ground truth (``*_GT``)."""
    folder = data_root / cell.images
    if cell.experiment != "DIP denoising":
        return folder
    truth = ROOT / "build" / "reproduce" / "dip-gt"
    truth.mkdir(parents=True, exist_ok=True)
    for f in folder.glob("*_GT.png"):
        target = truth / f.name
        if not target.exists():
            target.write_bytes(f.read_bytes())
    return truth


#: Methods by cost per image (IDBP-CNN-IA ~1 min, ZSSR 1.5-6 min, DIP on F16 the longest).
_CHEAP_FIRST = ("ia-idbp-single", "zssr", "dip-mse")


def _jobs(quick: bool, data_root: Path) -> list[tuple[Cell, int, str]]:
    """Every (cell, seed, image) of the table, cell by cell."""
    jobs = []
    for cell in CELLS:
        files = list_images(_images(cell, data_root, quick), limit=1 if quick else None)
        jobs += [(cell, seed, f.name) for seed in SEEDS for f in files]
    return jobs


def _start_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _run_one(cell: Cell, seed: int, image: str, quick: bool, data_root: Path) -> dict:
    """One image of one cell and seed, through the bench (so through the recipe book)."""
    result = run_task(cell.task, _images(cell, data_root, quick), [cell.method],
                      crop=cell.quick_crop if quick else None, names=[image], seed=seed,
                      data_root=data_root, log=None)
    if result.get("errors"):
        raise RuntimeError(f"{cell.key} seed {seed} {image}: {result['errors']}")
    (row,) = result["rows"]
    return {"cell": cell.key, "seed": seed, "image": image, "psnr": row["psnr"],
            "ssim": row["ssim"], "seconds": row["seconds"],
            "threads": torch.get_num_threads(), "commit": provenance()["commit"],
            "recipes": result["settings"]["recipes"].get(cell.method, {})}


def run(quick: bool, data_root: Path, checkpoint: Path, jobs: int = 2, threads: int | None = None,
        log=print) -> list[dict]:
    """Run the missing (cell, seed, image) jobs, ``jobs`` at a time with ``threads`` torch
    threads each (default: an equal share of the cores), appending each finished one to
    ``checkpoint``; return the table's rows."""
    done = {}
    if checkpoint.is_file():
        for line in checkpoint.read_text().splitlines():
            entry = json.loads(line)
            done[(entry["cell"], entry["seed"], entry["image"])] = entry
    todo = [j for j in _jobs(quick, data_root) if (j[0].key, j[1], j[2]) not in done]
    # the cheapest cells first, so that an interrupted run leaves whole cells behind
    todo.sort(key=lambda job: _CHEAP_FIRST.index(job[0].method))
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=(threads,)) as pool:
        futures = [pool.submit(_run_one, cell, seed, image, quick, data_root)
                   for cell, seed, image in todo]
        try:
            for future in as_completed(futures):
                entry = future.result()
                with checkpoint.open("a") as f:
                    f.write(json.dumps(entry, default=str) + "\n")
                done[(entry["cell"], entry["seed"], entry["image"])] = entry
                log(f"{entry['cell']} seed {entry['seed']} {entry['image']}: "
                    f"{entry['psnr']:.2f} dB, {entry['seconds']:.1f} s")
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    rows = []
    for cell in CELLS:
        entries = [e for e in done.values() if e["cell"] == cell.key]
        per_seed = [statistics.mean(e["psnr"] for e in entries if e["seed"] == seed)
                    for seed in SEEDS]
        rows.append({"experiment": cell.experiment, "task": cell.task,
                     "images": Path(cell.images).name, "method": cell.method,
                     "n_images": len(entries) // len(SEEDS),
                     "psnr_mean": statistics.mean(per_seed), "psnr_min": min(per_seed),
                     "psnr_max": max(per_seed), "psnr_per_seed": per_seed,
                     "seconds_per_image": statistics.mean(e["seconds"] for e in entries),
                     "threads_per_job": entries[0]["threads"],
                     "published": cell.published, "source": cell.source,
                     "recipes": entries[0]["recipes"],
                     "commits": sorted({e.get("commit") or "?" for e in entries})})
    return rows


def table(rows: list[dict], quick: bool) -> str:
    lines = [f"| experiment | task | images | ours (mean of 3 seeds) | spread (max - min) | "
             f"published | s/image |", "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        images = f"{r['images']} ({r['n_images']}{', crop' if quick else ''})"
        lines.append(f"| {r['experiment']} ({r['method']}) | {r['task']} | {images} | "
                     f"{r['psnr_mean']:.2f} | {r['psnr_max'] - r['psnr_min']:.2f} | "
                     f"{r['published']:.2f} | {r['seconds_per_image']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="first image, small crops")
    p.add_argument("--data", default=None, help="shared data folder (default ../shared/data)")
    p.add_argument("--jobs", type=int, default=2, help="jobs at once (default 2)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per job (default: cores / jobs)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file (default: benchmarks/results/partial/ for the full "
                        "run, build/reproduce/ for --quick)")
    args = p.parse_args(argv)
    data_root = Path(args.data) if args.data else default_data_root()
    name = "reproduce-quick" if args.quick else "reproduce"
    folder = ROOT / ("build/reproduce" if args.quick else "benchmarks/results/partial")
    checkpoint = Path(args.checkpoint) if args.checkpoint else folder / f"{name}.checkpoint.jsonl"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = run(args.quick, data_root, checkpoint, jobs=args.jobs,
               threads=args.threads, log=lambda *a: print(*a, file=sys.stderr, flush=True))
    text = table(rows, args.quick)
    print(text)
    out = fresh_path(ROOT / "benchmarks" / "results" / f"{name}.json")
    out.write_text(json.dumps({"experiment": f"reproduce.py{' --quick' if args.quick else ''}",
                               "machine": machine_info(), "provenance": provenance(),
                               "seeds": list(SEEDS), "jobs": args.jobs, "rows": rows,
                               "wall_seconds": time.perf_counter() - started}, indent=1,
                              default=str) + "\n")
    checkpoint.unlink()
    print(f"wrote {out.relative_to(ROOT)} in {(time.perf_counter() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
