"""Where the images of a batch are restored: in this process, in ``N`` worker processes of
this machine, or as one Ray task per image on a Ray cluster.

Every engine yields ``(job, status, payload)`` as images finish: ``"restored"`` with the
image's report, or ``"failed"`` with the message. An image that raises fails alone; a worker
that dies (killed, out of memory) has its image retried up to ``retries`` times, then the
image is reported failed and the others go on. Outputs are written by the workers themselves,
atomically, so a retried image never leaves a duplicate file, and the temporary file of a
worker killed while it wrote is deleted when the batch ends
(:func:`~pnp_internal.restore.batch.run`).
"""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

__all__ = ["serial", "processes", "on_ray", "work"]


def work(job, settings, threads: int | None = None):
    """Restore one image; ``("restored", report)`` or ``("failed", message)``."""
    import torch

    from .batch import Context, restore_one

    if threads:
        torch.set_num_threads(max(1, int(threads)))
    try:
        return "restored", restore_one(job, _context(settings, Context))
    except Exception as err:  # one bad file must not stop the batch: it is reported
        return "failed", f"{type(err).__name__}: {err}"


@functools.lru_cache(maxsize=4)
def _context(settings, make):
    """One :class:`~pnp_internal.restore.batch.Context` per settings in a process (the kernel
    file is read once, not once per image)."""
    return make(settings)


def serial(jobs, settings, threads: int | None = None):
    """In this process, one image after the other (progress bars within each image), with
    ``threads`` torch threads (default: torch's)."""
    for job in jobs:
        yield (job, *work(job, settings, threads))


def _start_worker(threads, driver):
    """Set the torch threads and leave as soon as the ``driver`` process is gone (a killed
    driver must not leave workers behind). The driver's pid is passed in rather than read
    here: a driver killed while this process starts would otherwise be missed."""
    import threading
    import time

    import torch

    torch.set_num_threads(max(1, threads))

    def leave_with_the_parent():
        while os.getppid() == driver:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=leave_with_the_parent, daemon=True).start()


def processes(jobs, settings, workers: int, *, retries: int = 1, threads: int | None = None):
    """In ``workers`` processes of this machine, each with ``threads`` torch threads (default:
    the cores shared out). Each process is its own one-worker pool fed one image at a time,
    so a process that dies loses exactly its image: that image counts one attempt and goes
    back in the queue, and a fresh process replaces the dead one."""
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    quiet = dataclasses.replace(settings, quiet=True)
    context = multiprocessing.get_context("spawn")

    def new_pool():
        return ProcessPoolExecutor(1, mp_context=context, initializer=_start_worker,
                                   initargs=(threads, os.getpid()))

    queue_ = list(jobs)
    attempts = {job.output.name: 0 for job in jobs}
    pools = [new_pool() for _ in range(min(workers, len(queue_)))]
    running = {}  # future -> (pool index, job)
    try:
        while queue_ or running:
            busy = {index for index, _ in running.values()}
            for index in range(len(pools)):
                if index not in busy and queue_:
                    job = queue_.pop(0)
                    running[pools[index].submit(work, job, quiet)] = (index, job)
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                index, job = running.pop(future)
                try:
                    status, payload = future.result()
                except BrokenProcessPool:
                    pools[index].shutdown(wait=False)
                    pools[index] = new_pool()
                    attempts[job.output.name] += 1
                    if attempts[job.output.name] <= retries:
                        queue_.insert(0, job)
                        continue
                    status, payload = "failed", (
                        f"its worker process died {attempts[job.output.name]} time(s) "
                        f"(killed or out of memory); --retries {retries}")
                yield job, status, payload
    finally:
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)


def _ray_task(job, settings, threads):
    return work(job, settings, threads)


def on_ray(jobs, settings, address: str, *, cpus_per_task: float = 1.0,
           gpus_per_task: float = 0.0, retries: int = 1):
    """One Ray task per image on the cluster at ``address`` (``"auto"``: the running one, or
    a local instance started here). ``cpus_per_task``/``gpus_per_task`` are Ray resources
    (fractions allowed: several small jobs share a GPU); a task whose worker dies is retried
    by Ray up to ``retries`` times."""
    try:
        import ray
    except ImportError:
        raise ImportError("--ray needs Ray: pip install 'pnp_internal[ray]' (or pip install "
                          "ray)") from None

    started_here = not ray.is_initialized()
    if started_here:
        if address == "auto":
            try:
                ray.init(address="auto", log_to_driver=False)
            except ConnectionError:  # no running cluster: a local one on this machine
                ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    try:
        yield from _ray_results(ray, jobs, settings, cpus_per_task, gpus_per_task, retries)
    finally:
        if started_here:
            ray.shutdown()


def _ray_results(ray, jobs, settings, cpus_per_task, gpus_per_task, retries):
    remote = ray.remote(_ray_task).options(num_cpus=cpus_per_task, num_gpus=gpus_per_task,
                                           max_retries=retries, retry_exceptions=False)
    quiet = dataclasses.replace(settings, quiet=True)
    threads = max(1, int(cpus_per_task))
    refs = {remote.remote(job, quiet, threads): job for job in jobs}
    while refs:
        done, _ = ray.wait(list(refs), num_returns=1)
        job = refs.pop(done[0])
        try:
            status, payload = ray.get(done[0])
        except ray.exceptions.RayError as err:
            yield job, "failed", (f"Ray task failed after {retries} retr"
                                  f"{'y' if retries == 1 else 'ies'}: {type(err).__name__}: "
                                  f"{str(err).splitlines()[0]}")
            continue
        yield job, status, payload
