"""Backups that stay consistent while the bot writes, and restoring them into an empty database.

Three kinds of backup file, told apart by their first bytes:

- SQLite: SQLite's online backup API copies the whole file in one step inside one read
  transaction, so the copy is the database as it was at one moment, while the bot goes on
  writing (WAL lets writers continue). The copy is checked (`PRAGMA quick_check`).
- PostgreSQL with `pg_dump` on PATH: its custom-format archive (one snapshot by design),
  restored with `pg_restore` in a single transaction.
- PostgreSQL without `pg_dump` (or where it fails, say a client older than the server): a
  portable dump written by procurebot itself: gzip'd JSON lines, every table read in one
  REPEATABLE READ transaction (one snapshot).

Restoring needs an empty database (no rows in any of procurebot's tables), and is all or
nothing. A SQLite backup is upgraded to this version's schema on a temporary copy and then
copied in, so it restores into SQLite or PostgreSQL alike. A portable dump restores into either
backend when it has this version's schema. Every file is written under a temporary name and
renamed when complete, so a half-written backup never looks like one.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core.adapters.db.copy import TableCount, copy_database, row_counts
from core.adapters.db.engine import Database, DatabaseError, sqlite_url
from core.adapters.db.migrate import current_revision, head, migrate
from core.adapters.db.schema import UtcDateTime, metadata
from core.backups import MadeBackup
from core.ports import Clock

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
GZIP_MAGIC = b"\x1f\x8b"
PORTABLE_FORMAT = "procurebot-dump"
PORTABLE_VERSION = 1
BATCH_ROWS = 1000
PREFIX = "procurebot-"
EXTENSIONS = {"sqlite": ".sqlite", "pg_dump": ".pgdump", "portable": ".json.gz"}
COMMAND_TIMEOUT = 3600.0


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message says why and what would work."""


@dataclass(frozen=True)
class BackupFile:
    path: Path
    size: int
    kind: str  # "sqlite", "pg_dump" or "portable"

    def describe(self) -> str:
        what = {
            "sqlite": "SQLite online backup",
            "pg_dump": "pg_dump archive",
            "portable": "portable dump (no pg_dump here)",
        }[self.kind]
        return f"{self.path} ({what}, {self.size / 1e6:,.1f} MB)"


def default_name(db: Database, now: datetime, pg_dump: str | None) -> str:
    """`procurebot-20261126T030000Z.sqlite` (or `.pgdump`, `.json.gz`)."""
    return f"{PREFIX}{now:%Y%m%dT%H%M%SZ}{EXTENSIONS[_kind(db, pg_dump)]}"


def find_pg_dump() -> str | None:
    return shutil.which("pg_dump")


def _kind(db: Database, pg_dump: str | None) -> str:
    if db.backend == "sqlite":
        return "sqlite"
    return "pg_dump" if pg_dump else "portable"


async def make_backup(db: Database, output: Path, pg_dump: str | None = None) -> BackupFile:
    """Writes a consistent backup of `db` to `output` while the database stays in use; on
    PostgreSQL through `pg_dump` when given (find_pg_dump()), else a portable dump."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        if db.backend == "sqlite":
            assert db.path is not None
            await asyncio.to_thread(_sqlite_backup, db.path, partial)
            kind = "sqlite"
        elif pg_dump is not None:
            try:
                await _pg_dump(db, pg_dump, partial)
                kind = "pg_dump"
            except BackupError as error:
                log.warning("%s; writing a portable dump instead", error)
                await _portable_dump(db, partial)
                kind = "portable"
                if output.name.endswith(EXTENSIONS["pg_dump"]):
                    output = output.with_name(
                        output.name.removesuffix(EXTENSIONS["pg_dump"]) + EXTENSIONS["portable"]
                    )
        else:
            await _portable_dump(db, partial)
            kind = "portable"
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return BackupFile(output, output.stat().st_size, kind)


def prune(directory: Path, keep: int) -> list[Path]:
    """Removes all but the newest `keep` of procurebot's backups in `directory`; returns the
    removed files. Other files there are left alone."""
    ours = sorted(
        path
        for path in directory.glob(f"{PREFIX}*")
        if path.is_file() and any(path.name.endswith(ext) for ext in EXTENSIONS.values())
    )
    removed = ours[: max(0, len(ours) - keep)]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


# --- SQLite -----------------------------------------------------------------------------------


def _sqlite_backup(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    reader = sqlite3.connect(source)
    try:
        writer = sqlite3.connect(target)
        try:
            reader.backup(writer)  # one step: one read transaction, one moment's database
            # The copy is one self-contained file, not a WAL database needing its -wal file.
            writer.execute("PRAGMA journal_mode = DELETE")
            checked = writer.execute("PRAGMA quick_check").fetchone()
            if checked is None or checked[0] != "ok":
                raise BackupError(f"the backup of {source} failed its check: {checked}")
        finally:
            writer.close()
    except sqlite3.Error as error:
        raise BackupError(f"backing up {source} failed: {error}") from None
    finally:
        reader.close()


# --- pg_dump ----------------------------------------------------------------------------------


def _pg_options(db: Database) -> tuple[list[str], dict[str, str]]:
    url = db.url
    options = ["--host", url.host or "localhost", "--port", str(url.port or 5432)]
    if url.username:
        options += ["--username", url.username]
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = url.password  # never on the command line, where ps shows it
    return options, environment


async def _run(program: str, *args: str, environment: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        program,
        *args,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, errors = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        lines = errors.decode(errors="replace").strip().splitlines()
        raise BackupError(
            f"{Path(program).name} failed: {lines[-1] if lines else process.returncode}"
        )


async def _pg_dump(db: Database, pg_dump: str, target: Path) -> None:
    options, environment = _pg_options(db)
    database = db.url.database or ""
    await _run(
        pg_dump,
        *options,
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        "--file",
        str(target),
        database,
        environment=environment,
    )


# --- the portable dump ------------------------------------------------------------------------


def _kinds(table: sa.Table) -> list[tuple[str, str]]:
    kinds = []
    for column in table.columns:
        if isinstance(column.type, UtcDateTime):
            kind = "datetime"
        elif isinstance(column.type, sa.Date):
            kind = "date"
        else:
            kind = "value"
        kinds.append((column.name, kind))
    return kinds


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _decode(value: Any, kind: str) -> Any:
    if value is None or kind == "value":
        return value
    if kind == "datetime":
        return datetime.fromisoformat(value)
    return date.fromisoformat(value)


async def _portable_dump(db: Database, target: Path) -> None:
    revision = await current_revision(db)
    if revision != head():
        raise BackupError(
            f"the database is at schema {revision}, this procurebot at {head()}: start "
            "`procurebot run` once to upgrade it, then back it up"
        )
    stream = await asyncio.to_thread(_open_for_writing, target)
    try:

        def write(lines: list[Any]) -> None:
            stream.write(b"".join(json.dumps(line).encode() + b"\n" for line in lines))

        header = {
            "format": PORTABLE_FORMAT,
            "version": PORTABLE_VERSION,
            "revision": revision,
            "backend": db.backend,
            "tables": [t.name for t in metadata.sorted_tables],
        }
        await asyncio.to_thread(write, [header])
        async with db.engine.connect() as connection:
            # One snapshot for every table: rows written meanwhile are all in it or all not.
            if db.backend == "postgresql":
                connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                for table in metadata.sorted_tables:
                    await asyncio.to_thread(
                        write, [{"table": table.name, "columns": _kinds(table)}]
                    )
                    count = 0
                    result = await connection.stream(sa.select(table))
                    async for rows in result.partitions(BATCH_ROWS):
                        lines = [[_encode(value) for value in row] for row in rows]
                        count += len(lines)
                        await asyncio.to_thread(write, lines)
                    await asyncio.to_thread(write, [{"end": table.name, "rows": count}])
    finally:
        await asyncio.to_thread(stream.close)


def _open_for_writing(path: Path) -> gzip.GzipFile:
    return gzip.open(path, "wb")


@dataclass
class _Table:
    name: str
    columns: list[tuple[str, str]]
    rows: list[list[Any]]
    count: int | None = None


def _read_portable(path: Path) -> Iterator[dict[str, Any] | _Table]:
    """The dump's header, then each table's rows in batches (the last batch of a table carries
    the row count the dump says it has)."""
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        try:
            header = json.loads(stream.readline())
        except (OSError, ValueError, EOFError):
            raise BackupError(f"{path} is not a procurebot backup (unreadable gzip/JSON)") from None
        if not isinstance(header, dict) or header.get("format") != PORTABLE_FORMAT:
            raise BackupError(f"{path} is a gzip file but not a procurebot dump")
        yield header
        current: _Table | None = None
        try:
            for line in stream:
                item = json.loads(line)
                if isinstance(item, list) and current is not None:
                    current.rows.append(item)
                    if len(current.rows) >= BATCH_ROWS:
                        yield _Table(current.name, current.columns, current.rows)
                        current.rows = []
                elif isinstance(item, dict) and "table" in item:
                    current = _Table(item["table"], [tuple(c) for c in item["columns"]], [])
                elif isinstance(item, dict) and current is not None and item.get("end"):
                    yield _Table(current.name, current.columns, current.rows, item["rows"])
                    current = None
                else:
                    raise BackupError(f"{path} is damaged: unexpected {line[:60]!r}")
        except (OSError, EOFError, ValueError) as error:
            raise BackupError(f"{path} is damaged or truncated: {error}") from None
        if current is not None:
            raise BackupError(f"{path} ends in the middle of table {current.name}: truncated")


# --- restoring --------------------------------------------------------------------------------


def backup_kind(path: Path) -> str:
    """What kind of backup `path` is; raises BackupError when it is none."""
    try:
        with path.open("rb") as file:
            start = file.read(16)
    except OSError as error:
        raise BackupError(f"cannot read {path}: {error.strerror or error}") from None
    if start.startswith(SQLITE_MAGIC):
        return "sqlite"
    if start.startswith(PG_DUMP_MAGIC):
        return "pg_dump"
    if start.startswith(GZIP_MAGIC):
        return "portable"
    raise BackupError(
        f"{path} is not a procurebot backup: expected a SQLite file, a pg_dump archive or a "
        "portable dump (.json.gz)"
    )


async def check_empty(db: Database) -> None:
    if any((await row_counts(db)).values()):
        raise BackupError(
            f"{db.describe()} is not empty: restore into an empty database (create a new one, "
            "or point DATABASE_URL at a new file)"
        )


async def restore_backup(
    path: Path, target: Database, pg_restore: str | None = None
) -> list[TableCount]:
    """Loads the backup at `path` into `target` (opened, its schema up to date), which must be
    empty; returns the rows per table in the backup and in the target afterwards."""
    kind = backup_kind(path)
    await check_empty(target)
    if kind == "sqlite":
        return await _restore_sqlite(path, target)
    if kind == "portable":
        return await _restore_portable(path, target)
    if target.backend != "postgresql":
        raise BackupError(f"{path} is a pg_dump archive: it restores into PostgreSQL only")
    if pg_restore is None:
        raise BackupError(
            f"{path} is a pg_dump archive and pg_restore is not on PATH: install PostgreSQL's "
            "client tools (apt-get install postgresql-client)"
        )
    return await _restore_pg_dump(path, target, pg_restore)


async def _restore_sqlite(path: Path, target: Database) -> list[TableCount]:
    with tempfile.TemporaryDirectory(prefix="procurebot-restore-") as directory:
        copy = Path(directory) / "backup.db"
        await asyncio.to_thread(shutil.copyfile, path, copy)
        try:
            source = await Database.open(sqlite_url(copy))  # an older backup is upgraded here
        except DatabaseError as error:
            raise BackupError(f"{path} cannot be read: {error}") from None
        try:
            return await copy_database(source, target)
        finally:
            await source.close()


async def _restore_portable(path: Path, target: Database) -> list[TableCount]:
    items = _read_portable(path)
    header = await asyncio.to_thread(next, items)
    assert isinstance(header, dict)
    if header.get("revision") != head():
        raise BackupError(
            f"{path} holds schema {header.get('revision')}, this procurebot {head()}: restore "
            "it with the procurebot version that made it, then start that one's successor"
        )
    by_name = {table.name: table for table in metadata.sorted_tables}
    expected: dict[str, int] = {}
    done = object()
    async with target.transaction() as tx:
        while (batch := await asyncio.to_thread(next, items, done)) is not done:
            assert isinstance(batch, _Table)
            table = by_name.get(batch.name)
            if table is None:
                raise BackupError(f"{path} has a table this procurebot does not know: {batch.name}")
            if batch.rows:
                rows = [
                    {
                        name: _decode(value, kind)
                        for (name, kind), value in zip(batch.columns, row, strict=True)
                    }
                    for row in batch.rows
                ]
                await tx.execute(sa.insert(table), rows)
            if batch.count is not None:
                expected[batch.name] = batch.count
        await target.restart_ids(tx)
    after = await row_counts(target)
    return [TableCount(name, expected.get(name, 0), after[name]) for name in after]


async def _restore_pg_dump(path: Path, target: Database, pg_restore: str) -> list[TableCount]:
    options, environment = _pg_options(target)
    # The target's empty tables are dropped and made again as the archive has them, with the
    # rows, in one transaction: all of it or nothing.
    await _run(
        pg_restore,
        *options,
        "--dbname",
        target.url.database or "",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        str(path),
        environment=environment,
    )
    # The pool's connections knew the tables that were dropped: start afresh.
    await target.engine.dispose()
    await migrate(target)  # an archive from an older version is brought up to date
    after = await row_counts(target)
    return [TableCount(name, count, count) for name, count in after.items()]


class DirectoryBackups:
    """Implements core.backups.BackupMaker: timestamped backups in one directory."""

    def __init__(self, db: Database, directory: Path, clock: Clock) -> None:
        self._db = db
        self._directory = directory
        self._clock = clock

    async def make(self) -> MadeBackup:
        pg_dump = find_pg_dump() if self._db.backend == "postgresql" else None
        name = default_name(self._db, self._clock.now(), pg_dump)
        made = await make_backup(self._db, self._directory / name, pg_dump)
        return MadeBackup(str(made.path), made.size, made.describe())

    async def prune(self, keep: int) -> list[str]:
        return [str(p) for p in await asyncio.to_thread(prune, self._directory, keep)]
