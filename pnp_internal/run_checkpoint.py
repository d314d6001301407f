"""A resumable training run's private checkpoint: where it lives, when the next one is due, and
the seconds the run has spent over all its resumes (``train-denoiser``, ``train-generator``,
``train-meta``)."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import torch

__all__ = ["RunCheckpoint", "command_line"]


def command_line(prog: str, argv: list[str] | None) -> str:
    """The shell command that reruns ``prog`` with ``argv`` (default ``sys.argv[1:]``), kept in
    exported weights' metadata."""
    return f"{prog} " + " ".join(shlex.quote(a) for a in (argv if argv is not None
                                                           else sys.argv[1:]))


class RunCheckpoint:
    """The checkpoint file of one training run and the run's clock.

    Parameters
    ----------
    path : str or Path
        The checkpoint file (``torch.save`` of a dict).
    every : float
        Seconds between checkpoints (:meth:`due`).

    Examples
    --------
    >>> import tempfile, torch
    >>> path = Path(tempfile.mkdtemp()) / "run.ckpt.pt"
    >>> ckpt = RunCheckpoint(path, every=300)
    >>> ckpt.save({"step": 10})
    >>> ckpt.due()
    False
    >>> RunCheckpoint(path, every=300).load("cpu")["step"]
    10
    """

    def __init__(self, path, every: float):
        self.path = Path(path)
        self.every = float(every)
        self.spent_before = 0.0
        self.started = self._last_save = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since this run (not the earlier ones it resumes) started."""
        return time.monotonic() - self.started

    def seconds(self) -> float:
        """Seconds of training over this run and the runs it resumes."""
        return self.spent_before + self.elapsed()

    def due(self) -> bool:
        """Whether ``every`` seconds have passed since the last :meth:`save` (or the start)."""
        return time.monotonic() - self._last_save > self.every

    def load(self, device) -> dict:
        """The saved state, its tensors on ``device`` (for ``--resume``); the run's clock takes
        over the seconds it records."""
        if not self.path.is_file():
            raise OSError(f"--resume given but no checkpoint at {self.path}")
        state = torch.load(self.path, map_location=device, weights_only=False)
        self.spent_before = state.get("seconds", 0.0)
        return state

    def save(self, state: dict) -> None:
        """Write ``state`` and the run's seconds atomically: an interrupted write leaves the
        previous checkpoint whole."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        torch.save({**state, "seconds": self.seconds()}, tmp)
        tmp.replace(self.path)
        self._last_save = time.monotonic()
