"""The headline records, reproduced through ``pnp_internal.solve`` with public names only.

For each headline (task, image set, method) the script degrades every image exactly as the
benchmark does (``pnp_internal.bench.tasks``: same seeds), restores it with
``pnp_internal.solve(y, operator, method=NAME, noise_std=..., seed=...)``, scores it as the
benchmark does, and prints the mean beside the record's, with the gap. Writes the rows to
``--out`` (JSON).

    .venv/bin/python benchmarks/experiments/headline.py --out headline.json [--only zssr]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pnp_internal as pi
from pnp_internal.bench.runner import list_images, machine_info
from pnp_internal.bench.tasks import center_crop, default_data_root, get_task, image_seed

RESULTS = Path(__file__).resolve().parents[1] / "results"

#: (task, image folder under the data root, method, record file stem)
HEADLINES = [
    ("sr-x2", "test/set5", "ia-idbp", "ia-v2_sr-x2_set5"),
    ("sr-x2", "test/set5", "zssr", "zssr-v4_sr-x2_set5"),
    ("deblur-gauss1.6", "test/set3c", "cnn-hqs", "deblur-gauss1.6_set3c_full"),
    ("deblur-gauss1.6", "test/set3c", "ia-idbp", "ia_deblur-gauss1.6_set3c"),
    ("denoise-s25", "test/cbsd68", "cnn", "denoise-s25_cbsd68"),
    ("inpaint-50", "test/set12", "cnn-admm", None),
    ("inpaint-50", "test/set12", "cnn-hqs", None),
]


def _record_mean(stem, method):
    if stem is None:
        return None
    data = json.loads((RESULTS / f"{stem}.json").read_text())
    return data["mean"][method]["psnr"]


def run(task_name, folder, method, *, data_root, precision="auto", log=print):
    """Rows ``{image, psnr, seconds, precision}`` of ``method`` on every image of ``folder``."""
    task = get_task(task_name)
    rows = []
    for index, path in enumerate(list_images(Path(data_root) / folder)):
        x, _ = task.prepare(center_crop(pi.io.read_image(path), None))
        d = task.degrade(x, seed=image_seed(0, path.name), index=index, data_root=data_root)
        t0 = time.perf_counter()
        res = pi.solve(d.y, d.operator, method=method, noise_std=task.noise_std,
                       seed=image_seed(0, path.name), precision=precision)
        seconds = time.perf_counter() - t0
        score = float(pi.metrics.psnr(res.x, x, **task.score_options)[0])
        rows.append({"image": path.name, "psnr": score, "seconds": seconds,
                     "precision": res.precision})
        log(f"{task_name} {path.name} {method}: {score:.2f} dB, {seconds:.1f} s, {res.precision}")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--only", default="", help="run the headlines whose method contains TEXT")
    p.add_argument("--data", default=None)
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    args = p.parse_args(argv)
    data_root = args.data or default_data_root()
    out = {"machine": machine_info(), "precision": args.precision, "headlines": []}
    table = ["| task | set | method | solve (dB) | record (dB) | gap | s/image |",
             "|---|---|---|---:|---:|---:|---:|"]
    for task, folder, method, stem in HEADLINES:
        if args.only not in method:
            continue
        rows = run(task, folder, method, data_root=data_root, precision=args.precision,
                   log=lambda *a: print(*a, file=sys.stderr, flush=True))
        mean = sum(r["psnr"] for r in rows) / len(rows)
        secs = sum(r["seconds"] for r in rows) / len(rows)
        rec = _record_mean(stem, method)
        gap = "" if rec is None else f"{mean - rec:+.3f}"
        table.append(f"| {task} | {Path(folder).name} | {method} | {mean:.2f} | "
                     f"{'' if rec is None else f'{rec:.2f}'} | {gap} | {secs:.1f} |")
        out["headlines"].append({"task": task, "images": folder, "method": method,
                                 "record": stem, "record_psnr": rec, "psnr": mean,
                                 "seconds": secs, "rows": rows})
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
