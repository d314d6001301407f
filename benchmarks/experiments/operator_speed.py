"""Adjoint errors and prox_l2 speed of each operator on a 256x256 RGB image, beside deepinv's own
operator for the same model. Prints two markdown tables.

Run: ``python benchmarks/experiments/operator_speed.py [--size 256] [--repeat 5] [--threads 2]``.
The CG-based rows use the same iteration cap and tolerance for ours and deepinv's
(50 iterations, relative tolerance 1e-4: deepinv's defaults).
"""

from __future__ import annotations

import argparse
import time
import warnings

import deepinv as dinv
import torch

from pnp_internal import operators as O


def timed(fn, repeat: int) -> float:
    """Best wall time in milliseconds over ``repeat`` calls after one warm-up call (the
    minimum is the least disturbed by other jobs on a shared machine)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def models(size: int):
    """(name, ours, theirs, cg) for each forward model; theirs may be None.

    deepinv's "bicubic" filter is its own even-sized bicubic kernel (not MATLAB's), and its
    nearest structured CS model is ``StructuredRandom`` (DST + crop) rather than our
    signs + Hartley + random rows: same kind of model, same sizes."""
    shape = (3, size, size)
    k = O.kernels.gaussian(1.6, size=25)
    mask = O.masks.random_mask(0.5, img_shape=shape, seed=0)
    cg = dict(max_iter=50, tol=1e-4)
    yield ("Blur circular, Gaussian 25x25 std 1.6", O.Blur(k, img_shape=shape),
           dinv.physics.BlurFFT(img_size=shape, filter=k[None, None]), {})
    yield ("Blur reflect (CG)", O.Blur(k, img_shape=shape, padding="reflect"),
           dinv.physics.Blur(filter=k[None, None], padding="reflect", max_iter=50, tol=1e-4),
           cg)
    yield ("Blur valid (CG)", O.Blur(k, img_shape=shape, padding="valid"),
           dinv.physics.Blur(filter=k[None, None], padding="valid", max_iter=50, tol=1e-4), cg)
    yield ("Downsampling x2 bicubic, circular", O.Downsampling(2, img_shape=shape),
           dinv.physics.Downsampling(img_size=shape, filter="bicubic", factor=2,
                                     padding="circular"), {})
    down = O.Downsampling(4, img_shape=shape, kernel="gaussian")  # std 2 on 13x13
    yield ("Downsampling x4 Gaussian std 2, circular", down,
           dinv.physics.Downsampling(img_size=shape, filter=down.kernel[None, None].clone(),
                                     factor=4, padding="circular"), {})
    yield ("Inpainting 50%", O.Inpainting(mask, img_shape=shape),
           dinv.physics.Inpainting(img_size=shape, mask=mask[None].expand(shape).clone()), {})
    yield ("CompressedSensing 25% structured", O.CompressedSensing(0.25, img_shape=shape),
           dinv.physics.StructuredRandom(img_size=shape, output_size=(3, size // 2, size // 2),
                                         max_iter=50, tol=1e-4), {})
    yield ("Denoising", O.Denoising(img_shape=shape), dinv.physics.Denoising(), {})
    conv = O.Blur(k, img_shape=shape)
    yield ("from_functions (circular blur, CG)",
           O.from_functions(conv.A, conv.A_adjoint, img_shape=shape, meas_shape=shape), None, cg)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((1, 3, args.size, args.size), generator=gen)
    rows_adj, rows_speed = [], []
    with torch.inference_mode():
        for name, ours, theirs, cg in models(args.size):
            e32 = O.adjoint_error(ours, dtype=torch.float32, n_samples=2)
            e64 = O.adjoint_error(ours.to(torch.float64), dtype=torch.float64, n_samples=2)
            ours = ours.float()
            e_dinv = "-"
            if theirs is not None:
                e_dinv = f"{float(theirs.adjointness_test(x, num_samples=2)):.1e}"
            rows_adj.append(f"| {name} | {e32:.1e} | {e64:.1e} | {e_dinv} |")
            y = ours.A(x)
            z = torch.rand(x.shape, generator=gen)
            t_ours = timed(lambda: ours.prox_l2(z, y, 0.5, **cg), args.repeat)
            t_dinv = "-"
            if theirs is not None:
                yd = theirs.A(x)
                if cg:
                    t = timed(lambda: theirs.prox_l2(z, yd, 0.5, max_iter=cg["max_iter"],
                                                     tol=cg["tol"]), args.repeat)
                else:
                    t = timed(lambda: theirs.prox_l2(z, yd, 0.5), args.repeat)
                t_dinv = f"{t:.1f}"
            kind = "CG 50 it / 1e-4" if cg else "closed form"
            rows_speed.append(f"| {name} | {kind} | {t_ours:.1f} | {t_dinv} |")
    print(f"Adjoint error (relative, dot-product test), {args.size}x{args.size} RGB\n")
    print("| operator | ours float32 | ours float64 | deepinv float32 |")
    print("|---|---|---|---|")
    print("\n".join(rows_adj))
    print(f"\nprox_l2 time (ms, best of {args.repeat}), {args.size}x{args.size} RGB, "
          f"{args.threads} threads\n")
    print("| operator | ours | ours ms | deepinv ms |")
    print("|---|---|---|---|")
    print("\n".join(rows_speed))


if __name__ == "__main__":
    main()
