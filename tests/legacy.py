"""Databases as older procurebot releases left them: SQLite files from before the move to
SQLAlchemy and Alembic, and databases at an older Alembic revision."""

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from core.adapters.db import legacy, migrate
from core.adapters.db.engine import Database


def legacy_sqlite(path: Path, version: int = len(legacy.STEPS)) -> sqlite3.Connection:
    """A file with the first `version` legacy steps applied, as that release made it; the
    connection is the caller's to fill and close."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA foreign_keys = ON")
    for number, statements in enumerate(legacy.STEPS[:version], start=1):
        connection.execute("BEGIN")
        for statement in statements:
            connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {number}")
        connection.execute("COMMIT")
    return connection


async def database_at(url: str, revision: str) -> Database:
    """The database at `url` migrated up to `revision` only (not to the newest)."""
    db = await Database.open(url, migrate=False)
    async with db.engine.connect() as connection:

        def upgrade(sync: sa.Connection) -> None:
            sync.commit()
            command.upgrade(migrate._config(sync), revision)
            sync.commit()

        await (await connection.execution_options(write=True)).run_sync(upgrade)
    return db
