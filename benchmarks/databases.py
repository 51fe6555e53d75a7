"""The database a benchmark runs against: a SQLite file (default), the PostgreSQL database of
--database-url, or a throwaway PostgreSQL server (--postgres, started with tests/postgres.py
and removed at the end, with PostgreSQL's default durability: every commit flushed)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy as sa

from core.adapters.db.engine import Database, DatabaseError
from data import demo
from tests.postgres import DURABLE_OPTIONS, NoServer, start_server


class Unusable(Exception):
    """The benchmark cannot use that database; the message says why, in one line."""


def add_database_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--database-url",
        metavar="URL",
        help="an empty database to run against, sqlite:///PATH or postgresql://... "
        "(default: a SQLite file in a temporary directory)",
    )
    where.add_argument(
        "--postgres",
        action="store_true",
        help="run against a throwaway PostgreSQL server started for the benchmark",
    )


@asynccontextmanager
async def benchmark_database(args: argparse.Namespace, work: Path) -> AsyncIterator[str]:
    """The URL of an empty database for the benchmark (with --postgres, on a server that is
    stopped and removed afterwards). Raises Unusable."""
    if not args.postgres:
        yield await _empty(args.database_url or f"sqlite:///{work / 'bench.db'}")
        return
    try:
        server = await asyncio.to_thread(start_server, DURABLE_OPTIONS)
    except NoServer as error:
        raise Unusable(f"--postgres: {error}") from None
    try:
        yield await _empty(await asyncio.to_thread(server.create_database))
    finally:
        await asyncio.to_thread(server.stop)


async def describe(url: str) -> str:
    """The backend, its version and where it is, for a benchmark's report."""
    db = await Database.open(url, migrate=False)
    try:
        if db.backend == "sqlite":
            version = await db.scalar(sa.select(sa.func.sqlite_version()))
            return f"SQLite {version}, a file"
        version = await db.scalar(sa.text("SHOW server_version"))
        return f"PostgreSQL {str(version).split()[0]} at {db.describe()}"
    finally:
        await db.close()


async def _empty(url: str) -> str:
    try:
        db = await Database.open(url)
    except DatabaseError as error:
        raise Unusable(str(error)) from None
    try:
        if not await demo.is_empty(db):
            raise Unusable(
                f"{db.describe()} has data already: the benchmark fills an empty database "
                "with the demo data (createdb a new one)"
            )
    finally:
        await db.close()
    return url
