"""Who did something, and through which door: every recorded change carries this."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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
