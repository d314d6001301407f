"""The quick benchmark suite (``make bench``).

``python -m pnp_internal.bench.suite [--data DIR] [--out-dir benchmarks] [--only TEXT]
[--report-only] [--dry-run]`` runs every line of :data:`SUITE` over the shared images, writes
new stamped records ``<out-dir>/results/quick_<task>_<set>[-runN].json`` (never over an
earlier one), then regenerates ``<out-dir>/RESULTS.md`` from the canonical records of
``results/index.toml`` (:mod:`pnp_internal.bench.report`): a new record enters the page when
the index names it. Methods that are not registered are skipped, and said so. The whole suite
is sized to finish in under 15 minutes on 2 idle CPU cores (crops and image limits below).
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
from .runner import format_markdown, fresh_path, machine_info, run_task
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
        path = fresh_path(results_dir / f"{entry.name}.json")  # never overwrites a record
        path.write_text(json.dumps(result, indent=1, default=str) + "\n")
        written.append(path)
        log(format_markdown(result))
        log(f"[suite] {entry.name}: {time.perf_counter() - t0:.0f} s "
            f"(total {time.perf_counter() - start:.0f} s)")
    return written


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
    from .report import write

    path = write(args.out_dir)
    print(f"[suite] wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
