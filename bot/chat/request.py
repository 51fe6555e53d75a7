"""Who asks, what they ask, and what a chat command is: shared by Telegram and the console."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.formatting import Reply
from bot.rendering import Renderer
from core.access import Permission
from core.domain.actors import Actor, Source
from core.errors import UserError
from core.models import Channel, Material, Role
from core.services import Services
from core.services.once import UpdateRef
from core.wording import quoted


@dataclass(frozen=True)
class Caller:
    """Who asks, from which chat; `role` None means no access. `channel` is where the chat
    lives (None for the console, which has no chat to send alerts to)."""

    user_id: int
    role: Role | None
    chat_id: int
    is_group: bool = False
    name: str | None = None
    channel: Channel | None = None

    def actor(self) -> Actor:
        """The caller as core records who did something (only callers with access act)."""
        if self.role is None:
            raise UserError("Only people with access may do that.")
        if self.channel is None:
            return Actor(None, self.name or "console", self.role, Source.CONSOLE)
        return Actor(
            self.user_id, self.name or str(self.user_id), self.role, Source.TELEGRAM, self.chat_id
        )


@dataclass(frozen=True)
class Request:
    args: tuple[str, ...]
    caller: Caller
    services: Services
    render: Renderer
    bot_username: str | None = None
    # the Telegram update being answered, for a handler that books its change itself
    # (ExactlyOnce) after slow work that needs no transaction
    update: UpdateRef | None = None

    def material(self, usage: str, words: tuple[str, ...] | None = None) -> Material:
        """The material named by the arguments (or by `words` of them); a missing one is a
        usage error."""
        words = self.args if words is None else words
        if not words:
            raise UserError(
                f"Which material? Usage: {usage}, one of: {', '.join(self.services.catalog.keys)}."
            )
        return self.services.catalog.resolve(" ".join(words))

    def no_args(self, usage: str) -> None:
        if self.args:
            raise UserError(f"{usage} takes no arguments, got '{quoted(' '.join(self.args))}'.")

    def private_only(self, usage: str) -> None:
        """Refuses a command whose answer is for admins' eyes when it is asked in a group."""
        if self.caller.is_group:
            raise UserError(
                f"Send {usage} to me in a private chat: what it shows is for admins, not for "
                "everyone in this group."
            )


Handler = Callable[[Request], Awaitable[Reply]]


def never(args: tuple[str, ...]) -> bool:
    return False


def always(args: tuple[str, ...]) -> bool:
    return True


def with_arguments(args: tuple[str, ...]) -> bool:
    return bool(args)


@dataclass(frozen=True)
class Command:
    """A chat command; `draws_chart` says, from the arguments, whether the answer has a chart
    (so Telegram can show "sending a photo" rather than "typing" meanwhile)."""

    name: str
    usage: str
    example: str
    summary: str
    handler: Handler
    admin_only: bool = False
    draws_chart: Callable[[tuple[str, ...]], bool] = never
    # what the caller's role must allow (admin_only: Permission.ADMIN)
    needs: Permission = Permission.READ
    # changes data: runs in one unit of work with the Telegram update, so that an update
    # handed out again books nothing
    writes: bool = False
    # a button's command (/confirm 41): not listed in /help or the menu
    hidden: bool = False

    @property
    def permission(self) -> Permission:
        return Permission.ADMIN if self.admin_only else self.needs
