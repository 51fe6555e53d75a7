"""Files imported, by the digest of their rows."""

from __future__ import annotations

from dataclasses import asdict

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import imports
from core.domain.imports import ImportRecord


class SqlImportRepo:
    """Implements ImportRepo."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(self, digest: str) -> ImportRecord | None:
        row = await self._db.fetchone(sa.select(imports).where(imports.c.digest == digest))
        return None if row is None else ImportRecord(**row._mapping)

    async def add(self, record: ImportRecord) -> ImportRecord:
        values = {k: v for k, v in asdict(record).items() if k != "id"}
        async with self._db.transaction() as tx:
            new_id = (
                await tx.execute(sa.insert(imports).values(values).returning(imports.c.id))
            ).scalar_one()
        return ImportRecord(**{**values, "id": new_id})
