"""The PostgreSQL server the tests start themselves (tests/postgres.py, fixtures in
tests/conftest.py): each test gets its own empty database, both backends answer through
SQLAlchemy, and a machine without a server says why instead of passing silently."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests import postgres
from tests.postgres import NoServer, PostgresServer, async_engine


async def test_each_test_gets_its_own_empty_database(postgres_server: PostgresServer) -> None:
    first, second = postgres_server.create_database(), postgres_server.create_database()
    assert first != second
    one, other = async_engine(first), async_engine(second)
    try:
        async with one.begin() as connection:
            await connection.execute(text("CREATE TABLE kept (n integer)"))
        async with other.connect() as connection:
            tables = await connection.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
        assert tables == 0
    finally:
        await one.dispose()
        await other.dispose()
        postgres_server.drop_database(first)
        postgres_server.drop_database(second)


async def test_the_server_listens_on_loopback_only(postgres_url: str) -> None:
    engine = async_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            listening = await connection.scalar(text("SHOW listen_addresses"))
            superuser = await connection.scalar(
                text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            )
    finally:
        await engine.dispose()
    assert listening == "127.0.0.1"
    assert superuser is True
    assert make_url(postgres_url).host == "127.0.0.1"


async def test_both_backends_store_and_read_a_row(database_url: str) -> None:
    engine = async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE prices (material text, price real)"))
            await connection.execute(text("INSERT INTO prices VALUES ('copper', 8412.5)"))
        async with engine.connect() as connection:
            price = await connection.scalar(text("SELECT price FROM prices"))
    finally:
        await engine.dispose()
    assert price == pytest.approx(8412.5)


def test_a_machine_without_postgresql_is_told_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(postgres, "DEBIAN_BINARIES", tmp_path)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(NoServer, match="apt-get install postgresql"):
        postgres.find_binaries(as_root=False)


def test_as_root_pgserver_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(postgres, "DEBIAN_BINARIES", tmp_path)
    if importlib.util.find_spec("pgserver") is None:
        pytest.skip("pgserver is not installed here (make install adds it)")
    with pytest.raises(NoServer, match="pgserver's server is not run as root"):
        postgres.find_binaries(as_root=True)
    assert postgres.find_binaries(as_root=False).origin == "pgserver"
