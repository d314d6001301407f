"""What the experiment scripts share: their common options and the run through the harness."""

from __future__ import annotations

import argparse

import torch

from pnp_internal.bench import runner


def experiment_parser(doc: str) -> argparse.ArgumentParser:
    """A parser with the options every experiment script takes: the task, the images, the
    output file, how many images and how many threads."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--images", required=True)
    p.add_argument("--out")
    p.add_argument("--limit", type=int)
    p.add_argument("--threads", type=int, default=1)
    return p


def run_methods(args, methods: str, extra=()) -> int:
    """Run the registered ``methods`` (comma-separated) with the benchmark harness, per image."""
    torch.set_num_threads(args.threads)
    argv = [args.task, "--images", args.images, "--methods", methods, "--per-image"]
    argv += ["--out", args.out] if args.out else []
    argv += ["--limit", str(args.limit)] if args.limit else []
    return runner.main(argv + list(extra))
