"""ZSSR: beats bicubic on a real image, exact output shape, back-projection, determinism, errors."""

import pytest
import torch
from conftest import real_image

from pnp_internal import operators
from pnp_internal.solvers import ZSSR, Result
from pnp_internal.solvers.zssr_data import PairSampler, Resampler, dihedral


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Many small convolutions: one thread is faster on a shared, loaded CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _psnr(x, ref, border=2):
    d = (x.clamp(0, 1) - ref)[..., border:-border, border:-border]
    return float(10 * torch.log10(1 / d.square().mean()))


def _problem(name="camera", size=64, gray=True, factor=2, kernel="bicubic"):
    x = real_image(name, size, gray=gray)
    op = operators.Downsampling(factor, img_shape=tuple(x.shape[1:]), kernel=kernel)
    return x, op, op.A(x)


SMALL = dict(crop=32, min_iter=48, test_every=16, slope_window=64)


@pytest.fixture(scope="module")
def trained():
    x, op, y = _problem()
    res = ZSSR(max_iter=160, seed=0, **SMALL).solve(y, op, x_true=x)
    return x, op, y, res


def test_beats_bicubic_and_shape(trained):
    x, op, y, res = trained
    assert res.x.shape == (1, 1, 2 * y.shape[-2], 2 * y.shape[-1]) == x.shape
    bicubic = Resampler(op, tuple(x.shape[1:])).up(y, x.shape[-2:])
    gain = _psnr(res.x, x) - _psnr(bicubic, x)
    assert gain > 1.0, f"ZSSR only {gain:.2f} dB over bicubic"


def test_back_projection_matches_y(trained):
    x, op, y, res = trained
    assert float((op.A(res.x) - y).abs().max()) < 2e-3
    # the back-projection alone reduces the misfit of a poor estimate a lot
    rs = Resampler(op, tuple(x.shape[1:]))
    x0 = torch.nn.functional.avg_pool2d(rs.up(y, x.shape[-2:]), 3, 1, 1)
    solver = ZSSR(back_projection=10)
    before = float((op.A(x0) - y).norm())
    after = float((op.A(solver._back_project(x0, y, rs)) - y).norm())
    assert after < 0.05 * before


def test_history_contract(trained):
    _, _, _, res = trained
    assert isinstance(res, Result) and 0 < res.n_iter <= 160
    for key in ("seconds", "residual", "lr", "psnr"):
        assert len(res.history[key]) == res.n_iter
    s = res.history["seconds"]
    assert all(b >= a for a, b in zip(s, s[1:]))
    # the training loss goes down
    r = res.history["residual"]
    assert sum(r[-20:]) < sum(r[:20])


def test_a_dead_network_is_reinitialised(monkeypatch):
    """A network whose ReLUs all died (a constant residual: the L1 loss's easy way out on flat
    images, seen on Set14 ppt3 at x4) is detected at the next test and trained afresh, with a
    warning; with ``revive=False`` it stays dead and ends well below."""
    import pnp_internal.solvers.zssr as zssr_module

    x, op, y = _problem()
    real_net, made = zssr_module.ZSSRNet, []

    def dead_first(*args):
        net = real_net(*args)
        if not made:  # the first network: every unit of the last hidden layer is dead
            torch.nn.init.constant_(net.body[-3].bias, -100.0)
        made.append(net)
        return net

    monkeypatch.setattr(zssr_module, "ZSSRNet", dead_first)
    with pytest.warns(UserWarning, match="died .* during the stage to 64x64"):
        res = ZSSR(max_iter=160, seed=0, **SMALL).solve(y, op)
    assert len(made) == 2 and "re-initialised 1" in res.message
    made.clear()
    dead = ZSSR(max_iter=160, seed=0, revive=False, **SMALL).solve(y, op)
    assert len(made) == 1 and _psnr(res.x, x) > _psnr(dead.x, x) + 0.5, (
        _psnr(res.x, x), _psnr(dead.x, x))


def test_same_seed_same_output_colour():
    x, op, y = _problem("astronaut", 48, gray=False)
    kw = dict(max_iter=12, ensemble=False, crop=24, seed=3)
    a = ZSSR(**kw).solve(y, op).x
    b = ZSSR(**kw).solve(y, op).x
    c = ZSSR(**(kw | {"seed": 4})).solve(y, op).x
    assert a.shape == (1, 3, 48, 48)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_callback_stops_and_lr_policy():
    x, op, y = _problem(size=48)
    res = ZSSR(max_iter=100, ensemble=False, seed=0, crop=24).solve(
        y, op, callback=lambda state: state.iteration >= 5)
    assert res.n_iter == 5 and "callback" in res.message
    solver = ZSSR()
    steps = [0, 50, 100, 150, 200, 250]
    assert not solver._plateau(steps, [1.0, 0.8, 0.6, 0.45, 0.3, 0.2])   # still improving
    assert solver._plateau(steps, [0.30, 0.31, 0.29, 0.30, 0.31, 0.30])  # flat: divide lr


@pytest.mark.parametrize("kernel,shape", [("gaussian", (3, 40, 46)), ("bicubic", (1, 45, 51))])
def test_resampler_reproduces_operator(kernel, shape):
    """The sons are made by the operator's own kernel, at any size (not divisible too)."""
    k = operators.kernels.gaussian(1.6, size=7) if kernel == "gaussian" else kernel
    op = operators.Downsampling(2, img_shape=shape, kernel=k)
    rs = Resampler(op, shape)
    x = torch.rand((2,) + shape, generator=torch.Generator().manual_seed(0))
    ref = op.A(x)
    assert torch.allclose(rs.down(x)[..., :ref.shape[-2], :ref.shape[-1]], ref, atol=1e-5)
    assert rs.down(torch.rand(1, shape[0], 21, 19)).shape[-2:] == (11, 10)


def test_pair_sampler_and_dihedral():
    x, op, y = _problem(size=64)
    rs = Resampler(op, tuple(x.shape[1:]))
    sampler = PairSampler(y, rs, crop=16, scales=[1.0, 0.7], generator=torch.Generator())
    inp, tgt = sampler.sample()
    assert inp.shape == tgt.shape == (1, 1, 16, 16)
    for k in range(8):
        assert torch.equal(dihedral(dihedral(x, k), k, inverse=True), x)


def test_gaussian_kernel_beats_bicubic():
    """Kernel-aware SR: with the true (Gaussian) kernel ZSSR undoes the extra blur."""
    x, op, y = _problem("camera", 64, kernel=operators.kernels.gaussian(1.6, size=7))
    res = ZSSR(max_iter=100, seed=0, ensemble=False, **SMALL).solve(y, op)
    bicubic = Resampler(op, tuple(x.shape[1:])).up(y, x.shape[-2:])
    assert _psnr(res.x, x) > _psnr(bicubic, x) + 1.0


def test_bad_inputs():
    x, op, y = _problem(size=64)
    with pytest.raises(ValueError, match="downsampling"):
        ZSSR().solve(y, operators.Blur(operators.kernels.gaussian(1.0, size=5),
                                       img_shape=(1, 32, 32)))
    with pytest.raises(ValueError, match="at least 16"):
        small = operators.Downsampling(2, img_shape=(1, 24, 24))
        ZSSR().solve(small.A(torch.rand(1, 1, 24, 24)), small)
    with pytest.raises(ValueError, match="img_shape"):
        ZSSR().solve(torch.rand(1, 1, 20, 20), op)  # op expects a 32x32 y
    with pytest.raises(ValueError, match="max_iter"):
        ZSSR(max_iter=0)


def test_gradual_x4_shape_and_consistency():
    """Gradual SR (x2 stage, then x4 with the x2 output among the fathers)."""
    x, op, y = _problem(size=64, factor=4)
    res = ZSSR(max_iter=10, ensemble=False, gradual=True, seed=0, crop=16).solve(y, op)
    assert res.x.shape == x.shape
    assert float((op.A(res.x) - y).abs().max()) < 2e-2


def test_gradual_warm_start_continues_the_x2_network(monkeypatch):
    """With warm_start (the default, as the official code) the x4 stage is trained from the x2
    stage's network; without it it starts afresh."""
    import pnp_internal.solvers.zssr as zssr_module

    x, op, y = _problem(size=64, factor=4)
    seen = []
    original = zssr_module.ZSSR._train

    def spy(self, *args, **kwargs):
        net, res = original(self, *args, **kwargs)
        warm = args[7] if len(args) > 7 else kwargs.get("warm")
        seen.append((warm, {k: v.clone() for k, v in net.state_dict().items()}))
        return net, res

    monkeypatch.setattr(zssr_module.ZSSR, "_train", spy)
    ZSSR(max_iter=3, ensemble=False, gradual=True, seed=0, crop=16).solve(y, op)
    assert seen[0][0] is None and seen[1][0] is not None
    assert all(torch.equal(a, b) for a, b in zip(seen[1][0].state_dict().values(),
                                                  seen[0][1].values()))
    seen.clear()
    ZSSR(max_iter=3, ensemble=False, gradual=True, warm_start=False, seed=0, crop=16).solve(y, op)
    assert seen[1][0] is None


def test_cubic_resampler_matches_imresize_conventions():
    """Fractional-scale resizing of gradual SR: its x2 upscaler is the operator grid's cubic
    interpolation, its x2 downscaler the antialiased bicubic (PIL/MATLAB, interior)."""
    from pnp_internal.solvers.zssr_data import CubicResampler, interp_matrix, resize_matrix

    assert torch.allclose(resize_matrix(20, 40, 2.0), interp_matrix(20, 40, 2.0))
    x = torch.rand(1, 1, 40, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ref = torch.nn.functional.interpolate(x, size=(20, 20), mode="bicubic", antialias=True)
    got = CubicResampler((2, 2)).down(x)
    assert torch.allclose(got[..., 3:-3, 3:-3], ref[..., 3:-3, 3:-3], atol=1e-12)
    rs = CubicResampler((1.0, 1.5))
    assert rs.down(torch.rand(1, 3, 21, 47)).shape == (1, 3, 21, 32)
    # a constant image stays constant, both ways
    ones = torch.ones(1, 1, 21, 32)
    assert torch.allclose(rs.up(ones, (21, 47)), torch.ones(1, 1, 21, 47))


def test_pairs_of_an_anisotropic_stage_keep_their_axes():
    """At a 1 x 1.5 stage a crop pair is only flipped or turned by 180 degrees (a 90-degree
    turn would swap the scaled axis); an affine pair is (up(down(father)), father), the warp
    coming before the son is made."""
    from pnp_internal.solvers.zssr_data import CubicResampler

    y = real_image("camera", 40, gray=True)
    rs = CubicResampler((1.0, 1.5))
    sampler = PairSampler(y, rs, crop=24, scales=[1.0], generator=torch.Generator().manual_seed(0))

    def turn(tgt):
        for k in range(8):
            t = dihedral(tgt, k, inverse=True)
            for i in range(y.shape[-2] - 23):
                for j in range(y.shape[-1] - 23):
                    if torch.equal(y[..., i:i + 24, j:j + 24], t):
                        return k

    turns = {turn(sampler.sample()[1]) for _ in range(16)}
    assert turns <= {0, 2, 4, 6} and len(turns) > 1
    sampler = PairSampler(y, rs, crop=24, scales=[1.0], affine=1.0,
                          generator=torch.Generator().manual_seed(0))
    for _ in range(6):
        inp, tgt = sampler.sample()
        assert inp.shape == tgt.shape == (1, 1, 24, 24)
        assert torch.allclose(inp, rs.up(rs.down(tgt), (24, 24)), atol=1e-5)


def test_gradual_x2_runs_the_official_stages(monkeypatch):
    """Gradual x2: five ideal-cubic stages 1x1.5 ... 2x1.5, then the operator's x2; each stage
    warm-started (warm_start=True); the 1.5x1.5 output joins the fathers (at 4 sizes)."""
    import pnp_internal.solvers.zssr as zssr_module

    x, op, y = _problem(size=48)
    seen = []
    original = zssr_module.ZSSR._train

    def spy(self, y_, rs, img_shape, fathers, *args):
        seen.append((getattr(rs, "scale", None), tuple(img_shape), len(fathers), args[-1]))
        return original(self, y_, rs, img_shape, fathers, *args)

    monkeypatch.setattr(zssr_module.ZSSR, "_train", spy)
    res = ZSSR(max_iter=3, ensemble=True, gradual=True, seed=0, crop=16).solve(y, op)
    assert res.x.shape == x.shape
    assert float((op.A(res.x) - y).abs().max()) < 2e-2
    assert [s[0] for s in seen] == [(1.0, 1.5), (1.5, 1.0), (1.5, 1.5), (1.5, 2.0), (2.0, 1.5),
                                    None]
    assert seen[0][1] == (1, 24, 36) and seen[-1][1] == (1, 48, 48)
    assert [s[2] for s in seen] == [0, 0, 0, 4, 4, 4]
    assert seen[0][3] is None and all(s[3] is not None for s in seen[1:])


def test_affine_must_be_a_probability():
    with pytest.raises(ValueError, match="affine"):
        ZSSR(affine=1.5)


def test_explicit_stages_and_their_validation(monkeypatch):
    """``gradual=[2, 3]`` at x4 trains 2x2 and 3x3 with the cubic kernel, then the operator's
    x4; both outputs join the fathers. Scales at or above the factor are refused."""
    x, op, y = _problem(size=64, factor=4)
    seen = _record_stages(monkeypatch)
    res = ZSSR(max_iter=3, ensemble=False, gradual=[2, 3], seed=0, crop=16).solve(y, op)
    assert res.x.shape == x.shape
    assert [s[1] for s in seen] == [(2.0, 2.0), (3.0, 3.0), None]
    assert [s[3] for s in seen] == [(1, 32, 32), (1, 48, 48), (1, 64, 64)]
    assert seen[1][2] == 6 and seen[2][2] == 6 + 10  # 6 sizes per octave
    with pytest.raises(ValueError, match="below the factor"):
        ZSSR(max_iter=3, gradual=[2, 4]).solve(y, op)
    for bad in ([], [1.0], "2,3", [(1, 2, 3)]):
        with pytest.raises(ValueError, match="gradual"):
            ZSSR(gradual=bad)


def test_rebase_super_resolves_the_x2_output(monkeypatch):
    """With rebase, x4 is x2 on y, then x2 on the (back-projected) x2 output, and the result
    is back-projected to y with the operator."""
    x, op, y = _problem(size=64, factor=4)
    seen = _record_stages(monkeypatch)
    res = ZSSR(max_iter=3, ensemble=False, gradual=[2], rebase=True, seed=0,
               crop=16).solve(y, op)
    assert [s[:3] for s in seen] == [((16, 16), (2.0, 2.0), 0), ((32, 32), (2.0, 2.0), 0)]
    assert res.x.shape == x.shape
    assert float((op.A(res.x) - y).abs().max()) < 2e-2


def test_gradual_x4_default_is_the_x2_stages_then_a_rebased_x2(monkeypatch):
    """``gradual=True`` at x4: the official x2 stages on y (the 1.5x1.5 output joins the
    fathers), then x2 on the 2x2 output (``rebase=None`` rebases at 2 for the bicubic kernel);
    ``rebase=False``, or another kernel, keeps y as the input and the 2x2 output among the
    fathers."""
    x, op, y = _problem(size=64, factor=4)
    seen = _record_stages(monkeypatch)
    kw = dict(max_iter=2, ensemble=False, gradual=True, seed=0, crop=16)
    ZSSR(**kw).solve(y, op)
    assert [s[:3] for s in seen] == [
        ((16, 16), (1.0, 1.5), 0), ((16, 16), (1.5, 1.0), 0), ((16, 16), (1.5, 1.5), 0),
        ((16, 16), (1.5, 2.0), 4), ((16, 16), (2.0, 1.5), 4), ((16, 16), (2.0, 2.0), 4),
        ((32, 32), (2.0, 2.0), 0)]
    seen.clear()
    ZSSR(**kw, rebase=False).solve(y, op)
    assert seen[-1][:3] == ((16, 16), None, 4 + 6)
    # another kernel: the final jump must use it, so no automatic rebase
    x, op, y = _problem(size=64, factor=4,
                        kernel=operators.kernels.gaussian(2.0, size=13))
    seen.clear()
    ZSSR(**kw).solve(y, op)
    assert seen[-1][:3] == ((16, 16), None, 4 + 6)


def test_rebase_at_chosen_scales(monkeypatch):
    """``rebase=[2]`` keeps y as the input through the 1.5x1.5 stage (its output joins the
    fathers) and rebases only at 2x2; a bad ``rebase`` is refused."""
    x, op, y = _problem(size=64, factor=4)
    seen = _record_stages(monkeypatch)
    res = ZSSR(max_iter=3, ensemble=False, gradual=[1.5, 2], rebase=[2], seed=0,
               crop=16).solve(y, op)
    assert [s[:3] for s in seen] == [
        ((16, 16), (1.5, 1.5), 0), ((16, 16), (2.0, 2.0), 4), ((32, 32), (2.0, 2.0), 0)]
    assert float((op.A(res.x) - y).abs().max()) < 2e-2
    with pytest.raises(ValueError, match="rebase"):
        ZSSR(rebase=["x"])


def _record_stages(monkeypatch):
    """Record (input size, stage scale or None for the operator, number of extra fathers, HR
    shape) of every training stage of ZSSR."""
    import pnp_internal.solvers.zssr as zssr_module

    seen = []
    original = zssr_module.ZSSR._train

    def spy(self, y_, rs, img_shape, fathers, *args):
        seen.append((tuple(y_.shape[-2:]), getattr(rs, "scale", None), len(fathers),
                     tuple(img_shape)))
        return original(self, y_, rs, img_shape, fathers, *args)

    monkeypatch.setattr(zssr_module.ZSSR, "_train", spy)
    return seen


@pytest.mark.parametrize("factor, kernel, zssr_path, fast_path", [
    (2, "bicubic", (True, 96), ([1.5], 80)),
    (2, "gaussian", (False, 128), (False, 80)),
    (3, "bicubic", (False, 128), (False, 80)),
    (4, "bicubic", (True, 128), (True, 96)),
])
def test_bench_methods_pick_the_documented_path(monkeypatch, factor, kernel, zssr_path,
                                                fast_path):
    """``zssr`` / ``zssr-fast`` run the configuration the table of
    :mod:`pnp_internal.catalog.direct` gives for each factor and kernel."""
    from pnp_internal.catalog import direct as methods
    from pnp_internal.catalog import Problem

    seen = []

    class Spy:
        def __init__(self, *, gradual, crop, **kwargs):
            seen.append((gradual, crop))

        def solve(self, y, op, **kwargs):
            return Result(torch.zeros(1), 0, True, {}, "")

    monkeypatch.setattr(methods, "ZSSR", Spy)
    monkeypatch.setattr(methods, "checked_options", lambda cls, opts, method: dict(opts))
    k = "bicubic" if kernel == "bicubic" else operators.kernels.gaussian(1.6, size=7)
    op = operators.Downsampling(factor, img_shape=(1, 12 * factor, 12 * factor), kernel=k)
    problem = Problem(y=torch.zeros(1, 1, 12, 12), operator=op, noise_std=0.0, kind="sr",
                      scale=factor, seed=0)
    methods.zssr(problem)
    methods.zssr_fast(problem)
    assert seen == [zssr_path, fast_path]
