"""Fuzzing ``solve``: every call either refuses with a ``ValueError``/``TypeError`` that says
something, or returns an image in [0, 1] no worse than the solver's start by more than 1 dB."""

import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pnp_internal as pi
from conftest import real_image
from pnp_internal import operators as O
from pnp_internal import recipes
from pnp_internal.api import operator_kind
from pnp_internal.catalog import Problem
from pnp_internal.catalog.pnp import initial_estimate
from pnp_internal.solvers import HQS


#: real images to crop from: gray cameraman and colour astronaut, 96 px
IMAGES = {1: real_image("camera", 96, gray=True), 3: real_image("astronaut", 96)}


def _operator(kind, c, n, seed):
    shape = (c, n, n)
    if kind == "blur":
        return O.Blur(O.kernels.gaussian(1.2, 7), img_shape=shape)
    if kind == "sr":
        return O.Downsampling(2, img_shape=shape)
    if kind == "inpaint":
        return O.Inpainting(O.masks.random_mask(0.6, img_shape=shape, seed=seed), img_shape=shape)
    if kind == "cs":
        return O.CompressedSensing(0.5, img_shape=shape, seed=seed)
    return O.Denoising(img_shape=shape)


def _start(y, op, noise):
    """The estimate ``tv-hqs`` starts from (the recipe's, else the solver's own rule)."""
    kind = operator_kind(op)
    p = Problem(y=y, operator=op, kind=kind, noise_std=noise,
                scale=2 if kind == "sr" else None)
    recipe = recipes.pnp_recipe(kind, "hqs")
    x0 = initial_estimate(recipe.init, p)
    if x0 is None:
        init = "interpolate" if recipe.init == "fill" else "auto"
        x0 = HQS(pi.priors.TV(), noise_std=noise, init=init).initial_estimate(y, op)
    return x0.clamp(0, 1)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["blur", "sr", "inpaint", "cs", "denoise"]),
       channels=st.sampled_from([1, 3]), size=st.sampled_from([16, 24, 32]),
       dtype=st.sampled_from(["float32", "float64", "uint8", "int64"]),
       scale=st.sampled_from([1.0, 255.0]),
       noise=st.sampled_from([None, 0.0, 0.02, 0.1, 25.0, -0.1]),
       seed=st.integers(0, 3))
def test_solve_refuses_or_restores(kind, channels, size, dtype, scale, noise, seed):
    x = IMAGES[channels][..., 8 * seed:8 * seed + size, 16 * seed:16 * seed + size]
    op = _operator(kind, channels, size, seed)
    sigma = noise if isinstance(noise, float) and 0 <= noise <= 1 else 0.02
    y = op.measure(x, noise_std=sigma, seed=seed) * scale
    y = y.to(getattr(torch, dtype)) if dtype.startswith("float") else \
        y.clamp(0, 255).round().to(getattr(torch, dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = pi.solve(y, op, method="tv-hqs", noise_std=noise)
        except (ValueError, TypeError) as err:
            assert len(str(err)) > 20  # says what is wrong and how to fix it
            return
    assert res.x.dtype == torch.float32 and res.x.shape == x.shape
    assert float(res.x.min()) >= 0 and float(res.x.max()) <= 1
    start = _start(y.float(), op, res.noise_std)
    assert float(pi.metrics.psnr(res.x, x)) >= float(pi.metrics.psnr(start, x)) - 1.0
