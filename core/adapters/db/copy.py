"""Copies a whole database into an empty one (to move from SQLite to PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from core.adapters.db.engine import Database, DatabaseError
from core.adapters.db.schema import metadata

BATCH_ROWS = 1000


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int

    @property
    def matches(self) -> bool:
        return self.source == self.target


async def row_counts(db: Database) -> dict[str, int]:
    """Rows per table, in the order tables depend on each other."""
    async with db.reading() as connection:
        return {
            table.name: int(
                await connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            )
            for table in metadata.sorted_tables
        }


async def copy_database(source: Database, target: Database) -> list[TableCount]:
    """Copies every table of `source` into `target`, which must be empty (its schema made
    already), in one transaction; returns both sides' row counts."""
    if any((await row_counts(target)).values()):
        raise DatabaseError(f"{target.describe()} is not empty: copy into an empty database")
    async with target.transaction() as tx, source.reading() as reader:
        for table in metadata.sorted_tables:
            # in key order, so that a row naming an earlier one of its table (an undo) follows it
            result = await reader.stream(sa.select(table).order_by(*table.primary_key))
            async for rows in result.partitions(BATCH_ROWS):
                await tx.execute(sa.insert(table), [row._asdict() for row in rows])
        await target.restart_ids(tx)
    before, after = await row_counts(source), await row_counts(target)
    return [TableCount(name, before[name], after[name]) for name in before]
