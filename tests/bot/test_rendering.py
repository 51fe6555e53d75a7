"""Charts drawn off the event loop: the bot's process pool, the cache, a broken pool replaced."""

import asyncio
import os
import signal
import sys
import threading
from concurrent.futures import BrokenExecutor, Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bot.charts import price_chart
from bot.rendering import Renderer
from tests.conftest import png_size
from tests.fakes import COPPER, daily_prices

ROOT = Path(__file__).resolve().parents[2]
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


BOT_WITH_CHART_WORKERS = """
import sys
from pathlib import Path
from bot.rendering import chart_processes, warm_up_chart
if __name__ == "__main__":
    pool = chart_processes(2)
    pids = sorted({pool.submit(warm_up_chart).result() for _ in range(8)})
    Path(sys.argv[1]).write_text(" ".join(map(str, pids)))
    sys.stdin.read()  # until killed
"""


async def test_chart_workers_end_when_the_bot_is_killed_with_sigkill(tmp_path: Path) -> None:
    script, pid_file = tmp_path / "bot_with_workers.py", tmp_path / "workers"
    script.write_text(BOT_WITH_CHART_WORKERS)
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        str(pid_file),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    for _ in range(600):  # up to 60 s for the pool to start
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.1)
    workers = [int(pid) for pid in pid_file.read_text().split()]
    assert workers and all(running(pid) for pid in workers)
    bot.kill()
    await bot.wait()
    try:
        for _ in range(300):  # up to 30 s
            if not any(running(pid) for pid in workers):
                break
            await asyncio.sleep(0.1)
        assert not any(running(pid) for pid in workers), "chart workers outlived the bot"
    finally:
        for pid in filter(running, workers):
            os.kill(pid, signal.SIGKILL)


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
