"""Leader election (core/adapters/db/leader.py) against a real PostgreSQL server, and the one
process per SQLite file rule: one instance leads, the others stand by and take over when it
dies, and a leader that cannot reach its lock stops leading."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.adapters.db.engine import DatabaseError
from core.adapters.db.leader import (
    AnotherInstance,
    SqliteInstanceLock,
    leadership_for,
)
from tests.leadership import lock_holders, quick_leadership, standing_by
from tests.postgres import async_engine

TAKEOVER_LIMIT = 15.0  # seconds: the bound for a standby to take over
PATIENCE = 30.0  # seconds; only stops a broken test from hanging


async def takeover_time(standby: asyncio.Task[None], since: float) -> float:
    await asyncio.wait_for(standby, PATIENCE)
    return time.monotonic() - since


async def test_one_instance_leads_and_another_stands_by_until_it_releases(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="core.adapters.db.leader")
    leader, standby = quick_leadership(postgres_url), quick_leadership(postgres_url)
    await leader.acquire()
    waiting = asyncio.create_task(standby.acquire())
    try:
        await standing_by(caplog)
        await asyncio.sleep(0.5)  # five more tries
        assert not waiting.done()
        assert await lock_holders(postgres_url) == ["procurebot leader election"]

        await leader.release()
        await asyncio.wait_for(waiting, PATIENCE)
        assert standby.leading and not leader.leading
        assert await lock_holders(postgres_url) == ["procurebot leader election"]
    finally:
        waiting.cancel()
        await standby.release()
        await leader.release()
    said = [r.getMessage() for r in caplog.records if "Standing by" in r.getMessage()]
    assert len(said) == 1, "a standby says once that it stands by, however often it tries"


async def test_a_standby_takes_over_within_15_s_when_the_leader_process_is_killed(
    postgres_url: str, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.leader_process",
        postgres_url,
        stdout=asyncio.subprocess.PIPE,
    )
    standby = leadership_for(postgres_url)  # the production settings: a try every 2 s
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), PATIENCE)
        assert line == b"leading\n"
        waiting = asyncio.create_task(standby.acquire())
        await asyncio.sleep(0.5)
        assert not waiting.done()

        process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await process.wait()
        took = await takeover_time(waiting, killed)
        print(f"standby took over {took:.2f} s after kill -9 of the leader")
        assert took < TAKEOVER_LIMIT
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        await standby.release()


async def test_a_leader_whose_session_is_ended_stops_leading_and_a_standby_takes_over(
    postgres_url: str,
) -> None:
    leader, standby = quick_leadership(postgres_url), quick_leadership(postgres_url)
    await leader.acquire()
    waiting = asyncio.create_task(standby.acquire())
    try:
        engine = async_engine(postgres_url)
        async with engine.connect() as admin:
            await admin.execute(
                text(
                    """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                       WHERE application_name = 'procurebot leader election'
                         AND pid IN (SELECT pid FROM pg_locks
                                     WHERE locktype = 'advisory' AND granted)"""
                )
            )
        await engine.dispose()
        reason = await asyncio.wait_for(leader.lost(), PATIENCE)
        assert "lock connection failed" in reason
        assert not leader.leading
        await asyncio.wait_for(waiting, PATIENCE)
        assert standby.leading
    finally:
        waiting.cancel()
        await standby.release()
        await leader.release()


async def test_a_leader_cut_off_from_the_database_stops_leading_before_anyone_takes_over(
    postgres_url: str,
) -> None:
    database = make_url(postgres_url)
    async with frozen_on_demand(database.host or "", database.port or 5432) as proxy:
        via_proxy = database.set(port=proxy.port).render_as_string(hide_password=False)
        leader, standby = quick_leadership(via_proxy), quick_leadership(postgres_url)
        await leader.acquire()
        waiting = asyncio.create_task(standby.acquire())
        try:
            proxy.freeze()  # the network drops everything, both ways; no connection is closed
            reason = await asyncio.wait_for(leader.lost(), PATIENCE)
            assert reason == "the database did not answer within 1 s"
            assert not waiting.done(), "the server still sees the old session holding the lock"

            proxy.cut()  # the server notices the old session is gone
            await asyncio.wait_for(waiting, PATIENCE)
            assert standby.leading
        finally:
            waiting.cancel()
            await standby.release()
            await leader.release()


async def test_an_unreachable_database_stops_the_start_with_one_line_and_no_password() -> None:
    leadership = leadership_for("postgresql://buyer:s3cret-pass@127.0.0.1:9/procurement")
    with pytest.raises(DatabaseError) as refused:
        await leadership.acquire()
    await leadership.release()
    message = str(refused.value)
    assert message.startswith("DATABASE_URL postgresql://buyer:***@127.0.0.1:9/procurement cannot")
    assert "s3cret-pass" not in message
    assert "\n" not in message


def test_a_url_that_is_no_database_is_refused_in_one_line() -> None:
    with pytest.raises(DatabaseError, match="use sqlite:///PATH"):
        leadership_for("mysql://buyer:pw@db/procurement")
    with pytest.raises(DatabaseError, match="not a database URL"):
        leadership_for("var/procurement.db")


async def test_a_second_instance_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "var" / "procurement.db"
    first = leadership_for(f"sqlite:///{database}")
    await first.acquire()
    try:
        with pytest.raises(AnotherInstance) as refused:
            await SqliteInstanceLock(database).acquire()
        assert f"Another procurebot run is already using {database}" in str(refused.value)
        assert "use PostgreSQL (DATABASE_URL)" in str(refused.value)
    finally:
        await first.release()
    again = SqliteInstanceLock(database)
    await again.acquire()  # free once the first let go
    await again.release()


async def test_the_sqlite_lock_goes_with_a_killed_process(tmp_path: Path) -> None:
    database = tmp_path / "procurement.db"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.leader_process",
        f"sqlite:///{database}",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), PATIENCE) == b"leading\n"
        with pytest.raises(AnotherInstance, match=rf"\(process {process.pid}\)"):
            await SqliteInstanceLock(database).acquire()
    finally:
        process.kill()
        await process.wait()
    survivor = SqliteInstanceLock(database)
    await survivor.acquire()
    await survivor.release()


# --- a network that stops answering -----------------------------------------------------------


class FreezingProxy:
    """A TCP proxy that can stop forwarding without closing anything (as a partitioned network
    does), and later cut every connection."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    def freeze(self) -> None:
        self._flowing.clear()

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()

    async def _connected(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        server_in, server_out = await asyncio.open_connection(*self._target)
        self._writers += [client_out, server_out]
        for source, sink in ((client_in, server_out), (server_in, client_out)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        sink.transport.abort()


@asynccontextmanager
async def frozen_on_demand(host: str, port: int) -> AsyncIterator[FreezingProxy]:
    proxy = FreezingProxy(host, port)
    server = await asyncio.start_server(proxy._connected, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        proxy.cut()
        server.close()
        for task in list(proxy._tasks):
            task.cancel()
