"""``benchmarks/RESULTS.md`` from the canonical records only (``pnp-internal report``).

The index ``benchmarks/results/index.toml`` names one record per cell (task, image set,
method)::

    ["sr-x2".set5]
    zssr = "zssr-v4_sr-x2_set5"
    ia-idbp = "ia-v2_sr-x2_set5"

and ``benchmarks/published.toml`` holds the papers' numbers (``[[number]]`` tables with
``task``, ``images``, ``method``, ``psnr`` and ``source``). The page has, per task, ours
beside the baselines and the published numbers (PSNR, SSIM, seconds per image, CPU or GPU,
record id) and a PSNR-versus-seconds plot (``benchmarks/plots/``). It holds nothing written by
hand and nothing that changes from one generation to the next: regenerating it from the same
records gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

from .tasks import TASKS

__all__ = ["load_index", "render", "write", "main"]

BASELINES = ("pseudo-inverse", "bicubic")


def _is_baseline(name: str) -> bool:
    return name in BASELINES or name.startswith("deepinv-")


def load_index(bench_dir) -> tuple[dict, list[str]]:
    """``({task: {image_set: {method: record_id}}, "_reproduce": ids}, speed_record_ids)``,
    each record checked to exist."""
    bench_dir = Path(bench_dir)
    index = tomllib.loads((bench_dir / "results" / "index.toml").read_text())
    speed = index.pop("speed", [])
    reproduce = index.pop("reproduce", [])
    named = [(f"{t}/{i}/{m}", r) for t, sets in index.items() for i, cells in sets.items()
             for m, r in cells.items()] + [("speed", r) for r in speed + reproduce]
    for cell, record in named:
        if not (bench_dir / "results" / f"{record}.json").is_file():
            raise FileNotFoundError(f"index.toml: {cell} names {record!r}, which is not in "
                                    "benchmarks/results")
    index["_reproduce"] = reproduce
    return index, speed


def _speed_section(bench_dir: Path, speed: list[str]) -> list[str]:
    """Seconds per image of each method in float32 and bf16, one table per CPU kind."""
    cells: dict = {}  # cpu -> method -> precision -> (seconds, psnr, task)
    for record_id in speed:
        d = json.loads((bench_dir / "results" / f"{record_id}.json").read_text())
        s, m = d["settings"], d["settings"].get("machine", {})
        cpu = (f"{m.get('cpu_model', m.get('processor', '?'))}, {m.get('cpu_count', '?')} "
               f"cores, {m.get('cpu_capability', '?')}, native bf16: "
               f"{'yes' if m.get('native_bf16') else 'no'}")
        for name, v in d["mean"].items():
            cells.setdefault(cpu, {}).setdefault(name, {})[s.get("precision", "auto")] = (
                v["seconds"], v["psnr"], d["task"])
    if not cells:
        return []
    out = ["## Speed per CPU kind", "",
           "Seconds per 256x256 image (one crop, `benchmarks/experiments/speed_table.sh`) with "
           "the networks in float32 and under bf16 autocast (`precision=`); `auto` picks bf16 "
           "only where the CPU computes it natively. PSNR in dB beside each time. SURE-based "
           "loops stay float32 whatever is asked.", ""]
    for cpu, methods in cells.items():
        out += [f"**{cpu}**", "", "| method | task | fp32 s | fp32 PSNR | bf16 s | bf16 PSNR |",
                "|---|---|---:|---:|---:|---:|"]
        for name, per in methods.items():
            row = [name, next(iter(per.values()))[2]]
            for prec in ("fp32", "bf16"):
                sec, db, _ = per.get(prec, (float("nan"), float("nan"), ""))
                row += [f"{sec:.1f}", f"{db:.2f}"]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return out


def _device(record: dict) -> str:
    machine = record["settings"].get("machine", {})
    device = record["settings"].get("device") or machine.get("device")
    if device and "cuda" in str(device):
        return "GPU"
    cores, threads = machine.get("cpu_count"), machine.get("torch_threads")
    if not cores:
        return "CPU"
    if threads and threads < cores:
        return f"CPU ({cores} cores, {threads} thread{'s' if threads > 1 else ''})"
    return f"CPU ({cores} cores)"


def _reproduce_section(bench_dir: Path, ids: list[str]) -> list[str]:
    """The survey's experiments against the published numbers (``make reproduce``)."""
    out = []
    for record_id in ids:
        d = json.loads((bench_dir / "results" / f"{record_id}.json").read_text())
        quick = "--quick" in d["experiment"]
        jobs = d.get("jobs", 1)
        threads = d["rows"][0].get("threads_per_job", d["machine"].get("torch_threads"))
        out += [f"## Reproduction of the published experiments ({'quick: first image, crops' if quick else 'full protocols'})",
                "", f"`make reproduce{' QUICK=1' if quick else ''}`, seeds "
                f"{', '.join(map(str, d['seeds']))}; {jobs} job(s) at a time with {threads} torch "
                f"thread(s) each; record `{record_id}`.", "",
                "| experiment | task | images | ours (mean) | spread (max - min) | published | "
                "published by | s/image |", "|---|---|---|---:|---:|---:|---|---:|"]
        for r in d["rows"]:
            out.append(f"| {r['experiment']} ({r['method']}) | {r['task']} | {r['images']} "
                       f"({r['n_images']}) | {r['psnr_mean']:.2f} | "
                       f"{r['psnr_max'] - r['psnr_min']:.2f} | {r['published']:.2f} | "
                       f"{r['source']} | {r['seconds_per_image']:.1f} |")
        out.append("")
    return out


def _plot(path: Path, title: str, points: list[tuple[str, float, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, seconds, psnr in points:
        ax.scatter(seconds, psnr, color="gray" if _is_baseline(name) else "C0")
        ax.annotate(name, (seconds, psnr), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("seconds per image")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def render(bench_dir, *, plots: bool = True) -> str:
    """The markdown page; with ``plots``, also (re)draw the PNGs it links."""
    bench_dir = Path(bench_dir)
    index, speed = load_index(bench_dir)
    published_file = bench_dir / "published.toml"
    published = tomllib.loads(published_file.read_text()).get("number", []) \
        if published_file.is_file() else []
    order = {name: i for i, name in enumerate(TASKS)}
    lines = ["# Benchmark results", "",
             "Generated by `pnp-internal report` from the canonical records named in "
             "`benchmarks/results/index.toml`; published numbers from "
             "`benchmarks/published.toml`. PSNR/SSIM on all channels without border, except "
             "super-resolution (Y channel, border = scale). Seconds: wall time per image of "
             "the method alone. Notes per method family: `benchmarks/notes/`.", ""]
    reproduce = index.pop("_reproduce")
    lines += _reproduce_section(bench_dir, reproduce)
    for task in sorted(index, key=lambda t: (order.get(t, 99), t)):
        for images, cells in sorted(index[task].items()):
            rows = []
            for method, record_id in cells.items():
                record = json.loads((bench_dir / "results" / f"{record_id}.json").read_text())
                mean = record["mean"].get(method)
                if mean is None:
                    raise KeyError(f"index.toml: record {record_id!r} has no method {method!r}")
                n = mean.get("n", record["settings"].get("n_images"))
                crop = record["settings"].get("crop")
                rows.append((method, mean, record_id, n, crop, _device(record)))
            rows.sort(key=lambda r: -r[1]["psnr"])
            lines += [f"## {task} on {images}", "",
                      "| method | PSNR | SSIM | s/image | device | images | record |",
                      "|---|---:|---:|---:|---|---|---|"]
            for method, mean, record_id, n, crop, device in rows:
                label = f"{method} (baseline)" if _is_baseline(method) else method
                size = f"{n}" + (f", crop {crop}" if crop else "")
                lines.append(f"| {label} | {mean['psnr']:.2f} | {mean['ssim']:.4f} | "
                             f"{mean['seconds']:.1f} | {device} | {size} | `{record_id}` |")
            for p in published:
                if p["task"] == task and p["images"] == images:
                    lines.append(f"| {p['method']} (published) | {p['psnr']:.2f} | | | | | "
                                 f"{p['source']} |")
            if len(rows) > 1:
                name = f"{task}_{images}.png"
                if plots:
                    _plot(bench_dir / "plots" / name, f"{task}, {images}",
                          [(m, mean["seconds"], mean["psnr"]) for m, mean, *_ in rows])
                lines += ["", f"![PSNR against seconds, {task} on {images}](plots/{name})"]
            lines.append("")
    lines += _speed_section(bench_dir, speed)
    return "\n".join(lines).rstrip() + "\n"


def write(bench_dir="benchmarks") -> Path:
    """Regenerate ``bench_dir/RESULTS.md`` (and its plots)."""
    path = Path(bench_dir) / "RESULTS.md"
    path.write_text(render(bench_dir))
    return path


def main(argv=None) -> int:
    """``pnp-internal report [--bench-dir benchmarks] [--check]``."""
    p = argparse.ArgumentParser(prog="pnp-internal report", description=__doc__.splitlines()[0])
    p.add_argument("--bench-dir", default="benchmarks")
    p.add_argument("--check", action="store_true",
                   help="exit 1 if RESULTS.md differs from what the records give")
    args = p.parse_args(argv)
    try:
        if args.check:
            current = (Path(args.bench_dir) / "RESULTS.md").read_text()
            if current != render(args.bench_dir, plots=False):
                print("RESULTS.md is out of date: run pnp-internal report", file=sys.stderr)
                return 1
            return 0
        print(f"wrote {write(args.bench_dir)}")
    except (OSError, KeyError, tomllib.TOMLDecodeError) as err:
        print(f"pnp-internal report: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
