"""Files in and out: a CSV or XLSX file sent to the bot is checked and previewed with Import /
Cancel; /import runs a previewed file (or, in the console, reads one by its path); /export
gives everything back as an XLSX file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.chat.request import Caller, Command, Request
from bot.formatting import Button, Reply, esc
from core.access import NotAllowed, Permission, require
from core.adapters.spreadsheets import kind_of
from core.errors import UserError
from core.services import Services
from core.services.imports import MAX_FILE_BYTES, Imported, Preview
from core.services.once import UpdateRef

NOT_A_SPREADSHEET = (
    "I import CSV and XLSX files only (materials, stock moves, quotes or prices, known by their "
    "header row): send one of those, or a command; /help lists them."
)
TOO_LARGE = (
    "That file is larger than 20 MB, the most a bot may download from Telegram: split it "
    "into smaller files."
)


def preview_reply(preview: Preview) -> Reply:
    """The preview with Import / Cancel, or the problems by line, or the earlier import."""
    name = esc(preview.file_name)
    if preview.problems:
        lines = "\n".join(f"• {esc(p)}" for p in preview.problems)
        return Reply(f"<b>{name} was not imported</b>; nothing was stored:\n{lines}")
    before = preview.imported_before
    if before is not None:
        who = f" by {esc(before.user_name)}" if before.user_name else ""
        return Reply(
            f"{name} holds the same rows as the file imported on {before.at:%d %b %Y %H:%M} "
            f"UTC{who} ({esc(before.file_name)}): nothing to import, nothing changed."
        )
    if preview.action_id is None:
        return Reply(f"{esc(preview.summary)}.\n<i>Checked only: nothing was stored.</i>")
    return Reply(
        f"<b>Ready to import</b> {esc(preview.summary)}.\n"
        "Every row is checked; Import stores them all in one go (within the hour).",
        choices=(
            Button("📥 Import", f"/import {preview.action_id}"),
            Button("✖️ Cancel", f"/discard {preview.action_id}"),
        ),
    )


def imported_reply(imported: Imported) -> Reply:
    record = imported.record
    text = f"<b>Imported</b> {esc(record.summary)}."
    if imported.alerts:
        names = ", ".join(sorted({a.material or "" for a in imported.alerts}))
        text += f"\n⚠️ Low stock after the import ({esc(names)}): LOW_INVENTORY alerts sent."
    return Reply(text + "\n/stock shows the stock; /moves the moves.")


async def receive_document(
    caller: Caller,
    services: Services,
    file_name: str,
    size: int | None,
    download: Callable[[], Awaitable[bytes]],
    update: UpdateRef | None = None,
) -> Reply:
    """A file sent to the bot: checked off the event loop and previewed with Import / Cancel
    (kept as a pending import), or its problems listed by line; anything but CSV or XLSX
    gets one line. A file handed out again by Telegram gets the first answer again."""
    try:
        require(caller.role, Permission.RECORD, "Importing a file")
    except NotAllowed as error:
        return Reply(esc(str(error)))
    if kind_of(file_name) is None:
        return Reply(NOT_A_SPREADSHEET)
    if size is not None and size > MAX_FILE_BYTES:
        return Reply(TOO_LARGE)
    answered = await services.once.answered(update)
    if answered is not None:
        return Reply.from_json(answered)
    try:
        data = await download()
        checked = await services.imports.check(file_name, data)
        prepared = await services.imports.prepare(checked)
        if prepared.changes is None:  # problems, or imported before: nothing to keep
            return preview_reply(await services.imports.keep(caller.actor(), file_name, prepared))

        async def keep() -> str:
            preview = await services.imports.keep(caller.actor(), file_name, prepared)
            return preview_reply(preview).to_json()

        return Reply.from_json(await services.once.run(update, keep))
    except UserError as error:
        return Reply(esc(str(error)))


async def import_(request: Request) -> Reply:
    """/import N: imports a previewed file (the Import button); in the console, /import PATH
    previews a file first."""
    args = request.args
    if len(args) == 1 and args[0].isdigit():
        imports, actor = request.services.imports, request.caller.actor()
        prepared = await imports.prepare_run(actor, int(args[0]))  # no write waits for this

        async def store() -> str:
            return imported_reply(await imports.finish_run(actor, prepared)).to_json()

        return Reply.from_json(await request.services.once.run(request.update, store))
    if request.caller.channel is not None or not args:
        raise UserError(
            "Send me the CSV or XLSX file itself (as a document); I answer with what it holds "
            "and an Import button."
        )
    path = Path(" ".join(args)).expanduser()
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserError(f"Cannot read {path}: {error.strerror or error}.") from None
    checked = await request.services.imports.check(path.name, data)
    preview = await request.services.imports.preview(request.caller.actor(), path.name, checked)
    return preview_reply(preview)


async def export(request: Request) -> Reply:
    """/export: everything as an XLSX file that imports again (in a private chat)."""
    request.no_args("/export")
    if request.caller.is_group:
        raise UserError(
            "Send /export to me in a private chat: the file holds all the factory's stock, "
            "quotes and prices, which not everyone in a group may see."
        )
    name, data = await request.services.imports.export()
    return Reply(
        f"<b>{esc(name)}</b>: materials, stock moves, quotes and prices, one sheet each. "
        "Sent back to me, it imports again unchanged.",
        document=(name, data),
    )


COMMANDS: tuple[Command, ...] = (
    Command(
        "export",
        "/export",
        "/export",
        "everything as an XLSX file (materials, stock moves, quotes, prices).",
        export,
    ),
    Command(
        "import",
        "/import N",
        "/import 5",
        "import a file that was checked (its Import button); send the file itself first.",
        import_,
        needs=Permission.RECORD,
        hidden=True,  # books its import with ExactlyOnce itself, after the slow part
    ),
)
