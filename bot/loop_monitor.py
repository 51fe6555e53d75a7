"""How long the event loop was ever held up: a task sleeps in short steps and measures how late
it wakes. The worst lateness is the longest stall every chat would have felt (a chart drawn on
the loop, a blocking call, the process waiting for a CPU), which is what the benchmark reports."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

LONG_STALL = 0.05  # seconds
KEPT_STALLS = 200


class LoopMonitor:
    """`observe`, when given, gets every lateness measured (the /metrics histogram)."""

    def __init__(self, step: float = 0.005, observe: Callable[[float], None] | None = None) -> None:
        self.step = step
        self._observe = observe
        self.worst = 0.0
        self.samples = 0
        self.long_stalls: list[tuple[float, float]] = []  # (wall-clock time, seconds late)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="loop-monitor")

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.step)
            late = loop.time() - before - self.step
            self.worst = max(self.worst, late)
            self.samples += 1
            if self._observe is not None:
                self._observe(max(0.0, late))
            if late > LONG_STALL and len(self.long_stalls) < KEPT_STALLS:
                self.long_stalls.append((time.time(), late))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def report(self) -> dict[str, object]:
        return {
            "worst_stall_ms": round(self.worst * 1000, 1),
            "samples": self.samples,
            "stalls_over_50ms": [
                [round(at, 3), round(late * 1000, 1)] for at, late in self.long_stalls
            ],
        }

    async def stop_and_write(self, path: Path) -> None:
        await self.stop()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.report()) + "\n", encoding="utf-8")
        log.info("Event loop: worst stall %.1f ms over %d samples", self.worst * 1000, self.samples)
