"""Fixtures for end-to-end tests of the Telegram bot over real HTTP."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.rendering import Renderer
from core.adapters.db.engine import Database, sqlite_url
from data import demo
from tests.bot.telegram import ADMIN_ID, BUYER_ID, STRANGER_ID, RunningBot, running_bot
from tests.fake_telegram import FakeBotApi, FakeUser
from tests.fakes import NOW


@pytest.fixture(scope="session")
def chart_renderer() -> Iterator[Renderer]:
    """The bot's own chart process pool, shared by the tests (started once)."""
    renderer = Renderer.in_processes(workers=2)
    yield renderer
    renderer.close()


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the demo data as of the fake clock's day, seeded once and copied."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"

    async def seed() -> None:
        db = await Database.open(sqlite_url(path))
        try:
            await demo.seed(db, NOW.date())
            await db.scalar(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        finally:
            await db.close()

    asyncio.run(seed())
    return path


@pytest.fixture
def database(demo_database: Path, tmp_path: Path) -> Path:
    path = tmp_path / "var" / "bot.db"
    path.parent.mkdir()
    shutil.copy(demo_database, path)
    return path


@pytest.fixture
async def telegram_bot(
    telegram_api: FakeBotApi,
    database: Path,
    chart_renderer: Renderer,
    admin: FakeUser,
    buyer: FakeUser,
    stranger: FakeUser,
) -> AsyncIterator[RunningBot]:
    """The bot, started after the admin, the buyer and the stranger opened their chats."""
    async with running_bot(telegram_api, database, chart_renderer) as bot:
        yield bot


@pytest.fixture
def admin(telegram_api: FakeBotApi) -> FakeUser:
    return telegram_api.user(ADMIN_ID, "Ada", "ada_admin")


@pytest.fixture
def buyer(telegram_api: FakeBotApi) -> FakeUser:
    return telegram_api.user(BUYER_ID, "Bob", "bob_buys")


@pytest.fixture
def stranger(telegram_api: FakeBotApi) -> FakeUser:
    return telegram_api.user(STRANGER_ID, "Eve")


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    """An empty CSV price feed (its header only) for a bot run with `price_source=csv:PATH`;
    a test appends rows to it."""
    path = tmp_path / "prices.csv"
    path.write_text("timestamp,material,price\n", encoding="utf-8")
    return path
