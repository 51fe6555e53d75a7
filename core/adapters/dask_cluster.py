"""Forecast fits on an existing Dask distributed cluster (`FORECAST_CLUSTER=tcp://HOST:8786`).

The cluster is only where the work runs: what was asked for and what came back are in the
database, so nothing is lost with the cluster or with this process. A fit in flight when either
dies fails, its retrain is logged as failed, and the next turn of the schedule (on this leader
or the next) does it again. While the scheduler cannot be reached, `run` raises
ClusterUnreachable and the engine fits in its local worker processes; it tries to connect again
after `retry_seconds`. Connecting and submitting block, so they happen in threads, never on the
event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10.0
RETRY_SECONDS = 300.0
# Tasks handed to the cluster at once: enough to keep many workers busy, few enough that the
# client (a thread of this process) is not (de)serialising a thousand price histories at once.
IN_FLIGHT = 64


class ClusterUnreachable(Exception):
    """The scheduler cannot be reached now; run the work elsewhere."""


class DaskCluster:
    """A connection to a Dask scheduler, made on first use and remade after it is lost."""

    def __init__(
        self,
        address: str,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.address = address
        self._connect_timeout = connect_timeout
        self._retry_seconds = retry_seconds
        self._client: Any = None
        self._executor: Executor | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()
        # Dask pickles a task in the thread that submits it: one thread, off the event loop
        # (a thousand submits from the loop held it up for seconds; from many threads they
        # crowded it).
        self._submitter = ThreadPoolExecutor(1, thread_name_prefix="dask-submit")
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)

    async def run(self, function: Callable[..., object], *args: object) -> object:
        """`function(*args)` on the cluster; ClusterUnreachable while it cannot be reached."""
        executor = await self.executor()
        if executor is None:
            raise ClusterUnreachable(self.address)
        loop = asyncio.get_running_loop()
        async with self._in_flight:
            future = await loop.run_in_executor(self._submitter, executor.submit, function, *args)
            return await asyncio.wrap_future(future)

    async def executor(self) -> Executor | None:
        """The cluster as an Executor, or None while it cannot be reached."""
        if self._executor is not None and self._client.status == "running":
            return self._executor
        async with self._lock:
            if self._executor is not None and self._client.status == "running":
                return self._executor
            failed_at = self._failed_at
            if failed_at is not None and time.monotonic() < failed_at + self._retry_seconds:
                return None
            await asyncio.to_thread(self._drop)
            try:
                self._client = await asyncio.to_thread(self._connect)
            except (OSError, TimeoutError) as error:
                if self._failed_at is None:
                    log.warning(
                        "Forecast cluster %s cannot be reached (%s): fitting in local worker "
                        "processes, trying again every %.0f s",
                        self.address,
                        error,
                        self._retry_seconds,
                    )
                self._failed_at = time.monotonic()
                return None
            if self._failed_at is not None:
                log.info("Forecast cluster %s is back: fitting there again", self.address)
            else:
                log.info("Fitting forecasts on the Dask cluster at %s", self.address)
            self._failed_at = None
            # pure=False: each fit is its own task (no hashing of the price history for a key).
            self._executor = self._client.get_executor(pure=False)
            return self._executor

    def _connect(self) -> Any:
        from distributed import Client

        return Client(  # type: ignore[no-untyped-call]  # distributed's __init__ is untyped
            self.address, timeout=self._connect_timeout, set_as_default=False
        )

    def _drop(self) -> None:
        client, self._client, self._executor = self._client, None, None
        if client is not None:
            client.close()

    def close(self) -> None:
        """Cancels what this process asked the cluster for and disconnects (blocks briefly)."""
        executor = self._executor
        if executor is not None:
            executor.shutdown(wait=False)
        self._submitter.shutdown(wait=False, cancel_futures=True)
        self._drop()


def local_cluster(workers: int = 2) -> Any:
    """A Dask cluster of `workers` single-threaded worker processes on loopback, with no
    dashboard: a stand-in for FORECAST_CLUSTER in tests and benchmarks (use it in `with`)."""
    from distributed import LocalCluster

    return LocalCluster(  # type: ignore[no-untyped-call]  # distributed's __init__ is untyped
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
