"""The precision helper: the automatic choice, the overrides, and the loops that obey them."""

import sys
import warnings

import deepinv as dinv
import pytest
import torch

from pnp_internal import precision
from pnp_internal.precision import resolve


def _cpuinfo_has_native_bf16() -> bool:
    with open("/proc/cpuinfo") as f:
        flags = next(line for line in f if line.startswith("flags")).split()
    return "avx512_bf16" in flags or "amx_bf16" in flags


class _Recorder:
    """Forward hook noting whether CPU autocast was on and the output dtype of each call."""

    def __init__(self, module):
        self.calls = []
        module.register_forward_hook(self)

    def __call__(self, module, inputs, output):
        self.calls.append((torch.is_autocast_enabled("cpu"), output.dtype))

    @property
    def autocast(self):
        return {a for a, _ in self.calls}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/cpuinfo")
def test_auto_follows_the_cpu_flags():
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        pytest.skip("this torch build has no oneDNN bf16 kernels")
    expected = "bf16" if _cpuinfo_has_native_bf16() else "fp32"
    assert precision.native_bf16("cpu") == (expected == "bf16")
    chosen = resolve("auto", "cpu")
    assert chosen.name == expected and chosen.channels_last
    assert resolve("auto", "meta").name == "fp32"


def test_forced_values_and_their_autocast():
    conv = torch.nn.Conv2d(1, 2, 3)
    rec = _Recorder(conv)
    x = torch.rand(1, 1, 8, 8)
    fp32, bf16 = resolve("fp32", "cpu"), resolve("bf16", "cpu")
    assert (fp32.autocast_dtype, bf16.autocast_dtype) == (None, torch.bfloat16)
    with fp32.autocast("cpu"):
        conv(x)
    with bf16.autocast(torch.device("cpu")):
        conv(x)
    assert rec.calls == [(False, torch.float32), (True, torch.bfloat16)]
    assert resolve(bf16, "cuda") is bf16  # a Precision is used as given
    assert not resolve("fp32", "cuda").channels_last


@pytest.mark.parametrize("bad", ["half", "BF16", None, True, 16])
def test_invalid_values_name_the_valid_ones(bad):
    with pytest.raises(ValueError, match="'auto', 'fp32', 'bf16'") as err:
        resolve(bad, "cpu")
    assert repr(bad) in str(err.value)
    from pnp_internal.solvers.dip import DIP
    with pytest.raises(ValueError, match="precision must be one of"):
        DIP(precision=bad)


def test_forced_bf16_without_native_support_warns_once(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    monkeypatch.setattr(precision, "_warned", set())
    with pytest.warns(RuntimeWarning, match="likely much slower"):
        assert resolve("bf16", "cpu").name == "bf16"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve("bf16", "cpu")
        assert resolve("auto", "cpu").name == "fp32"


@pytest.mark.parametrize("forced", ["fp32", "bf16"])
def test_dip_reports_the_forced_precision(forced):
    from pnp_internal.priors import nets
    from pnp_internal.solvers.dip import DIP

    net = nets.skip(1, width=4, depth=2, in_channels=4)
    op = dinv.physics.Denoising(dinv.physics.GaussianNoise(0.1))
    y = op(torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)))
    res = DIP(net, max_iter=3, loss="mse", early_stop=None, precision=forced).solve(y, op)
    assert res.precision == forced and res.x.dtype == torch.float32


def test_zssr_reports_the_forced_precision():
    from pnp_internal.operators import Downsampling
    from pnp_internal.solvers.zssr import ZSSR

    op = Downsampling(2, img_shape=(1, 32, 32), kernel="bicubic")
    y = op.A(torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)))
    res = ZSSR(max_iter=2, ensemble=False, width=4, depth=2, crop=16, seed=0,
               precision="fp32").solve(y, op)
    assert res.precision == "fp32"


@pytest.mark.parametrize("forced", ["fp32", "bf16"])
def test_finetune_obeys_precision_and_checks_in_float32(forced):
    from pnp_internal.priors.cnn import CNNDenoiser
    from pnp_internal.priors.finetune import finetune, trainable_parameters

    model = CNNDenoiser(1, nc=(4, 8, 16, 32), nb=1)  # its own "auto" would train in float32
    rec = _Recorder(model.net.m_head)
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))

    def loss_fn(batch):
        return (model(batch + 0.05, 0.05).float() - batch).abs().mean()

    def holdout():
        return float(loss_fn(x))

    params = trainable_parameters(model, "all")
    report = finetune(model, params, loss_fn, lambda step: x, steps=2, lr=1e-4,
                      holdout_loss=holdout, check_every=1, precision=forced)
    assert report.precision == forced and report.steps == 2
    dtype = torch.bfloat16 if forced == "bf16" else torch.float32
    steps = [c for i, c in enumerate(rec.calls) if i % 2 == 1]  # check, step, check, step, check
    checks = [c for i, c in enumerate(rec.calls) if i % 2 == 0]
    assert {d for _, d in steps} == {dtype}
    assert {d for _, d in checks} == {torch.float32}
    assert model.precision == "auto"  # restored


@pytest.mark.parametrize("loss, used", [("sure", "fp32"), ("noise2self", "bf16")])
def test_sure_tuning_stays_float32_when_bf16_is_asked(loss, used):
    from pnp_internal.priors import SUREFineTuned

    net = dinv.models.DnCNN(1, 1, depth=3, nf=4, pretrained=None)
    prior = SUREFineTuned(net, loss=loss, steps=1, crop=16, batch_size=1, holdout=0,
                          precision="bf16")
    rec = _Recorder(prior.model)
    prior.fit(torch.rand(1, 1, 24, 24), 0.1)
    assert prior.precision_used == used and prior.reports[0].precision == used
    assert rec.autocast == {used == "bf16"}


def test_training_cli_precision_options():
    from pnp_internal.training import build_parser

    base = ["--data", "d", "--channels", "1", "--out", "o.safetensors"]
    parse = build_parser().parse_args
    assert parse(base).precision == "auto"
    assert parse(base + ["--no-bf16"]).precision == "fp32"
    assert parse(base + ["--precision", "bf16"]).precision == "bf16"
    with pytest.raises(SystemExit):
        parse(base + ["--precision", "half"])
