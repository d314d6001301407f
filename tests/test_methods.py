"""Every named method end to end on a 32-pixel image, and the bench = solve parity.

Budgets are cut through the recipe book itself (the one place every path reads), so the test
runs what users and the bench run, only shorter.
"""

import dataclasses

import pytest
import torch

import pnp_internal as pi
from pnp_internal import catalog, recipes
from pnp_internal.bench.registry import Problem, get_method
from pnp_internal.bench.tasks import get_task

#: task per method kind, for a 32 px image
TASK = {"denoise": "denoise-s25", "deblur": "deblur-gauss1.6", "sr": "sr-x2",
        "inpaint": "inpaint-50", "cs": "cs-25"}
#: deepinv's DIP runs its own defaults (2500 steps): its budget is not ours to cut
SLOW = {"deepinv-dip"}
#: the deblurring recipe's iteration count, read before ``short_recipes`` cuts it
DEBLUR_ITERATIONS = recipes.PNP[("deblur", "idbp")].max_iter


@pytest.fixture
def short_recipes(monkeypatch):
    """Tiny budgets for every learning method."""
    small = dict(steps=2, check_every=1, patience=1)
    for key, r in list(recipes.PNP.items()):
        monkeypatch.setitem(recipes.PNP, key, dataclasses.replace(r, max_iter=min(r.max_iter, 3)))
    for table in (recipes.IMAGE_ADAPTED, recipes.IMAGE_ADAPTED_SINGLE,
                  recipes.IMAGE_ADAPTED_DURING):
        for k, v in list(table.items()):
            monkeypatch.setitem(table, k, dataclasses.replace(v, batch_size=2, **small))
    for name in ("GAINTUNING_DENOISE", "GAINTUNING_DENOISE_FAST", "GAINTUNING_IN_SOLVER",
                 "SURE_DENOISE"):
        r = getattr(recipes, name)
        monkeypatch.setattr(recipes, name, dataclasses.replace(r, crop=16, batch_size=1, **small))
    for name in ("ZSSR_PAPER", "ZSSR_STAGE", "ZSSR_FAST"):
        r = getattr(recipes, name)
        monkeypatch.setattr(recipes, name, dataclasses.replace(
            r, max_iter=3, min_iter=2, crop=12, test_every=1, slope_window=2, ensemble=False,
            back_projection=1))
    for name in ("DIP_DEFAULT", "DIP_MSE", "DIP_SR", "DIP_TV"):
        monkeypatch.setattr(recipes, name, dataclasses.replace(getattr(recipes, name),
                                                               max_iter=3))
    for name in ("MZSR", "MZSR_ONE"):
        monkeypatch.setattr(recipes, name, dataclasses.replace(getattr(recipes, name), steps=1))
    monkeypatch.setattr(recipes, "DIP_DENOISER", recipes.Choice({"steps": 2, "warm_steps": 1},
                                                                "test"))
    monkeypatch.setattr(recipes, "SELF2SELF", recipes.Choice({"steps": 2, "n_predictions": 2},
                                                             "test"))
    monkeypatch.setattr(recipes, "KERNELGAN", dataclasses.replace(recipes.KERNELGAN, max_iter=3,
                                                                  crop=32))
    monkeypatch.setattr(recipes, "PATCH_RECURRENCE", dataclasses.replace(
        recipes.PATCH_RECURRENCE, max_iter=2, queries=200))
    monkeypatch.setattr(recipes, "L0_DEBLUR", dataclasses.replace(
        recipes.L0_DEBLUR, kernel_size=5, lam=(1e-2,), alternations=1))
    monkeypatch.setattr(recipes, "SELFDEBLUR", dataclasses.replace(
        recipes.SELFDEBLUR, kernel_size=5, max_iter=3, width=8, skip_channels=2, depth=2))
    monkeypatch.setattr(recipes, "CSGM", dataclasses.replace(recipes.CSGM, restarts=1,
                                                             max_iter=2))
    monkeypatch.setattr(recipes, "IAGAN", dataclasses.replace(recipes.IAGAN, max_iter=2,
                                                              patience=1))
    monkeypatch.setattr(recipes, "DEEP_DECODER", recipes.Choice(
        {"channels": 8, "depth": 2, "reg_noise_std": 0.0, "max_iter": 3}, "test"))


def _problem(name, camera):
    kind = next(k for k in TASK if k in catalog.get(name).kinds)  # the cheapest task first
    task = get_task(TASK[kind])
    # DIP's skip net, KernelGAN's crops and the patch-recurrence copy need 64 px, the
    # generator makes 64 px images
    size = 64 if any(k in name for k in ("dip", "gan", "csgm", "recurrence", "meankernel")) else 32
    x, _ = task.prepare(camera[..., :size, :size])
    d = task.degrade(x, seed=3, index=0)
    return Problem(y=d.y, operator=d.operator, noise_std=task.noise_std, kind=task.kind,
                   task=task.name, img_shape=tuple(x.shape[1:]), scale=task.scale, seed=3), x


@pytest.mark.parametrize("name", [n for n in catalog.names() if n not in SLOW])
def test_every_method_end_to_end_and_bench_parity(name, camera, short_recipes):
    """``solve(method=name)`` restores a 32 px image, and the bench's output is exactly it."""
    problem, x = _problem(name, camera)
    res = pi.solve(problem.y, problem.operator, method=name, noise_std=problem.noise_std,
                   seed=problem.seed)
    assert res.x.shape == x.shape and torch.isfinite(res.x).all()
    assert res.method == name and res.precision in ("fp32", "bf16")
    bench = get_method(name).run(problem).x
    if "bm3d" in name or "wiener" in name:  # the bm3d package is not bitwise repeatable
        gap = abs(float(pi.metrics.psnr(bench, x) - pi.metrics.psnr(res.x, x)))
        # a pilot method fine-tunes on that result, which carries its differences further
        limit = 0.05 if "pilot" in name else 0.02
        assert gap < limit, f"{name}: the bench and solve differ by {gap:.3f} dB"
    else:
        assert torch.equal(bench, res.x), f"{name}: the bench and solve differ"


def test_default_method_per_kind_beats_tv_admm(camera):
    """``solve(y, op)`` with no method beats ``tv-admm`` on every kind (32 px cameraman)."""
    for kind, task_name in TASK.items():
        if kind == "denoise":
            continue
        task = get_task(task_name)
        x, _ = task.prepare(camera[..., :48, :48])
        d = task.degrade(x, seed=0, index=0)
        best = pi.solve(d.y, d.operator, noise_std=task.noise_std)
        tv = pi.solve(d.y, d.operator, method="tv-admm", noise_std=task.noise_std)
        assert best.method == recipes.DEFAULT_METHOD[kind].value
        assert pi.metrics.psnr(best.x, x) > pi.metrics.psnr(tv.x, x), kind


def test_ia_for_sr_averages_refitted_copies_and_ia_single_keeps_one(camera):
    """The SR recipe builds ``copies`` refitted ImageAdapted priors with their own seeds, each
    over its own group of flips/rotations, averaged; ``ia-single`` one copy of the single
    recipe; the seeds follow the problem's."""
    from pnp_internal.catalog.pnp import make_prior
    from pnp_internal.priors import ImageAdapted, MeanOfPriors, SelfEnsemble
    from pnp_internal.priors.self_ensemble import orientation_group

    from pnp_internal.operators import Downsampling

    op = Downsampling(2, img_shape=(1, 64, 64))
    y = op.A(camera)
    p = catalog.Problem(y=y, operator=op, kind="sr", noise_std=0.0, seed=5)
    mean, single = make_prior("ia", p), make_prior("ia-single", p)
    recipe = recipes.IMAGE_ADAPTED["sr"]
    assert isinstance(mean, MeanOfPriors) and len(mean.priors) == recipe.copies > 1
    assert recipe.orientations > 0
    assert all(isinstance(m, SelfEnsemble) for m in mean.priors)
    assert [m.transforms for m in mean.priors] == [orientation_group(k, recipe.orientations)
                                                   for k in range(recipe.copies)]
    copies = [m.prior for m in mean.priors]
    assert [c.seed for c in copies] == [5 + 7919 * k for k in range(recipe.copies)]
    assert all(isinstance(c, ImageAdapted) and c.refit == recipe.refit for c in copies)
    assert isinstance(single, ImageAdapted) and single.seed == 5 and not single.refit
    unseeded = make_prior("ia", catalog.Problem(y=y, operator=op, kind="sr", noise_std=0.0,
                                                seed=None))
    assert [m.prior.seed for m in unseeded.priors] == [None] * recipe.copies


def test_image_adapted_before_and_during(camera, short_recipes):
    """``ia-idbp`` adapts once before the iterations; ``ia-idbp-during`` re-adapts within the
    deblurring recipe's iterations (on the current estimate); ``when="both"`` does both."""
    from pnp_internal.catalog.pnp import make_prior

    problem, _ = _problem("ia-idbp", camera)
    p = catalog.Problem(y=problem.y, operator=problem.operator, kind="deblur",
                        noise_std=problem.noise_std)
    before = make_prior("ia", p)
    during = make_prior("ia-during", p)
    every, n_iter = during.adapt_every, DEBLUR_ITERATIONS
    assert before.when == "before" and during.when == "during" and 0 < every < n_iter
    from pnp_internal.priors import ImageAdapted

    both = ImageAdapted(pi.priors.pretrained("drunet-lite-gray"), when="both",
                        **(recipes.IMAGE_ADAPTED["deblur"].options() | {"adapt_every": every}))
    during_calls = (n_iter - 1) // every
    for prior, n in ((before, 1), (during, during_calls), (both, 1 + during_calls)):
        pi.solvers.IDBP(prior, max_iter=n_iter, noise_std=problem.noise_std).solve(
            problem.y, problem.operator)
        assert len(prior.reports) == n
