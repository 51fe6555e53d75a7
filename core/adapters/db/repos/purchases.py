"""Purchase requests and purchase orders (core/domain/purchasing.py), and the PO numbers given
out per year. Every method is its own transaction, or joins the unit of work it is called in."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import po_sequences, purchases
from core.domain.purchasing import Purchase, PurchaseState
from core.models import Advice

# The columns a purchase is stored in: every field of Purchase but its id.
_FIELDS = tuple(c.name for c in purchases.columns if c.name != "id")


def _row(purchase: Purchase) -> dict[str, Any]:
    values = {name: getattr(purchase, name) for name in _FIELDS}
    values["state"] = purchase.state.value
    values["advice"] = None if purchase.advice is None else purchase.advice.value
    return values


def _purchase(row: sa.Row[Any]) -> Purchase:
    values = dict(row._mapping)
    values["state"] = PurchaseState(values["state"])
    values["advice"] = None if values["advice"] is None else Advice(values["advice"])
    return Purchase(**values)


class SqlPurchaseRepo:
    """Implements PurchaseRepo (core/ports_purchasing.py)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, purchase: Purchase) -> Purchase:
        async with self._db.transaction() as tx:
            new_id = (
                await tx.execute(
                    sa.insert(purchases).values(_row(purchase)).returning(purchases.c.id)
                )
            ).scalar_one()
        return Purchase(**{**purchase.__dict__, "id": new_id})

    async def get(self, purchase_id: int) -> Purchase | None:
        row = await self._db.fetchone(sa.select(purchases).where(purchases.c.id == purchase_id))
        return None if row is None else _purchase(row)

    async def by_po_number(self, number: str) -> Purchase | None:
        row = await self._db.fetchone(sa.select(purchases).where(purchases.c.po_number == number))
        return None if row is None else _purchase(row)

    async def save(self, purchase: Purchase, was: PurchaseState) -> bool:
        # Only from the state it was read in: a second approval (another approver, a second
        # tap, another process) finds it changed and changes nothing.
        async with self._db.transaction() as tx:
            result = await tx.execute(
                sa.update(purchases)
                .where(purchases.c.id == purchase.id, purchases.c.state == was.value)
                .values(_row(purchase))
            )
            return result.rowcount > 0

    async def next_sequence(self, year: int) -> int:
        # One statement that inserts the year's first number or counts on from the last: the
        # row it writes stays locked until the order's transaction ends, so a second order
        # placed at the same moment waits for it and gets the next number (or, if this one
        # rolls back, this one's).
        statement = self._db.insert(po_sequences).values(year=year, last=1)
        statement = statement.on_conflict_do_update(
            index_elements=["year"], set_={"last": po_sequences.c.last + 1}
        ).returning(po_sequences.c.last)
        async with self._db.transaction() as tx:
            return int((await tx.execute(statement)).scalar_one())

    async def in_states(
        self, states: Collection[PurchaseState], material: str | None = None
    ) -> list[Purchase]:
        statement = sa.select(purchases).where(purchases.c.state.in_([s.value for s in states]))
        if material is not None:
            statement = statement.where(purchases.c.material == material)
        rows = await self._db.fetchall(statement.order_by(purchases.c.id))
        return [_purchase(r) for r in rows]

    async def ordered_between(self, start: datetime, end: datetime) -> list[Purchase]:
        rows = await self._db.fetchall(
            sa.select(purchases)
            .where(purchases.c.ordered_at >= start, purchases.c.ordered_at < end)
            .order_by(purchases.c.ordered_at, purchases.c.id)
        )
        return [_purchase(r) for r in rows]

    async def recent(self, limit: int) -> list[Purchase]:
        rows = await self._db.fetchall(
            sa.select(purchases).order_by(purchases.c.id.desc()).limit(limit)
        )
        return [_purchase(r) for r in rows]
