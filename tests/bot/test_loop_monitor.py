"""The event loop monitor the benchmark reads."""

import asyncio
import json
import time
from pathlib import Path

from bot.loop_monitor import LoopMonitor


async def test_a_blocking_call_shows_as_a_stall(tmp_path: Path) -> None:
    monitor = LoopMonitor(step=0.001)
    monitor.start()
    await asyncio.sleep(0.01)
    time.sleep(0.06)  # holds the loop, as a chart drawn on it would
    await asyncio.sleep(0.01)
    await monitor.stop_and_write(tmp_path / "loop.json")
    report = json.loads((tmp_path / "loop.json").read_text())
    assert report["worst_stall_ms"] >= 50 and len(report["stalls_over_50ms"]) >= 1
    assert report["samples"] >= 2
