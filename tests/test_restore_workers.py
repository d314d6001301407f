"""Batches over worker processes and a real local Ray instance: same outputs as one process,
killed workers retried, failures reported while the rest complete, resume after a killed
driver."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image
from skimage import data

from conftest import finished_images, leftover_partial, partial_files
from pnp_internal import io
from pnp_internal.restore import restore_many

# One pytest-xdist worker for the module: its Ray instance and the tasks it kills by name.
pytestmark = pytest.mark.xdist_group("workers")

CLI = [sys.executable, "-m", "pnp_internal.cli", "restore"]


@pytest.fixture
def batch(tmp_path):
    """Five small noisy photos and one broken file."""
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    cam = data.camera()[150:214, 150:214].astype(float)
    for i in range(5):
        noisy = np.clip(cam + rng.normal(0, 15, cam.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(src / f"{i}.png")
    (src / "broken.png").write_bytes(b"not an image")
    return src


DEBLUR = dict(task="deblur", kernel="gaussian:1.2", noise="15", method="cnn-hqs")


def _children_running(pid: int, marker: str) -> list[int]:
    """PIDs of the processes whose command line contains ``marker``, below ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if marker in cmd and (pid is None or ppid == pid):
            found.append(int(entry))
    return found


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs (an exited orphan that nobody reaped yet, a
    zombie, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_two_workers_give_the_outputs_of_one_process(batch, tmp_path):
    one = restore_many(batch, tmp_path / "one", task="denoise", method="cnn", noise="15")
    two = restore_many(batch, tmp_path / "two", task="denoise", method="cnn", noise="15",
                       workers=2)
    status = lambda rows: sorted((r["image"], r["status"]) for r in rows)  # noqa: E731
    assert status(one) == status(two)
    assert [r for r in two if r["status"] == "failed"][0]["image"].endswith("broken.png")
    for i in range(5):
        a, b = io.read_image(tmp_path / "one" / f"{i}.png"), io.read_image(
            tmp_path / "two" / f"{i}.png")
        assert (a - b).abs().max() <= 1 / 255
    summary = json.loads((tmp_path / "two" / "reports" / "summary.json").read_text())
    assert len(summary["rows"]) == 6 and summary["settings"]["workers"] == 2


@pytest.mark.parametrize("retries, restored", [(1, 5), (0, 4)])
def test_a_killed_worker_is_retried_or_reported(batch, tmp_path, retries, restored):
    out = tmp_path / "out"
    args = [*CLI, str(batch), "--out", str(out), "--task", "deblur", "--kernel", "gaussian:1.2",
            "--noise", "15", "--workers", "2", "--retries", str(retries), "--quiet"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, killed = time.time() + 120, None
    while killed is None and time.time() < deadline:
        workers = _children_running(proc.pid, "spawn_main")
        if len(workers) >= 2 and finished_images(out):  # both warm, at their next image
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.1)
    stdout, stderr = proc.communicate(timeout=300)
    assert killed is not None, "no worker was seen running"
    assert f"{restored} restored" in stdout, stdout + stderr
    failed = 1 + (5 - restored)  # broken.png, plus the killed image when no retry is left
    assert f"{failed} failed" in stdout
    if restored == 4:
        assert "worker process died" in stderr
    assert len(list(out.glob("*.png"))) == restored and not partial_files(out)


def test_the_temporary_file_of_a_writer_killed_mid_batch_is_deleted(batch, tmp_path,
                                                                     monkeypatch):
    """A worker killed between writing its temporary file and renaming it leaves that file
    behind; the batch deletes it when it ends (the kill above hits that moment only by chance,
    so the moment is made certain here)."""
    from pnp_internal.restore import workers

    out, serial = tmp_path / "out", workers.serial

    def killed_while_writing(jobs, settings, threads=None):
        for job, status, payload in serial(jobs, settings, threads):
            leftover_partial(job.output).write_bytes(b"half an image")
            yield job, status, payload

    monkeypatch.setattr(workers, "serial", killed_while_writing)
    rows = restore_many(batch, out, task="denoise", method="cnn", noise="15")
    assert sum(r["status"] == "restored" for r in rows) == 5
    assert len(list(out.glob("*.png"))) == 5 and not partial_files(out)


def test_killed_driver_then_skip_existing_resumes(batch, tmp_path):
    out = tmp_path / "out"
    flags = ["--task", "deblur", "--kernel", "gaussian:1.2", "--noise", "15", "--quiet"]
    proc = subprocess.Popen([*CLI, str(batch), "--out", str(out), *flags, "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while len(finished_images(out)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    workers = _children_running(proc.pid, "spawn_main")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # an orphaned worker sees its driver gone and exits; its output files are atomic
    alive = lambda: [p for p in workers if _running(p)]  # noqa: E731
    deadline = time.time() + 60
    while alive() and time.time() < deadline:
        time.sleep(0.2)
    assert workers and not alive(), "worker processes outlived the killed driver"
    first = {p.name: p.stat().st_mtime_ns for p in finished_images(out)}
    # on an idle machine the images in flight can all land before the kill takes effect
    assert 2 <= len(first) <= 5
    done = subprocess.run([*CLI, str(batch), "--out", str(out), *flags, "--workers", "2",
                           "--skip-existing"], capture_output=True, text=True, timeout=300)
    # a worker orphaned by the kill may finish the image it had (atomically) before the rerun
    restored, skipped = (int(re.search(rf"(\d+) {w}", done.stdout).group(1))
                         for w in ("restored", "skipped"))
    assert skipped >= len(first) and restored + skipped == 5, done.stdout
    assert "1 failed" in done.stdout, done.stderr
    assert len(list(out.glob("*.png"))) == 5 and not partial_files(out)
    assert all((out / n).stat().st_mtime_ns == t for n, t in first.items())


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("retries", [1, 0])
def test_ray_tasks_retry_a_killed_worker_and_report_a_failing_image(batch, tmp_path,
                                                                    local_ray, retries):
    killed = []

    def kill_one_task():
        # Kill the first worker seen newly titled as a task (one of the first images; the broken
        # file, submitted last, fails in milliseconds). Workers are the raylet's children: a
        # process a task forks carries its title too.
        before = set()
        deadline = time.time() + 120
        while not killed and time.time() < deadline:
            running = {pid for raylet in _children_running(None, "raylet/raylet")
                       for pid in _children_running(raylet, "ray::_ray_task")}
            new = sorted(running - before)
            if new:
                os.kill(new[0], signal.SIGKILL)
                killed.append(new[0])
            before = running
            time.sleep(0.01)

    killer = threading.Thread(target=kill_one_task)
    killer.start()
    rows = restore_many(batch, tmp_path / f"out{retries}", ray="auto", retries=retries,
                        cpus_per_task=1, **DEBLUR)
    killer.join()
    assert killed, "no Ray task was seen running"
    by_status = {}
    for r in rows:
        by_status.setdefault(r["status"], []).append(r)
    errors = [r["error"] for r in by_status["failed"]]
    assert any("not a readable image" in e or "broken" in e for e in errors)
    if retries:
        assert len(by_status["restored"]) == 5
    else:  # the killed worker's task is reported lost, as is any task Ray had queued on it;
        # a worker killed before Ray dispatched its task to it loses nothing (Ray resubmits it)
        lost = [e for e in errors if "Ray task failed" in e]
        assert len(by_status["restored"]) + len(lost) == 5
        assert len(list((tmp_path / "out0").glob("*.png"))) == len(by_status["restored"])
    assert not partial_files(tmp_path / f"out{retries}")
