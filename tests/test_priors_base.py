"""The prior contract: as_prior wrapping, the adapt hook's defaults, output checks."""

import warnings

import deepinv as dinv
import pytest
import torch

from pnp_internal.priors import AdaptContext, Prior, TV, as_prior
from pnp_internal.priors.base import DenoiserPrior, FunctionPrior, check_denoised


def test_as_prior_keeps_priors_and_wraps_the_rest(camera):
    tv = TV()
    assert as_prior(tv) is tv
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        med = dinv.models.MedianFilter()
    p = as_prior(med)
    assert isinstance(p, DenoiserPrior) and p.name == "MedianFilter"
    assert torch.equal(p(camera, 0.1), med(camera, 0.1))

    def halve(x, sigma):
        return x * 0.5

    f = as_prior(halve)
    assert isinstance(f, FunctionPrior) and f.name == "halve"
    assert torch.equal(f(camera, 0.1), camera * 0.5)
    assert f.adapt_every is None and f.adapt(None) is None  # no-op default hook


@pytest.mark.parametrize("bad, what", [("tv", "string 'tv'"), (None, "NoneType"),
                                       (3.0, "float"), (lambda x: x, "f\\(x, sigma\\)"),
                                       (TV, "f\\(x, sigma\\)|type")])
def test_as_prior_rejects(bad, what):
    with pytest.raises(TypeError, match=what):
        as_prior(bad)


def test_denoiser_adapt_hook_is_forwarded(camera):
    class Adaptive(dinv.models.Denoiser):
        adapt_every = 4

        def __init__(self):
            super().__init__()
            self.seen = []

        def forward(self, x, sigma, **kw):
            return x

        def adapt(self, context):
            self.seen.append(context.iteration)

    d = Adaptive()
    p = as_prior(d)
    assert p.adapt_every == 4
    ctx = AdaptContext(y=camera, operator=None, x=camera, sigma=0.1, iteration=3, seed=1)
    p.adapt(ctx)
    assert d.seen == [3]


def test_context_generator_is_seeded(camera):
    ctx = AdaptContext(y=camera, operator=None, x=camera, sigma=0.1, iteration=0, seed=7)
    a = torch.rand(3, generator=ctx.generator())
    b = torch.rand(3, generator=ctx.generator())
    assert torch.equal(a, b)


def test_check_denoised_messages(camera):
    class Bad(Prior):
        def forward(self, x, sigma, **kw):
            return x

    p = Bad()
    assert check_denoised(p, camera, camera, 0.1) is camera
    with pytest.raises(ValueError, match="prior Bad returned shape"):
        check_denoised(p, camera, camera[..., :3], 0.1)
    with pytest.raises(ValueError, match="prior Bad returned NaN"):
        check_denoised(p, camera, camera * float("inf"), 0.1)
    with pytest.raises(ValueError, match="prior Bad returned ndarray"):
        check_denoised(p, camera, camera.numpy(), 0.1)
