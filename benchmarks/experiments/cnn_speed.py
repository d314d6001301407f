"""Inference time of the shipped DRUNet-lite on a 256x256 image.

Prints the minimum and median wall time over repeated calls, the process CPU time per call and
the arithmetic that ran, for the given thread count and ``--precision``. Run it on an idle
machine for the record:

    python benchmarks/experiments/cnn_speed.py --threads 2 --channels 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from pnp_internal.catalog.pnp import shipped_cnn


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--channels", type=int, default=3, choices=(1, 3))
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    net = shipped_cnn(a.channels, precision=a.precision)
    x = torch.rand(1, a.channels, a.size, a.size, generator=torch.Generator().manual_seed(0))
    for _ in range(3):  # warm-up
        net(x, 25 / 255)
    walls, c0 = [], time.process_time()
    for _ in range(a.repeat):
        t = time.perf_counter()
        net(x, 25 / 255)
        walls.append(time.perf_counter() - t)
    cpu = (time.process_time() - c0) / a.repeat
    print(f"{a.size}x{a.size}x{a.channels}, {a.threads} threads, {net.precision_used}: wall min "
          f"{min(walls):.3f} s, median {statistics.median(walls):.3f} s; CPU {cpu:.3f} s/call; "
          f"load {open('/proc/loadavg').read().split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
