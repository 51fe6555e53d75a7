"""Stock on hand and daily consumption."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import consumption, inventory
from core.models import InventoryItem


class SqlInventoryRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[InventoryItem]:
        rows = await self._db.fetchall(
            sa.select(
                inventory.c.material,
                inventory.c.on_hand,
                inventory.c.unit,
                inventory.c.daily_consumption,
                inventory.c.minimum,
                inventory.c.lead_time_days,
                inventory.c.updated_at,
            ).order_by(inventory.c.material)
        )
        return [InventoryItem(**row._mapping) for row in rows]

    async def upsert(self, item: InventoryItem) -> None:
        async with self._db.transaction() as tx:
            # an item's fields are the table's columns
            await tx.execute(self._db.upsert(inventory, ["material"], asdict(item)))

    async def consumption(self, material: str, since: date) -> list[float]:
        rows = await self._db.fetchall(
            sa.select(consumption.c.quantity)
            .where(consumption.c.material == material, consumption.c.day >= since)
            .order_by(consumption.c.day)
        )
        return [r.quantity for r in rows]

    async def record_consumption(self, material: str, daily: Sequence[tuple[date, float]]) -> None:
        if not daily:
            return
        rows = [{"material": material, "day": day, "quantity": q} for day, q in daily]
        async with self._db.transaction() as tx:
            await tx.execute(self._db.upsert(consumption, ["material", "day"], rows))
