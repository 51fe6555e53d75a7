"""Keeping the bot within Telegram's limits: 30 messages a second overall, 20 a minute per
group, a 429's `retry_after` waited out.

PTB's AIORateLimiter measures the overall limit with a leaky bucket (aiolimiter): a burst of
30, then 30 more every second. So a broadcast puts up to 60 messages into its first second,
and Telegram counts messages per second: measured with benchmarks/broadcast.py against a fake
Bot API that refuses a 31st message within any second, 1,000 alerts went out at 83% of the
limit with 33 429s, each of which holds up every send for 1.1 s. `SendWindow` counts the way
the receiving side can: at most 30 messages in any one second, each counted from the moment
its request starts until one second after its answer came back (Telegram has counted it by
the time it answers, so no network delay can crowd 31 into its second). That costs one round
trip a second (about 99% of the limit on loopback, 90% with a 100 ms round trip) and gave 0
429s. The group limit and the 429 handling stay AIORateLimiter's.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from telegram.constants import FloodLimit
from telegram.ext import AIORateLimiter

ApiResult = bool | dict[str, Any] | list[dict[str, Any]]


class SendWindow:
    """At most `limit` requests in any `period` seconds, each counted from its start until
    `period` after it ended; first come, first served."""

    def __init__(self, limit: int = FloodLimit.MESSAGES_PER_SECOND, period: float = 1.0) -> None:
        self.limit = limit
        self.period = period
        self._in_flight = 0
        self._ended: deque[float] = deque()  # end times within the last period, oldest first
        self._turn = asyncio.Lock()
        self._freed = asyncio.Event()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._turn:
            while True:
                now = time.monotonic()
                while self._ended and self._ended[0] + self.period <= now:
                    self._ended.popleft()
                if self._in_flight + len(self._ended) < self.limit:
                    break
                if self._ended:
                    await asyncio.sleep(self._ended[0] + self.period - now)
                else:  # every place is taken by a request still waiting for its answer
                    self._freed.clear()
                    await self._freed.wait()
            self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._ended.append(time.monotonic())
            self._freed.set()


class MessageRateLimiter(AIORateLimiter):
    """AIORateLimiter (20 messages a minute per group, 429s waited out and retried
    `max_retries` times) with the overall limit kept by a `SendWindow`, and chat actions
    ("typing...") left out of the budget: they are no messages, and spending the budget on
    them would make the answers themselves wait in a busy second."""

    def __init__(self, max_retries: int = 0, window: SendWindow | None = None) -> None:
        super().__init__(overall_max_rate=0, max_retries=max_retries)  # 0: the window does it
        self.window = window or SendWindow()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> ApiResult:
        if endpoint == "sendChatAction":
            return await callback(*args, **kwargs)
        counted = data.get("chat_id") is not None and not data.get("allow_paid_broadcast")

        async def within_window(*call_args: Any, **call_kwargs: Any) -> ApiResult:
            # Inside AIORateLimiter's retry loop, so that each attempt (a retry after a 429
            # too) takes its place in the window when it is actually made.
            async with self.window.slot():
                return await callback(*call_args, **call_kwargs)

        return await super().process_request(
            within_window if counted else callback, args, kwargs, endpoint, data, rate_limit_args
        )
