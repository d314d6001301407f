"""Does super-resolving the LR image's own downscale tell when the 8 flips/rotations pay?

Per image of an SR task (colour bicubic SR on the luminance, as the CNN priors run it): the
shipped CNN inside IDBP as it is and averaged over the 8 flips and rotations
(:class:`~pnp_internal.priors.SelfEnsemble`), scored against the HR image; and the same two
priors super-resolving ``y`` downscaled once more by the task's operator, scored against ``y``.
The turns cost 0.06 dB on two striped photographs (``notes/off-distribution.md``); if the LR
pair's difference has the HR difference's sign there, it can choose the turns per image::

    python benchmarks/experiments/sr_turns_check.py sr-x2 \\
        --images ../shared/data/test/set14 --out FILE.json

The images, degradations and seeds are those of ``pnp-internal bench``.
"""

from __future__ import annotations

import json
import time

import pnp_internal as pi
from pnp_internal import metrics
from pnp_internal.bench.runner import machine_info, provenance
from pnp_internal.bench.tasks import get_task
from pnp_internal.catalog.pnp import shipped_cnn
from pnp_internal.priors import SelfEnsemble

from _harness import (degraded_images, experiment_parser, finish_record,
                      parse_with_out, sr_on_luma_with_next_scale)


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument("--crop", type=int, default=None, help="centre crop (default: whole images)")
    args, argv = parse_with_out(p, argv)
    task = get_task(args.task)
    rows = []
    for _, name, seed, x, d in degraded_images(task, [args.images], limit=args.limit, last=args.last,
                                       crop=args.crop):
        common = dict(solver="idbp", noise_std=task.noise_std, seed=seed)
        y, operator, to_rgb, y_low, low_op = sr_on_luma_with_next_scale(d, task.scale)
        cnn = shipped_cnn(y.shape[1])
        turned = SelfEnsemble(cnn)
        row = {"image": name}
        for key, prior in (("plain", cnn), ("turned", turned)):
            t0 = time.perf_counter()
            out = to_rgb(pi.solve(y, operator, prior=prior, **common).x)
            row[f"{key}_seconds"] = time.perf_counter() - t0
            row[key] = metrics.psnr(out.clamp(0, 1), x, **task.score_options).item()
            low = pi.solve(y_low, low_op, prior=prior, **common).x
            row[f"low_{key}"] = metrics.psnr(low.clamp(0, 1), y).item()
        print(json.dumps(row), flush=True)
        rows.append(row)
    return finish_record(args.out, {"experiment": "sr_turns_check.py", "argv": argv,
                                    "machine": machine_info(), "provenance": provenance(),
                                    "rows": rows})


if __name__ == "__main__":
    raise SystemExit(main())
