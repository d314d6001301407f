"""The denoiser tuned on its own pilot: a good pilot teaches it the image, a wrong one is refused
by the SURE hold-out on ``y``, and by default the pilot is ``cnn-x8-wiener``'s denoiser."""

import pytest
import torch

from conftest import DimBox, real_image
from pnp_internal.catalog.pnp import shipped_cnn
from pnp_internal.priors import CollaborativeWiener, PilotFineTuned, SelfEnsemble

SIGMA = 0.1


def _tuned(pilot):
    x = real_image("camera", 64, gray=True)
    y = x + SIGMA * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    prior = PilotFineTuned(DimBox(), pilot=lambda den: lambda z, s: pilot(x), train="all",
                           steps=30, lr=0.02, batch_size=4, crop=32, check_every=5, patience=3,
                           holdout_probes=2)
    report = prior.fit(y, SIGMA)
    with torch.no_grad():
        before = float((DimBox()(y, SIGMA) - x).pow(2).mean())
        after = float((prior(y, SIGMA) - x).pow(2).mean())
    return before, after, report


def test_pairs_from_a_clean_pilot_teach_the_image():
    """With the clean image as pilot (the oracle), the tuned denoiser is closer to it on ``y``,
    and SURE on the held-out strip of ``y`` keeps the tuning."""
    before, after, report = _tuned(lambda x: x)
    assert report.best_step > 0
    assert after < 0.8 * before, (before, after)


@pytest.mark.parametrize("whole", [False, True])
def test_a_wrong_pilot_is_refused_by_the_holdout_on_y(whole):
    """A pilot far from the image (a heavy blur of it) teaches the shipped CNN to blur: SURE on
    a strip of ``y`` (or on all of it) sees the loss and the shipped weights are kept."""
    x = real_image("camera", 96, gray=True)
    y = x + 25 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    blurred = torch.nn.functional.avg_pool2d(x, 9, stride=1, padding=4, count_include_pad=False)
    prior = PilotFineTuned(shipped_cnn(1, one_call=True).eval(),
                           pilot=lambda den: lambda z, s: blurred, steps=20, lr=1e-3,
                           batch_size=2, crop=48, check_every=5, patience=2, holdout_probes=2,
                           holdout_whole=whole, precision="fp32")
    report = prior.fit(y, 25 / 255)
    assert report.best_step == 0 and report.kept_initial
    with torch.no_grad():
        assert torch.equal(prior(y, 25 / 255), prior.original(y, 25 / 255))


def test_each_round_after_the_first_pilots_with_the_tuned_copy():
    """``rounds=2``: the second tuning trains on the pilot the first tuning's weights make, from
    those weights; the report counts the steps of both."""
    x = real_image("camera", 64, gray=True)
    y = x + SIGMA * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    asked = []

    def pilot(den):
        asked.append(den)
        return lambda z, s: x

    prior = PilotFineTuned(DimBox(), pilot=pilot, rounds=2, train="all", steps=10, lr=0.02,
                           batch_size=4, crop=32, check_every=5, patience=3)
    report = prior.fit(y, SIGMA)
    assert asked == [prior.original, prior.model] and len(prior.reports) == 1
    assert report.steps == 20 and [s for s, _ in report.holdout] == [0, 5, 10, 10, 15, 20]


def test_the_default_pilot_is_the_x8_wiener_denoiser():
    """Without ``pilot=``, the pairs are made from ``cnn-x8-wiener``'s denoiser of the CNN."""
    prior = PilotFineTuned(shipped_cnn(1, one_call=True).eval(), steps=0)
    pilot = prior.pilot_of(prior.original, 1)
    assert isinstance(pilot, CollaborativeWiener)
    assert isinstance(pilot.prior, SelfEnsemble) and pilot.prior.prior is prior.original
