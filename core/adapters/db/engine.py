"""The database, chosen by a URL: SQLite (aiosqlite) or PostgreSQL (asyncpg), through
SQLAlchemy's asyncio Core. The one place that knows which backend is in use."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_SECONDS = 10

Backend = Literal["sqlite", "postgresql"]


class DatabaseError(RuntimeError):
    """The database cannot be used: the message names the setting and the cause (no password)."""


def parse_url(text: str) -> URL:
    """`sqlite:///PATH` or `postgresql://user:pass@host:port/db`, with the async driver each
    backend uses; raises DatabaseError naming what works."""
    try:
        url = make_url(text.strip())
    except ArgumentError:
        raise DatabaseError(
            "DATABASE_URL is not a database URL: use sqlite:///var/procurement.db or "
            "postgresql://user:password@host:5432/dbname"
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise DatabaseError(
                "DATABASE_URL names no SQLite file: use sqlite:///var/procurement.db "
                "(three slashes and a relative path, four for an absolute one)"
            )
        return url.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        if not url.database:
            raise DatabaseError(
                f"DATABASE_URL {shown(url)} names no database: add it after the host, "
                "as in postgresql://user:password@host:5432/procurement"
            )
        return url.set(drivername="postgresql+asyncpg")
    raise DatabaseError(
        f"DATABASE_URL uses {backend!r}, which procurebot cannot use: use sqlite:///PATH "
        "or postgresql://user:password@host:5432/dbname"
    )


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{path}"


def database_password(url: str) -> str | None:
    """The password in a database URL, so that logs can redact it."""
    try:
        return make_url(url).password
    except ArgumentError:
        return None


def shown(url: URL | str) -> str:
    """The URL as it may appear in logs and replies: without its password."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except ArgumentError:
            return "(not a URL)"
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


class Database:
    """One database and its connection pool. Writes go through `transaction()`; a transaction
    opened in a task is joined by every repository call made in it (that is how a unit of work
    spans repositories), and reads outside one use a connection of their own."""

    def __init__(self, engine: AsyncEngine, url: URL) -> None:
        self.engine = engine
        self.url = url
        self.backend: Backend = "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"
        # SQLite allows one writer at a time: queueing here is fairer than its busy timeout.
        self._write_lock = asyncio.Lock() if self.backend == "sqlite" else None
        self._current: contextvars.ContextVar[AsyncConnection | None] = contextvars.ContextVar(
            f"transaction_{id(self)}", default=None
        )

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None on PostgreSQL."""
        return Path(self.url.database or "") if self.backend == "sqlite" else None

    def describe(self) -> str:
        return shown(self.url)

    @classmethod
    async def open(cls, url: str, migrate: bool = True) -> Database:
        """Connects and (by default) brings the schema up to date; raises DatabaseError with one
        line naming DATABASE_URL and the cause when the database cannot be used."""
        from core.adapters.db.migrate import migrate as apply_migrations

        parsed = parse_url(url)
        database = cls(_create_engine(parsed), parsed)
        try:
            async with database.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
            if migrate:
                await apply_migrations(database)
        except (OSError, DBAPIError, OperationalError, TimeoutError) as error:
            await database.close()
            raise DatabaseError(
                f"DATABASE_URL {shown(parsed)} cannot be used: {cause_of(error)}"
            ) from None
        except BaseException:
            await database.close()
            raise
        return database

    async def close(self) -> None:
        await self.engine.dispose()

    def insert(self, table: sa.Table) -> Any:
        """An INSERT that knows its backend's ON CONFLICT clause (`on_conflict_do_nothing`,
        `on_conflict_do_update`), which SQLite and PostgreSQL spell the same way."""
        dialect = sqlite if self.backend == "sqlite" else postgresql
        return dialect.insert(table)

    def upsert(
        self,
        table: sa.Table,
        key: Sequence[str],
        rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    ) -> Any:
        """An INSERT of `rows` that, where a row with the same `key` columns exists already,
        replaces its other columns instead."""
        statement = self.insert(table).values(rows)
        first = rows if isinstance(rows, Mapping) else rows[0]
        return statement.on_conflict_do_update(
            index_elements=list(key),
            set_={column: statement.excluded[column] for column in first if column not in key},
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction, committed when the block ends without an exception; a
        transaction already open in this task is joined instead."""
        current = self._current.get()
        if current is not None:
            yield current
            return
        async with self._writer(), self.engine.connect() as connection:
            connection = await connection.execution_options(write=True)
            token = self._current.set(connection)
            try:
                async with connection.begin():
                    yield connection
            finally:
                self._current.reset(token)

    async def restart_ids(self, connection: AsyncConnection) -> None:
        """After rows were copied in with their ids, makes new rows' ids follow them
        (PostgreSQL's sequences do not see ids inserted explicitly; SQLite's rowids do)."""
        if self.backend != "postgresql":
            return
        from core.adapters.db.schema import metadata

        for table in metadata.sorted_tables:
            # (tables whose id is an integer: a sequence counts it)
            if "id" in table.c and isinstance(table.c.id.type, sa.Integer):
                next_id = sa.func.coalesce(sa.func.max(table.c.id), 0) + 1
                sequence = sa.func.pg_get_serial_sequence(table.name, "id")
                await connection.execute(sa.select(sa.func.setval(sequence, next_id, False)))

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads: the open transaction's, or one of its own."""
        current = self._current.get()
        if current is not None:
            yield current
            return
        async with self.engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def _writer(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    async def has_table(self, name: str) -> bool:
        async with self.reading() as connection:
            return bool(await connection.run_sync(lambda c: sa.inspect(c).has_table(name)))

    async def fetchall(self, statement: sa.Executable) -> list[sa.Row[Any]]:
        async with self.reading() as connection:
            return list((await connection.execute(statement)).all())

    async def fetchone(self, statement: sa.Executable) -> sa.Row[Any] | None:
        async with self.reading() as connection:
            return (await connection.execute(statement)).first()

    async def scalar(self, statement: sa.Executable) -> Any:
        async with self.reading() as connection:
            return await connection.scalar(statement)


def _create_engine(url: URL) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        url,
        pool_pre_ping=True,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling would commit before DDL and begin lazily; take it
    # over (SQLAlchemy's documented recipe) so that migrations and writes are real transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        # Only takes effect on a new file (before WAL and the first table): retention then
        # gives the space of old price polls back in small steps (PRAGMA incremental_vacuum).
        "PRAGMA auto_vacuum = INCREMENTAL",
        f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA foreign_keys = ON",
    ):
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    # A write takes the lock at BEGIN, so it never fails half-way on a busy database; a read
    # keeps to a deferred BEGIN and never waits for a writer (WAL).
    if connection.get_execution_options().get("write"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def cause_of(error: BaseException) -> str:
    """The first line of what went wrong, without SQLAlchemy's boilerplate."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()[0] if str(original).strip() else ""
    text = text.removeprefix("(sqlite3.OperationalError) ")
    name = type(original).__name__
    return f"{name}: {text}" if text else name
