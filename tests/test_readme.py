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
