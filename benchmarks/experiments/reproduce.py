"""``make reproduce``: the survey's three first experiments with the published protocols, ours
beside the published number, with the spread over 3 seeds.

- DIP, Gaussian denoising sigma 25 with automatic early stopping (ES-WMV) and output
  averaging: the paper's F16 (the only one of its 9 colour images with a ground truth here).
- ZSSR, bicubic SR: Set5 x2 and x4, Set14 x4 (Y channel, border = scale).
- IDBP with the image-adapted CNN (IDBP-CNN-IA): Set5 x2 and x3 (Y, border = scale).

Each cell runs through ``pnp_internal.bench.runner.run_task`` (so through
:func:`pnp_internal.solve` with the recipe book) for seeds 0, 1, 2; a seed changes the
degradation noise and every random choice of the method. Finished (cell, seed) runs are kept
in a checkpoint file, so an interrupted run resumes where it stopped.

Usage::

    python benchmarks/experiments/reproduce.py            # full protocols (hours on 2 cores)
    python benchmarks/experiments/reproduce.py --quick    # first image, small crops (11 min)

The table is printed and written to ``benchmarks/results/reproduce[-quick].json`` (never over an
earlier record).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pnp_internal.bench.runner import fresh_path, machine_info, provenance, run_task
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
    Cell("IDBP-CNN-IA", "sr-x2", "test/set5", "ia-idbp", 37.35, "Tirer & Giryes 2019", 96),
    Cell("IDBP-CNN-IA", "sr-x3", "test/set5", "ia-idbp", 33.43, "Tirer & Giryes 2019", 96),
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


def run(quick: bool, data_root: Path, checkpoint: Path, log=print) -> list[dict]:
    done = {}
    if checkpoint.is_file():
        for line in checkpoint.read_text().splitlines():
            entry = json.loads(line)
            done[(entry["cell"], entry["seed"])] = entry
    rows = []
    for cell in CELLS:
        per_seed = []
        for seed in SEEDS:
            if (cell.key, seed) not in done:
                t0 = time.perf_counter()
                result = run_task(cell.task, _images(cell, data_root, quick), [cell.method],
                                  crop=cell.quick_crop if quick else None,
                                  limit=1 if quick else None, seed=seed, data_root=data_root,
                                  log=None)
                if result.get("errors"):
                    raise RuntimeError(f"{cell.key} seed {seed}: {result['errors']}")
                mean = result["mean"][cell.method]
                entry = {"cell": cell.key, "seed": seed, "psnr": mean["psnr"],
                         "ssim": mean["ssim"], "seconds": mean["seconds"], "n": mean["n"],
                         "recipes": result["settings"]["recipes"].get(cell.method, {}),
                         "wall": time.perf_counter() - t0}
                with checkpoint.open("a") as f:
                    f.write(json.dumps(entry, default=str) + "\n")
                done[(cell.key, seed)] = entry
                log(f"{cell.key} seed {seed}: {entry['psnr']:.2f} dB, "
                    f"{entry['seconds']:.1f} s/image")
            per_seed.append(done[(cell.key, seed)])
        psnrs = [e["psnr"] for e in per_seed]
        rows.append({"experiment": cell.experiment, "task": cell.task,
                     "images": Path(cell.images).name, "method": cell.method,
                     "n_images": per_seed[0]["n"], "psnr_mean": statistics.mean(psnrs),
                     "psnr_min": min(psnrs), "psnr_max": max(psnrs), "psnr_per_seed": psnrs,
                     "seconds_per_image": statistics.mean(e["seconds"] for e in per_seed),
                     "published": cell.published, "source": cell.source,
                     "recipes": per_seed[0]["recipes"]})
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
    args = p.parse_args(argv)
    data_root = Path(args.data) if args.data else default_data_root()
    name = "reproduce-quick" if args.quick else "reproduce"
    checkpoint = ROOT / "build" / "reproduce" / f"{name}.checkpoint.jsonl"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = run(args.quick, data_root, checkpoint,
               log=lambda *a: print(*a, file=sys.stderr, flush=True))
    text = table(rows, args.quick)
    print(text)
    out = fresh_path(ROOT / "benchmarks" / "results" / f"{name}.json")
    out.write_text(json.dumps({"experiment": f"reproduce.py{' --quick' if args.quick else ''}",
                               "machine": machine_info(), "provenance": provenance(),
                               "seeds": list(SEEDS), "rows": rows,
                               "wall_seconds": time.perf_counter() - started}, indent=1,
                              default=str) + "\n")
    checkpoint.unlink()
    print(f"wrote {out.relative_to(ROOT)} in {(time.perf_counter() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
