"""Pools of worker processes for CPU-heavy work (chart drawing, Prophet fits).

Workers start from a clean process with the heavy modules already imported (forkserver), never
forked from a running bot with its threads and sockets. They ignore Ctrl-C (the owner stops
them) and run at a lower priority, so on a small machine the event loop keeps a core's worth
of attention while they work.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
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
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker)


def _start_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(WORKER_NICENESS)
