"""Accuracy and speed of the Gaussian noise-level estimate behind ``--noise auto``.

The headline is the library function :func:`pnp_internal.noise.estimate_noise_std`
(method ``estimate_noise_std``: deepinv's patch-covariance estimator given only the blocks
that clipping has not touched). Beside it, deepinv's estimators as they are:
:class:`deepinv.models.PatchCovarianceNoiseEstimator` and
:class:`deepinv.models.WaveletNoiseEstimator` (needs ``ptwt``; skipped when it is missing),
each on the whole ``(1, C, H, W)`` image as deepinv does, and per channel (the ``C`` channels
as a batch, then the median or the mean of the ``C`` estimates).

Images: CBSD68 (colour), Kodak24 (colour) and Set12 (gray) from ``--data``, with Gaussian
noise at sigma 5, 10, 25, 50 (/255), one noise draw per image (seed from the file name), in
two variants:

- ``raw``: ``x + sigma * n``, not clipped;
- ``png``: the same, clipped to [0, 1] and rounded to 1/255 (what an 8-bit file holds).

The estimate is compared with the nominal sigma (and with the realised std of the added
noise, lower than sigma where the ``png`` variant clips). For the ``png`` variant the
estimators also run on a central 256x256 crop of each image (the cost of estimating on a
crop). A 4000x3000
RGB mosaic of Kodak24 tiles gives the time and peak memory on a large photo, on the whole
image and on its central 1024x1024 crop (each estimator in its own process).

Prints a markdown table per estimator and variant; writes the settings, per-image estimates,
the summary and the machine to ``--out`` (JSON).

Run: ``python benchmarks/experiments/noise_estimation.py [--out FILE] [--limit N]``
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import deepinv
import torch
from deepinv.models import PatchCovarianceNoiseEstimator, WaveletNoiseEstimator

from pnp_internal.bench.runner import list_images
from pnp_internal.bench.tasks import image_seed
from pnp_internal.io import read_image
from pnp_internal.noise import estimate_noise_std

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "test"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "noise-estimation.json"
SETS = ("cbsd68", "kodak24", "set12")
SIGMAS = (5, 10, 25, 50)
VARIANTS = ("raw", "png")
TEST_CROP = 256
LARGE_SIZE = (3000, 4000)  # H, W
LARGE_CROP = 1024
SEED = 0
LIB = "estimate_noise_std"  # the method name of pnp_internal.noise.estimate_noise_std


def has_ptwt() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("ptwt", "pywt"))


def estimators() -> dict:
    """Estimator name -> module, the wavelet one only when ``ptwt`` is installed."""
    out = {"patchcov": PatchCovarianceNoiseEstimator()}
    if has_ptwt():
        out["wavelet"] = WaveletNoiseEstimator()
    return out


def estimate(est, y: torch.Tensor) -> tuple[dict, dict]:
    """Estimates of ``y`` (1, C, H, W) by ``est``: ``{"": whole, "/ch-median", "/ch-mean"}``
    in /255 units, and the seconds of the whole and of the per-channel call."""
    out, secs = {}, {}
    with torch.no_grad():
        t0 = time.perf_counter()
        try:
            whole = float(est(y)[0]) * 255
        except RuntimeError:  # PatchCovariance: "Noise level estimation failed."
            whole = math.nan
        secs[""] = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            per = [float(v) * 255 for v in est(y.transpose(0, 1))]
        except RuntimeError:
            per = [math.nan]
        secs["/ch"] = time.perf_counter() - t0
    out[""] = whole
    out["/ch-median"] = statistics.median(per)
    out["/ch-mean"] = statistics.fmean(per)
    return out, {"": secs[""], "/ch-median": secs["/ch"], "/ch-mean": secs["/ch"]}


def estimate_lib(y: torch.Tensor) -> tuple[float, float]:
    """:func:`pnp_internal.noise.estimate_noise_std` of ``y`` in /255 units, and its seconds."""
    t0 = time.perf_counter()
    try:
        v = estimate_noise_std(y) * 255
    except RuntimeError:
        v = math.nan
    return v, time.perf_counter() - t0


def noisy(x: torch.Tensor, sigma: float, noise: torch.Tensor, variant: str) -> torch.Tensor:
    y = x + (sigma / 255) * noise
    if variant == "png":
        y = torch.round(y.clamp(0, 1) * 255) / 255
    return y


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return x[..., top:top + size, left:left + size]


def run_test_sets(data: Path, limit: int | None, ests: dict) -> list[dict]:
    records = []
    for set_name in SETS:
        folder = data / set_name
        if not folder.is_dir():
            print(f"skipping {set_name}: no folder {folder}", file=sys.stderr)
            continue
        files = list_images(folder, limit=limit)
        for i, path in enumerate(files):
            x = read_image(path)
            gen = torch.Generator().manual_seed(image_seed(SEED, f"{set_name}/{path.name}"))
            noise = torch.randn(x.shape, generator=gen)
            for sigma in SIGMAS:
                for variant in VARIANTS:
                    y = noisy(x, sigma, noise, variant)
                    inputs = [("full", y, x)]
                    if variant == "png":
                        inputs.append((f"crop{TEST_CROP}", center_crop(y, TEST_CROP),
                                       center_crop(x, TEST_CROP)))
                    for region, yy, xx in inputs:
                        realised = float((yy - xx).std()) * 255
                        v, sec = estimate_lib(yy)
                        records.append({
                            "set": set_name, "image": path.name,
                            "shape": list(yy.shape[1:]), "sigma": sigma,
                            "variant": variant, "region": region,
                            "method": LIB, "estimate": v, "realised": realised,
                            "seconds": sec,
                        })
                        for e_name, est in ests.items():
                            vals, secs = estimate(est, yy)
                            for m, v in vals.items():
                                records.append({
                                    "set": set_name, "image": path.name,
                                    "shape": list(yy.shape[1:]), "sigma": sigma,
                                    "variant": variant, "region": region,
                                    "method": e_name + m, "estimate": v,
                                    "realised": realised,
                                    "seconds": secs[m],
                                })
            print(f"{set_name} {i + 1}/{len(files)}", file=sys.stderr, flush=True)
    return records


def compact(records: list[dict]) -> list[dict]:
    """One row per image, sigma, variant and region: the estimates of every method."""
    rows: dict = {}
    for r in records:
        key = (r["set"], r["image"], r["sigma"], r["variant"], r["region"])
        row = rows.setdefault(key, {
            "set": r["set"], "image": r["image"], "shape": r["shape"], "sigma": r["sigma"],
            "variant": r["variant"], "region": r["region"],
            "realised": round(r["realised"], 4), "estimates": {}, "seconds": {}})
        row["estimates"][r["method"]] = round(r["estimate"], 4)
        row["seconds"][r["method"]] = round(r["seconds"], 5)
    return list(rows.values())


def summarize(records: list[dict], key) -> dict:
    """``{key: {sigma: stats}}`` of the records, errors in /255 units."""
    groups: dict = {}
    for r in records:
        groups.setdefault(key(r), {}).setdefault(r["sigma"], []).append(r)
    out = {}
    for k, by_sigma in groups.items():
        out[k] = {}
        for sigma, rs in sorted(by_sigma.items()):
            ok = [r for r in rs if not math.isnan(r["estimate"])]
            err = [r["estimate"] - sigma for r in ok]
            err_realised = [r["estimate"] - r["realised"] for r in ok]
            out[k][sigma] = {
                "n": len(rs), "failed": len(rs) - len(ok),
                "mae": statistics.fmean(abs(e) for e in err) if err else math.nan,
                "max_ae": max(abs(e) for e in err) if err else math.nan,
                "bias": statistics.fmean(err) if err else math.nan,
                "within_1": sum(abs(e) <= 1 for e in err) / len(rs),
                "bias_vs_realised": statistics.fmean(err_realised) if ok else math.nan,
                "mae_vs_realised": statistics.fmean(abs(e) for e in err_realised)
                if ok else math.nan,
                "sec_per_image": statistics.fmean(r["seconds"] for r in rs),
            }
    return out


def print_table(title: str, stats: dict) -> None:
    print(f"\n### {title}\n")
    print("| sigma | mean abs err (x255) | max abs err (x255) | bias (x255) | within 1/255 "
          "| s / image | bias vs realised std (x255) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for sigma, s in stats.items():
        fail = f" ({s['failed']} failed)" if s["failed"] else ""
        print(f"| {sigma} | {s['mae']:.3f} | {s['max_ae']:.3f} | {s['bias']:+.3f} "
              f"| {100 * s['within_1']:.0f}%{fail} | {s['sec_per_image']:.4f} "
              f"| {s['bias_vs_realised']:+.3f} |")


# ------------------------------------------------------------------ large image (4000x3000)
def large_mosaic(data: Path) -> torch.Tensor:
    """4000x3000 RGB mosaic of the 500x500 Kodak24 tiles (8 x 6; the second 24 mirrored)."""
    tiles = [read_image(p) for p in list_images(data / "kodak24")]
    tiles += [t.flip(-1) for t in tiles]
    h, w = LARGE_SIZE
    rows, cols = h // 500, w // 500
    grid = [torch.cat(tiles[r * cols:(r + 1) * cols], dim=-1) for r in range(rows)]
    return torch.cat(grid, dim=-2).contiguous()


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _extra_memory(fn):
    """``fn()``, and the most resident memory (MiB) it added over what was resident before
    (sampled every 2 ms by a thread; the process high-water mark cannot tell, as building the
    noisy image already set it higher)."""
    import threading

    before = _current_rss_mib()
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _current_rss_mib())
            stop.wait(0.002)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        out = fn()
    finally:
        stop.set()
        t.join()
    return out, max(peak[0], _current_rss_mib()) - before


def large_child(data: Path, method: str) -> dict:
    """Time, peak memory and estimates of ``method`` (``LIB``, or "patchcov" or "wavelet",
    whole or per channel) on the mosaic with png-variant noise, whole and central crop."""
    e_name, per_channel = method.split("/")[0], method.endswith("/ch")
    est = (lambda y: torch.tensor([estimate_noise_std(y)])) if method == LIB \
        else estimators()[e_name]
    x = large_mosaic(data)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(SEED))
    y0 = noisy(x, 25, noise, "png")
    baseline = _rss_mib()
    out = {"method": method, "shape": list(x.shape[1:]), "baseline_rss_mib": baseline,
           "by_sigma": {}}

    def call(y):
        t0 = time.perf_counter()
        with torch.no_grad():
            v, extra = _extra_memory(lambda: est(y.transpose(0, 1) if per_channel else y))
        return [float(a) * 255 for a in v], time.perf_counter() - t0, extra

    extra_full = []
    for sigma in SIGMAS:
        y = y0 if sigma == 25 else noisy(x, sigma, noise, "png")
        full, t_full, m_full = call(y)
        crop, t_crop, _ = call(center_crop(y, LARGE_CROP))
        extra_full.append(m_full)
        out["by_sigma"][sigma] = {"full": full, "full_seconds": t_full, "full_extra_mib": m_full,
                                  "crop": crop, "crop_seconds": t_crop}
    out["peak_rss_mib"] = _rss_mib()
    out["extra_mib_whole"] = max(extra_full)
    return out


def run_large(data: Path, threads: int, ests: dict) -> dict:
    if not (data / "kodak24").is_dir():
        print("skipping the large image: no kodak24", file=sys.stderr)
        return {}
    results = {}
    for method in [LIB] + [e_name + mode for e_name in ests for mode in ("", "/ch")]:
        cmd = [sys.executable, __file__, "--data", str(data), "--threads", str(threads),
               "--large-child", method]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            results[method] = {"error": proc.stderr.strip().splitlines()[-1:]}
        else:
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["by_sigma"] = {int(k): v for k, v in r["by_sigma"].items()}
            results[method] = r
        print(f"large {method} done", file=sys.stderr, flush=True)
    return results


def print_large(large: dict) -> None:
    print(f"\n### {LARGE_SIZE[1]}x{LARGE_SIZE[0]} RGB mosaic (png variant): time, memory, "
          f"error x255 on the whole image and on the central {LARGE_CROP}x{LARGE_CROP} crop\n")
    print("| method | s whole (sigma 25) | s whole (slowest sigma) | s crop | "
          "memory added by the whole-image call (MiB) | "
          + " | ".join(f"err s{s} whole / crop" for s in SIGMAS) + " |")
    print("|---|---:|---:|---:|---:|" + "---:|" * len(SIGMAS))
    for method, r in large.items():
        if "error" in r:
            print(f"| {method} | failed: {r['error']} |")
            continue
        reducers = {"": None} if not method.endswith("/ch") else \
            {"-median": statistics.median, "-mean": statistics.fmean}
        for suffix, red in reducers.items():
            cells = []
            for s in SIGMAS:
                b = r["by_sigma"][s]
                f = b["full"][0] if red is None else red(b["full"])
                c = b["crop"][0] if red is None else red(b["crop"])
                cells.append(f"{f - s:+.2f} / {c - s:+.2f}")
            b25 = r["by_sigma"][25]
            slowest = max(b["full_seconds"] for b in r["by_sigma"].values())
            print(f"| {method}{suffix} | {b25['full_seconds']:.2f} | {slowest:.2f} "
                  f"| {b25['crop_seconds']:.3f} | {r['extra_mib_whole']:.0f} | "
                  + " | ".join(cells) + " |")


def dump(record: dict) -> str:
    """``record`` as indented JSON, one line per ``per_image`` row."""
    head = json.dumps({k: v for k, v in record.items() if k != "per_image"}, indent=1)
    rows = ",\n  ".join(json.dumps(r) for r in record["per_image"])
    return head[:-2] + ',\n "per_image": [\n  ' + rows + "\n ]\n}\n"


def machine() -> dict:
    import importlib.metadata as md

    def version(pkg):
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None

    return {"processor": platform.processor(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__,
            "deepinv": deepinv.__version__, "ptwt": version("ptwt"),
            "pywavelets": version("PyWavelets")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the test sets")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--limit", type=int, help="first N images of each set")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-large", action="store_true", help="skip the 4000x3000 image")
    p.add_argument("--large-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    if args.large_child:
        print(json.dumps(large_child(args.data, args.large_child)))
        return 0

    ests = estimators()
    if "wavelet" not in ests:
        print("ptwt not installed: WaveletNoiseEstimator skipped", file=sys.stderr)
    records = run_test_sets(args.data, args.limit, ests)
    summary = {
        f"{variant}/{region}": summarize(
            [r for r in records if r["variant"] == variant and r["region"] == region],
            key=lambda r: r["method"])
        for variant, region in (("png", "full"), ("raw", "full"), ("png", f"crop{TEST_CROP}"))
    }
    per_set = summarize([r for r in records if r["variant"] == "png" and r["region"] == "full"],
                        key=lambda r: f"{r['method']} @ {r['set']}")
    for group, by_method in summary.items():
        for method, stats in by_method.items():
            print_table(f"{method}, {group} (all sets)", stats)
    for key, stats in per_set.items():
        if key.startswith(LIB + " @") or key.startswith("patchcov @"):
            print_table(f"{key}, png/full", stats)

    large = {} if args.no_large else run_large(args.data, args.threads, ests)
    if large:
        print_large(large)

    record = {
        "what": "Gaussian noise-level estimation error of pnp_internal.noise."
                "estimate_noise_std and of deepinv's estimators",
        "settings": {
            "data": str(args.data), "sets": list(SETS), "limit": args.limit,
            "sigmas_255": list(SIGMAS), "variants": {
                "raw": "x + sigma * n, not clipped",
                "png": "x + sigma * n, clipped to [0, 1], rounded to 1/255"},
            "regions": {"full": "whole image",
                        f"crop{TEST_CROP}": f"central {TEST_CROP}x{TEST_CROP} crop (png only)"},
            "methods": {
                LIB: "pnp_internal.noise.estimate_noise_std (the library function: "
                     "PatchCovarianceNoiseEstimator, stride 1, on the 16x16 blocks away from "
                     "the clip levels; see its docstring)",
                "<est>": "estimator on the whole (1, C, H, W) tensor",
                "<est>/ch-median": "median of the per-channel estimates ((C, 1, H, W) batch)",
                "<est>/ch-mean": "mean of the per-channel estimates"},
            "estimators": {
                "patchcov": "deepinv.models.PatchCovarianceNoiseEstimator() "
                            "(patch_size=8, stride=3)",
                "wavelet": "deepinv.models.WaveletNoiseEstimator() (db8, level 1)"},
            "estimators_run": list(ests),
            "truth": "nominal sigma; errors and estimates in /255 units; 'realised' is the "
                     "std of (noisy - clean) over the estimated region (lower than sigma "
                     "where the png variant clips)",
            "seed": SEED, "noise_seed": "pnp_internal.bench.tasks.image_seed(0, 'set/file')",
            "large_image": f"{LARGE_SIZE[1]}x{LARGE_SIZE[0]} mosaic of Kodak24 tiles, png "
                           f"variant, whole and central {LARGE_CROP}x{LARGE_CROP} crop; "
                           "extra_mib_whole: most resident memory one whole-image call added "
                           "(sampled every 2 ms)",
        },
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "summary": summary,
        "summary_per_set_png_full": per_set,
        "large_image": large,
        "per_image": compact(records),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dump(record))
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
