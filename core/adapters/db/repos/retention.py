"""The statements retention runs (core/retention.py decides how many and how often): each call
is one short transaction, timed from the moment it holds the database to its commit."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.db.engine import BUSY_TIMEOUT_MS, Database
from core.adapters.db.schema import alerts, daily_closes, deliveries, materials, prices
from core.models import DeliveryStatus
from core.retention import Batch


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


class _Hold:
    seconds = 0.0


@asynccontextmanager
async def _held(db: Database) -> AsyncIterator[tuple[AsyncConnection, _Hold]]:
    """A write transaction, and how long it held the database (lock taken to commit)."""
    hold = _Hold()
    async with db.transaction() as tx:
        await tx.execute(sa.text("SELECT 1"))  # BEGIN (IMMEDIATE on SQLite) has run
        started = time.perf_counter()
        yield tx, hold
    hold.seconds = time.perf_counter() - started


class SqlRetentionStore:
    """Implements core.retention.RetentionStore."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def materials(self) -> list[str]:
        return [r.key for r in await self._db.fetchall(sa.select(materials.c.key))]

    async def first_price_day(self, material: str) -> date | None:
        first = await self._db.scalar(
            sa.select(sa.func.min(prices.c.at)).where(prices.c.material == material)
        )
        return None if first is None else first.astimezone(UTC).date()

    async def thin_prices(self, material: str, first: date, end: date) -> Batch:
        async with _held(self._db) as (tx, hold):
            closes = (
                await tx.execute(
                    sa.select(daily_closes.c.day, daily_closes.c.at, daily_closes.c.price).where(
                        daily_closes.c.material == material,
                        daily_closes.c.day >= first,
                        daily_closes.c.day < end,
                    )
                )
            ).all()
            closed = {row.day for row in closes}
            # A day without a stored close keeps its prices (its close could not be told).
            unclosed = [
                sa.and_(prices.c.at >= _midnight(day), prices.c.at < _midnight(day) + _DAY)
                for day in _days(first, end)
                if day not in closed
            ]
            removed = 0
            if closes:
                statement = sa.delete(prices).where(
                    prices.c.material == material,
                    prices.c.at >= _midnight(first),
                    prices.c.at < _midnight(end),
                    # the close itself: its time and price (another source's price at the
                    # same moment goes)
                    sa.tuple_(prices.c.at, prices.c.price).not_in(
                        [(row.at, row.price) for row in closes]
                    ),
                )
                if unclosed:
                    statement = statement.where(sa.not_(sa.or_(*unclosed)))
                removed = (await tx.execute(statement)).rowcount
        return Batch(removed, hold.seconds)

    async def remove_sent_deliveries(self, before: datetime, shown: int, limit: int) -> Batch:
        async with _held(self._db) as (tx, hold):
            removable = await _unshown_alerts(tx, shown)
            removed = 0
            if removable is not None:
                doomed = (
                    sa.select(deliveries.c.id)
                    .where(
                        deliveries.c.status == DeliveryStatus.SENT.value,
                        deliveries.c.sent_at < before,
                        deliveries.c.alert_id.in_(sa.select(alerts.c.id).where(removable)),
                    )
                    .limit(limit)
                    .scalar_subquery()
                )
                result = await tx.execute(sa.delete(deliveries).where(deliveries.c.id.in_(doomed)))
                removed = result.rowcount
        return Batch(removed, hold.seconds)

    async def reclaim_space(self, pages: int) -> Batch:
        if self._db.backend != "sqlite":
            return Batch(0, 0.0)  # PostgreSQL's autovacuum makes the space reusable itself
        if await self._db.scalar(sa.text("PRAGMA auto_vacuum")) != 2:
            return Batch(0, 0.0)  # a file made before incremental vacuum: space is reused
        async with _held(self._db) as (tx, hold):
            before = await tx.scalar(sa.text("PRAGMA freelist_count"))
            raw: Any = await tx.get_raw_connection()
            # Each step of the statement frees one page: executescript steps it to the end.
            await raw.driver_connection.executescript(f"PRAGMA incremental_vacuum({int(pages)});")
            after = await tx.scalar(sa.text("PRAGMA freelist_count"))
        return Batch(int(before or 0) - int(after or 0), hold.seconds)

    async def settle(self) -> None:
        if self._db.backend != "sqlite":
            return
        path = self._db.path
        assert path is not None
        await asyncio.to_thread(_checkpoint, path)

    async def size(self) -> int:
        """The database's size in bytes."""
        if self._db.backend == "sqlite":
            pages = await self._db.scalar(sa.text("PRAGMA page_count"))
            page_size = await self._db.scalar(sa.text("PRAGMA page_size"))
            return int(pages) * int(page_size)
        return int(
            await self._db.scalar(sa.select(sa.func.pg_database_size(sa.func.current_database())))
        )


_DAY = timedelta(days=1)


def _checkpoint(path: Path) -> None:
    """A PASSIVE checkpoint on a connection of its own: it copies what it can from the WAL to
    the database file while writers go on (it takes no write lock)."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        connection.close()


def _days(first: date, end: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((end - first).days)]


async def _unshown_alerts(tx: AsyncConnection, shown: int) -> sa.ColumnElement[bool] | None:
    """Which alerts /alerts can no longer show: older than the `shown`-th newest alert overall
    and than the `shown`-th newest of their material. None when every alert can be shown."""

    async def nth_newest(*where: sa.ColumnElement[bool]) -> datetime | None:
        value: datetime | None = await tx.scalar(
            sa.select(alerts.c.created_at)
            .where(*where)
            .order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
            .offset(shown - 1)
            .limit(1)
        )
        return value

    overall = await nth_newest()
    if overall is None:
        return None
    conditions = [sa.and_(alerts.c.material.is_(None), alerts.c.created_at < overall)]
    for (material,) in (await tx.execute(sa.select(alerts.c.material).distinct())).all():
        if material is None:
            continue
        own = await nth_newest(alerts.c.material == material)
        if own is not None:
            conditions.append(
                sa.and_(alerts.c.material == material, alerts.c.created_at < min(own, overall))
            )
    return sa.or_(*conditions)
