"""The shipped CNN denoiser across noise levels, with the level given or estimated, and on
noise whose level varies over the image.

Constant noise: sigma 5, 10, 15, 25, 35, 50, 60, 75 (/255; the network was trained on 0-50),
``y = x + sigma n`` not clipped (as the ``denoise-s*`` tasks), one draw per image and sigma
(seed from the file name). Each image is denoised with the true sigma (``known``) and with the
estimate of :func:`pnp_internal.noise.estimate_noise_std` (``estimated``, what ``--noise auto``
does).

Spatially varying noise, each pixel its own level (FFDNet's experiment):

- ``ramp``: the level grows linearly from 5 to 50 (/255) from the left edge to the right;
- ``spot``: 10 (/255) everywhere but a centred disc (radius a quarter of the short side) at 50.

Each is denoised with the true noise-level map (the network's noise input is a map), with the
map estimated from ``y`` (:func:`pnp_internal.noise.estimate_noise_map`), with the map's mean
as one constant level, and with the global estimate of ``estimate_noise_std``.

Colour images use ``drunet-lite-color``, gray ones ``drunet-lite-gray``; PSNR on all channels,
no border, estimates clipped to [0, 1]. Prints markdown tables, writes the per-image numbers,
the summary and the machine to ``--out`` (JSON) and the curve to ``--plot`` (PNG).

Run: ``python benchmarks/experiments/noise_curve.py [--sets cbsd68 set12] [--limit N]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from pnp_internal.bench.runner import list_images, machine_info, provenance
from pnp_internal.bench.tasks import image_seed
from pnp_internal.io import read_image
from pnp_internal.metrics import psnr
from pnp_internal.noise import estimate_noise_map, estimate_noise_std
from pnp_internal.priors import pretrained

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "test"
SIGMAS = (5, 10, 15, 25, 35, 50, 60, 75)
MAPS = ("ramp", "spot")


def noise_map(kind: str, h: int, w: int) -> torch.Tensor:
    """The (1, 1, h, w) noise-level map ``kind`` on the [0, 1] scale."""
    if kind == "ramp":
        return torch.linspace(5 / 255, 50 / 255, w).view(1, 1, 1, w).expand(1, 1, h, w).clone()
    yy, xx = torch.meshgrid(torch.arange(h) - (h - 1) / 2, torch.arange(w) - (w - 1) / 2,
                            indexing="ij")
    disc = (yy**2 + xx**2).sqrt() <= min(h, w) / 4
    return torch.where(disc, 50 / 255, 10 / 255).view(1, 1, h, w).float()


def score(model, y, level, x) -> float:
    with torch.no_grad():
        return float(psnr(model(y, level).clamp(0, 1), x))


def run_image(model, x: torch.Tensor, name: str) -> dict:
    """Every cell of one image."""
    out = {"constant": {}, "varying": {}}
    for sigma in SIGMAS:
        g = torch.Generator().manual_seed(image_seed(sigma, name))
        y = x + sigma / 255 * torch.randn(x.shape, generator=g)
        est = estimate_noise_std(y)
        out["constant"][sigma] = {"psnr_noisy": float(psnr(y, x)),
                                  "psnr_known": score(model, y, sigma / 255, x),
                                  "psnr_estimated": score(model, y, est, x),
                                  "sigma_estimated": est * 255}
    for kind in MAPS:
        level = noise_map(kind, *x.shape[-2:])
        g = torch.Generator().manual_seed(image_seed(1000, name + kind))
        y = x + level * torch.randn(x.shape, generator=g)
        est, est_map = estimate_noise_std(y), estimate_noise_map(y)
        out["varying"][kind] = {"psnr_noisy": float(psnr(y, x)),
                                "psnr_map": score(model, y, level, x),
                                "psnr_estimated_map": score(model, y, est_map, x),
                                "map_error": float((est_map - level).abs().mean()) * 255,
                                "psnr_mean_level": score(model, y, float(level.mean()), x),
                                "psnr_estimated": score(model, y, est, x),
                                "sigma_estimated": est * 255,
                                "sigma_mean": float(level.mean()) * 255}
    return out


def summarize(images: dict) -> dict:
    rows = list(images.values())
    mean = statistics.fmean
    return {
        "constant": {s: {k: mean(r["constant"][s][k] for r in rows)
                         for k in rows[0]["constant"][s]} for s in SIGMAS},
        "varying": {m: {k: mean(r["varying"][m][k] for r in rows)
                        for k in rows[0]["varying"][m]} for m in MAPS},
    }


def print_tables(name: str, s: dict) -> None:
    print(f"\n### {name}: constant noise\n")
    print("| sigma | noisy | known sigma | estimated sigma | estimate (x255) |")
    print("|---:|---:|---:|---:|---:|")
    for sigma, c in s["constant"].items():
        print(f"| {sigma} | {c['psnr_noisy']:.2f} | {c['psnr_known']:.2f} "
              f"| {c['psnr_estimated']:.2f} | {c['sigma_estimated']:.1f} |")
    print(f"\n### {name}: spatially varying noise\n")
    print("| map | noisy | true map | estimated map (mean abs error x255) | mean level "
          "| estimated level |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, v in s["varying"].items():
        print(f"| {kind} | {v['psnr_noisy']:.2f} | {v['psnr_map']:.2f} "
              f"| {v['psnr_estimated_map']:.2f} ({v['map_error']:.1f}) "
              f"| {v['psnr_mean_level']:.2f} | {v['psnr_estimated']:.2f} "
              f"({v['sigma_estimated']:.1f}) |")


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, s in summary.items():
        sig = list(s["constant"])
        for key, style in (("psnr_known", "-o"), ("psnr_estimated", "--x")):
            ax.plot(sig, [s["constant"][k][key] for k in sig], style,
                    label=f"{name}, {key.split('_')[1]} sigma")
    ax.axvline(50, color="gray", lw=0.8, ls=":")
    ax.text(51, ax.get_ylim()[1] - 1, "trained up to 50", fontsize=8, color="gray", va="top")
    ax.set_xlabel("noise sigma (/255)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("drunet-lite: PSNR against the noise level")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--sets", nargs="+", default=["cbsd68", "set12"])
    p.add_argument("--limit", type=int)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/noise-curve.json")
    p.add_argument("--plot", type=Path, default=ROOT / "benchmarks/results/noise-curve.png")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = {"settings": {"sigmas": list(SIGMAS), "maps": list(MAPS), "limit": args.limit,
                           "sets": args.sets},
              "models": {}, "images": {}, "summary": {}}
    t0 = time.perf_counter()
    for set_name in args.sets:
        paths = list_images(args.data / set_name, limit=args.limit)
        first = read_image(paths[0])
        model_name = "drunet-lite-color" if first.shape[1] == 3 else "drunet-lite-gray"
        model = pretrained(model_name).eval()
        result["models"][set_name] = {"name": model_name, "steps": model.metadata.get("steps")}
        images = {}
        for path in paths:
            images[path.name] = run_image(model, read_image(path), path.name)
        result["images"][set_name] = images
        result["summary"][set_name] = summarize(images)
        print_tables(f"{set_name} ({len(paths)} images, {model_name})", result["summary"][set_name])
    result["seconds"] = time.perf_counter() - t0
    result["machine"] = machine_info()
    result["provenance"] = provenance()
    args.out.write_text(json.dumps(result, indent=1))
    plot(result["summary"], args.plot)
    print(f"\nwrote {args.out} and {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
