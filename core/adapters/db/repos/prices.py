"""Materials, prices and each day's closing price."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import UtcDateTime, daily_closes, materials, prices
from core.models import Material, PricePoint

# Rows per INSERT: well under SQLite's limit of bound parameters.
BATCH_ROWS = 500


class SqlMaterialRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[Material]:
        rows = await self._db.fetchall(
            sa.select(
                materials.c.key,
                materials.c.name,
                materials.c.unit,
                materials.c.currency,
                materials.c.aliases,
            ).order_by(materials.c.position, materials.c.key)
        )
        return [
            Material(r.key, r.name, r.unit, r.currency, tuple(json.loads(r.aliases))) for r in rows
        ]

    async def upsert(self, material: Material) -> None:
        """Adds the material at the end of the list, or changes it where it stands."""
        async with self._db.transaction() as tx:
            position = await tx.scalar(
                sa.select(sa.func.coalesce(sa.func.max(materials.c.position), 0) + 1)
            )
            values = {
                "name": material.name,
                "unit": material.unit,
                "currency": material.currency,
                "aliases": json.dumps(list(material.aliases)),
            }
            statement = self._db.insert(materials).values(
                key=material.key, position=position, **values
            )
            await tx.execute(statement.on_conflict_do_update(index_elements=["key"], set_=values))


def _point(row: sa.Row[Any]) -> PricePoint:
    return PricePoint(row.material, row.at, row.price, row.source)


_POINT = (prices.c.material, prices.c.at, prices.c.price, prices.c.source)


class SqlPriceRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, points: Sequence[PricePoint]) -> int:
        """Stores the points not stored yet (same material, time and source), keeping each
        day's close; returns how many were new."""
        new: list[PricePoint] = []
        async with self._db.transaction() as tx:
            for start in range(0, len(points), BATCH_ROWS):
                batch = points[start : start + BATCH_ROWS]
                statement = (
                    self._db.insert(prices)
                    .values(
                        [
                            {
                                "material": p.material,
                                "at": p.at,
                                "price": p.price,
                                "source": p.source,
                            }
                            for p in batch
                        ]
                    )
                    .on_conflict_do_nothing()
                    .returning(*_POINT)
                )
                new.extend(_point(r) for r in await tx.execute(statement))
            await self._close_days(tx, new)
        return len(new)

    async def _close_days(self, tx: Any, points: Sequence[PricePoint]) -> None:
        """Makes the newest of `points` each day's close, unless a later price closes it."""
        closes: dict[tuple[str, date], PricePoint] = {}
        for point in points:
            key = (point.material, point.at.astimezone(UTC).date())
            if key not in closes or point.at >= closes[key].at:
                closes[key] = point
        rows = [
            {"material": m, "day": day, "at": p.at, "price": p.price}
            for (m, day), p in closes.items()
        ]
        for start in range(0, len(rows), BATCH_ROWS):
            statement = self._db.insert(daily_closes).values(rows[start : start + BATCH_ROWS])
            await tx.execute(
                statement.on_conflict_do_update(
                    index_elements=["material", "day"],
                    set_={"at": statement.excluded.at, "price": statement.excluded.price},
                    where=statement.excluded.at >= daily_closes.c.at,
                )
            )

    async def latest(self, material: str) -> PricePoint | None:
        row = await self._db.fetchone(
            sa.select(*_POINT)
            .where(prices.c.material == material)
            .order_by(prices.c.at.desc(), prices.c.id.desc())
            .limit(1)
        )
        return None if row is None else _point(row)

    async def at_or_before(self, material: str, at: datetime) -> PricePoint | None:
        row = await self._db.fetchone(
            sa.select(*_POINT)
            .where(prices.c.material == material, prices.c.at <= at)
            .order_by(prices.c.at.desc(), prices.c.id.desc())
            .limit(1)
        )
        return None if row is None else _point(row)

    async def latest_of(self, materials: Sequence[str]) -> dict[str, PricePoint]:
        return await self._last_of(list(materials), None)

    async def at_or_before_of(self, moments: Mapping[str, datetime]) -> dict[str, PricePoint]:
        return await self._last_of(list(moments), moments)

    async def _last_of(
        self, keys: list[str], moments: Mapping[str, datetime] | None
    ) -> dict[str, PricePoint]:
        """Each material's last price (at or before its moment), in one statement: for each
        material a subquery picks its row through the (material, at) index."""
        if not keys:
            return {}
        candidate = prices.alias("candidate")
        conditions = [candidate.c.material == materials.c.key]
        if moments is not None:
            bound = sa.case(
                {key: sa.literal(moment, UtcDateTime()) for key, moment in moments.items()},
                value=materials.c.key,
            )
            conditions.append(candidate.c.at <= bound)
        last = (
            sa.select(candidate.c.id)
            .where(*conditions)
            .order_by(candidate.c.at.desc(), candidate.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        rows = await self._db.fetchall(
            sa.select(*_POINT)
            .select_from(materials.join(prices, prices.c.id == last))
            .where(materials.c.key.in_(keys))
        )
        return {row.material: _point(row) for row in rows}

    async def history(self, material: str, since: datetime) -> list[PricePoint]:
        rows = await self._db.fetchall(
            sa.select(*_POINT)
            .where(prices.c.material == material, prices.c.at >= since)
            .order_by(prices.c.at, prices.c.id)
        )
        return [_point(r) for r in rows]

    async def daily_closes(self, material: str, since: date) -> list[tuple[date, float]]:
        rows = await self._db.fetchall(
            sa.select(daily_closes.c.day, daily_closes.c.price)
            .where(daily_closes.c.material == material, daily_closes.c.day >= since)
            .order_by(daily_closes.c.day)
        )
        return [(r.day, r.price) for r in rows]

    async def delete(self, material: str, at: datetime) -> int:
        """Removes the material's points at `at` (a bad price an admin took back), and
        recloses that day; returns how many went."""
        async with self._db.transaction() as tx:
            gone = await tx.execute(
                sa.delete(prices).where(prices.c.material == material, prices.c.at == at)
            )
            await self._reclose(tx, {(material, at.astimezone(UTC).date())})
            return gone.rowcount

    async def times(self, material: str, start: datetime, end: datetime) -> set[datetime]:
        rows = await self._db.fetchall(
            sa.select(prices.c.at).where(
                prices.c.material == material, prices.c.at >= start, prices.c.at <= end
            )
        )
        return {r.at for r in rows}

    async def count(self, source: str | None = None) -> int:
        statement = sa.select(sa.func.count()).select_from(prices)
        if source is not None:
            statement = statement.where(prices.c.source == source)
        return int(await self._db.scalar(statement) or 0)

    async def delete_source(self, source: str) -> None:
        """Removes every price from `source`, and recloses the days they were on."""
        async with self._db.transaction() as tx:
            gone = (
                await tx.execute(
                    sa.delete(prices)
                    .where(prices.c.source == source)
                    .returning(prices.c.material, prices.c.at)
                )
            ).all()
            await self._reclose(tx, {(r.material, r.at.astimezone(UTC).date()) for r in gone})

    async def _reclose(self, tx: Any, days: set[tuple[str, date]]) -> None:
        """Makes each of these days' close its last remaining price (or none)."""
        by_material: dict[str, set[date]] = {}
        for material, day in days:
            by_material.setdefault(material, set()).add(day)
        for material, closed in by_material.items():
            for start in range(0, len(closed), BATCH_ROWS):
                await tx.execute(
                    sa.delete(daily_closes).where(
                        daily_closes.c.material == material,
                        daily_closes.c.day.in_(sorted(closed)[start : start + BATCH_ROWS]),
                    )
                )
            first = datetime.combine(min(closed), time(), tzinfo=UTC)
            end = datetime.combine(max(closed), time(), tzinfo=UTC) + timedelta(days=1)
            rows = await tx.execute(
                sa.select(*_POINT)
                .where(prices.c.material == material, prices.c.at >= first, prices.c.at < end)
                .order_by(prices.c.at, prices.c.id)
            )
            remaining = [p for p in map(_point, rows) if p.at.astimezone(UTC).date() in closed]
            await self._close_days(tx, remaining)
