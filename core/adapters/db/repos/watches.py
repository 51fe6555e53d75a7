"""The chats' price watches. A removed watch keeps its row (removed_at, removed_by) so that the
removal can be undone; a partial unique index lets each chat have one watch per condition."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import job_state, watches
from core.domain.watches import Direction, Watch, WatchKind, WatchRule

# The job_state row that changes with every add, removal, restore or move of a watch.
VERSION_KEY = "watches:version"
_CONDITION = ("chat", "material", "kind", "threshold", "direction", "days")
_LIVE = watches.c.removed_at.is_(None)


def _watch(row: Any) -> Watch:
    return Watch(
        id=row.id,
        chat=row.chat,
        rule=WatchRule(
            row.material,
            WatchKind(row.kind),
            row.threshold,
            Direction(row.direction),
            row.days,
            bool(row.once),
        ),
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        armed=bool(row.armed),
        triggered_at=row.triggered_at,
        triggered_price=row.triggered_price,
        triggered_change=row.triggered_change,
    )


_WATCH = (
    watches.c.id,
    watches.c.chat,
    watches.c.material,
    watches.c.kind,
    watches.c.threshold,
    watches.c.direction,
    watches.c.days,
    watches.c.once,
    watches.c.created_by,
    watches.c.created_at,
    watches.c.expires_at,
    watches.c.armed,
    watches.c.triggered_at,
    watches.c.triggered_price,
    watches.c.triggered_change,
)


class SqlWatchRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        chat: str,
        rule: WatchRule,
        by: int,
        at: datetime,
        expires_at: datetime | None,
        armed: bool,
    ) -> Watch | None:
        statement = (
            self._db.insert(watches)
            .values(
                chat=chat,
                material=rule.material,
                kind=rule.kind.value,
                threshold=rule.threshold,
                direction=rule.direction.value,
                days=rule.days,
                once=rule.once,
                expires_at=expires_at,
                armed=armed,
                created_by=by,
                created_at=at,
            )
            .on_conflict_do_nothing(index_elements=list(_CONDITION), index_where=_LIVE)
            .returning(*_WATCH)
        )
        async with self._db.transaction() as tx:
            row = (await tx.execute(statement)).first()
            if row is None:
                return None
            await self._changed(tx)
            return _watch(row)

    async def get(self, watch_id: int) -> Watch | None:
        row = await self._db.fetchone(sa.select(*_WATCH).where(watches.c.id == watch_id, _LIVE))
        return None if row is None else _watch(row)

    async def of_chat(self, chat: str) -> list[Watch]:
        rows = await self._db.fetchall(
            sa.select(*_WATCH).where(watches.c.chat == chat, _LIVE).order_by(watches.c.id)
        )
        return [_watch(r) for r in rows]

    async def live(self, now: datetime) -> list[Watch]:
        rows = await self._db.fetchall(
            sa.select(*_WATCH)
            .where(
                _LIVE,
                sa.or_(watches.c.expires_at.is_(None), watches.c.expires_at > now),
                sa.or_(watches.c.once.is_(False), watches.c.triggered_at.is_(None)),
            )
            .order_by(watches.c.id)
        )
        return [_watch(r) for r in rows]

    async def remove(self, watch_ids: Sequence[int], by: int, at: datetime) -> int:
        if not watch_ids:
            return 0
        async with self._db.transaction() as tx:
            result = await tx.execute(
                sa.update(watches)
                .where(watches.c.id.in_(list(watch_ids)), _LIVE)
                .values(removed_at=at, removed_by=by)
            )
            if result.rowcount:
                await self._changed(tx)
            return result.rowcount

    async def restore(self, watch_id: int, chat: str, removed_by: int | None) -> list[Watch]:
        removed = [
            watches.c.id == watch_id,
            watches.c.chat == chat,
            watches.c.removed_at.is_not(None),
        ]
        if removed_by is not None:
            removed.append(watches.c.removed_by == removed_by)
        async with self._db.transaction() as tx:
            removal = (
                await tx.execute(
                    sa.select(watches.c.removed_at, watches.c.removed_by).where(*removed)
                )
            ).first()
            if removal is None:
                return []
            together = sa.and_(
                watches.c.chat == chat,
                watches.c.removed_at == removal.removed_at,
                watches.c.removed_by == removal.removed_by,
            )
            live = watches.alias("live")
            watched_again = sa.exists().where(
                live.c.removed_at.is_(None),
                *(live.c[name] == watches.c[name] for name in _CONDITION),
            )
            rows = await tx.execute(
                sa.update(watches)
                .where(together, ~watched_again)
                .values(removed_at=None, removed_by=None)
                .returning(*_WATCH)
            )
            restored = sorted((_watch(r) for r in rows), key=lambda w: w.id)
            if restored:
                await self._changed(tx)
            return restored

    async def record(self, watch: Watch) -> bool:
        async with self._db.transaction() as tx:
            result = await tx.execute(
                sa.update(watches)
                .where(watches.c.id == watch.id, _LIVE)
                .values(
                    armed=watch.armed,
                    triggered_at=watch.triggered_at,
                    triggered_price=watch.triggered_price,
                    triggered_change=watch.triggered_change,
                )
            )
            return result.rowcount > 0

    async def rearm(self, watch_ids: Sequence[int]) -> int:
        if not watch_ids:
            return 0
        async with self._db.transaction() as tx:
            result = await tx.execute(
                sa.update(watches)
                .where(watches.c.id.in_(list(watch_ids)), _LIVE)
                .values(armed=True)
            )
            return result.rowcount

    async def move_chat(self, old: str, new: str) -> int:
        async with self._db.transaction() as tx:
            result = await tx.execute(
                sa.update(watches).where(watches.c.chat == old).values(chat=new)
            )
            if result.rowcount:
                await self._changed(tx)
            return result.rowcount

    async def version(self) -> str | None:
        value = await self._db.scalar(
            sa.select(job_state.c.value).where(job_state.c.key == VERSION_KEY)
        )
        return None if value is None else str(value)

    async def _changed(self, tx: Any) -> None:
        row = {"key": VERSION_KEY, "value": uuid.uuid4().hex, "updated_at": datetime.now(UTC)}
        await tx.execute(self._db.upsert(job_state, ["key"], row))
