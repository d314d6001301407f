"""MZSR and ``pnp-internal train-meta``: the kernel family, the meta-learned start adapting on
a real image, the training command writing a loadable start and resuming, clear errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import pnp_internal as pi
from conftest import real_image
from pnp_internal import metrics, operators
from pnp_internal.meta import MZSR, KernelFamily, load_start, resampler_for, save_start
from pnp_internal.meta.training import main as train_main
from pnp_internal.solvers import ZSSRNet


@pytest.mark.parametrize("name, factor, kernel, size, bound", [
    ("astronaut", 2, "gaussian", 128, 1.0), ("camera", 2, "gaussian", 128, 1.0),
    ("astronaut", 2, "bicubic", 128, 0.3), ("astronaut", 4, "bicubic", 256, 0.5)])
def test_shipped_start_beats_back_projected_interpolation(name, factor, kernel, size, bound):
    """The shipped start of each factor and kernel with the recipe, on a real image (colour,
    and gray as three equal channels) blurred by a Gaussian of std 2.0 or bicubic and
    subsampled."""
    from pnp_internal.solvers.zssr_data import Resampler, back_project

    x = real_image(name, size, gray=name == "camera")
    kernel = KernelFamily.gaussian(2.0) if kernel == "gaussian" else "bicubic"
    op = operators.Downsampling(factor, img_shape=x.shape[1:], kernel=kernel)
    y = op.A(x)
    rs = Resampler(op, x.shape[1:])
    baseline = back_project(rs.up(y, x.shape[-2:]), y, rs, 10)
    res = pi.solve(y, op, method="mzsr", noise_std=0)
    assert res.x.shape == x.shape and res.method == "mzsr"
    gain = float(metrics.psnr(res.x, x, border=factor)
                 - metrics.psnr(baseline, x, border=factor))
    assert gain > bound, f"mzsr x{factor} gains only {gain:.2f} dB over back-projected " \
                         "interpolation"


def test_family_draws_normalised_kernels_reproducibly():
    family = KernelFamily(std_range=(0.5, 2.0))
    draws = [family.sample(np.random.default_rng(s)) for s in range(30)]
    again = [family.sample(np.random.default_rng(s)) for s in range(30)]
    assert [n for _, n in draws] == [n for _, n in again]
    names = {n.split("(")[0] for _, n in draws}
    assert names == {"bicubic", "gaussian"}
    for kernel, name in draws:
        if name != "bicubic":
            assert abs(float(kernel.sum()) - 1) < 1e-5 and kernel.shape[0] % 2 == 1
    with pytest.raises(ValueError, match="std_range"):
        KernelFamily(std_range=(2.0, 1.0))


def test_resampler_matches_the_operator_it_stands_for():
    kernel = KernelFamily.gaussian((1.5, 0.7, 30.0))
    x = real_image("astronaut", 64)
    op = operators.Downsampling(2, img_shape=(3, 64, 64), kernel=kernel, padding="reflect")
    rs = resampler_for(kernel, 2)
    assert torch.allclose(rs.down(x), op.A(x), atol=1e-5)
    assert rs.up(rs.down(x), (64, 64)).shape == x.shape


def test_steps_fit_the_images_own_pair_and_keep_the_start():
    torch.manual_seed(0)
    start = ZSSRNet(3)
    before = {k: v.clone() for k, v in start.state_dict().items()}
    op = operators.Downsampling(2, img_shape=(3, 96, 96), kernel=KernelFamily.gaussian(1.3))
    y = op.A(real_image("coffee", 96))
    res = MZSR(steps=6, lrs=(1e-2,), net=start, precision="fp32").solve(y, op)
    assert res.x.shape == (1, 3, 96, 96) and res.n_iter == 6
    assert res.history["residual"][-1] < res.history["residual"][0]
    assert all(torch.equal(before[k], v) for k, v in start.state_dict().items())


def test_a_diverging_adaptation_keeps_its_best_weights_and_says_so():
    op = operators.Downsampling(2, img_shape=(3, 64, 64), kernel=KernelFamily.gaussian(2.0))
    y = op.A(real_image("coffee", 64))
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="non-finite"):
        res = MZSR(steps=8, lrs=(1e4,), net=ZSSRNet(3), precision="fp32").solve(y, op)
    assert torch.isfinite(res.x).all() and not res.converged and "kept" in res.message
    assert res.n_iter < 8


def test_gray_images_and_bad_input_get_clear_answers(tmp_path):
    net = ZSSRNet(3)
    save_start(net, tmp_path / "s.safetensors", factor=2, metadata={"steps": 1})
    back, meta = load_start(tmp_path / "s.safetensors")
    assert meta["steps"] == "1" and all(
        torch.equal(a, b) for a, b in zip(back.state_dict().values(), net.state_dict().values()))
    op = operators.Downsampling(2, img_shape=(1, 64, 64))
    y = op.A(real_image("camera", 64, gray=True))
    x = MZSR(steps=1, weights=tmp_path / "s.safetensors").solve(y, op).x
    assert x.shape == (1, 1, 64, 64)
    op3 = operators.Downsampling(3, img_shape=(1, 96, 96))
    with pytest.raises(ValueError, match="trained for x2"):
        MZSR(weights=tmp_path / "s.safetensors").solve(op3.A(torch.rand(1, 1, 96, 96)), op3)
    with pytest.raises(ValueError, match="use zssr"):
        MZSR().solve(op3.A(torch.rand(1, 1, 96, 96)), op3)
    with pytest.raises(ValueError, match="at least 16 pixels"):
        MZSR(net=net).solve(torch.rand(1, 1, 8, 8), operators.Downsampling(2, img_shape=(1, 16, 16)))
    with pytest.raises(FileNotFoundError, match="train-meta"):
        MZSR(weights=tmp_path / "none.safetensors").solve(y, op)
    with pytest.raises(ValueError, match="steps"):
        MZSR(steps=-1)


def test_a_start_trained_on_back_projected_inputs_gets_them(tmp_path):
    torch.manual_seed(1)
    net = ZSSRNet(3)
    save_start(net, tmp_path / "bp.safetensors", factor=2, input_back_projection=3)
    op = operators.Downsampling(2, img_shape=(3, 64, 64), kernel=KernelFamily.gaussian(2.0))
    y = op.A(real_image("chelsea", 64))
    from_file = MZSR(steps=2, weights=tmp_path / "bp.safetensors").solve(y, op).x
    given = MZSR(steps=2, net=net, input_back_projection=3).solve(y, op).x
    plain = MZSR(steps=2, net=net).solve(y, op).x
    assert torch.equal(from_file, given) and not torch.equal(given, plain)
    save_start(net, tmp_path / "fista.safetensors", factor=2, input_back_projection=3,
               input_momentum=True)
    from_file = MZSR(steps=2, weights=tmp_path / "fista.safetensors").solve(y, op).x
    given = MZSR(steps=2, net=net, input_back_projection=3, input_momentum=True).solve(y, op).x
    assert torch.equal(from_file, given) and not torch.equal(given, plain)


def test_back_projection_with_momentum_converges_faster_on_a_wide_kernel():
    """50 steps with FISTA's momentum fit y better than 50 plain steps, and come closer to
    the true image (real image, Gaussian std 2 at x2, where the plain steps are slow)."""
    from pnp_internal.solvers.zssr_data import Resampler, back_project

    x = real_image("astronaut", 128)
    op = operators.Downsampling(2, img_shape=x.shape[1:], kernel=KernelFamily.gaussian(2.0))
    y = op.A(x)
    rs = Resampler(op, x.shape[1:])
    u = rs.up(y, x.shape[-2:])
    plain, fast = (back_project(u, y, rs, 50, momentum=m) for m in (False, True))
    residual = [float((op.A(v) - y).norm()) for v in (plain, fast)]
    assert residual[1] < 0.7 * residual[0], residual
    assert float(metrics.psnr(fast, x, border=2)) > float(metrics.psnr(plain, x, border=2)) + 0.3


def test_train_meta_writes_a_start_mzsr_loads_and_resumes(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("astronaut", "coffee", "chelsea"):
        img = (real_image(name, 80)[0].permute(1, 2, 0).numpy() * 255).round()
        Image.fromarray(img.astype(np.uint8)).save(folder / f"{name}.png")
    out, ckpt = tmp_path / "m.safetensors", tmp_path / "m.ckpt.pt"
    args = ["--data", str(folder), "--out", str(out), "--patch", "32", "--task-batch", "2",
            "--meta-batch", "1", "--inner-steps", "1", "--val-steps", "1", "--n-val", "1",
            "--threads", "1", "--checkpoint", str(ckpt), "--pretrain-steps", "2"]
    assert train_main([*args, "--steps", "3"]) == 0
    ck = torch.load(ckpt, weights_only=False)
    assert ck["step"] == 3 and ck["phase"] == "meta"
    _, meta = load_start(out)
    assert "train-meta --data" in meta["training_command"]
    assert train_main([*args, "--steps", "4", "--resume"]) == 0
    assert torch.load(ckpt, weights_only=False)["step"] == 4
    op = operators.Downsampling(2, img_shape=(3, 64, 64))
    x = MZSR(steps=1, weights=out).solve(op.A(real_image("coffee", 64)), op).x
    assert x.shape == (1, 3, 64, 64)
    assert train_main([*args, "--steps", "1", "--patch", "33"]) == 2
    # continuing a start on other inputs says so; the new start records its inputs
    grown = tmp_path / "grown.safetensors"
    with pytest.warns(UserWarning, match="back-projected 0 times"):
        assert train_main([*args[:2], "--out", str(grown), *args[4:-2], "--pretrain-steps", "1",
                           "--steps", "1", "--init", str(out), "--checkpoint",
                           str(tmp_path / "g.ckpt.pt"), "--input-back-projection", "3",
                           "--input-momentum"]) == 0
    arch = json.loads(load_start(grown)[1]["architecture"])
    assert arch["input_back_projection"] == 3 and arch["input_momentum"] is True


def test_pretraining_decays_its_lr_over_the_steps_or_the_time_budget():
    from pnp_internal.meta.training import build_parser, pretrain_lr
    args = build_parser().parse_args(["--data", "d", "--out", "o", "--pretrain-steps", "100",
                                      "--steps", "100", "--lr", "1e-3"])
    assert pretrain_lr(args, 0, 50.0) == pytest.approx(1e-3)
    assert pretrain_lr(args, 50, 0.0) == pytest.approx(0.525e-3)
    args.time_limit = 100.0  # the budget ends first: the lr follows the time
    assert pretrain_lr(args, 10, 50.0) == pytest.approx(0.525e-3)
    assert pretrain_lr(args, 10, 100.0) == pytest.approx(0.05e-3)
    args.steps = 200  # meta steps follow: the pre-training keeps its step schedule
    assert pretrain_lr(args, 10, 90.0) > 0.9e-3
    from pnp_internal.training import warmup_ramp  # --warmup: a linear ramp, then 1
    assert [warmup_ramp(k, 4) for k in (0, 1, 3, 10)] == [0.25, 0.5, 1.0, 1.0]
    assert warmup_ramp(0, 0) == 1.0
    assert build_parser().parse_args(["--data", "d", "--out", "o", "--warmup", "50"]).warmup == 50


def test_a_start_is_validated_on_the_kernels_its_family_draws():
    from pnp_internal.meta.training import VALIDATION_KERNELS, validation_kernels
    names = lambda family: [name for name, _ in validation_kernels(family)]  # noqa: E731
    assert names(KernelFamily(bicubic=1.0)) == ["bicubic"]
    assert "bicubic" not in names(KernelFamily(bicubic=0.0))
    assert validation_kernels(KernelFamily()) == VALIDATION_KERNELS


def test_the_bicubic_kernel_gets_its_own_start():
    from pnp_internal.meta.mzsr import BICUBIC_WEIGHTS, WEIGHTS, shipped_start
    assert shipped_start(2, "bicubic") == BICUBIC_WEIGHTS[2] and BICUBIC_WEIGHTS[2].is_file()
    assert shipped_start(2, "array") == WEIGHTS[2]
    assert shipped_start(4, "bicubic") == WEIGHTS[4]
    with pytest.raises(ValueError, match="factors \\[2, 4\\] only"):
        shipped_start(3, "bicubic")
    # and its own learning rates through the method; a Gaussian kernel keeps the paper's
    from pnp_internal import recipes
    x = real_image("coffee", 64)
    for kernel, recipe in (("bicubic", "MZSR_BICUBIC"), (KernelFamily.gaussian(1.0), "MZSR")):
        op = operators.Downsampling(2, img_shape=x.shape[1:], kernel=kernel)
        with recipes.reading() as read:
            pi.solve(op.A(x), op, method="mzsr", noise_std=0, steps=1)
        assert recipe in read and {"MZSR", "MZSR_BICUBIC"} - {recipe} - set(read)


def test_a_rewritten_start_is_read_again(tmp_path):
    import os
    path = tmp_path / "s.safetensors"
    torch.manual_seed(0)
    first, second = ZSSRNet(3), ZSSRNet(3)
    save_start(first, path, factor=2, metadata={"stage": "1"})
    assert load_start(path)[1]["stage"] == "1"
    before = path.stat().st_mtime_ns
    save_start(second, path, factor=2, metadata={"stage": "2"})
    if path.stat().st_mtime_ns == before:  # a coarse file-system clock
        os.utime(path, ns=(before + 10**9, before + 10**9))
    net, meta = load_start(path)
    assert meta["stage"] == "2"
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(),
                                                 second.state_dict().values()))
