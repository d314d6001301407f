"""Low-rank (LoRA-style) adaptation: the network starts unchanged, only the factors move, and
a rank-r update of a convolution has rank r."""

import pytest
import torch
from deepinv.models import DnCNN

from conftest import real_image
from pnp_internal.priors import SUREFineTuned
from pnp_internal.priors.finetune import trainable_parameters
from pnp_internal.priors.low_rank import attach_low_rank, low_rank_parameters


def _tiny_net():
    torch.manual_seed(0)
    return DnCNN(1, 1, depth=3, nf=8, pretrained=None)


def test_zero_update_keeps_the_network_and_attaching_twice_adds_nothing():
    net = _tiny_net()
    z = torch.rand(1, 1, 24, 24)
    with torch.no_grad():
        ref = net(z, 0.1)
        factors = attach_low_rank(net, rank=2)
        assert len(factors) == 6 and len(attach_low_rank(net, rank=2)) == 6
        assert torch.allclose(net(z, 0.1), ref)
        factors[1].normal_()  # B of the first layer
        assert not torch.allclose(net(z, 0.1), ref)


def test_update_of_a_layer_has_the_asked_rank():
    net = _tiny_net()
    attach_low_rank(net, rank=2)
    conv = net.conv_list[0]
    update = conv.parametrizations.weight[0]
    with torch.no_grad():
        update.B.normal_()
        delta = conv.weight - conv.parametrizations.weight.original
    assert torch.linalg.matrix_rank(delta.reshape(delta.shape[0], -1)) == 2


def test_only_the_factors_are_trained_and_the_original_stays():
    net = _tiny_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = real_image("camera", 48, gray=True)
    y = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    prior = SUREFineTuned(net, train="lora", rank=2, steps=3, batch_size=2, crop=16,
                          holdout=0.0, lr=0.05)
    prior.fit(y, 0.1)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    trained = {id(p) for p in low_rank_parameters(prior.model)}
    for p in prior.model.parameters():
        assert p.requires_grad is False
    assert any(not torch.equal(m.B, torch.zeros_like(m.B))
               for m in prior.model.modules() if hasattr(m, "B")), "the update did not move"
    originals = [m.parametrizations.weight.original for m in prior.model.modules()
                 if hasattr(m, "parametrizations")]
    assert originals and all(id(w) not in trained for w in originals)


def test_bad_rank_and_bad_choice_are_named():
    with pytest.raises(ValueError, match="rank must be an int >= 1"):
        attach_low_rank(_tiny_net(), rank=0)
    with pytest.raises(ValueError, match="train must be one of all, last, gains, lora"):
        trainable_parameters(_tiny_net(), "everything")


def test_holdout_sure_averages_the_asked_number_of_probes():
    x = real_image("camera", 48, gray=True)
    y = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    first = {}
    for probes in (1, 4):
        prior = SUREFineTuned(_tiny_net(), train="lora", steps=1, batch_size=1, crop=16,
                              holdout_probes=probes)
        first[probes] = prior.fit(y, 0.1).holdout[0][1]
    assert first[1] != first[4]  # a different, averaged estimate of the same risk
    with pytest.raises(ValueError, match="holdout_probes must be an int >= 1"):
        SUREFineTuned(_tiny_net(), holdout_probes=0)


def test_recorrupted_steps_train_on_fresh_noise_and_the_holdout_stays_on_y():
    x = real_image("camera", 48, gray=True)
    y = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    reports = {a: SUREFineTuned(_tiny_net(), train="lora", steps=2, batch_size=1, crop=16,
                                recorrupt=a).fit(y, 0.1) for a in (0.0, 0.5)}
    # the hold-out is scored on y at its own level whatever the training inputs
    assert reports[0.0].holdout[0] == reports[0.5].holdout[0]
    assert reports[0.0].train_loss[0] != reports[0.5].train_loss[0]
    with pytest.raises(ValueError, match="recorrupt must be a finite number >= 0"):
        SUREFineTuned(_tiny_net(), recorrupt=-1.0)
    with pytest.raises(ValueError, match="recorrupt needs loss='sure'"):
        SUREFineTuned(_tiny_net(), loss="noise2self", recorrupt=0.5)
