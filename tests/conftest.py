"""Shared fixtures: seeded generators, the device, and small real images from scikit-image."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data, transform

from pnp_internal import io

# Two threads (or fewer if pinned); under pytest-xdist, the cores shared by its workers.
# The command-line tests' subprocesses inherit the same count.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_THREADS = max(1, min(2, len(os.sched_getaffinity(0)) // _WORKERS))
torch.set_num_threads(_THREADS)
if _WORKERS > 1:
    os.environ["OMP_NUM_THREADS"] = str(_THREADS)


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    img = np.asarray(img, dtype=np.float32)
    if img.max() > 1.0:
        img = img / 255.0
    if img.ndim == 2:
        img = img[None]
    else:
        img = img.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(img))[None]


def real_image(name: str, size: int, gray: bool = False) -> torch.Tensor:
    """A scikit-image test image resized to ``size x size``, shape (1, C, size, size)."""
    img = getattr(data, name)()
    if gray and img.ndim == 3:
        img = img[..., :3].mean(axis=2)
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    img = transform.resize(img.astype(np.float32) / (255.0 if img.max() > 1 else 1.0),
                           (size, size), anti_aliasing=True)
    return _to_tensor(np.clip(img, 0, 1))


def partial_files(folder: Path) -> list[Path]:
    """The temporary files of unfinished atomic writes (:mod:`pnp_internal.io`) under
    ``folder``."""
    return [p for p in folder.rglob("*") if io.PARTIAL_MARK in p.name]


def finished_images(folder: Path) -> list[Path]:
    """The PNG images in ``folder`` whose writes completed (not the hidden partial files)."""
    return [p for p in folder.glob("*.png") if io.PARTIAL_MARK not in p.name]


def leftover_partial(path: Path) -> Path:
    """The temporary file a writer of ``path`` killed before its rename leaves behind."""
    return path.with_name(f".{path.stem}{io.PARTIAL_MARK}-99999-0a1b2c3d{path.suffix}")


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module of tiny FFTs or small networks: on a loaded 2-core
    machine two spinning OpenMP threads make them up to ~20x slower
    (``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(0)


@pytest.fixture
def device():
    return torch.device("cpu")


@pytest.fixture(scope="session")
def astronaut():
    """Colour astronaut, 64x64, (1, 3, 64, 64)."""
    return real_image("astronaut", 64)


@pytest.fixture(scope="session")
def camera():
    """Gray cameraman, 64x64, (1, 1, 64, 64)."""
    return real_image("camera", 64, gray=True)


class DimBox(torch.nn.Module):
    """A denoiser one layer can fix: a 3x3 box filter whose output is 10 % too dark."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(0.9 / 9)

    def forward(self, v, sigma):
        return self.conv(v)
