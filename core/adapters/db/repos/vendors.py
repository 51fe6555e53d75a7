"""Vendor quotes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import vendor_quotes
from core.models import VendorQuote

_QUOTE = (
    vendor_quotes.c.vendor,
    vendor_quotes.c.material,
    vendor_quotes.c.price,
    vendor_quotes.c.currency,
    vendor_quotes.c.rating,
    vendor_quotes.c.delivery_days,
    vendor_quotes.c.min_order_qty,
    vendor_quotes.c.valid_until,
)


class SqlVendorRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def quotes(self, material: str) -> list[VendorQuote]:
        rows = await self._db.fetchall(
            sa.select(*_QUOTE)
            .where(vendor_quotes.c.material == material)
            .order_by(vendor_quotes.c.vendor)
        )
        return [VendorQuote(**row._mapping) for row in rows]

    async def replace(self, material: str, quotes: Sequence[VendorQuote]) -> None:
        """Makes `quotes` the material's only quotes."""
        async with self._db.transaction() as tx:
            await tx.execute(sa.delete(vendor_quotes).where(vendor_quotes.c.material == material))
            if quotes:
                # a quote's fields are the table's columns
                await tx.execute(sa.insert(vendor_quotes).values([asdict(q) for q in quotes]))
