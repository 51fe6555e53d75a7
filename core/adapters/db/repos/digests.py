"""The chats' daily digests and quiet hours: a row each per chat, times on the chat's clock."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import digest_days, digests, quiet_hours
from core.domain.digests import DigestSchedule
from core.domain.local_time import DailyTime, QuietHours, clock_text, parse_clock


def _schedule(row: Any) -> DigestSchedule:
    daily = DailyTime(parse_clock(row.at), ZoneInfo(row.zone))
    return DigestSchedule(row.chat, daily, row.next_at, row.set_by, row.set_at)


_SCHEDULE = (
    digests.c.chat,
    digests.c.at,
    digests.c.zone,
    digests.c.next_at,
    digests.c.set_by,
    digests.c.set_at,
)


class SqlDigestRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, chat: str) -> DigestSchedule | None:
        row = await self._db.fetchone(sa.select(*_SCHEDULE).where(digests.c.chat == chat))
        return None if row is None else _schedule(row)

    async def set(self, schedule: DigestSchedule) -> None:
        row = {
            "chat": schedule.chat,
            "at": clock_text(schedule.daily.at),
            "zone": schedule.daily.zone.key,
            "next_at": schedule.next_at,
            "set_by": schedule.set_by,
            "set_at": schedule.set_at,
        }
        async with self._db.transaction() as tx:
            await tx.execute(self._db.upsert(digests, ["chat"], row))

    async def remove(self, chat: str) -> bool:
        async with self._db.transaction() as tx:
            result = await tx.execute(sa.delete(digests).where(digests.c.chat == chat))
            return result.rowcount > 0

    async def due(self, now: datetime) -> list[DigestSchedule]:
        rows = await self._db.fetchall(
            sa.select(*_SCHEDULE).where(digests.c.next_at <= now).order_by(digests.c.next_at)
        )
        return [_schedule(r) for r in rows]

    async def book(self, chat: str, day: date, at: datetime) -> bool:
        async with self._db.transaction() as tx:
            result = await tx.execute(
                self._db.insert(digest_days)
                .values(chat=chat, day=day, booked_at=at)
                .on_conflict_do_nothing()
            )
            return result.rowcount > 0

    async def booked(self, chat: str, day: date, alert_id: int) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                sa.update(digest_days)
                .where(digest_days.c.chat == chat, digest_days.c.day == day)
                .values(alert_id=alert_id)
            )

    async def reschedule(self, chat: str, next_at: datetime) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                sa.update(digests).where(digests.c.chat == chat).values(next_at=next_at)
            )

    async def move_chat(self, old: str, new: str) -> None:
        async with self._db.transaction() as tx:
            for table in (digests, digest_days):
                await tx.execute(
                    sa.update(table)
                    .where(table.c.chat == old, ~_has_chat(table, new))
                    .values(chat=new)
                )


def _has_chat(table: sa.Table, chat: str) -> sa.Exists:
    """Rows of `table` under `chat` already (a chat that moved keeps the new chat's own)."""
    other = table.alias("other")
    condition = [other.c.chat == chat]
    if "day" in table.c:
        condition.append(other.c.day == table.c.day)
    return sa.exists().where(*condition)


class SqlQuietHoursRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, chat: str) -> QuietHours | None:
        row = await self._db.fetchone(sa.select(quiet_hours).where(quiet_hours.c.chat == chat))
        return None if row is None else _hours(row)

    async def all(self) -> dict[str, QuietHours]:
        return {row.chat: _hours(row) for row in await self._db.fetchall(sa.select(quiet_hours))}

    async def set(self, chat: str, hours: QuietHours, by: int | None, at: datetime) -> None:
        row = {
            "chat": chat,
            "starts": clock_text(hours.starts),
            "ends": clock_text(hours.ends),
            "zone": hours.zone.key,
            "set_by": by,
            "set_at": at,
        }
        async with self._db.transaction() as tx:
            await tx.execute(self._db.upsert(quiet_hours, ["chat"], row))

    async def remove(self, chat: str) -> bool:
        async with self._db.transaction() as tx:
            result = await tx.execute(sa.delete(quiet_hours).where(quiet_hours.c.chat == chat))
            return result.rowcount > 0

    async def move_chat(self, old: str, new: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                sa.update(quiet_hours)
                .where(quiet_hours.c.chat == old, ~_has_chat(quiet_hours, new))
                .values(chat=new)
            )


def _hours(row: Any) -> QuietHours:
    return QuietHours(parse_clock(row.starts), parse_clock(row.ends), ZoneInfo(row.zone))
