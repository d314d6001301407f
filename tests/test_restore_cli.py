"""``pnp-internal restore`` run for real, in a subprocess, on tiny real images."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image
from skimage import data

from conftest import finished_images, leftover_partial, partial_files
from pnp_internal import io, metrics
from pnp_internal.restore import main

CLI = [sys.executable, "-m", "pnp_internal.cli", "restore"]


def run(*args, cwd=None, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    return subprocess.run([*CLI, *map(str, args), "--quiet"], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=env)


def noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def gray():
    return data.camera()[180:228, 200:248]


@pytest.fixture(scope="module")
def rgb():
    return data.astronaut()[60:108, 180:228]


def report(out: Path, name: str) -> dict:
    return json.loads((out / "reports" / f"{name}.json").read_text())


def test_denoise_every_format_keeps_channels_alpha_and_depth(tmp_path, gray, rgb):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(noisy(gray, 15)).save(src / "gray.png")
    Image.fromarray(noisy(rgb, 15)).save(src / "photo.jpg", quality=95)
    Image.fromarray(noisy(rgb, 15)).save(src / "photo.bmp")
    alpha = np.tile(np.linspace(0, 255, 48).astype(np.uint8), (48, 1))
    rgba = np.dstack([noisy(rgb, 15, 1), alpha])
    Image.fromarray(rgba, "RGBA").save(src / "logo.png")
    deep = (noisy(rgb, 15, 2).astype(np.uint16) * 257)
    tifffile.imwrite(src / "scan.tif", deep)
    io.save_image(src / "deep.png", torch.from_numpy(deep.transpose(2, 0, 1) / 65535.0),
                  bit_depth=16)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    out = tmp_path / "out"
    proc = run(src, "--out", out, "--task", "denoise", "--method", "cnn", "--noise", "15")
    assert proc.returncode == 1, proc.stderr  # the broken file fails the batch...
    assert "broken.png" in proc.stderr and "broken.png" in proc.stdout
    assert "6 restored, 0 skipped, 1 failed" in proc.stdout  # ...and nothing else
    for name in ("gray.png", "photo.jpg", "photo.bmp", "logo.png", "scan.tif", "deep.png"):
        before, after = io.load_image(src / name), io.load_image(out / name)
        assert after.x.shape == before.x.shape, name
        assert after.bit_depth == before.bit_depth, name
        noise_out = float((after.x - before.x).std())
        assert 0.02 < noise_out < 0.12, (name, noise_out)  # it denoised: removed ~15/255
        rep = report(out, name)
        assert rep["method"] == "cnn" and rep["noise_std_255"] == pytest.approx(15)
        assert rep["seconds"] > 0 and rep["image"]["bit_depth"] == before.bit_depth
    assert np.array_equal(io.load_image(out / "logo.png").alpha, alpha)
    assert not any(p.name.startswith(".") for p in out.rglob("*"))


def test_every_task_with_its_default_method_against_ground_truth(tmp_path, rgb):
    truth = tmp_path / "truth"
    truth.mkdir()
    x = torch.from_numpy(rgb.transpose(2, 0, 1) / 255.0).float()[None]
    io.save_image(truth / "a.png", x)
    from pnp_internal import operators

    blur = operators.Blur.for_image(x[..., 5:-5, 5:-5], operators.kernels.gaussian(1.6, 11))
    cases = {
        "deblur": (blur.measure(x, noise_std=2 / 255, seed=0), ["--kernel", "gaussian:1.6:11"]),
        "sr": (operators.Downsampling(2, img_shape=(3, 48, 48)).measure(x), ["--scale", "2"]),
    }
    mask = np.ones((48, 48), np.uint8) * 255
    mask[10:14] = 0
    mask[:, 30:33] = 0
    Image.fromarray(mask).save(tmp_path / "mask.png")
    known = torch.from_numpy(mask > 0)
    cases["inpaint"] = (x * known, ["--mask", tmp_path / "mask.png"])
    for task, (y, flags) in cases.items():
        src = tmp_path / task
        io.save_image(src / "a.png", y.clamp(0, 1))
        out = tmp_path / f"out-{task}"
        gt = truth
        if task == "deblur":  # the valid blur loses 5 px per side; compare on the inner part
            gt = tmp_path / "truth-inner"
            io.save_image(gt / "a.png", x[..., 5:-5, 5:-5])
        proc = run(src / "a.png", "--out", out, "--task", task, "--gt", gt, "--noise",
                   "2" if task == "deblur" else "0", *flags)
        assert proc.returncode == 0, proc.stderr
        rep = report(out, "a.png")
        observed = io.read_image(src / "a.png")
        if task == "sr":
            observed = torch.nn.functional.interpolate(observed, scale_factor=2, mode="bicubic")
        base = float(metrics.psnr(observed.clamp(0, 1), io.read_image(gt / "a.png"),
                                  border=2 if task == "sr" else 0))
        assert rep["scores"]["psnr"] > base + 1.0, (task, rep["scores"], base)
        assert rep["method"] == {"deblur": "cnn-hqs", "sr": "ia-idbp-single",
                                 "inpaint": "cnn-admm"}[task]
        assert "PSNR" in proc.stdout and rep["iterations"] > 1 and rep["history"]


def test_kill_mid_batch_then_skip_existing_finishes_without_redoing(tmp_path, gray):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        Image.fromarray(noisy(gray, 10, i)).save(src / f"{i}.png")
    out = tmp_path / "out"
    args = [*CLI, str(src), "--out", str(out), "--task", "deblur", "--kernel", "gaussian:1.2",
            "--noise", "10", "--quiet"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not (out / "0.png").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # a kill while an image is written leaves a hidden partial file, which the rerun removes
    first = {p.name: p.stat().st_mtime_ns for p in finished_images(out)}
    assert "0.png" in first and len(first) < 4
    leftover_partial(out / "3.png").write_bytes(b"truncated")
    proc = run(src, "--out", out, "--task", "deblur", "--kernel", "gaussian:1.2", "--noise",
               "10", "--skip-existing")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.glob("*.png")) == ["0.png", "1.png", "2.png", "3.png"]
    for name, mtime in first.items():
        assert (out / name).stat().st_mtime_ns == mtime  # not redone
    assert f"{len(first)} skipped" in proc.stdout
    assert not partial_files(out)


def test_config_file_with_flags_overriding_it(tmp_path, gray):
    Image.fromarray(noisy(gray, 20)).save(tmp_path / "n.png")
    (tmp_path / "restore.toml").write_text(
        'inputs = ["n.png"]\nout = "res"\ntask = "denoise"\nmethod = "bm3d"\nnoise = 20\n'
        "plot = true\n")
    proc = run("--config", "restore.toml", "--method", "cnn", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rep = report(tmp_path / "res", "n.png")
    assert rep["method"] == "cnn" and rep["noise_std_255"] == pytest.approx(20)
    assert rep["settings"]["plot"] is True and (tmp_path / "res/reports/n.png.png").is_file()


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, rgb, capsys):
    Image.fromarray(rgb).save(tmp_path / "p.png")
    code = main([str(tmp_path / "p.png"), "--out", str(tmp_path / "o"), "--task", "sr",
                 "--scale", "3", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and "48x48" in out and "144x144" in out and "ia-idbp" in out
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, message", [
    (["--task", "deblur"], "needs --kernel"),
    (["--task", "sr"], "needs --scale"),
    (["--task", "denoise", "--noise", "loud"], "--noise must be auto or a number"),
    (["--task", "denoise", "--noise", "0.1"], None),
    (["--task", "denoise", "--method", "zssr"], "does not do denoise"),
    (["--task", "denoise", "--kernel", "gaussian:1"], "applies to --task deblur"),
    (["--task", "denoise", "--tile", "8"], "--tile must be"),
    (["--task", "deblur", "--kernel", "bicubic"], "is for --task sr"),
    (["--task", "sr", "--scale", "3", "--kernel", "auto"], "x2 and x4"),
])
def test_unusable_settings_exit_2_with_the_fix(tmp_path, rgb, capsys, args, message):
    Image.fromarray(rgb).save(tmp_path / "p.png")
    code = main([str(tmp_path / "p.png"), "--out", str(tmp_path / "o"), "--dry-run", *args])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0
    else:
        assert code == 2 and message in err, err


def test_a_mask_or_kernel_that_does_not_fit_is_refused_per_image(tmp_path, rgb, capsys):
    Image.fromarray(rgb).save(tmp_path / "p.png")
    Image.fromarray(np.full((30, 20), 255, np.uint8)).save(tmp_path / "m.png")
    code = main([str(tmp_path / "p.png"), "--out", str(tmp_path / "o"), "--task", "inpaint",
                 "--mask", str(tmp_path / "m.png"), "--dry-run"])
    assert code == 1 and "20x30" in capsys.readouterr().out
    np.save(tmp_path / "k.npy", np.ones((60, 60)))
    code = main([str(tmp_path / "p.png"), "--out", str(tmp_path / "o"), "--task", "deblur",
                 "--kernel", str(tmp_path / "k.npy"), "--dry-run"])
    assert code == 1 and "expected a kernel smaller than the image" in capsys.readouterr().out


def test_sr_with_the_kernel_estimated_from_each_image(tmp_path, gray, monkeypatch):
    """``--kernel auto``: each image's kernel is estimated (the recipe book's estimator, short
    runs here) and checked by the guard, the report holds it with its confidence and the
    guard's residual ratio, and the output is the upscaled image."""
    import dataclasses

    from pnp_internal import recipes

    monkeypatch.setattr(recipes, "KERNELGAN", dataclasses.replace(recipes.KERNELGAN,
                                                                  max_iter=20, crop=32))
    monkeypatch.setattr(recipes, "PATCH_RECURRENCE", dataclasses.replace(
        recipes.PATCH_RECURRENCE, queries=500, max_iter=2))
    Image.fromarray(gray).save(tmp_path / "lr.png")
    code = main([str(tmp_path / "lr.png"), "--out", str(tmp_path / "o"), "--task", "sr",
                 "--scale", "2", "--kernel", "auto", "--method", "cnn-idbp", "--quiet"])
    assert code == 0
    rep = report(tmp_path / "o", "lr.png")
    k = np.array(rep["kernel"]["kernel"])
    # the estimate, or the bicubic kernel if the guard dropped it (these runs are short)
    assert rep["kernel"]["source"].endswith(("mean of KernelGAN and PatchRecurrence",
                                             "mean of KernelGAN and PatchRecurrence estimate)"))
    assert rep["kernel"]["residual_ratio"] > 0
    assert 0 <= rep["kernel"]["confidence"] <= 2
    assert k.shape[0] % 2 == 1 and abs(k.sum() - 1) < 1e-4
    assert np.array(Image.open(tmp_path / "o" / "lr.png")).shape == (96, 96)


def test_deblur_with_the_kernel_estimated_from_each_image(tmp_path, gray, monkeypatch):
    """``--task deblur --kernel auto``: the blur of each photo is estimated (L0Deblur, a short
    run here), the report holds it, and the output keeps the photo's size."""
    import dataclasses

    from pnp_internal import recipes

    monkeypatch.setattr(recipes, "L0_DEBLUR", dataclasses.replace(
        recipes.L0_DEBLUR, kernel_size=9, lam=(1e-2,), alternations=2))
    Image.fromarray(gray).save(tmp_path / "blurred.png")
    code = main([str(tmp_path / "blurred.png"), "--out", str(tmp_path / "o"), "--task",
                 "deblur", "--kernel", "auto", "--quiet"])
    assert code == 0
    rep = report(tmp_path / "o", "blurred.png")
    k = np.array(rep["kernel"]["kernel"])
    assert rep["kernel"]["source"] == "L0Deblur" and k.shape == (9, 9)
    assert abs(k.sum() - 1) < 1e-4 and 0 <= rep["kernel"]["confidence"] <= 1
    assert np.array(Image.open(tmp_path / "o" / "blurred.png")).shape == (48, 48)
