"""Who did something, and through which door: every recorded change carries this."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from core.models import Role


class Source(StrEnum):
    """Where a change came from."""

    TELEGRAM = "telegram"
    CONSOLE = "console"
    IMPORT = "import"


@dataclass(frozen=True)
class Actor:
    """The person behind a change: their Telegram user id (None on the command line), a name
    to show, their role, the chat they wrote in (None outside Telegram) and the source."""

    user_id: int | None
    name: str
    role: Role
    source: Source
    chat_id: int | None = None

    def same_person(self, user_id: int | None) -> bool:
        return self.user_id is not None and self.user_id == user_id


COMMAND_LINE = Actor(None, "command line", Role.ADMIN, Source.IMPORT)


class Person(Protocol):
    """Who acts, as far as a use case needs to know (an Actor is one): a Telegram user id
    (None on the command line), a name to show, a role (a core.models.Role value) and the chat
    they wrote in."""

    @property
    def user_id(self) -> int | None: ...

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def chat_id(self) -> int | None: ...
