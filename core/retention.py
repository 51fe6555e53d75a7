"""Keeping the database small: old price polls thinned to each day's close, old sent
deliveries removed, in small batches that never hold the database for long.

What stays, so that nothing a chart, a forecast, a report or /alerts shows is lost:
- every price of the last `keep_days` days (the /price chart shows 30, the alert rules look 24 h
  back), and before that each day's close: the last price of the day, which is what the
  forecasts, their charts and the daily closes are made of (days without a stored close are
  left as they are);
- every alert, and the deliveries of every alert /alerts can still show (the newest
  `shown_alerts` overall and per material); failed and pending deliveries are never removed.

Each batch is one short transaction. Its size adapts to how long the last one held the
database: doubled while under half of HOLD_TARGET, halved above it, so a batch stays near the
target, and under 100 ms on a slow or busy machine too. Between batches what a batch wrote is
checkpointed into the database file (SQLite) while the bot's own writes go on, and the
database is left free for them for a moment (PAUSE).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from core.health import HealthLog, RetentionState
from core.ports import Clock, StateStore

log = logging.getLogger(__name__)

# Seconds a batch should hold the database: a fifth of the 100 ms it must never exceed, so
# that a batch slowed four times over (a busy disk, a shared CPU) still stays under it.
HOLD_TARGET = 0.02
PAUSE = 0.005  # seconds between batches, for the bot's own writes
SENT_DELIVERIES_KEPT = timedelta(days=365)
DAILY = timedelta(hours=24)
# Caps on a batch, whatever the last one took: a batch that writes more pages than SQLite's
# auto-checkpoint allows (1,000) would checkpoint them, fsync included, inside its hold.
MAX_DAYS_PER_BATCH = 8
FIRST_DELIVERY_BATCH = 500
MAX_DELIVERY_BATCH = 5_000
FIRST_VACUUM_PAGES = 128
MAX_VACUUM_PAGES = 512
# Days before the last run's cutoff that are looked at again (prices that came in late).
OVERLAP = timedelta(days=2)
DONE_UNTIL_KEY = "retention.done_until"


@dataclass(frozen=True)
class Batch:
    """What one transaction removed, and how long it held the database (seconds)."""

    removed: int
    held: float


class RetentionStore(Protocol):
    async def materials(self) -> list[str]: ...

    async def first_price_day(self, material: str) -> date | None: ...

    async def thin_prices(self, material: str, first: date, end: date) -> Batch:
        """In each day from `first` up to (not including) `end` that has a stored close,
        removes every price but the close; one transaction."""
        ...

    async def remove_sent_deliveries(self, before: datetime, shown: int, limit: int) -> Batch:
        """Removes up to `limit` deliveries sent before `before`, keeping those of the alerts
        /alerts can show (the newest `shown` overall and per material); one transaction."""
        ...

    async def reclaim_space(self, pages: int) -> Batch:
        """Gives up to `pages` free pages back to the file system (SQLite); `removed` is how
        many went. 0 where the backend reuses free space by itself."""
        ...

    async def settle(self) -> None:
        """Between batches, without holding the database: writes what the last batch changed
        to the database file (SQLite's WAL checkpoint), so that no later commit, the bot's or
        a batch's, has to do it inside its hold."""
        ...


@dataclass
class RetentionReport:
    prices_removed: int = 0
    deliveries_removed: int = 0
    pages_freed: int = 0
    batches: int = 0
    longest_hold: float = 0.0
    seconds: float = 0.0
    # the longest hold of each step: "prices", "deliveries", "space"
    holds: dict[str, float] = field(default_factory=dict)

    def count(self, step: str, batch: Batch) -> None:
        self.batches += 1
        self.longest_hold = max(self.longest_hold, batch.held)
        self.holds[step] = max(self.holds.get(step, 0.0), batch.held)


def _adapt(size: int, held: float, largest: int) -> int:
    if held > HOLD_TARGET:
        return max(1, size // 2)
    if held < HOLD_TARGET / 2:
        return min(largest, size * 2)
    return size


class RetentionService:
    """Runs retention (daily on the leader, `run_if_due`) and reports what it did."""

    def __init__(
        self,
        store: RetentionStore,
        state: StateStore,
        health: HealthLog,
        clock: Clock,
        keep_days: int,
        shown_alerts: int,
        pause: float = PAUSE,
    ) -> None:
        self._store = store
        self._state = state
        self._health = health
        self._clock = clock
        self.keep_days = keep_days
        self._shown = shown_alerts
        self._pause = pause

    async def run_if_due(self) -> RetentionReport | None:
        """Runs when the last run is a day old (or there was none)."""
        last = await self._health.retention()
        if last is not None and self._clock.now() - last.at < DAILY - timedelta(minutes=5):
            return None
        return await self.run()

    async def run(self) -> RetentionReport:
        started = time.perf_counter()
        now = self._clock.now()
        report = RetentionReport()
        cutoff = now.date() - timedelta(days=self.keep_days)
        await self._thin_prices(cutoff, report)
        await self._remove_deliveries(now - SENT_DELIVERIES_KEPT, report)
        await self._reclaim(report)
        report.seconds = time.perf_counter() - started
        await self._health.retained(
            RetentionState(
                now,
                report.prices_removed,
                report.deliveries_removed,
                report.seconds,
                report.longest_hold,
            )
        )
        log.info(
            "Retention: %d price polls before %s thinned to daily closes, %d sent deliveries "
            "over a year old removed, %d pages freed, in %.1f s (%d batches, longest hold %.0f ms)",
            report.prices_removed,
            cutoff.isoformat(),
            report.deliveries_removed,
            report.pages_freed,
            report.seconds,
            report.batches,
            report.longest_hold * 1000,
        )
        return report

    async def _thin_prices(self, cutoff: date, report: RetentionReport) -> None:
        done = await self._state.get(DONE_UNTIL_KEY)
        resume = date.fromisoformat(done) - OVERLAP if done else None
        days = 1
        for material in await self._store.materials():
            first = await self._store.first_price_day(material)
            if first is None:
                continue
            day = max(first, resume) if resume is not None else first
            while day < cutoff:
                end = min(cutoff, day + timedelta(days=days))
                batch = await self._store.thin_prices(material, day, end)
                report.count("prices", batch)
                report.prices_removed += batch.removed
                days = _adapt(days, batch.held, MAX_DAYS_PER_BATCH)
                day = end
                await self._between_batches()
        await self._state.set(DONE_UNTIL_KEY, cutoff.isoformat())

    async def _remove_deliveries(self, before: datetime, report: RetentionReport) -> None:
        limit = FIRST_DELIVERY_BATCH
        while True:
            batch = await self._store.remove_sent_deliveries(before, self._shown, limit)
            report.count("deliveries", batch)
            report.deliveries_removed += batch.removed
            if batch.removed < limit:
                return
            limit = _adapt(limit, batch.held, MAX_DELIVERY_BATCH)
            await self._between_batches()

    async def _reclaim(self, report: RetentionReport) -> None:
        pages = FIRST_VACUUM_PAGES
        while True:
            batch = await self._store.reclaim_space(pages)
            report.count("space", batch)
            report.pages_freed += batch.removed
            if batch.removed < pages:
                return
            pages = _adapt(pages, batch.held, MAX_VACUUM_PAGES)
            await self._between_batches()

    async def _between_batches(self) -> None:
        await self._store.settle()
        await asyncio.sleep(self._pause)
