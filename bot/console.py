"""`procurebot console`: the chat commands in a terminal, acting as an admin."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TextIO

from bot.commands import Caller, Renderer, execute, parse
from bot.formatting import Reply, plain
from core.models import Channel, Role
from core.services import Services

log = logging.getLogger(__name__)

CONSOLE_USER = Caller(user_id=0, role=Role.ADMIN, chat_id=0)
QUIT = {"quit", "exit", "/quit", "/exit"}


def console_user(chat: int | None = None) -> Caller:
    """The console's admin, in no chat, or acting in the Telegram chat `chat` (a negative id is
    a group's)."""
    if chat is None:
        return CONSOLE_USER
    return Caller(0, Role.ADMIN, chat, is_group=chat < 0, channel=Channel.TELEGRAM)


def show(reply: Reply, chart_dir: Path, out: TextIO) -> None:
    """Prints the reply as text; writes its chart to a PNG (and a file it sends next to the
    charts, in exports/) and prints the path."""
    print(plain(reply.text), file=out)
    if reply.choices:
        print("Options: " + " | ".join(b.command for b in reply.choices), file=out)
    if reply.chart:
        chart_dir.mkdir(parents=True, exist_ok=True)
        path = chart_dir / f"{reply.chart_name}.png"
        path.write_bytes(reply.chart)
        print(f"Chart: {path}", file=out)
    if reply.document:
        name, data = reply.document
        folder = chart_dir.parent / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(data)
        print(f"File: {path}", file=out)


async def run_console(
    services: Services,
    chart_dir: Path,
    source: TextIO,
    out: TextIO,
    prompt: bool,
    caller: Caller = CONSOLE_USER,
) -> None:
    """Answers one command per line until end of input or `quit`."""
    render = Renderer()
    if prompt:
        print("Smart Procurement Bot console: type /help, or quit to leave.", file=out)
    while True:
        if prompt:
            print("> ", end="", file=out, flush=True)
        line = await asyncio.to_thread(source.readline)
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        if line.lower() in QUIT:
            break
        name, args = parse(line if line.startswith("/") else "/" + line)
        try:
            reply = await execute(name, args, caller, services, render)
        except Exception:
            log.exception("Command %r failed", line)
            reply = Reply("Sorry, that failed on our side; it has been logged. Try /help.")
        show(reply, chart_dir, out)
        print(file=out, flush=True)
