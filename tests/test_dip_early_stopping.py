"""ES-WMV: the variance-minimum rule finds the oracle of a synthetic DIP-like trajectory."""

import pytest
import torch

from pnp_internal.solvers.early_stopping import ESWMV


def _trajectory(T=600, seed=0):
    """x_t = x* + e^{-t/60} d0 + s(t) n_t + jitter: learns, then drifts into noise (s grows).

    The noise part ``n_t`` is a random walk (the network fitting ever more noise), so the
    outputs move fast at first, settle, then move again: quality peaks where motion is least.
    """
    g = torch.Generator().manual_seed(seed)
    shape = (1, 1, 32, 32)
    xs, d0 = torch.rand(shape, generator=g), torch.randn(shape, generator=g)
    walk = torch.zeros(shape)
    for t in range(T):
        s = max(0.0, (t - 200) / 400)
        walk = walk + 0.05 * torch.randn(shape, generator=g)
        yield t, xs, xs + torch.exp(torch.tensor(-t / 60)) * d0 + s * walk \
            + 0.002 * torch.randn(shape, generator=g)


def test_synthetic_curve_stop_near_oracle():
    rule = ESWMV(window=20, patience=100, min_iter=20)
    mse = []
    for t, xs, x in _trajectory():
        mse.append(float((x - xs).pow(2).mean()))
        if rule.update(x):
            break
    assert rule.should_stop
    oracle = min(range(len(mse)), key=mse.__getitem__)
    assert abs(rule.best_iter - oracle) <= 60
    # the returned iterate is at most 2 dB worse than the oracle
    got = float((rule.best - xs).pow(2).mean())
    assert 10 * torch.log10(torch.tensor(got / mse[oracle])) < 2.0
    assert len(rule.variances) == rule.t + 1


def test_incremental_variance_matches_direct():
    g = torch.Generator().manual_seed(1)
    rule = ESWMV(window=4, patience=100)
    xs = [torch.randn(1, 2, 3, 3, generator=g) for _ in range(9)]
    for x in xs:
        rule.update(x)
    last = torch.stack(xs[-4:])
    direct = (last - last.mean(0)).pow(2).sum() / 4 / xs[0].numel()
    assert rule.variances[-1] == pytest.approx(float(direct), rel=1e-6)


def test_candidate_kept_and_scaled_and_bad_args():
    rule = ESWMV(window=2, patience=1)
    rule.update(torch.zeros(1, 1, 2, 2), candidate=torch.ones(1, 1, 2, 2))
    rule.update(torch.zeros(1, 1, 2, 2), candidate=torch.full((1, 1, 2, 2), 7.0))
    assert rule.best_iter == 1 and float(rule.best.mean()) == 7.0
    s = ESWMV.scaled(5000)
    assert (s.window, s.patience) == (100, 1000)
    with pytest.raises(ValueError, match="window"):
        ESWMV(window=1)
    with pytest.raises(ValueError, match="patience"):
        ESWMV(patience=0)
