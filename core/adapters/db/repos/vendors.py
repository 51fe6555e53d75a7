"""Vendor quotes, with their history: each vendor's newest quote for a material is its quote."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import quotes as quote_table
from core.domain.quotes import vendor_key
from core.models import PriceBreak, VendorQuote

_QUOTE = (
    quote_table.c.vendor,
    quote_table.c.material,
    quote_table.c.price,
    quote_table.c.currency,
    quote_table.c.rating,
    quote_table.c.delivery_days,
    quote_table.c.min_order_qty,
    quote_table.c.valid_until,
    quote_table.c.pack_size,
    quote_table.c.breaks,
    quote_table.c.quoted_at,
)


def _quote(row: sa.Row[Any]) -> VendorQuote:
    values = {k: v for k, v in row._mapping.items() if k != "vendor_key"}
    values["breaks"] = tuple(PriceBreak(q, p) for q, p in json.loads(values["breaks"]))
    return VendorQuote(**values)


class SqlVendorRepo:
    """Implements QuoteRepo."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def quotes(self, material: str) -> list[VendorQuote]:
        rows = await self._db.fetchall(
            sa.select(quote_table.c.vendor_key, *_QUOTE)
            .where(quote_table.c.material == material)
            .order_by(quote_table.c.quoted_at, quote_table.c.id)
        )
        newest = {row.vendor_key: _quote(row) for row in rows}  # later rows win
        return sorted(newest.values(), key=lambda q: q.vendor)

    async def history(self, material: str | None = None) -> list[VendorQuote]:
        statement = sa.select(*_QUOTE)
        if material is not None:
            statement = statement.where(quote_table.c.material == material)
        rows = await self._db.fetchall(
            statement.order_by(quote_table.c.quoted_at, quote_table.c.id)
        )
        return [_quote(r) for r in rows]

    async def add(
        self,
        quotes: Sequence[VendorQuote],
        user_id: int | None,
        user_name: str | None,
        source: str,
        import_id: int | None = None,
    ) -> None:
        if not quotes:
            return
        rows = [
            {
                "vendor": q.vendor,
                "vendor_key": vendor_key(q.vendor),
                "material": q.material,
                "price": q.price,
                "currency": q.currency,
                "rating": q.rating,
                "delivery_days": q.delivery_days,
                "min_order_qty": q.min_order_qty,
                "pack_size": q.pack_size,
                "valid_until": q.valid_until,
                "breaks": json.dumps([[b.quantity, b.price] for b in q.breaks]),
                "quoted_at": q.quoted_at,
                "user_id": user_id,
                "user_name": user_name,
                "source": source,
                "import_id": import_id,
            }
            for q in quotes
        ]
        async with self._db.transaction() as tx:
            await tx.execute(sa.insert(quote_table), rows)

    async def replace(self, material: str, quotes: Sequence[VendorQuote]) -> None:
        """Makes `quotes` the material's only quotes, history and all (the demo data)."""
        async with self._db.transaction() as tx:
            await tx.execute(sa.delete(quote_table).where(quote_table.c.material == material))
            await self.add(quotes, None, None, "import")  # joins this transaction
