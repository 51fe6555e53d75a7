"""The chat commands, shared by Telegram and the console: every feature's commands in one
registry (its order is the order of /help and of the Telegram menu), a command line parsed,
and one command run for a caller. The commands themselves live in bot/chat/commands/, one
module per feature."""

from __future__ import annotations

import difflib

from bot.chat.commands import (
    access,
    alerts,
    digests,
    files,
    market,
    materials,
    prices,
    purchasing,
    quotes,
    status,
    stock,
    stock_moves,
    vendors,
    watches,
    welcome,
)
from bot.chat.request import Caller, Command, Request
from bot.formatting import Reply, esc
from bot.rendering import Renderer
from core.access import NotAllowed, require
from core.errors import UserError
from core.services import Services
from core.services.once import UpdateRef
from core.wording import quoted

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        *welcome.COMMANDS,
        *market.COMMANDS,
        *stock.COMMANDS,
        *vendors.COMMANDS,
        *alerts.COMMANDS,
        *watches.COMMANDS,
        *digests.COMMANDS,
        *stock_moves.COMMANDS,
        *purchasing.COMMANDS,
        *quotes.COMMANDS,
        *materials.COMMANDS,
        *files.COMMANDS,
        *access.COMMANDS,
        *prices.COMMANDS,
        *status.COMMANDS,
    )
}


def parse(line: str) -> tuple[str, tuple[str, ...]]:
    """'/price@ProcureBot Copper' -> ('price', ('Copper',))."""
    words = line.strip().split()
    name = words[0].removeprefix("/").split("@", 1)[0].lower() if words else ""
    return name, tuple(words[1:])


def unknown_command(name: str) -> Reply:
    close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.6)
    hint = f" Did you mean /{close[0]}?" if close else ""
    return Reply(f"Unknown command /{esc(quoted(name))}.{hint} Send /help for the list.")


async def execute(
    name: str,
    args: tuple[str, ...],
    caller: Caller,
    services: Services,
    render: Renderer,
    bot_username: str | None = None,
    update: UpdateRef | None = None,
) -> Reply:
    """Runs one command for `caller`; a UserError becomes a one-line answer. Someone without
    access gets a refusal with their user id and nothing else, whatever they send, except an
    invite code (`/start CODE`). A command that changes data runs in one unit of work with
    the Telegram `update`, so that an update handed out again books nothing and gets the
    first answer again."""
    command = COMMANDS.get(name)
    if caller.role is None and not (name == "start" and args):
        return Reply(welcome.refusal(caller.user_id))
    if command is None:
        return unknown_command(name)
    try:
        if caller.role is not None:
            require(caller.role, command.permission, f"/{name}")
        listed = tuple(COMMANDS.values())
        request = Request(args, caller, services, render, bot_username, update, commands=listed)
        if not command.writes:
            return await command.handler(request)

        async def booked() -> str:
            return (await command.handler(request)).to_json()

        return Reply.from_json(await services.once.run(update, booked))
    except (UserError, NotAllowed) as error:
        return Reply(esc(str(error)))
