"""The settings of ``pnp-internal restore``: flags, a TOML file with the same keys, checks.

A TOML file (``--config FILE.toml``) holds any flag under its long name, with ``-`` or ``_``
(``task = "deblur"``, ``kernel = "gaussian:1.6"``, ``skip-existing = true``,
``inputs = ["photos/"]``); flags given on the command line override it.
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "TASKS", "parse", "check", "UsageError"]

#: What ``--task`` accepts.
TASKS = ("denoise", "deblur", "sr", "inpaint")


class UsageError(ValueError):
    """A flag or a configuration value the command cannot use (exit code 2)."""


@dataclass(frozen=True)
class Settings:
    """Everything one ``restore`` run was asked to do (see ``pnp-internal restore --help``)."""

    inputs: tuple[str, ...]
    out: Path
    task: str
    kernel: str | None = None
    scale: int | None = None
    mask: str | None = None
    noise: str = "auto"
    method: str | None = None
    device: str = "auto"
    seed: int = 0
    precision: str = "auto"
    tile: str = "auto"
    gt: str | None = None
    skip_existing: bool = False
    dry_run: bool = False
    plot: bool = False
    quiet: bool = False
    workers: int = 1
    ray: str | None = None
    cpus_per_task: float | None = None
    gpus_per_task: float = 0.0
    retries: int = 1

    @property
    def noise_std(self) -> float | None:
        """The noise level on the [0, 1] scale, ``None`` for ``auto``."""
        return None if self.noise == "auto" else float(self.noise) / 255.0

    @property
    def tile_size(self):
        """What :func:`pnp_internal.solve` takes as ``tile=``."""
        if self.tile == "auto":
            return "auto"
        return int(self.tile) or None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pnp-internal restore",
        description="Restore your own images (denoise, deblur, super-resolve, inpaint) with the "
                    "recipe book's methods. Outputs keep the input's name, channels, alpha and "
                    "bit depth; a JSON report per image goes to OUT/reports/.",
        argument_default=argparse.SUPPRESS)
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="image files, folders or globs (PNG, JPEG, TIFF, BMP)")
    p.add_argument("--out", help="output folder")
    p.add_argument("--task", choices=TASKS, help="what degraded the images")
    p.add_argument("--kernel", help="deblur: auto (estimated from each image from its sparse "
                                    "gradients), gaussian:STD[:SIZE] or a kernel file "
                                    "(.npy, .mat, .png); sr: bicubic (the default), auto "
                                    "(estimated from each image: the mean of the KernelGAN and "
                                    "patch-recurrence estimates, x2 and x4), "
                                    "gaussian:STD[:SIZE] or a file")
    p.add_argument("--scale", type=int, help="sr: the upscaling factor (2, 3, 4, ...)")
    p.add_argument("--mask", help="inpaint: mask image of the same size, white = known pixel")
    p.add_argument("--noise", help="auto (estimated per image, the default) or SIGMA on the "
                                   "0-255 scale")
    p.add_argument("--method", help="a method name (pnp_internal.methods()); default: the "
                                    "recipe book's choice for the task")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default auto")
    p.add_argument("--seed", type=int, help="seed of every random choice (default 0)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"),
                   help="network arithmetic (default auto: bf16 where native)")
    p.add_argument("--tile", help="CNN tile side in pixels, auto (from free memory, the "
                                  "default) or 0 (never tile)")
    p.add_argument("--config", help="TOML file with any of these settings")
    p.add_argument("--gt", help="folder of ground-truth images (same file names): PSNR/SSIM")
    p.add_argument("--skip-existing", action="store_true",
                   help="leave images whose output already exists")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    p.add_argument("--plot", action="store_true",
                   help="also write OUT/reports/NAME.png: observed, restored, convergence")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--workers", type=int, help="images restored at once in separate processes "
                                               "of this machine (default 1)")
    p.add_argument("--ray", help="auto (the running Ray cluster, else a local one) or a Ray "
                                 "address: one Ray task per image")
    p.add_argument("--cpus-per-task", type=float, help="torch threads per worker / Ray CPUs per "
                                                       "task (default: cores / workers; Ray 1)")
    p.add_argument("--gpus-per-task", type=float, help="Ray GPUs per task, fractions allowed "
                                                       "(default 0)")
    p.add_argument("--retries", type=int, help="retries of an image whose worker died "
                                               "(default 1)")
    return p


def _from_toml(path: str) -> dict:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--config: no such file {path!r}")
    try:
        data = tomllib.loads(file.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"--config: {path!r} is not valid TOML ({err})") from err
    known = {f.name for f in dataclasses.fields(Settings)}
    out = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name == "input":
            name = "inputs"
        if name not in known:
            raise UsageError(f"--config: unknown key {key!r} in {path!r}; valid keys: "
                             f"{', '.join(sorted(k.replace('_', '-') for k in known))}")
        out[name] = value
    if isinstance(out.get("inputs"), str):
        out["inputs"] = [out["inputs"]]
    if "out" in out and not Path(out["out"]).is_absolute():
        out["out"] = str(file.parent / out["out"])
    return out


def parse(argv) -> Settings:
    """Settings from command-line arguments (and ``--config``); :class:`UsageError` names what
    is missing or wrong and how to fix it."""
    given = vars(_parser().parse_args(argv))
    config = _from_toml(given.pop("config")) if "config" in given else {}
    merged = {**config, **{k: v for k, v in given.items() if not (k == "inputs" and not v)}}
    for required in ("inputs", "out", "task"):
        if not merged.get(required):
            flag = "INPUT" if required == "inputs" else f"--{required}"
            raise UsageError(f"missing {flag} (on the command line or in --config)")
    if merged["task"] not in TASKS:
        raise UsageError(f"--task must be one of {', '.join(TASKS)}, got {merged['task']!r}")
    merged["inputs"] = tuple(str(i) for i in merged["inputs"])
    merged["out"] = Path(merged["out"])
    for key in ("noise", "tile"):
        if key in merged:
            merged[key] = str(merged[key])
    settings = Settings(**merged)
    check(settings)
    return settings


def check(s: Settings) -> None:
    """Raise :class:`UsageError` for settings the command cannot use, naming the fix."""
    if s.task == "deblur" and not s.kernel:
        raise UsageError("--task deblur needs --kernel (auto: estimated from each image, "
                         "gaussian:STD[:SIZE] or a .npy/.mat/.png file)")
    if s.task == "sr" and not s.scale:
        raise UsageError("--task sr needs --scale (the upscaling factor, e.g. 2)")
    if s.scale is not None and (not isinstance(s.scale, int) or s.scale < 2):
        raise UsageError(f"--scale must be an integer >= 2, got {s.scale!r}")
    if s.task == "inpaint" and not s.mask:
        raise UsageError("--task inpaint needs --mask (an image of the same size, white = "
                         "known pixel)")
    for flag, value, tasks in (("--kernel", s.kernel, ("deblur", "sr")),
                               ("--scale", s.scale, ("sr",)), ("--mask", s.mask, ("inpaint",))):
        if value is not None and s.task not in tasks:
            raise UsageError(f"{flag} applies to --task {' and '.join(tasks)}, not --task "
                             f"{s.task}")
    if s.task == "deblur" and s.kernel == "bicubic":
        raise UsageError("--kernel bicubic is for --task sr; deblurring needs auto (estimated "
                         "from each image), gaussian:STD[:SIZE] or a kernel file")
    if s.task == "sr" and s.kernel == "auto" and s.scale not in (2, 4):
        raise UsageError(f"--kernel auto estimates x2 and x4 kernels, got --scale {s.scale}")
    if s.noise != "auto":
        try:
            sigma = float(s.noise)
        except ValueError:
            raise UsageError(f"--noise must be auto or a number (0-255 scale), got "
                             f"{s.noise!r}") from None
        if not 0 <= sigma <= 255:
            raise UsageError(f"--noise {s.noise} is outside 0-255 (the noise standard "
                             "deviation on the 0-255 scale, e.g. 25)")
    if s.tile != "auto" and not (s.tile.isdigit() and (int(s.tile) == 0 or int(s.tile) >= 16)):
        raise UsageError(f"--tile must be auto, 0 (never tile) or a side >= 16 pixels, got "
                         f"{s.tile!r}")
    if s.method is not None:
        from .. import catalog

        try:
            entry = catalog.get(s.method)
        except ValueError as err:
            raise UsageError(f"--method: {err}") from None
        if s.task not in entry.kinds:
            raise UsageError(f"--method {s.method} does not do {s.task}; methods for "
                             f"{s.task}: {', '.join(catalog.names(s.task))}")
    if not isinstance(s.workers, int) or s.workers < 1:
        raise UsageError(f"--workers must be an integer >= 1, got {s.workers!r}")
    if s.workers > 1 and s.ray:
        raise UsageError("give --workers or --ray, not both (Ray spreads the tasks itself)")
    if not isinstance(s.retries, int) or s.retries < 0:
        raise UsageError(f"--retries must be an integer >= 0, got {s.retries!r}")
    for flag, value in (("--cpus-per-task", s.cpus_per_task), ("--gpus-per-task",
                                                                 s.gpus_per_task)):
        if value is not None and not (isinstance(value, (int, float)) and value >= 0):
            raise UsageError(f"{flag} must be a number >= 0, got {value!r}")
    for key, value in (("device", s.device), ("precision", s.precision)):
        valid = ("auto", "cpu", "cuda") if key == "device" else ("auto", "fp32", "bf16")
        if value not in valid:
            raise UsageError(f"--{key} must be one of {', '.join(valid)}, got {value!r}")
