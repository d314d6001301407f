"""The common solver loop: adapt hook, divergence guard, callback, tolerance, history, errors."""

import math

import pytest
import torch

from pnp_internal import operators as O
from pnp_internal.priors import AdaptContext, Identity, Prior, TV
from pnp_internal.solvers import HQS, IDBP, ADMM, Result, SolverState
from pnp_internal.solvers.schedules import Constant


@pytest.fixture
def inpaint(camera):
    op = O.Inpainting(O.masks.random_mask(0.5, img_shape=(1, 64, 64), seed=0),
                      img_shape=(1, 64, 64))
    return op, op.A(camera)


class Recording(Prior):
    """A TV prior that records every adapt call and checks gradients are enabled there."""

    def __init__(self, every=None):
        super().__init__()
        self.adapt_every = every
        self.calls = []
        self.tv = TV()

    def forward(self, x, sigma, **kwargs):
        return self.tv(x, sigma)

    def adapt(self, context):
        assert isinstance(context, AdaptContext)
        w = torch.ones(1, requires_grad=True)
        loss = (w * context.x).sum()          # must be differentiable: grad enabled here
        loss.backward()
        self.calls.append((context.iteration, context.sigma, context.seed,
                           tuple(context.x.shape), w.grad is not None))


@pytest.mark.parametrize("every, expected", [(None, [0]), (3, [0, 3, 6]), (1, list(range(8)))])
def test_adapt_called_before_and_every_k(inpaint, every, expected):
    op, y = inpaint
    prior = Recording(every)
    solver = IDBP(prior, max_iter=8, tol=0, seed=5)
    res = solver.solve(y, op)
    assert res.n_iter == 8
    assert [c[0] for c in prior.calls] == expected
    assert all(c[4] for c in prior.calls)                      # gradients worked in adapt
    assert [c[2] for c in prior.calls] == [5 + k for k in expected]
    sig = solver.schedule(8, 0.0)[0]
    assert [c[1] for c in prior.calls] == [sig[k] for k in expected]
    assert prior.calls[0][3] == (1, 1, 64, 64)


def test_adapt_works_inside_inference_mode(inpaint):
    op, y = inpaint
    prior = Recording(2)
    with torch.inference_mode():
        IDBP(prior, max_iter=4, tol=0).solve(y, op)
    assert [c[0] for c in prior.calls] == [0, 2]


class BlowUp(Prior):
    """Fine for 3 calls, then multiplies the image by 1e3 each call."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def forward(self, x, sigma, **kwargs):
        self.n += 1
        return x if self.n <= 3 else x * 1e3


def test_divergence_returns_best_iterate_with_warning(inpaint, camera):
    op, y = inpaint
    with pytest.warns(RuntimeWarning, match="diverged at iteration 4"):
        res = IDBP(BlowUp(), max_iter=10, tol=0).solve(y, op, x_true=camera)
    assert not res.converged and res.n_iter == 4 and "best iterate" in res.message
    assert torch.isfinite(res.x).all() and res.x.abs().max() <= 1.5
    assert len(res.history["psnr"]) == 4


def test_divergence_on_nan_without_ground_truth(inpaint):
    op, y = inpaint
    calls = []

    def f(x, sigma):
        calls.append(1)
        return x if len(calls) < 3 else x * float("nan")

    with pytest.warns(RuntimeWarning, match="NaN/Inf"):
        res = HQS(f, max_iter=6, tol=0).solve(y, op)
    assert res.n_iter == 3 and torch.isfinite(res.x).all()
    # best by data residual among the finite iterates
    assert res.history["residual"][2] == math.inf


def test_bad_prior_output_caught_at_first_iteration(inpaint):
    op, y = inpaint
    with pytest.raises(ValueError, match="prior shrink returned shape"):
        def shrink(x, sigma):
            return x[..., :10, :10]
        IDBP(shrink, max_iter=3).solve(y, op)
    with pytest.raises(ValueError, match="prior .*NaN"):
        IDBP(lambda x, s: x * float("nan"), max_iter=3).solve(y, op)


def test_callback_state_and_early_stop(inpaint, camera):
    op, y = inpaint
    seen = []

    def cb(state):
        assert isinstance(state, SolverState)
        seen.append((state.iteration, state.psnr))
        return state.iteration == 3

    res = ADMM(TV(), max_iter=10, tol=0).solve(y, op, x_true=camera, callback=cb)
    assert res.n_iter == 3 and res.converged and "callback" in res.message
    assert [s[0] for s in seen] == [1, 2, 3]
    assert [s[1] for s in seen] == res.history["psnr"]


def test_history_and_tolerance(inpaint):
    op, y = inpaint
    res = IDBP(TV(), max_iter=6, tol=0, schedule=Constant(0.02)).solve(y, op)
    assert isinstance(res, Result) and res.n_iter == 6 and not res.converged
    for key in ("seconds", "residual", "sigma", "change"):
        assert len(res.history[key]) == 6
    assert "psnr" not in res.history
    assert res.history["seconds"] == sorted(res.history["seconds"])
    assert res.history["sigma"] == [0.02] * 6
    # identity prior from A_dagger(y): already a fixed point, tol stops at the first step
    res = IDBP(Identity(), max_iter=50, tol=1e-6).solve(y, op)
    assert res.converged and res.n_iter == 1 and "tol" in res.message


def test_same_seed_same_output(inpaint):
    op, y = inpaint
    a = HQS(TV(), max_iter=4).solve(y, op).x
    b = HQS(TV(), max_iter=4).solve(y, op).x
    assert torch.equal(a, b)


def test_bad_inputs(inpaint):
    op, y = inpaint
    with pytest.raises(ValueError, match="max_iter"):
        IDBP(TV(), max_iter=0)
    with pytest.raises(ValueError, match="noise_std"):
        HQS(TV(), noise_std=-0.1)
    with pytest.raises(ValueError, match="sigma"):
        IDBP(TV(), schedule=Constant(-0.1))
    with pytest.raises(ValueError, match="tol"):
        ADMM(TV(), tol=-1)
    with pytest.raises(ValueError, match="eps"):
        IDBP(TV(), eps=-1.0)
    with pytest.raises(ValueError, match="init"):
        IDBP(TV(), init="zeros")
    with pytest.raises(ValueError, match="finite penalties"):
        from pnp_internal.solvers.schedules import IDBPDecay
        HQS(TV(), schedule=IDBPDecay())
    with pytest.raises(ValueError, match=r"y has shape \(1, 1, 32, 32\)"):
        IDBP(TV()).solve(y[..., :32, :32], op)
    with pytest.raises(ValueError, match="x_true"):
        IDBP(TV(), max_iter=1).solve(y, op, x_true=y[..., :8])
    with pytest.raises(TypeError, match="y must be a torch.Tensor"):
        IDBP(TV()).solve(y.numpy(), op)
    with pytest.raises(TypeError, match="needs a prior"):
        IDBP(None)
