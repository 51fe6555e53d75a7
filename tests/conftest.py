import struct
from collections.abc import AsyncIterator

import pytest

from tests.fake_telegram import TEST_TOKEN, FakeBotApi


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, read from its header; fails on anything that is not a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real token or database from the environment."""
    for name in ("TELEGRAM_BOT_TOKEN", "DATABASE_PATH", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeBotApi]:
    """The fake Telegram Bot API on loopback (its `base_url` is the bot's TELEGRAM_BASE_URL,
    its token TEST_TOKEN); a test fails if the bot made any call Telegram would refuse."""
    async with FakeBotApi.running(TEST_TOKEN) as api:
        yield api
    refused = [f"{c.method}: {c.description}" for c in api.violations]
    assert not refused, f"calls Telegram would refuse: {refused}"
