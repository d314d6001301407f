"""Does super-resolving the LR image's own downscale tell when the adapted prior pays?

Per image of an SR task (colour bicubic SR on the luminance, as ``ia-idbp``): the plain CNN
prior and the image-adapted one (one copy, ``IMAGE_ADAPTED_SINGLE["sr"]``, with ``--refit`` /
``--batch-size`` if given) inside IDBP, scored against the HR image; and the same two priors,
the adapted one used as it is (``FunctionPrior``: no second adaptation), super-resolving ``y``
downscaled once more by the task's operator, scored against ``y`` (whole, and on the strip of
``y`` the fine-tuning's pixel hold-out kept out of training). A check in the spirit of ZSSR's
cross-scale test: the only ground truth an SR image carries is itself at the next scale.

    python benchmarks/experiments/sr_scale_check.py sr-x2 \\
        --images ../shared/data/test/manga109 --limit 8 --crop 256 --out FILE.json

The images, degradations and seeds are those of ``pnp-internal bench``.
"""

from __future__ import annotations

import dataclasses
import json
import time

import pnp_internal as pi
from pnp_internal import metrics, recipes
from pnp_internal.bench.runner import machine_info, provenance
from pnp_internal.bench.tasks import get_task
from pnp_internal.catalog.pnp import shipped_cnn
from pnp_internal.priors import ImageAdapted
from pnp_internal.priors.base import FunctionPrior

from _harness import (degraded_images, experiment_parser, finish_record,
                      parse_with_out, sr_on_luma_with_next_scale)


def _strip_psnr(a, b, columns):
    return metrics.psnr(a[..., -columns:].clamp(0, 1), b[..., -columns:]).item()


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument("--crop", type=int, default=None, help="centre crop (default: whole images)")
    p.add_argument("--refit", action="store_true")
    p.add_argument("--batch-size", type=int)
    args, argv = parse_with_out(p, argv)
    task = get_task(args.task)
    single = recipes.IMAGE_ADAPTED_SINGLE["sr"]
    recipe = dataclasses.replace(single, refit=args.refit,
                                 batch_size=args.batch_size or single.batch_size)
    rows = []
    for _, name, seed, x, d in degraded_images(task, [args.images], limit=args.limit, last=args.last,
                                       crop=args.crop):
        y, operator, to_rgb, y_low, low_op = sr_on_luma_with_next_scale(d, task.scale)
        common = dict(solver="idbp", noise_std=task.noise_std, seed=seed)
        cnn = shipped_cnn(y.shape[1])
        plain = to_rgb(pi.solve(y, operator, prior=cnn, **common).x)
        prior = ImageAdapted(shipped_cnn(y.shape[1]), seed=seed, **recipe.options())
        t0 = time.perf_counter()
        adapted = to_rgb(pi.solve(y, operator, prior=prior, **common).x)
        seconds = time.perf_counter() - t0
        low_plain = pi.solve(y_low, low_op, prior=cnn, **common).x
        low_adapted = pi.solve(y_low, low_op, prior=FunctionPrior(prior), **common).x
        n = y.shape[-1]
        strip = max(int(round(recipe.holdout * n)), min(48, n // 3))
        score = task.score_options
        row = {"image": name,
               "plain": metrics.psnr(plain.clamp(0, 1), x, **score).item(),
               "adapted": metrics.psnr(adapted.clamp(0, 1), x, **score).item(),
               "low_plain": metrics.psnr(low_plain.clamp(0, 1), y).item(),
               "low_adapted": metrics.psnr(low_adapted.clamp(0, 1), y).item(),
               "strip_plain": _strip_psnr(low_plain, y, strip),
               "strip_adapted": _strip_psnr(low_adapted, y, strip),
               "holdout_decrease": prior.reports[0].holdout_gain,
               "best_step": prior.reports[0].best_step, "adapted_seconds": seconds}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return finish_record(args.out, {"experiment": "sr_scale_check.py", "argv": argv,
                                    "recipe": recipe.options(), "machine": machine_info(),
                                    "provenance": provenance(), "rows": rows})


if __name__ == "__main__":
    raise SystemExit(main())
