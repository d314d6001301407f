"""The README's snippets run as they are and print sensible numbers."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_internal_learning_snippets():
    text = "\n".join(BLOCKS)
    for use in ('"ia-idbp"', '"ia-idbp-during"', '"cnn-gaintuning"', 'prior="dip"',
                'method="dip"', '"zssr-fast"', '"self2self"'):
        assert use in text, use


def test_readme_snippets_run(capsys, monkeypatch, tmp_path):
    """All blocks run in one namespace, in order (later ones reuse ``x``)."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in BLOCKS:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    values = [float(v) for v in re.findall(r"(\d+\.\d+) dB", out)]
    assert len(values) >= 12 and all(v > 18 for v in values), out


COMMANDS = [line for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
            for line in block.splitlines() if line.startswith("pnp-internal restore ")]


def _inputs_for(folder: Path) -> None:
    """Small real images under the names the README's commands use."""
    import numpy as np
    from PIL import Image
    from skimage import data

    rng = np.random.default_rng(0)
    cam = data.camera()[180:244, 200:264].astype(float)
    rgb = data.astronaut()[60:124, 180:244].astype(float)
    noisy = lambda a, s: np.clip(a + rng.normal(0, s, a.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy(cam, 15)).save(folder / "noisy.png")
    Image.fromarray(noisy(rgb, 2)).save(folder / "blurred.jpg", quality=95)
    Image.fromarray(rgb[::2, ::2].astype(np.uint8)).save(folder / "small.png")
    mask = np.full((64, 64), 255, np.uint8)
    mask[30:33] = 0
    Image.fromarray(np.where(mask[..., None] > 0, rgb, 255).astype(np.uint8)).save(
        folder / "scratched.png")
    Image.fromarray(mask).save(folder / "scratch_mask.png")
    (folder / "photos").mkdir()
    for i in range(2):
        Image.fromarray(noisy(cam, 15)).save(folder / "photos" / f"{i}.png")


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_restore_commands_run(tmp_path, command):
    import shlex
    import subprocess
    import sys

    _inputs_for(tmp_path)
    args = shlex.split(command)[2:]
    proc = subprocess.run([sys.executable, "-m", "pnp_internal.cli", "restore", *args, "--quiet"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "0 failed" in proc.stdout and (tmp_path / "restored" / "reports").is_dir()


def test_readme_shows_every_restore_task():
    assert {t for c in COMMANDS for t in ("denoise", "deblur", "sr", "inpaint")
            if f"--task {t}" in c} == {"denoise", "deblur", "sr", "inpaint"}
