"""Who leads: of the `procurebot run` processes sharing one database, exactly one (the leader)
polls Telegram and runs the scheduled jobs; a Telegram token has one consumer of updates, and
PTB's JobQueue keeps its schedule in memory (docs/SCALING.md in ../shared).

PostgreSQL: the leader holds a session-level advisory lock (`pg_try_advisory_lock`) on a
connection of its own, out of any pool. The others try again every few seconds and log once that
they stand by. The lock goes with the session: when the leader dies (kill -9, a dropped
connection) the server ends its session and a standby gets the lock at its next try. The leader
checks its lock connection every few seconds; when the check fails or hangs it has stopped
leading and says so (`lost` returns), and the process must stop: a leader cut off from the
database must not go on sending. Server-side TCP keepalives on the lock session make the server
drop a leader that vanished without closing its connection (a machine crash, a partition)
within about 11 s, after that leader has stopped itself (a failed check ends its lead within
`check_every + check_timeout`, 5 s).

SQLite: one process per database file. The first `procurebot run` holds an exclusive lock on a
lock file beside the database (`procurement.db.lock`) for its whole life; a second is refused at
once (AnotherInstance). The kernel releases the lock when the process ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from core.adapters.db.engine import DatabaseError, cause_of, parse_url, shown

log = logging.getLogger(__name__)

# Any fixed 64-bit number will do; it only has to differ from other programs' advisory locks in
# the same database. These are the bytes of "procbot!".
LOCK_KEY = int.from_bytes(b"procbot!", "big")
RETRY_SECONDS = 2.0  # a standby tries to take the lead this often
CHECK_SECONDS = 2.0  # the leader checks its lock this often...
CHECK_TIMEOUT = 3.0  # ...and has lost it when the check takes longer than this
# The lock session's server side: a peer that stops answering is dropped after idle + interval x
# count = 11 s of silence, or once data it was sent stays unacknowledged for 10 s.
LOCK_SESSION_SETTINGS = {
    "application_name": "procurebot leader election",
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "10000",
}

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
# A bigint advisory lock shows in pg_locks as classid (high 32 bits), objid (low 32), objsubid 1.
_HOLDING = text(
    """SELECT EXISTS (
           SELECT 1 FROM pg_locks
           WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
             AND classid = :high AND objid = :low AND objsubid = 1)"""
)


class AnotherInstance(Exception):
    """Another `procurebot run` is using this SQLite database; the message says what to do."""


class LeadershipLost(Exception):
    """The process stopped because it lost the lead; the message says why."""


class Leadership(Protocol):
    """The right to poll Telegram and run the jobs."""

    async def acquire(self) -> None:
        """Returns once this process leads; a standby waits in here. Raises AnotherInstance
        (SQLite) or DatabaseError."""
        ...

    async def lost(self) -> str:
        """Returns, with the reason, once this process no longer leads; while it leads, never."""
        ...

    async def release(self) -> None:
        """Gives the lead up (a standby takes over); safe to call at any time, and twice."""
        ...


def leadership_for(database_url: str) -> Leadership:
    """The kind of leadership the database allows: an advisory lock on PostgreSQL, one process
    per file on SQLite. Raises DatabaseError for a URL that names neither."""
    url = parse_url(database_url)
    if url.get_backend_name() == "sqlite":
        return SqliteInstanceLock(Path(str(url.database)))
    return AdvisoryLockLeadership(create_async_engine(url, poolclass=NullPool), owns_engine=True)


class SqliteInstanceLock:
    """One `procurebot run` per SQLite file: an exclusive flock on `<database>.lock`, which
    also holds the leader's process id (for the refusal's message)."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".lock")
        self._file: IO[str] | None = None

    async def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = self.path.open("a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip()
            file.close()
            process = f" (process {holder})" if holder.isdigit() else ""
            raise AnotherInstance(
                f"Another procurebot run is already using {self.database}{process}: stop it "
                "first. Only one process may use a SQLite database; for a standby, use "
                "PostgreSQL (DATABASE_URL)."
            ) from None
        file.truncate(0)
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file

    async def lost(self) -> str:
        # Nobody can take a lock that the kernel holds for this process until it ends.
        never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        return await never

    async def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file releases the lock
            self._file = None


class AdvisoryLockLeadership:
    """Leader election on PostgreSQL with a session-level advisory lock on its own connection."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        key: int = LOCK_KEY,
        retry_every: float = RETRY_SECONDS,
        check_every: float = CHECK_SECONDS,
        check_timeout: float = CHECK_TIMEOUT,
        owns_engine: bool = False,
    ) -> None:
        self._engine = engine
        self._key = key
        self._retry_every = retry_every
        self._check_every = check_every
        self._check_timeout = check_timeout
        self._owns_engine = owns_engine
        self._connection: AsyncConnection | None = None
        self._leading = False

    @property
    def leading(self) -> bool:
        return self._leading

    async def acquire(self) -> None:
        standing_by = False
        unreachable: str | None = None
        reached = False
        while True:
            try:
                if await self._try_lock():
                    break
                reached = True
            except (SQLAlchemyError, OSError, TimeoutError) as error:
                await self._drop_connection()
                cause = cause_of(error)
                if not reached:
                    raise DatabaseError(
                        f"DATABASE_URL {shown(self._engine.url)} cannot be used: {cause}"
                    ) from None
                if unreachable is None:
                    log.warning(
                        "Cannot reach the database to take the lead (%s); trying again every %g s",
                        cause,
                        self._retry_every,
                    )
                unreachable = cause
            else:
                if unreachable is not None:
                    log.info("The database answers again")
                    unreachable = None
                if not standing_by:
                    log.info(
                        "Standing by: another procurebot instance leads (it holds advisory "
                        "lock %d on the database); trying to take over every %g s",
                        self._key,
                        self._retry_every,
                    )
                    standing_by = True
            await asyncio.sleep(self._retry_every)
        self._leading = True
        log.info("Leading: this instance polls Telegram and runs the scheduled jobs")

    async def lost(self) -> str:
        if not self._leading:
            raise RuntimeError("lost() is for the leader: acquire() first")
        high, low = (self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF
        while True:
            await asyncio.sleep(self._check_every)
            connection = self._connection
            try:
                if connection is None:
                    raise ConnectionError("the lock connection was closed")
                holding = await asyncio.wait_for(
                    connection.scalar(_HOLDING, {"high": high, "low": low}), self._check_timeout
                )
            except TimeoutError:
                reason = f"the database did not answer within {self._check_timeout:g} s"
            except (SQLAlchemyError, OSError) as error:
                reason = f"the lock connection failed ({cause_of(error)})"
            else:
                if holding:
                    continue
                reason = "the advisory lock is no longer held by this instance's session"
            self._leading = False
            await self._drop_connection()
            return reason

    async def release(self) -> None:
        self._leading = False
        await self._drop_connection()
        if self._owns_engine:
            await self._engine.dispose()

    async def _try_lock(self) -> bool:
        if self._connection is None:
            self._connection = await asyncio.wait_for(self._connect(), self._check_timeout)
        result = await asyncio.wait_for(
            self._connection.scalar(_TRY_LOCK, {"key": self._key}), self._check_timeout
        )
        return bool(result)

    async def _connect(self) -> AsyncConnection:
        connection = await self._engine.connect()
        try:
            # No transaction stays open on this long-lived session (it would hold back vacuum).
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            for name, value in LOCK_SESSION_SETTINGS.items():
                await connection.execute(
                    text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value}
                )
        except BaseException:
            await _close(connection)
            raise
        return connection

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await _close(connection)


async def _close(connection: AsyncConnection) -> None:
    """Closes a connection that may be broken or hanging, without waiting long."""
    with contextlib.suppress(SQLAlchemyError, OSError, TimeoutError):
        await asyncio.wait_for(connection.invalidate(), CHECK_TIMEOUT)
    with contextlib.suppress(SQLAlchemyError, OSError, TimeoutError):
        await asyncio.wait_for(connection.close(), CHECK_TIMEOUT)
