import os
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fake_telegram import TEST_TOKEN, FakeBotApi
from tests.postgres import NoServer, PostgresServer, start_server

# Set (to anything) where the PostgreSQL tests must run, as in CI: no server is then a failure,
# not a skip.
NEED_POSTGRES = "TESTS_NEED_POSTGRES"
_STARTED = pytest.StashKey[PostgresServer]()
_NOT_STARTED = pytest.StashKey[str]()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, read from its header; fails on anything that is not a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real token or database from the environment."""
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "DATABASE_PATH",
        "DATABASE_URL",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeBotApi]:
    """The fake Telegram Bot API on loopback (its `base_url` is the bot's TELEGRAM_BASE_URL,
    its token TEST_TOKEN); a test fails if the bot made any call Telegram would refuse."""
    async with FakeBotApi.running(TEST_TOKEN) as api:
        yield api
    refused = [f"{c.method}: {c.description}" for c in api.violations]
    assert not refused, f"calls Telegram would refuse: {refused}"


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (tests/postgres.py). Where none can be
    started, each test that needs it is skipped with the reason (a failure with
    TESTS_NEED_POSTGRES set)."""
    try:
        server = start_server()
    except NoServer as error:
        reason = f"PostgreSQL tests not run: {error}"
        request.config.stash[_NOT_STARTED] = reason
        if os.environ.get(NEED_POSTGRES):
            pytest.fail(f"{reason} ({NEED_POSTGRES} is set)", pytrace=False)
        pytest.skip(reason)
    request.config.stash[_STARTED] = server
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the test server: postgresql://procurebot@127.0.0.1:PORT/t_N."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend in turn: a SQLite file in tmp_path, then a PostgreSQL
    database (skipped, with the reason, where no server can be started)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'procurement.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """One line on the PostgreSQL server: how it started, or why the tests needing it did not
    run."""
    server = config.stash.get(_STARTED, None)
    if server is not None:
        terminalreporter.write_line(f"PostgreSQL for the tests: {server.describe()}")
    elif _NOT_STARTED in config.stash:
        terminalreporter.write_line(config.stash[_NOT_STARTED], yellow=True)
