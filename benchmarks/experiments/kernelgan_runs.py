"""KernelGAN over several seeds (``KernelGAN(runs=)``): is the mean, or the per-tap median, of
three runs' kernels a better blind SR kernel than one run, alone and inside the default mean
with the patch-recurrence estimate? ``cnn-hqs`` with each candidate kernel (noise floor
``ESTIMATED_KERNEL_NOISE``, as the blind methods), seeds ``s, s + 1, s + 2`` with ``s`` the
bench's image seed (so the first run is the kernel of the bench's ``-kernelgan`` rows).

    python benchmarks/experiments/kernelgan_runs.py sr-x2-aniso --images ../shared/data/test/set5 \
        --out benchmarks/results/kernelgan-runs_sr-x2-aniso_set5.json

``--cache DIR`` keeps each run's kernel, so a rerun only restores.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

import pnp_internal as pi
from pnp_internal import metrics, recipes
from pnp_internal.bench.runner import list_images, machine_info, provenance, write_record
from pnp_internal.bench.tasks import get_task, image_seed
from pnp_internal.blind import KernelGAN, PatchRecurrence
from pnp_internal.io import read_image
from pnp_internal.operators import Downsampling, kernels

RUNS = 3


def _cached(cache: Path | None, name: str, make):
    path = cache / name if cache else None
    if path and path.is_file():
        return torch.load(path)
    k = make()
    if path:
        torch.save(k, path)
    return k


def candidates(runs: list[torch.Tensor], recurrence: torch.Tensor, scale: int) -> dict:
    """The kernels compared: one run, the mean and the per-tap median of the runs, and each
    of them averaged with the recurrence estimate (the library's default is ``kg1+rec``)."""
    c = [kernels.centre_on_grid(k, scale) for k in runs]
    median = torch.stack(c).median(0).values
    median = kernels.centre_on_grid(median / median.sum(), scale)
    rec = kernels.centre_on_grid(recurrence, scale)
    return {"kg1": c[0], f"kg{len(c)}-mean": kernels.average(*c),
            f"kg{len(c)}-median": median, "kg1+rec": kernels.average(c[0], rec),
            f"kg{len(c)}-mean+rec": kernels.average(kernels.average(*c), rec),
            f"kg{len(c)}-median+rec": kernels.average(median, rec)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--cache", type=Path, default=None, help="folder for the runs' kernels")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    task = get_task(args.task)
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    record = {"experiment": "kernelgan_runs.py", "task": args.task, "images": args.images,
              "machine": machine_info(), "provenance": provenance(),
              "noise_floor": recipes.ESTIMATED_KERNEL_NOISE.value,
              "kernelgan": recipes.KERNELGAN.options(), "rows": []}
    for f in list_images(args.images):
        x, _ = task.prepare(read_image(f))
        seed = image_seed(0, f.name)
        d = task.degrade(x, seed=seed)
        true = d.operator.kernel.squeeze()
        runs = [_cached(args.cache, f"{args.task}_{f.name}_kg{seed + j}.pt", lambda j=j: KernelGAN(
            factor=task.scale, seed=seed + j, **recipes.KERNELGAN.options()).estimate(d.y).kernel)
            for j in range(RUNS)]
        rec = _cached(args.cache, f"{args.task}_{f.name}_rec.pt", lambda: PatchRecurrence(
            factor=task.scale, **recipes.PATCH_RECURRENCE.options()).estimate(d.y).kernel)
        row = {"image": f.name, "run_kernel_errors": [metrics.kernel_error(k, true)
                                                      for k in runs]}
        for label, k in {"true": true, **candidates(runs, rec, task.scale)}.items():
            op = Downsampling(task.scale, img_shape=tuple(x.shape[1:]), kernel=k,
                              padding="circular")
            noise = task.noise_std if label == "true" else max(
                task.noise_std, recipes.ESTIMATED_KERNEL_NOISE.value)
            res = pi.solve(d.y, op, method="cnn-hqs", noise_std=noise)
            row[label] = {"psnr": float(metrics.psnr(res.x.clamp(0, 1), x,
                                                     **task.score_options)[0]),
                          "kernel_error": metrics.kernel_error(k, true)}
        print(json.dumps(row), flush=True)
        record["rows"].append(row)
    labels = [k for k in record["rows"][0] if isinstance(record["rows"][0][k], dict)]
    record["mean"] = {k: {"psnr": statistics.mean(r[k]["psnr"] for r in record["rows"]),
                          "kernel_error": statistics.mean(r[k]["kernel_error"]
                                                          for r in record["rows"])}
                      for k in labels}
    print(json.dumps(record["mean"], indent=1))
    print(f"wrote {write_record(args.out, record)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
