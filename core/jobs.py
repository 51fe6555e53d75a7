"""The scheduled work as plain async callables, for any scheduler (bot/telegram/jobs.py puts them on
PTB's JobQueue).

Each job is safe to call as often as wanted and never overlaps itself: a call made while the
previous one still runs returns at once without doing anything. A failing feed is handled
inside the poll (logged, never raised); anything else a job raises is for the scheduler's
error handler, and the next call runs normally.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from core.delivery import DeliveryReport, DeliveryWorker
from core.digests import DigestService
from core.feeds import PollResult, PricePoller
from core.health import HealthLog
from core.models import Alert
from core.monitoring import AlertMonitor
from core.quiet_hours import QuietHoursService
from core.services.purchasing import PurchasingService
from core.watches import WatchMonitor

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def single_flight(
    job: Callable[P, Awaitable[R]],
) -> Callable[P, Coroutine[Any, Any, R | None]]:
    """Makes a coroutine function skip (returning None) while a call of it is running."""
    lock = asyncio.Lock()

    @functools.wraps(job)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R | None:
        if lock.locked():
            log.debug("%s is still running; skipping this turn", job.__name__)
            return None
        async with lock:
            return await job(*args, **kwargs)

    return run


class AlertJobs:
    """Poll prices then raise price and buy alerts and check the chats' watches; check stock;
    book the digests due and release what quiet hours held; remind approvers of requests
    waiting too long and raise PO_OVERDUE; deliver pending alerts.

    `check_advice` raises BUY_SIGNAL alerts from the current recommendations: the forecasting
    service calls it after each retrain (the price poll runs it too).
    """

    def __init__(
        self,
        poller: PricePoller,
        monitor: AlertMonitor,
        worker: DeliveryWorker,
        health: HealthLog | None = None,
        watches: WatchMonitor | None = None,
        digests: DigestService | None = None,
        quiet_hours: QuietHoursService | None = None,
        purchasing: PurchasingService | None = None,
    ) -> None:
        self.poller = poller
        self.monitor = monitor
        self.worker = worker
        self.health = health  # where each poll is recorded for `procurebot status`
        self.watches = watches
        self.digests = digests
        self.quiet_hours = quiet_hours
        self.purchasing = purchasing
        self.poll_prices = single_flight(self._poll_prices)
        self.check_stock = single_flight(self._check_stock)
        self.check_advice = single_flight(self._check_advice)
        self.deliver = single_flight(self._deliver)
        self.chat_messages = single_flight(self._chat_messages)
        self.check_purchases = single_flight(self._check_purchases)

    async def _poll_prices(self) -> tuple[PollResult, list[Alert]]:
        result = await self.poller.poll()
        if self.health is not None:
            await self.health.polled(self.poller.feed_name, result)
        alerts = await self.monitor.check_prices()
        alerts += await self.monitor.check_advice()
        if self.watches is not None:
            alerts += await self.watches.check()
        return result, alerts

    async def _chat_messages(self) -> tuple[int, int]:
        """Books the digests due and releases the alerts whose quiet hours are over; returns
        how many of each."""
        digests = await self.digests.book_due() if self.digests is not None else 0
        released = await self.quiet_hours.release() if self.quiet_hours is not None else 0
        return digests, released

    async def _check_purchases(self) -> list[Alert]:
        """Reminds the approvers of requests unanswered for the reminder time (once) and
        raises PO_OVERDUE for orders past their expected day; returns the alerts raised."""
        if self.purchasing is None:
            return []
        await self.purchasing.remind()
        return await self.purchasing.check_overdue()

    async def _check_stock(self) -> list[Alert]:
        return await self.monitor.check_stock()

    async def _check_advice(self) -> list[Alert]:
        return await self.monitor.check_advice()

    async def _deliver(self, keep_going: Callable[[], bool] = lambda: True) -> DeliveryReport:
        return await self.worker.run(keep_going)
