"""Pools of worker processes for CPU-heavy work (chart drawing, Prophet fits).

Workers start from a clean process with the heavy modules already imported (forkserver), never
forked from a running bot with its threads and sockets. They ignore Ctrl-C (the owner stops
them), run at a lower priority, so on a small machine the event loop keeps a core's worth of
attention while they work, and end when their owner is gone, even after a kill -9.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext

WORKER_NICENESS = 10


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def worker_pool(workers: int, preload: Sequence[str] = ()) -> ProcessPoolExecutor:
    """A pool of `workers` processes with the `preload` modules imported once, up front."""
    context: BaseContext
    if "forkserver" in multiprocessing.get_all_start_methods():
        forkserver = multiprocessing.get_context("forkserver")
        forkserver.set_forkserver_preload(list(preload))
        context = forkserver
    else:
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
    )


def _start_worker(owner_pid: int) -> None:
    # Ctrl-C reaches the whole process group; the owner stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(WORKER_NICENESS)
    threading.Thread(
        target=_exit_with, args=(owner_pid,), name="exit-with-owner", daemon=True
    ).start()


def _exit_with(owner_pid: int) -> None:
    """Ends this worker once its owner process is gone. An owner killed with SIGKILL cannot
    stop its workers, and they would wait for work forever (with the forkserver and its
    resource tracker): the pipes whose end would tell them are held open by the workers
    themselves (CPython's forkserver hands its pipe and the pool's queue on to every worker)."""
    try:
        watch = os.pidfd_open(owner_pid)  # Linux: readable when the process has ended
    except (AttributeError, OSError):
        while _running(owner_pid):
            time.sleep(1.0)
    else:
        select.select([watch], [], [])
    os._exit(0)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
