"""Charts drawn off the event loop: the bot's process pool, the cache, a broken pool replaced."""

import asyncio
import os
import threading
from concurrent.futures import BrokenExecutor, Executor, Future, ThreadPoolExecutor
from typing import Any

from bot.charts import price_chart
from bot.rendering import Renderer
from tests.conftest import png_size
from tests.fakes import COPPER, daily_prices

CALLS: list[tuple[Any, ...]] = []
GATE = threading.Event()


def slow_square(x: int) -> bytes:
    CALLS.append((x,))
    GATE.wait(10)
    return str(x * x).encode()


def process_id() -> bytes:
    return str(os.getpid()).encode()


async def test_charts_are_drawn_in_other_processes(chart_renderer: Renderer) -> None:
    points = daily_prices("copper", [9000.0 + i for i in range(30)])
    png = await chart_renderer(price_chart, COPPER, points, 30)
    assert png_size(png) == (800, 500)
    pids = await asyncio.gather(*(chart_renderer(process_id) for _ in range(4)))
    assert str(os.getpid()).encode() not in pids


async def test_the_same_chart_asked_at_once_is_drawn_once_and_then_kept() -> None:
    CALLS.clear()
    GATE.clear()
    with ThreadPoolExecutor(4) as pool:
        renderer = Renderer(pool, cache_size=2)
        asked = [asyncio.ensure_future(renderer(slow_square, 3)) for _ in range(5)]
        other = asyncio.ensure_future(renderer(slow_square, 4))
        await asyncio.sleep(0)
        GATE.set()
        assert set(await asyncio.gather(*asked)) == {b"9"} and await other == b"16"
        assert await renderer(slow_square, 3) == b"9"
        assert sorted(CALLS) == [(3,), (4,)]
        await renderer(slow_square, 5)  # the cache keeps the two used last: 4 goes
        await renderer(slow_square, 3)
        await renderer(slow_square, 4)
        assert sorted(CALLS) == [(3,), (4,), (4,), (5,)]


class BrokenPool(Executor):
    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_exception(BrokenExecutor("a worker died"))
        return future


async def test_a_broken_pool_is_replaced_and_the_chart_drawn() -> None:
    GATE.set()
    replacements: list[Executor] = []

    def new_pool() -> Executor:
        replacements.append(ThreadPoolExecutor(1))
        return replacements[-1]

    renderer = Renderer(BrokenPool(), new_executor=new_pool)
    assert await renderer(slow_square, 6) == b"36"
    assert len(replacements) == 1
    renderer.close()
