"""What ``pnp-internal restore`` tells about each image: the JSON report, the optional plot,
the scores against a ground truth, and the closing summary table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from .. import io, metrics

__all__ = ["write_json", "find_truth", "scores", "plot", "summary_table"]


def _plain(value):
    """JSON-safe copy: tensors and numpy scalars to numbers, NaN to ``None``."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return _plain(value.tolist())
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented JSON, atomically (:func:`pnp_internal.io.atomic_write`)."""
    text = json.dumps(_plain(data), indent=1) + "\n"
    io.atomic_write(Path(path), lambda tmp: tmp.write_text(text))


def find_truth(folder, name: str) -> Path | None:
    """The ground truth of output ``name`` in ``folder``: the same file name, else the same
    stem with any image suffix."""
    folder = Path(folder)
    same = folder / name
    if same.is_file():
        return same
    stem = Path(name).stem
    for suffix in io.IMAGE_SUFFIXES:
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def scores(x: torch.Tensor, truth_file: Path, *, border: int = 0) -> dict:
    """PSNR and SSIM of ``x`` against the image in ``truth_file`` (``border`` pixels left out
    on each side, as in super-resolution benchmarks)."""
    truth = io.read_image(truth_file).to(x.device)
    if truth.shape != x.shape:
        raise ValueError(f"ground truth {str(truth_file)!r} has shape {tuple(truth.shape[1:])}, "
                         f"the restored image {tuple(x.shape[1:])}")
    return {"truth": str(truth_file), "psnr": float(metrics.psnr(x, truth, border=border)),
            "ssim": float(metrics.ssim(x, truth, border=border))}


def plot(path: Path, observed: torch.Tensor, restored: torch.Tensor, history: dict,
         title: str) -> None:
    """A PNG with the observed and restored images side by side and the convergence curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def show(ax, x, name):
        a = x[0].detach().float().clamp(0, 1).cpu()
        ax.imshow(a[0] if a.shape[0] == 1 else a.permute(1, 2, 0),
                  cmap="gray" if a.shape[0] == 1 else None, vmin=0, vmax=1)
        ax.set_title(f"{name} ({a.shape[2]}x{a.shape[1]})")
        ax.axis("off")

    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    show(axes[0], observed, "observed")
    show(axes[1], restored, "restored")
    curves = {k: v for k, v in history.items()
              if k in ("psnr", "residual", "loss") and len(v) > 1}
    ax = axes[2]
    if curves:
        for key, values in curves.items():
            ax.plot(range(1, len(values) + 1), values, label=key)
        ax.set_yscale("log" if "psnr" not in curves else "linear")
        ax.set_xlabel("iteration")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "one pass: no iterations", ha="center", va="center")
        ax.axis("off")
    ax.set_title("convergence")
    fig.suptitle(title)
    fig.tight_layout()
    try:
        io.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=80))
    finally:
        plt.close(fig)


def summary_table(rows: list[dict]) -> str:
    """A markdown table of the batch: one row per image, the mean PSNR/SSIM last."""
    scored = [r for r in rows if r.get("psnr") is not None]
    head = "| image | status | method | sigma (0-255) | seconds |"
    line = "|---|---|---|---|---|"
    if scored:
        head, line = head + " PSNR | SSIM |", line + "---|---|"
    out = [head, line]
    for r in rows:
        sigma = r.get("noise_std_255")
        cells = [r["image"], r["status"], r.get("method") or "",
                 "" if sigma is None else f"{sigma:.2f}",
                 "" if r.get("seconds") is None else f"{r['seconds']:.1f}"]
        if scored:
            cells += ["" if r.get("psnr") is None else f"{r['psnr']:.2f}",
                      "" if r.get("ssim") is None else f"{r['ssim']:.4f}"]
        out.append("| " + " | ".join(cells) + " |")
    if scored:
        mean_p = sum(r["psnr"] for r in scored) / len(scored)
        mean_s = sum(r["ssim"] for r in scored) / len(scored)
        out.append(f"| mean of {len(scored)} | | | | | {mean_p:.2f} | {mean_s:.4f} |")
    return "\n".join(out)
