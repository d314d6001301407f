"""Benchmark harness: runner JSON contract, seeded degradations, name errors, suite report."""

import json
from pathlib import Path

import pytest
import torch

from pnp_internal import io
from pnp_internal.bench import registry, suite
from pnp_internal.bench.runner import main, run_task
from pnp_internal.bench.tasks import TASKS, get_task, image_seed


@pytest.fixture
def folder(tmp_path, astronaut, camera):
    """Two small images: a colour one (48x48) and a gray one (45x45, odd for the SR modcrop)."""
    d = tmp_path / "imgs"
    io.write_image(d / "a_astronaut.png", astronaut[..., 8:56, 8:56])
    io.write_image(d / "b_camera.png", camera[..., 10:55, 10:55])
    return d


def _recorder(monkeypatch, name, store, channels=None):
    """Register a method that records the y it is given and returns A^+ y."""

    def run(problem):
        store.append((problem.y.clone(), problem.seed, problem.img_shape))
        return problem.operator.A_dagger(problem.y)

    method = registry.Method(name, run, frozenset(registry.KINDS), "records y", channels)
    registry.known_methods()  # make sure the families are registered first
    monkeypatch.setitem(registry.METHODS, name, method)


def test_tiny_run_writes_the_contract_json(folder, tmp_path, capsys):
    out = tmp_path / "res.json"
    code = main(["denoise-s25", "--images", str(folder), "--methods", "pseudo-inverse,tv",
                 "--out", str(out), "--seed", "3", "--quiet"])
    assert code == 0
    data = json.loads(out.read_text())
    assert {"task", "settings", "rows", "mean"} <= set(data)
    assert data["task"] == "denoise-s25" and data["settings"]["seed"] == 3
    assert len(data["rows"]) == 4
    for row in data["rows"]:
        assert {"image", "method", "psnr", "ssim", "seconds"} <= set(row)
        assert row["seconds"] >= 0
    mean = data["mean"]
    assert set(mean) == {"pseudo-inverse", "tv"}
    for m in mean.values():
        assert {"psnr", "ssim", "seconds"} <= set(m)
    # y itself at sigma 25/255 is about 20 dB (a bit more after clipping); TV gains several dB
    assert 19.0 < mean["pseudo-inverse"]["psnr"] < 23.0
    assert mean["tv"]["psnr"] > mean["pseudo-inverse"]["psnr"] + 3.0
    assert mean["tv"]["ssim"] > mean["pseudo-inverse"]["ssim"]
    table = capsys.readouterr().out
    assert "| tv |" in table and "| pseudo-inverse |" in table


def test_same_seed_same_y_for_every_method(folder, monkeypatch):
    seen_a, seen_b, seen_c = [], [], []
    _recorder(monkeypatch, "rec-a", seen_a)
    _recorder(monkeypatch, "rec-b", seen_b)
    run_task("inpaint-50", folder, ["rec-a", "rec-b"], seed=7, log=None)
    assert len(seen_a) == len(seen_b) == 2
    for (ya, sa, _), (yb, sb, _) in zip(seen_a, seen_b):
        assert torch.equal(ya, yb) and sa == sb
    assert seen_a[0][1] == image_seed(7, "a_astronaut.png")
    # the same seed again gives the same y; another seed a different mask
    run_task("inpaint-50", folder, ["rec-a"], seed=7, log=None)
    assert torch.equal(seen_a[2][0], seen_a[0][0])
    _recorder(monkeypatch, "rec-c", seen_c)
    run_task("inpaint-50", folder, ["rec-c"], seed=8, log=None)
    assert not torch.equal(seen_c[0][0], seen_a[0][0])


def test_one_image_of_a_folder_gets_the_same_degradation(folder, monkeypatch):
    seen = []
    _recorder(monkeypatch, "rec-a", seen)
    run_task("deblur-levin", folder, ["rec-a"], seed=5, log=None)  # kernel chosen by position
    run_task("deblur-levin", folder, ["rec-a"], seed=5, names=["b_camera.png"], log=None)
    assert len(seen) == 3 and torch.equal(seen[2][0], seen[1][0])
    with pytest.raises(ValueError, match="no image named c.png"):
        run_task("deblur-levin", folder, ["rec-a"], names=["c.png"], log=None)


def test_last_takes_the_images_training_holds_out(folder):
    from pnp_internal.bench.runner import list_images
    from pnp_internal.training import _list_images  # the files train-denoiser reads, in order

    first, last = list_images(folder, limit=1), list_images(folder, last=1)
    assert [p.name for p in first + last] == ["a_astronaut.png", "b_camera.png"]
    assert last == _list_images(folder)[-1:]  # what --n-val 1 holds out of training
    with pytest.raises(ValueError, match="--limit.*--last.*not both"):
        list_images(folder, limit=1, last=1)
    assert run_task("denoise-s15", folder, ["tv"], last=1, log=None)["settings"]["last"] == 1


def test_unknown_names_list_the_known_ones(folder, capsys):
    with pytest.raises(ValueError, match="known methods:.*pseudo-inverse"):
        run_task("denoise-s15", folder, ["no-such-method"], log=None)
    with pytest.raises(ValueError, match="known tasks:.*deblur-gauss1.6"):
        get_task("deblur-nope")
    assert main(["deblur-nope", "--images", str(folder), "--methods", "tv"]) == 2
    assert "known tasks" in capsys.readouterr().err
    with pytest.raises(ValueError, match="do not apply to task 'denoise-s15'.*methods for denoise"):
        run_task("denoise-s15", folder, ["bicubic"], log=None)


def test_sr_modcrop_y_channel_and_bicubic_beats_nothing(folder):
    res = run_task("sr-x3", folder, ["bicubic"], log=None)
    assert res["settings"]["scoring"]["y_channel"] is True
    assert res["settings"]["scoring"]["border"] == 3
    # the 45x45 gray image is already a multiple of 3; the 48x48 one too: no modcrop note
    assert res["settings"]["notes"] == []
    assert res["mean"]["bicubic"]["psnr"] > 20.0
    res2 = run_task("sr-x2", folder, ["bicubic"], log=None)
    assert any("modcrop 45x45 -> 44x44" in n for n in res2["settings"]["notes"])


def test_colour_only_method_on_gray_image_is_converted_with_a_note(folder, monkeypatch):
    seen, lines = [], []
    _recorder(monkeypatch, "rec-rgb", seen, channels=3)
    res = run_task("denoise-s15", folder, ["rec-rgb"], log=lines.append)
    assert [s[2][0] for s in seen] == [3, 3]
    assert any("b_camera.png / rec-rgb: gray image replicated" in n
               for n in res["settings"]["notes"])
    assert any("note:" in line for line in lines)


def test_tasks_cover_the_contract():
    assert set(TASKS) == {"denoise-s2", "denoise-s15", "denoise-s25", "denoise-s50",
                          "denoise-s60", "denoise-s75", "deblur-gauss1.6", "deblur-levin",
                          "deblur-levin-blind", "sr-x2", "sr-x3", "sr-x4", "sr-x2-gauss1.6",
                          "sr-x2-gauss0.2-direct", "sr-x2-gauss1.3-direct",
                          "sr-x2-gauss2.0-direct", "sr-x2-aniso", "sr-x4-aniso", "inpaint-50",
                          "cs-10", "cs-25", "cs-50", "cs-10-gaussian", "cs-25-gaussian",
                          "cs-50-gaussian"}
    assert get_task("deblur-gauss1.6").noise_std == pytest.approx(2.55 / 255)
    assert get_task("denoise-s75").noise_std == pytest.approx(75 / 255)
    x = torch.rand(1, 3, 16, 16)
    gray, notes = get_task("cs-25").prepare(x)
    assert gray.shape == (1, 1, 16, 16) and notes
    op = get_task("cs-10-gaussian").degrade(gray, seed=0).operator
    assert op.kind == "gaussian" and op.A(gray).numel() == round(0.1 * 256)


def test_kernel_aware_sr_task_blurs_with_the_gaussian_then_decimates():
    """sr-x2-gauss1.6: y is the 25x25 std-1.6 Gaussian blur (circular) sampled every 2 pixels,
    not the bicubic downsampling of sr-x2."""
    from pnp_internal.bench.tasks import gaussian_kernel

    x = torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(0))
    y = get_task("sr-x2-gauss1.6").degrade(x, seed=0).y
    k = gaussian_kernel(25, 1.6)
    xp = torch.nn.functional.pad(x, (12, 12, 12, 12), mode="circular")
    blurred = torch.nn.functional.conv2d(xp, k.flip(-1, -2))
    assert y.shape == (1, 1, 24, 24)
    assert torch.allclose(y, blurred[..., ::2, ::2], atol=1e-5)
    assert not torch.allclose(y, get_task("sr-x2").degrade(x, seed=0).y, atol=1e-2)


def test_suite_skips_unregistered_methods_and_never_overwrites_a_record(folder, tmp_path):
    lines = []
    entry = suite.Entry("denoise-s15", "imgs", None, 1, "tv not-a-method bicubic")
    [(e, methods)] = suite.plan([entry], log=lines.append)
    assert methods == ["tv"]
    assert "not-a-method (not registered)" in lines[0] and "bicubic (not for denoise)" in lines[0]
    first = suite.run_suite([entry], data_root=tmp_path, out_dir=tmp_path / "bench",
                            log=lambda *a: None)
    second = suite.run_suite([entry], data_root=tmp_path, out_dir=tmp_path / "bench",
                             log=lambda *a: None)
    assert first[0].name == "quick_denoise-s15_imgs.json"
    assert second[0].name == "quick_denoise-s15_imgs-run2.json" and first[0].is_file()
    record = json.loads(second[0].read_text())["settings"]
    assert record["provenance"]["commit"] and record["provenance"]["packages"]["torch"]
    assert isinstance(record["provenance"]["dirty"], bool)
    assert set(record["recipes"]["tv"]) == {"TILE", "MEMORY_PER_PIXEL"}  # only the tiling


def test_results_page_regenerates_byte_identically_from_the_index():
    from pnp_internal.bench import report

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    assert (bench / "RESULTS.md").read_text() == report.render(bench, plots=False)
    index, speed = report.load_index(bench)
    assert index["sr-x2"]["set5"]["ia-idbp"] and speed


def test_the_device_column_says_when_a_run_used_fewer_threads_than_cores():
    from pnp_internal.bench.report import _device

    def record(**machine):
        return {"settings": {"machine": machine}}

    assert _device(record(cpu_count=2, torch_threads=1)) == "CPU (2 cores, 1 thread)"
    assert _device(record(cpu_count=2, torch_threads=2)) == "CPU (2 cores)"
    assert _device(record(cpu_count=2, device="cuda:0")) == "GPU"


def test_a_record_holds_the_resolved_recipe_of_each_method(folder):
    result = run_task("sr-x2", folder, ["cnn-idbp"], limit=1, crop=32, log=None)
    read = result["settings"]["recipes"]["cnn-idbp"]
    assert read["PNP[('sr', 'idbp')]"]["max_iter"] == 30 and "LUMA_SR" in read


def test_a_failing_method_is_recorded_and_does_not_stop_the_run(folder, tmp_path, monkeypatch):
    def bad(problem):
        return problem.y[..., :-1, :]  # wrong shape

    registry.known_methods()
    monkeypatch.setitem(registry.METHODS, "bad-shape",
                        registry.Method("bad-shape", bad, frozenset(registry.KINDS), "", None))
    out = tmp_path / "r.json"
    code = main(["denoise-s15", "--images", str(folder), "--methods", "bad-shape,pseudo-inverse",
                 "--out", str(out), "--quiet"])
    data = json.loads(out.read_text())
    assert code == 1
    assert set(data["mean"]) == {"pseudo-inverse"} and len(data["rows"]) == 2
    assert len(data["errors"]) == 2 and "returned shape" in data["errors"][0]
