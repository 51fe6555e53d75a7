"""Brings a database's schema up to date with Alembic, each migration in its own transaction.

A SQLite file from before Alembic (its schema version in PRAGMA user_version, 1 to 4) is first
brought to version 4 with the frozen legacy steps, then stamped at Alembic's baseline, which is
that same schema, and upgraded like any other. Once Alembic manages a SQLite file its
user_version is set past 4, so an older procurebot refuses it instead of writing to a schema it
does not know.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from core.adapters.db import legacy
from core.adapters.db.engine import Database

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"
# PRAGMA user_version of a SQLite file that Alembic manages: past every legacy step.
MANAGED_BY_ALEMBIC = len(legacy.STEPS) + 1


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of this program."""


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest schema revision this version of procurebot knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


async def migrate(db: Database) -> None:
    """Applies the migrations not applied yet; raises SchemaTooNew for a newer database."""
    async with db.engine.connect() as connection:
        # Every transaction here takes SQLite's write lock at BEGIN: one that read first and
        # wrote later could find another process had written in between, and fail.
        connection = await connection.execution_options(write=True)
        await connection.run_sync(_upgrade, db.describe())


async def current_revision(db: Database) -> str | None:
    """The schema revision the database is at (None: not created yet)."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def _upgrade(connection: sa.Connection, where: str) -> None:
    config = _config(connection)
    script = ScriptDirectory.from_config(config)
    sqlite = connection.dialect.name == "sqlite"
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None and sqlite:
        _upgrade_legacy(connection, config, where)
    elif current is not None and current not in {r.revision for r in script.walk_revisions()}:
        raise SchemaTooNew(
            f"The database {where} is at schema revision {current}, which this version of "
            "procurebot does not know: upgrade procurebot, or point DATABASE_URL elsewhere."
        )
    connection.commit()  # Alembic runs its own transactions only on an idle connection
    with _foreign_keys_off(connection):
        command.upgrade(config, "head")
    upgraded = MigrationContext.configure(connection).get_current_revision()
    if upgraded != current:
        log.info("Database %s: schema %s -> %s", where, current or "(new)", upgraded)
    if sqlite and connection.exec_driver_sql("PRAGMA user_version").scalar_one() != (
        MANAGED_BY_ALEMBIC
    ):
        connection.exec_driver_sql(f"PRAGMA user_version = {MANAGED_BY_ALEMBIC:d}")
    connection.commit()


@contextmanager
def _foreign_keys_off(connection: sa.Connection) -> Iterator[None]:
    """On SQLite, migrations run without foreign keys: batch mode changes a table by copying it
    and dropping the old one, and dropping a table others refer to would otherwise delete
    their rows (ON DELETE CASCADE). A migration that copies tables checks the keys itself
    (PRAGMA foreign_key_check) before it commits. The pragma only works outside a transaction."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.dbapi_connection
    assert raw is not None
    _pragma(raw, "PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        _pragma(raw, "PRAGMA foreign_keys = ON")


def _pragma(raw: Any, statement: str) -> None:
    cursor = raw.cursor()
    cursor.execute(statement)
    cursor.close()


def _upgrade_legacy(connection: sa.Connection, config: Config, where: str) -> None:
    version = int(connection.exec_driver_sql("PRAGMA user_version").scalar_one())
    if version == 0:
        return  # a new file: Alembic creates everything
    if version > len(legacy.STEPS):
        raise SchemaTooNew(
            f"The database {where} has schema version {version}, but this version of "
            f"procurebot knows only up to {len(legacy.STEPS)}: upgrade procurebot, or point "
            "DATABASE_URL at another file."
        )
    connection.commit()
    for number, statements in enumerate(legacy.STEPS[version:], start=version + 1):
        with connection.begin():
            for statement in statements:
                connection.exec_driver_sql(statement)
            connection.exec_driver_sql(f"PRAGMA user_version = {number:d}")
    command.stamp(config, BASELINE)
