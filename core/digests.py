"""A chat's daily digest: one message at the local time it chose, with prices and their 1- and
7-day change, the stock that needs ordering, each material's advice and the last 24 hours'
alerts (and, once purchasing exists, the open orders due: the `OrdersDue` hook).

Each digest is booked once per chat and local day (a unique row, written in the transaction
that records the digest in the outbox with its one delivery), so a restart or a second process
running the same minute never sends it twice; the outbox then delivers it like an alert. A
digest found more than LATE_LIMIT late (the bot was down at the time) is skipped, not sent in
the afternoon as the morning's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.domain.digests import DigestFacts, DigestSchedule, digest_text
from core.domain.local_time import DailyTime, local_day
from core.inventory import InventoryService
from core.models import Action, Alert, AlertType, Channel, CurrentAdvice, Recipient, Severity
from core.ports import AdviceSource, AlertRepo, Clock, DigestRepo, OrdersDue, UnitOfWork
from core.prices import PriceService

log = logging.getLogger(__name__)

LATE_LIMIT = timedelta(hours=6)
ALERTS_WINDOW = timedelta(hours=24)
ALERTS_READ = 100


class DigestService:
    """Sets each chat's digest time, writes digests, and books the ones that are due."""

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        schedules: DigestRepo,
        prices: PriceService,
        inventory: InventoryService,
        alerts: AlertRepo,
        clock: Clock,
        advice: AdviceSource | None = None,
        orders: OrdersDue | None = None,
    ) -> None:
        self._new_uow = new_uow
        self._schedules = schedules
        self._prices = prices
        self._inventory = inventory
        self._alerts = alerts
        self._clock = clock
        self.advice = advice
        self.orders = orders

    async def get(self, chat: str) -> DigestSchedule | None:
        return await self._schedules.get(chat)

    async def set(self, chat: str, daily: DailyTime, by: int | None) -> DigestSchedule:
        """Sets (or moves) the chat's daily digest; the first is due at the next `daily`."""
        now = self._clock.now()
        schedule = DigestSchedule(chat, daily, daily.next_after(now), by, now)
        async with self._new_uow() as uow:
            await uow.digests.set(schedule)
        log.info("Digest for chat %s set to %s by user %s", chat, daily.describe(), by)
        return schedule

    async def off(self, chat: str, by: int | None) -> bool:
        """Stops the chat's digest (False: it had none)."""
        async with self._new_uow() as uow:
            removed = await uow.digests.remove(chat)
        if removed:
            log.info("Digest for chat %s stopped by user %s", chat, by)
        return removed

    async def write(self, chat: str, zone: ZoneInfo) -> str:
        """The chat's digest as of now, with times on its clock."""
        return digest_text(await self._facts(chat), self._clock.now(), zone)

    async def book_due(self) -> int:
        """Records every digest that is due, once per chat and local day; returns how many."""
        now = self._clock.now()
        booked = 0
        for schedule in await self._schedules.due(now):
            zone = schedule.daily.zone
            day = local_day(schedule.next_at, zone)
            next_at = schedule.daily.next_after(max(now, schedule.next_at))
            late = now - schedule.next_at > LATE_LIMIT
            if late:
                log.warning(
                    "Digest of chat %s for %s skipped: it was due at %s, more than %s ago",
                    schedule.chat,
                    day,
                    schedule.next_at.isoformat(),
                    LATE_LIMIT,
                )
            text = None if late else digest_text(await self._facts(schedule.chat), now, zone)
            async with self._new_uow() as uow:
                if text is not None and await uow.digests.book(schedule.chat, day, now):
                    stored = await uow.outbox.record(
                        _message(schedule.chat, text, now),
                        [Recipient(Channel.TELEGRAM, schedule.chat)],
                    )
                    assert stored.id is not None
                    await uow.digests.booked(schedule.chat, day, stored.id)
                    booked += 1
                await uow.digests.reschedule(schedule.chat, next_at)
        return booked

    async def _facts(self, chat: str) -> DigestFacts:
        now = self._clock.now()
        alerts = await self._alerts.recent(ALERTS_READ, chat=chat)
        orders = None if self.orders is None else await self.orders.lines(chat, now)
        return DigestFacts(
            prices=await self._prices.summaries(),
            stock=await self._inventory.statuses(),
            advice=await self._advice(),
            alerts=[a for a in alerts if a.created_at > now - ALERTS_WINDOW],
            orders_due=orders,
        )

    async def _advice(self) -> Mapping[str, CurrentAdvice]:
        if self.advice is None:
            return {}
        try:
            return await self.advice.current()
        except Exception:  # the advice is one part of the digest: never lose the rest for it
            log.warning("Recommendations are unavailable for the digest", exc_info=True)
            return {}


def _message(chat: str, text: str, now: datetime) -> Alert:
    return Alert(
        type=AlertType.DIGEST,
        severity=Severity.INFO,
        material=None,
        message=text,
        created_at=now,
        dedup_key=f"{AlertType.DIGEST}:{chat}",
        chat=chat,
        actions=(
            Action("Prices", "/price"),
            Action("Stock", "/stock"),
            Action("Alerts", "/alerts"),
        ),
    )
