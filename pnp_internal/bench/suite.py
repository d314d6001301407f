"""The quick benchmark suite (``make bench``) and the ``benchmarks/RESULTS.md`` report.

``python -m pnp_internal.bench.suite [--data DIR] [--out-dir benchmarks] [--only TEXT]
[--report-only] [--dry-run]`` runs every line of :data:`SUITE` over the shared images, writes
``<out-dir>/results/quick_<task>_<set>.json``, then regenerates ``<out-dir>/RESULTS.md`` from
**all** JSON files in ``<out-dir>/results`` (long runs made separately with ``pnp-internal
bench ... --out benchmarks/results/<name>.json`` appear too). Methods that are not registered
(yet) are skipped, and said so. The whole suite is sized to finish in under 15 minutes on
2 idle CPU cores (crops and image limits below).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .registry import get_method, known_methods
from .runner import format_markdown, machine_info, run_task
from .tasks import TASKS, get_task


@dataclass(frozen=True)
class Entry:
    """One line of the suite: ``task`` over ``images`` (relative to the data root)."""

    task: str
    images: str
    crop: int | None
    limit: int | None
    methods: str  # space-separated names, in display order

    @property
    def name(self) -> str:
        return f"quick_{self.task}_{Path(self.images).name}"


# Method groups, so that the table below stays readable.
_TV = "tv-idbp tv-hqs tv-admm"
_CNN = "cnn-idbp cnn-hqs"

#: The quick suite, sized for < 15 minutes on 2 idle cores. Measured costs (CPU seconds per
#: image): BM3D ~1.2 s per call on a 128x128 gray crop, ~3 s on a colour one, so BM3D-based PnP
#: (8 calls) ~25 s per colour crop; ImageAdapted (ia-idbp) 30-55 s, cnn-gaintuning ~40 s,
#: zssr-fast ~11 s at x4 (70 s at x2) on 128x128 crops. Costly methods get their own line with
#: a smaller limit. The full-size runs of the issue checks are made separately (see
#: benchmarks/RESULTS.md) and appear in the report too.
SUITE = [
    #     task               images          crop limit  methods
    Entry("denoise-s15",     "test/set12",    128,  4,   "pseudo-inverse tv bm3d cnn"),
    Entry("denoise-s25",     "test/set12",    128,  4,   "pseudo-inverse tv bm3d cnn"),
    Entry("denoise-s50",     "test/set12",    128,  4,   "pseudo-inverse tv bm3d cnn"),
    Entry("denoise-s25",     "test/cbsd68",   128,  3,   "pseudo-inverse tv bm3d cnn"),
    Entry("denoise-s25",     "test/kodak24",  128,  1,   "pseudo-inverse cnn cnn-gaintuning"),
    Entry("deblur-gauss1.6", "test/set3c",     96,  3,   f"pseudo-inverse deepinv-dpir-bm3d "
                                                         f"bm3d-hqs bm3d-idbp {_TV} {_CNN}"),
    Entry("deblur-gauss1.6", "test/cbsd68",    96,  1,   "cnn-idbp ia-idbp"),
    Entry("deblur-levin",    "test/set12",     96,  4,   f"pseudo-inverse deepinv-admm-tv "
                                                         f"deepinv-dpir-bm3d bm3d-hqs "
                                                         f"{_TV} {_CNN}"),
    Entry("sr-x2",           "test/set5",     128,  5,   f"pseudo-inverse bicubic deepinv-admm-tv "
                                                         f"{_TV} {_CNN} ia-idbp"),
    Entry("sr-x3",           "test/set5",     128,  5,   f"bicubic deepinv-admm-tv {_TV} {_CNN}"),
    Entry("sr-x4",           "test/set5",     128,  5,   f"bicubic deepinv-admm-tv {_TV} {_CNN} "
                                                         f"zssr-fast"),
    Entry("sr-x2-gauss1.6",  "test/set5",     128,  1,   "bicubic cnn-idbp zssr-fast"),
    Entry("inpaint-50",      "test/set12",    128,  3,   f"pseudo-inverse deepinv-admm-tv {_TV} "
                                                         f"{_CNN}"),
    Entry("cs-25",           "test/set12",     64,  3,   f"pseudo-inverse deepinv-admm-tv {_TV} "
                                                         f"{_CNN}"),
]

BASELINES = ("pseudo-inverse", "bicubic")


def is_baseline(name: str) -> bool:
    """Baselines: the pseudo-inverse, bicubic interpolation and deepinv's own solvers."""
    return name in BASELINES or name.startswith("deepinv-")


def default_data_root() -> Path:
    """``$PNP_INTERNAL_DATA``, else ``../shared/data`` from the current folder or the repo."""
    from .tasks import default_data_root as beside_repo

    env_or_repo = beside_repo()
    cwd = Path.cwd().resolve().parent / "shared" / "data"
    return cwd if cwd.is_dir() and not env_or_repo.is_dir() else env_or_repo


def plan(entries, *, log=print):
    """``[(entry, methods to run)]``: unknown methods and kinds they do not handle are skipped."""
    known = set(known_methods())
    out = []
    for e in entries:
        kind = get_task(e.task).kind
        run, skipped = [], []
        for m in e.methods.split():
            if m not in known:
                skipped.append(f"{m} (not registered)")
            elif kind not in get_method(m).kinds:
                skipped.append(f"{m} (not for {kind})")
            else:
                run.append(m)
        if skipped:
            log(f"note: {e.name}: skipping {', '.join(skipped)}")
        out.append((e, run))
    return out


def run_suite(entries, *, data_root, out_dir, seed=0, log=print):
    """Run ``entries``; write one JSON per entry in ``out_dir/results``; return their paths."""
    results_dir = Path(out_dir) / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    written = []
    start = time.perf_counter()
    for entry, methods in plan(entries, log=log):
        if not methods:
            log(f"note: {entry.name}: no registered method, nothing to run")
            continue
        t0 = time.perf_counter()
        result = run_task(
            entry.task,
            Path(data_root) / entry.images,
            methods,
            crop=entry.crop,
            limit=entry.limit,
            seed=seed,
            data_root=data_root,
            log=log,
        )
        result["settings"]["images"] = entry.images  # relative to the data root, portable
        result["settings"]["suite"] = "quick"
        result["settings"]["wall_seconds_total"] = time.perf_counter() - t0
        path = results_dir / f"{entry.name}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        written.append(path)
        log(format_markdown(result))
        log(f"[suite] {entry.name}: {time.perf_counter() - t0:.0f} s "
            f"(total {time.perf_counter() - start:.0f} s)")
    return written


# ------------------------------------------------------------------------------- RESULTS.md
def _load_results(results_dir):
    out = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            print(f"note: skipping {path.name}: {err}", file=sys.stderr)
            continue
        if isinstance(data, dict) and {"task", "settings", "rows", "mean"} <= set(data):
            out.append((path, data))
    order = {name: i for i, name in enumerate(TASKS)}
    out.sort(key=lambda pr: (order.get(pr[1]["task"], 99), pr[0].name))
    return out


def _where(s):
    m = s.get("machine", {})
    load = m.get("load_average_1min")
    load = f"{load:.2f}" if isinstance(load, (int, float)) else "?"
    return (
        f"{m.get('date', '?')}, host {m.get('host', '?')} ({m.get('cpu_count', '?')} CPUs, "
        f"torch {m.get('torch', '?')} with {m.get('torch_threads', '?')} threads, "
        f"1-min load {load})"
    )


def _speed_section(results) -> list[str]:
    """Seconds per image of every method in float32 and bf16, one table per CPU kind, from the
    records named ``speed-<precision>_<task>.json`` (``benchmarks/experiments/speed_table.sh``)."""
    cells: dict = {}  # cpu -> method -> precision -> (seconds, psnr, task)
    for path, d in results:
        if not path.name.startswith("speed-"):
            continue
        s = d["settings"]
        m = s.get("machine", {})
        cpu = (f"{m.get('cpu_model', m.get('processor', '?'))}, {m.get('cpu_count', '?')} "
               f"cores, {m.get('cpu_capability', '?')}, native bf16: "
               f"{'yes' if m.get('native_bf16') else 'no'}")
        for name, v in d["mean"].items():
            cells.setdefault(cpu, {}).setdefault(name, {})[s.get("precision", "auto")] = (
                v["seconds"], v["psnr"], d["task"])
    if not cells:
        return []
    out = ["", "## Speed per CPU kind", "",
           "Seconds per 256x256 image (one crop, `benchmarks/experiments/speed_table.sh`) with "
           "the networks in float32 and under bf16 autocast (`precision=`); `auto` picks bf16 "
           "only where the CPU computes it natively. PSNR in dB beside each time. SURE-based "
           "loops (`cnn-gaintuning`, `dip` on denoising) stay float32 whatever is asked (the "
           "finite-difference divergence needs it), so their two columns differ only by the "
           "run-to-run spread of the machine.", ""]
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


def render_results_md(results_dir) -> str:
    """Markdown report of every result JSON in ``results_dir``."""
    results = _load_results(results_dir)
    lines = [
        "# Benchmark results",
        "",
        "Generated by `make bench` (`python -m pnp_internal.bench.suite`) from every JSON file in "
        "`benchmarks/results/`; do not edit by hand. Files named `quick_*` come from the quick "
        "suite (centre crops, few images: a progress record, not the published protocols); "
        "other files are longer runs made with `pnp-internal bench ... --out "
        "benchmarks/results/NAME.json`.",
        "",
        "PSNR/SSIM: all channels, no border, except SR (Y channel of BT.601, border = scale). "
        "`seconds` is the wall-clock time of the method alone; `CPU s` its process CPU time "
        "(fairer when the machine is shared). Baselines: pseudo-inverse, bicubic, deepinv-*.",
        "",
    ]
    for extra in ("PUBLISHED.md", "EXPERIMENTS.md"):  # hand-written companions, if present
        f = Path(results_dir).parent / extra
        if f.is_file():
            lines += [f.read_text().rstrip(), ""]
    quick = [d for _, d in results if d["settings"].get("suite") == "quick"]
    if quick:
        wall = sum(d["settings"].get("wall_seconds_total", 0.0) for d in quick)
        dates = sorted(d["settings"].get("machine", {}).get("date", "?") for d in quick)
        m = quick[0]["settings"].get("machine", {})
        lines += [
            f"Quick suite: {len(quick)} runs, {wall / 60:.1f} minutes in all (degradation, "
            f"methods and scoring), {dates[0]} to {dates[-1]}, host {m.get('host', '?')} "
            f"({m.get('cpu_count', '?')} CPUs, {m.get('processor', '?')}, torch "
            f"{m.get('torch', '?')}).",
            "",
        ]
    lines += [
        "## Summary: best method against the best baseline",
        "",
        "| task | images | best method | PSNR | best baseline | PSNR | file |",
        "|---|---|---|---:|---|---:|---|",
    ]
    for path, d in results:
        s, mean = d["settings"], d["mean"]
        if not mean:
            continue
        best = max(mean, key=lambda k: mean[k]["psnr"])
        base = [k for k in mean if is_baseline(k)]
        bb = max(base, key=lambda k: mean[k]["psnr"]) if base else None
        imgs = f"{s.get('images')} ({s.get('n_images')}, crop {s.get('crop')})"
        bb_txt = f"{bb} | {mean[bb]['psnr']:.2f}" if bb else "- | -"
        lines.append(
            f"| {d['task']} | {imgs} | {best} | {mean[best]['psnr']:.2f} | {bb_txt} "
            f"| `{path.name}` |"
        )
    lines += _speed_section(results)
    lines += ["", "## Per run", ""]
    for path, d in results:
        lines += [
            f"### {d['task']} (`{path.name}`)",
            "",
            d["settings"].get("task_description", ""),
            "",
            format_markdown(d, heading=False),
            "",
            f"Run {_where(d['settings'])}.",
        ]
        notes = d["settings"].get("notes") or []
        if notes:
            lines.append("Notes: " + "; ".join(notes[:6]) + (" ..." if len(notes) > 6 else ""))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_results_md(out_dir) -> Path:
    """Regenerate ``out_dir/RESULTS.md`` from ``out_dir/results/*.json``."""
    path = Path(out_dir) / "RESULTS.md"
    path.write_text(render_results_md(Path(out_dir) / "results"))
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m pnp_internal.bench.suite", description=__doc__)
    p.add_argument("--data", default=None, help="shared data folder (default ../shared/data)")
    p.add_argument("--out-dir", default="benchmarks", help="folder of results/ and RESULTS.md")
    p.add_argument("--only", default=None, help="run only the lines whose task contains TEXT")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report-only", action="store_true", help="only regenerate RESULTS.md")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    args = p.parse_args(argv)
    entries = [e for e in SUITE if args.only is None or args.only in e.task]
    data_root = Path(args.data) if args.data else default_data_root()
    if args.dry_run:
        for e, methods in plan(entries):
            print(f"{e.task:16} {e.images:14} crop {e.crop} limit {e.limit}: {' '.join(methods)}")
        return 0
    if not args.report_only:
        if not data_root.is_dir():
            print(f"suite: data folder {str(data_root)!r} not found; pass --data", file=sys.stderr)
            return 2
        start = time.perf_counter()
        log = lambda *a: print(*a, flush=True)  # noqa: E731
        log(f"[suite] {datetime.datetime.now():%Y-%m-%d %H:%M} data {data_root}, "
            f"{machine_info()['cpu_count']} CPUs")
        run_suite(entries, data_root=data_root, out_dir=args.out_dir, seed=args.seed, log=log)
        log(f"[suite] done in {(time.perf_counter() - start) / 60:.1f} minutes")
    path = write_results_md(args.out_dir)
    print(f"[suite] wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
