"""A worker process for the heavy steps of file imports (core/services/import_work.py): reading
and checking a large file's rows there keeps them, and the garbage collector's walks over them,
out of the bot's own process."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from core.adapters.processes import worker_pool

P = ParamSpec("P")
R = TypeVar("R")

PRELOAD = ["core.services.import_work", "core.adapters.spreadsheets", "openpyxl"]


class ImportWorkers:
    """Runs import work in one worker process, started at the first import."""

    def __init__(self, workers: int = 1) -> None:
        self._pool = worker_pool(workers, PRELOAD)

    async def run(self, work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(work, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
