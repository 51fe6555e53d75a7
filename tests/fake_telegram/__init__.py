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

__all__ = [
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
