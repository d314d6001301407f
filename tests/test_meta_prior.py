"""``pnp-internal train-meta-prior``: the meta-training of the image-adapted prior's start writes a
start the library loads as a denoiser, resumes, and refuses bad options clearly."""

import numpy as np
import torch
from PIL import Image

from conftest import real_image
from pnp_internal.meta.prior_training import main as train_main
from pnp_internal.meta.prior_training import validate
from pnp_internal.priors.cnn import load_denoiser, pretrained


def _folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("astronaut", "coffee", "camera"):
        img = (real_image(name, 160, gray=True)[0, 0].numpy() * 255).round()
        Image.fromarray(img.astype(np.uint8)).save(folder / f"{name}.png")
    return folder


def test_writes_a_start_that_loads_as_a_denoiser_and_resumes(tmp_path):
    out, ckpt = tmp_path / "s.safetensors", tmp_path / "s.ckpt.pt"
    args = ["--data", str(_folder(tmp_path)), "--out", str(out), "--patch", "112",
            "--inner-steps", "1", "--meta-batch", "1", "--n-val", "1", "--threads", "1",
            "--checkpoint", str(ckpt)]
    assert train_main([*args, "--steps", "1"]) == 0
    assert torch.load(ckpt, weights_only=False)["step"] == 1
    start = load_denoiser(out, channels=1)
    assert "train-meta-prior --data" in start.metadata["training_command"]
    assert train_main([*args, "--steps", "2", "--resume"]) == 0
    assert torch.load(ckpt, weights_only=False)["step"] == 2
    # the start denoises a real image as the shipped prior does (a few small steps from it)
    x = real_image("camera", 64, gray=True)
    noisy = x + 3 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        err = float((start(noisy, 3 / 255) - x).pow(2).mean())
    assert err < 0.5 * float((noisy - x).pow(2).mean())
    assert train_main([*args, "--steps", "1", "--patch", "100"]) == 2  # LR side under 56


def test_validation_reports_no_step_and_adapted_psnr_on_real_crops():
    net = pretrained("drunet-lite-gray")
    val = [real_image("camera", 112, gray=True)[0]]
    before, after = validate(net, val, factor=2, steps=1, lr=1e-4, precision="fp32", patch=112)
    # sigma 3/255 on a real photo: the shipped prior is far above the noisy input (38.6 dB)
    assert before > 40.0 and abs(after - before) < 1.0
