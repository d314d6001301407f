"""Does super-resolving the LR image's own downscale tell when the adapted prior pays?

Per image of an SR task (colour bicubic SR on the luminance, as ``ia-idbp``): the plain CNN
prior and the image-adapted one (``IMAGE_ADAPTED["sr"]``, with ``--refit`` / ``--batch-size``
if given) inside IDBP, scored against the HR image; and the same two priors, the adapted one
frozen (no second adaptation), super-resolving ``y`` downscaled once more by the task's
operator, scored against ``y`` (whole, and on the strip of ``y`` the fine-tuning's pixel
hold-out kept out of training). A check in the spirit of ZSSR's cross-scale test: the only
ground truth an SR image carries is itself at the next scale.

    python benchmarks/experiments/sr_scale_check.py sr-x2 \\
        --images ../shared/data/test/manga109 --limit 8 --crop 256 --out FILE.json

The images, degradations and seeds are those of ``pnp-internal bench``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

import pnp_internal as pi
from pnp_internal import metrics, recipes
from pnp_internal.bench.runner import fresh_path, list_images, machine_info, provenance
from pnp_internal.bench.tasks import center_crop, get_task, image_seed
from pnp_internal.catalog.pnp import luminance_sr, shipped_cnn
from pnp_internal.io import read_image
from pnp_internal.operators import Downsampling
from pnp_internal.priors import ImageAdapted
from pnp_internal.priors.base import Prior

from _harness import experiment_parser


class Frozen(Prior):
    """An adapted prior used as it is: no adaptation hook."""

    def __init__(self, prior):
        super().__init__()
        self.prior = prior

    def forward(self, x, sigma, **kwargs):
        return self.prior(x, sigma)


def _strip_psnr(a, b, columns):
    return metrics.psnr(a[..., -columns:].clamp(0, 1), b[..., -columns:]).item()


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument("--crop", type=int, default=None, help="centre crop (default: whole images)")
    p.add_argument("--refit", action="store_true")
    p.add_argument("--batch-size", type=int)
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    if not args.out:
        p.error("--out is required")
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    recipe = recipes.IMAGE_ADAPTED["sr"]
    if args.refit:
        recipe = dataclasses.replace(recipe, refit=True)
    if args.batch_size:
        recipe = dataclasses.replace(recipe, batch_size=args.batch_size)
    rows = []
    for f in list_images(args.images, limit=args.limit, last=args.last):
        image = read_image(f)
        x, _ = task.prepare(center_crop(image, args.crop) if args.crop else image)
        seed = image_seed(0, f.name)
        d = task.degrade(x, seed=seed)
        y, operator, to_rgb = d.y, d.operator, (lambda v: v)
        split = luminance_sr(d.y, d.operator, task.scale)
        if split is not None:
            y, operator, to_rgb = split
        common = dict(solver="idbp", noise_std=task.noise_std, seed=seed)
        channels = y.shape[1]
        cnn = shipped_cnn(channels)
        plain = to_rgb(pi.solve(y, operator, prior=cnn, **common).x)
        prior = ImageAdapted(shipped_cnn(channels), seed=seed, **recipe.options())
        t0 = time.perf_counter()
        adapted = to_rgb(pi.solve(y, operator, prior=prior, **common).x)
        seconds = time.perf_counter() - t0
        low_op = Downsampling(task.scale, img_shape=tuple(y.shape[1:]), kernel="bicubic",
                              padding=getattr(operator, "padding", "circular"))
        y_low = low_op.A(y)
        low_plain = pi.solve(y_low, low_op, prior=cnn, **common).x
        low_adapted = pi.solve(y_low, low_op, prior=Frozen(prior), **common).x
        n = y.shape[-1]
        strip = max(int(round(recipe.holdout * n)), min(48, n // 3))
        score = task.score_options
        row = {"image": f.name, "plain": metrics.psnr(plain.clamp(0, 1), x, **score).item(),
               "adapted": metrics.psnr(adapted.clamp(0, 1), x, **score).item(),
               "low_plain": metrics.psnr(low_plain.clamp(0, 1), y).item(),
               "low_adapted": metrics.psnr(low_adapted.clamp(0, 1), y).item(),
               "strip_plain": _strip_psnr(low_plain, y, strip),
               "strip_adapted": _strip_psnr(low_adapted, y, strip),
               "holdout_decrease": prior.reports[0].holdout_gain,
               "best_step": prior.reports[0].best_step, "adapted_seconds": seconds}
        print(json.dumps(row), flush=True)
        rows.append(row)
    out = fresh_path(Path(args.out))
    out.write_text(json.dumps({"experiment": "sr_scale_check.py", "argv": argv,
                               "recipe": recipe.options(), "machine": machine_info(),
                               "provenance": provenance(), "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
