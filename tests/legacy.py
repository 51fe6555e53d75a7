"""SQLite files as procurebot left them before the move to SQLAlchemy and Alembic."""

import sqlite3
from pathlib import Path

from core.adapters.db import legacy


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
