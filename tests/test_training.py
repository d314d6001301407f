"""``pnp-internal train-denoiser``: a tiny run writes a loadable file and resumes from its checkpoint."""

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import real_image
from pnp_internal.priors import load_denoiser
from pnp_internal.priors.cnn import CNNDenoiser
from pnp_internal.training import deepen, main

TINY = ["--nc", "4", "8", "16", "32", "--nb", "1", "--batch", "2", "--patch", "16",
        "--threads", "1", "--n-val", "2"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    for name in ("camera", "coins", "moon", "page", "text"):
        x = real_image(name, 40, gray=True)[0, 0].numpy()
        Image.fromarray((x * 255).round().astype(np.uint8)).save(d / f"{name}.png")
    return d


def run(folder, out, *extra):
    return main(["--data", str(folder), "--channels", "1", "--out", str(out), *TINY, *extra])


def test_train_writes_loadable_file_and_resumes(folder, tmp_path):
    out = tmp_path / "w.safetensors"
    ckpt = tmp_path / "w.ckpt.pt"
    assert run(folder, out, "--steps", "3", "--checkpoint", str(ckpt)) == 0
    model = load_denoiser(out, channels=1)
    assert model.metadata["steps"] == "3"
    assert "train-denoiser --data" in model.metadata["training_command"]
    assert "page.png, text.png" in model.metadata["data"]  # held-out validation files named
    assert float(model.metadata["val_psnr_sigma25"]) > 0
    x = torch.rand(1, 1, 21, 19)
    assert model(x, 0.1).shape == x.shape
    first = torch.load(ckpt, weights_only=False)
    assert first["step"] == 3

    run(folder, out, "--steps", "5", "--checkpoint", str(ckpt), "--resume")
    second = torch.load(ckpt, weights_only=False)
    assert second["step"] == 5
    assert [s for s, _ in second["history"]] == [3, 5]
    changed = [not torch.equal(first["model"][k], second["model"][k]) for k in first["model"]]
    assert any(changed)
    # the lr followed the closed-form cosine to its floor at the last step
    assert second["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-6)


def test_same_seed_same_weights(folder, tmp_path):
    outs = []
    for i in range(2):
        out = tmp_path / f"s{i}.safetensors"
        run(folder, out, "--steps", "2", "--seed", "7")
        outs.append(torch.load(out.with_suffix(".ckpt.pt"), weights_only=False)["model"])
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])


def test_bad_arguments(folder, tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        main(["--data", str(tmp_path / "nope"), "--channels", "1", "--out", str(tmp_path / "o")])
    with pytest.raises(ValueError, match="held out"):
        run(folder, tmp_path / "o.safetensors", "--steps", "1", "--n-val", "5")
    with pytest.raises(OSError, match="no checkpoint"):
        run(folder, tmp_path / "o2.safetensors", "--steps", "1", "--resume")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            run(folder, tmp_path / "o3.safetensors", "--steps", "1", "--device", "cuda")
    with pytest.raises(SystemExit):
        main(["--data", str(folder), "--channels", "2", "--out", str(tmp_path / "o")])


def test_warm_start_and_time_limit(folder, tmp_path):
    """--init starts from given weights (a wrong architecture is refused); --time-limit ends the
    run when its seconds are spent, with the lr decayed to its floor over the time budget."""
    first = tmp_path / "a.safetensors"
    run(folder, first, "--steps", "2")
    warm = tmp_path / "b.safetensors"
    run(folder, warm, "--steps", "10000", "--time-limit", "1.5", "--init", str(first))
    ck = torch.load(warm.with_suffix(".ckpt.pt"), weights_only=False)
    assert 0 < ck["step"] < 10000
    assert ck["optimizer"]["param_groups"][0]["lr"] < 1e-4
    assert "warm start from" in load_denoiser(warm, channels=1).metadata["data"]
    with pytest.raises(ValueError, match="config"):
        main(["--data", str(folder), "--channels", "1", "--out", str(tmp_path / "c.safetensors"),
              "--init", str(first), "--nb", "1", "--nc", "4", "8", "16", "16", "--steps", "1",
              "--threads", "1", "--n-val", "2", "--patch", "16", "--batch", "2"])
    with pytest.raises(ValueError, match="time-limit"):
        run(folder, tmp_path / "d.safetensors", "--steps", "1", "--time-limit", "0")


def test_a_deeper_network_grows_from_a_shallower_one(folder, tmp_path):
    """--init with a larger --nb: the extra residual blocks start as identities, so the deeper
    network denoises exactly as the weights it grew from, and they learn; a smaller --nb is
    refused."""
    shallow = CNNDenoiser(3, nb=2).eval()
    deep = CNNDenoiser(3, nb=4).eval()
    deepen(shallow.net, deep.net)
    x = real_image("astronaut", 48)
    with torch.no_grad():
        assert torch.equal(shallow(x, 0.1), deep(x, 0.1))
    deep.train()
    torch.nn.functional.l1_loss(deep(x + 0.1 * torch.randn_like(x), 0.1), x).backward()
    grown = [n for n, p in deep.net.named_parameters() if ".3.res.2." in n]  # a new block
    assert grown and all(deep.net.get_parameter(n).grad.abs().sum() > 0 for n in grown)

    first = tmp_path / "nb1.safetensors"
    run(folder, first, "--steps", "1")
    deeper = tmp_path / "nb2.safetensors"
    args = ["--data", str(folder), "--channels", "1", "--init", str(first), *TINY, "--steps", "1"]
    main([*args, "--nb", "2", "--out", str(deeper)])
    assert "deepened from nb=1" in load_denoiser(deeper, channels=1).metadata["data"]
    with pytest.raises(ValueError, match="config"):
        main([*args, "--nb", "0", "--out", str(tmp_path / "nb0.safetensors")])


def test_every_folder_holds_out_its_last_files(folder, tmp_path):
    from pnp_internal.training import load_folder
    second = tmp_path / "more"
    second.mkdir()
    for name in ("a", "b", "c"):
        Image.fromarray(np.full((40, 40), 100, np.uint8)).save(second / f"{name}.png")
    train, val, desc = load_folder([folder, second], 1, n_val=1, patch=16, scales=(1.0,))
    assert len(val) == 2 and len(train) == 4 + 2
    assert "text.png, c.png" in desc
    with pytest.raises(ValueError, match="lower --n-val"):
        load_folder([folder, second], 1, n_val=3, patch=16)


def test_each_folder_gets_its_own_scales_unless_given(folder, tmp_path):
    from pnp_internal.training import load_folder
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a", "b", "c"):
        Image.fromarray(np.full((96, 96), 100, np.uint8)).save(photos / f"{name}.jpg")
    train, _, desc = load_folder([folder, photos], 1, n_val=1, patch=16)
    assert "at scales [1.0, 0.9, 0.8, 0.7]" in desc and "at scales [0.5, 0.333]" in desc
    assert sorted({tuple(t.shape[-2:]) for t in train}) == [(28, 28), (32, 32), (36, 36),
                                                            (40, 40), (48, 48)]
    _, _, desc = load_folder([folder, photos], 1, n_val=1, patch=16, scales=(1.0, 0.5))
    assert desc.count("at scales [1.0, 0.5]") == 2
    with pytest.raises(SystemExit, match="--scales"):
        run(folder, tmp_path / "o.safetensors", "--steps", "1", "--scales", "2")


def test_colour_augmentation_keeps_content_and_refuses_gray(folder, tmp_path):
    from pnp_internal.training import colour_augment
    gen = torch.Generator().manual_seed(0)
    p = torch.stack([torch.full((8, 8), v, dtype=torch.uint8) for v in (10, 120, 240)])
    seen = {tuple(colour_augment(p, gen, shuffle=True, saturation=0, hue=0)[:, 0, 0].tolist())
            for _ in range(40)}
    assert len(seen) > 1 and all(sorted(s) == [10, 120, 240] for s in seen)  # a permutation
    q = colour_augment(p, gen, shuffle=False, saturation=0.5, hue=0.1)
    assert q.dtype == torch.uint8 and q.shape == p.shape and not torch.equal(q, p)
    gray = torch.full((3, 8, 8), 77, dtype=torch.uint8)  # hue and saturation leave gray alone
    assert torch.equal(colour_augment(gray, gen, shuffle=True, saturation=0.5, hue=0.1), gray)
    with pytest.raises(ValueError, match="--channels 3"):
        run(folder, tmp_path / "g.safetensors", "--steps", "1", "--channel-shuffle")
    with pytest.raises(ValueError, match="--hue"):
        run(folder, tmp_path / "h.safetensors", "--steps", "1", "--hue", "0.7")


def test_run_checkpoint_is_atomic_and_carries_the_seconds_over(tmp_path):
    from pnp_internal.run_checkpoint import RunCheckpoint

    first = RunCheckpoint(tmp_path / "run.ckpt.pt", every=300)
    first.spent_before = 100.0   # as if resumed from a run of 100 s
    first.save({"step": 3, "weights": torch.ones(2)})
    assert not (tmp_path / "run.ckpt.pt.tmp").exists()
    again = RunCheckpoint(tmp_path / "run.ckpt.pt", every=300)
    state = again.load("cpu")
    assert state["step"] == 3 and torch.equal(state["weights"], torch.ones(2))
    assert 100.0 <= state["seconds"] <= again.seconds() and not again.due()
    with pytest.raises(OSError, match="no checkpoint"):
        RunCheckpoint(tmp_path / "missing.pt", every=300).load("cpu")


def test_warmup_ramps_the_first_steps_of_a_run(folder, tmp_path):
    """--warmup N: the first step moves the weights by about 1/N of a plain first step (Adam's
    first step is about lr per weight, whatever the gradient)."""
    moved = []
    for warmup in ("0", "10"):
        out = tmp_path / f"w{warmup}.safetensors"
        run(folder, out, "--steps", "1", "--seed", "7", "--warmup", warmup)
        ck = torch.load(out.with_suffix(".ckpt.pt"), weights_only=False)
        moved.append(ck)
    run(folder, tmp_path / "z.safetensors", "--steps", "1", "--seed", "7", "--lr", "1e-12")
    start = torch.load(tmp_path / "z.ckpt.pt", weights_only=False)["model"]
    step = [sum((ck["model"][k] - start[k]).abs().sum() for k in start) for ck in moved]
    assert 0.05 < step[1] / step[0] < 0.2
    with pytest.raises(ValueError, match="--warmup"):
        run(folder, tmp_path / "o.safetensors", "--steps", "1", "--warmup", "-1")
