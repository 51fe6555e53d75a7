"""A fake Telegram Bot API on loopback, held to the official method list (see server.py)."""

from tests.fake_telegram.server import (
    ApiCall,
    Button,
    Failure,
    FakeBotApi,
    FakeChat,
    FakeUser,
    Message,
    image_size,
)
from tests.fake_telegram.spec import BotApiSpec

# A token shaped like a real one, so that scanning logs for it means something.
TEST_TOKEN = "123456789:AAE-fakeTokenForTests_0123456789abcdefgh"

__all__ = [
    "TEST_TOKEN",
    "ApiCall",
    "BotApiSpec",
    "Button",
    "Failure",
    "FakeBotApi",
    "FakeChat",
    "FakeUser",
    "Message",
    "image_size",
]
