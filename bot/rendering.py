"""Drawing charts off the event loop.

The console draws in a worker thread. The bot draws in a pool of worker processes: matplotlib
holds the GIL while it draws (100-250 ms a chart), so a thread would stall every other chat's
reply for that long. The bot also keeps the last few charts: prices change every few minutes, and
buyers asking for the same chart meanwhile get the one already drawn (and a chart being drawn is
drawn once, however many ask for it at the same moment).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import pickle
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from core.adapters.processes import default_workers, worker_pool

log = logging.getLogger(__name__)

Draw = Callable[..., bytes]


class Renderer:
    """Runs chart functions (pure: values in, PNG bytes out) in an executor; default: a thread.

    With `cache_size`, the last charts drawn are kept by a hash of the function and its
    arguments. With `new_executor`, a pool that broke (a worker process died) is replaced and the
    chart drawn again.
    """

    def __init__(
        self,
        executor: Executor | None = None,
        cache_size: int = 0,
        new_executor: Callable[[], Executor] | None = None,
    ) -> None:
        self._executor = executor
        self._cache_size = cache_size
        self._new_executor = new_executor
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._drawing: dict[str, asyncio.Future[bytes]] = {}

    @classmethod
    def in_processes(cls, workers: int | None = None, cache_size: int = 32) -> Renderer:
        """A renderer with its own pool of chart processes (close it with `close`)."""
        size = workers or default_workers()
        return cls(chart_processes(size), cache_size, lambda: chart_processes(size))

    async def __call__(self, draw: Draw, *args: Any) -> bytes:
        if not self._cache_size:
            return await self._run(draw, args)
        key = _key(draw, args)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        drawing = self._drawing.get(key)
        if drawing is None:
            drawing = asyncio.ensure_future(self._run(draw, args))
            self._drawing[key] = drawing
            drawing.add_done_callback(lambda done: self._keep(key, done))
        return await asyncio.shield(drawing)

    def _keep(self, key: str, done: asyncio.Future[bytes]) -> None:
        self._drawing.pop(key, None)
        if done.cancelled() or done.exception() is not None:
            return
        self._cache[key] = done.result()
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _run(self, draw: Draw, args: tuple[Any, ...]) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, draw, *args)
        except BrokenExecutor:
            if self._new_executor is None:
                raise
            log.warning("The chart process pool broke (a worker died); starting a new one")
            broken, self._executor = self._executor, self._new_executor()
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            return await loop.run_in_executor(self._executor, draw, *args)

    async def warm_up(self, workers: int | None = None) -> None:
        """Starts the workers and draws one chart in each, so the first buyer does not wait
        for processes to start and fonts to load."""
        loop = asyncio.get_running_loop()
        count = workers or default_workers()
        await asyncio.gather(
            *(loop.run_in_executor(self._executor, warm_up_chart) for _ in range(count))
        )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


def _key(draw: Draw, args: tuple[Any, ...]) -> str:
    payload = pickle.dumps((draw.__module__, draw.__qualname__, args))
    return hashlib.sha256(payload).hexdigest()


def chart_processes(workers: int) -> ProcessPoolExecutor:
    """A pool of chart workers with matplotlib loaded (see core.adapters.processes)."""
    return worker_pool(workers, preload=["bot.charts", "bot.rendering"])


def warm_up_chart() -> int:
    from bot.charts import price_chart
    from core.models import Material, PricePoint

    start = datetime(2026, 1, 1, tzinfo=UTC)
    points = [PricePoint("warm-up", start + timedelta(days=d), 100.0, "warm-up") for d in (0, 1)]
    price_chart(Material("warm-up", "Warm-up"), points, 2)
    return os.getpid()
