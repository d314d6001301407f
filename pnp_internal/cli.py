"""Command line: ``pnp-internal restore ...``, ``pnp-internal bench ...``,
``pnp-internal train-denoiser ...``, ``pnp-internal train-generator ...``,
``pnp-internal train-meta ...``, ``pnp-internal train-meta-prior ...``."""

from __future__ import annotations

import sys

_COMMANDS = {
    "restore": ("pnp_internal.restore", "restore your own images (denoise, deblur, sr, inpaint)"),
    "bench": ("pnp_internal.bench.runner", "run a benchmark task over a folder of images"),
    "report": ("pnp_internal.bench.report",
               "write benchmarks/RESULTS.md from the canonical records"),
    "train-denoiser": ("pnp_internal.training", "train the project's CNN denoiser"),
    "train-generator": ("pnp_internal.generative.training",
                        "train the 64x64 generator of csgm and iagan"),
    "train-meta": ("pnp_internal.meta.training", "meta-train the start of mzsr"),
    "train-meta-prior": ("pnp_internal.meta.prior_training",
                         "meta-train a start of the image-adapted prior (ia-idbp)"),
}


def main(argv=None) -> int:
    """Dispatch ``pnp-internal COMMAND ...`` to the command's own ``main(argv)``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: pnp-internal COMMAND [options]\n\ncommands:\n" + "\n".join(
        f"  {name:<18}{text}" for name, (_, text) in _COMMANDS.items()
    )
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in _COMMANDS:
        print(f"pnp-internal: unknown command {command!r}\n\n{usage}", file=sys.stderr)
        return 2
    module = __import__(_COMMANDS[command][0], fromlist=["main"])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
