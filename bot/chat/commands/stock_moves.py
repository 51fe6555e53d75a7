"""/use, /receive and /count (with Undo, and Confirm / Cancel for moves that look like typos),
and /moves: recording what happens to the stock, from a phone."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.chat.commands.purchasing import order_line
from bot.chat.request import Command, Request
from bot.formatting import Button, Reply, amount, cover_text, esc, moment
from core.access import Permission
from core.domain.stock import UNDO_WINDOW, MoveKind, StockMove
from core.domain.units import examples, parse_quantity, unit_symbol
from core.errors import UserError
from core.inventory import StockStatus
from core.materials import MaterialCatalog
from core.models import Material
from core.services.stock import Booked, ToConfirm, Undone

DEFAULT_MOVES = 10
MAX_MOVES = 100
_STARTS_A_NUMBER = re.compile(r"^[0-9.]")
USAGE = {
    MoveKind.USE: "/use MATERIAL QTY [note]",
    MoveKind.RECEIVE: "/receive MATERIAL QTY [po N] [note]",
    MoveKind.COUNT: "/count MATERIAL QTY",
}
EXAMPLE = {
    MoveKind.USE: "/use copper 5t",
    MoveKind.RECEIVE: "/receive copper 20 t po 4711",
    MoveKind.COUNT: "/count aluminium 2,500 kg",
}
DONE = {MoveKind.USE: "used", MoveKind.RECEIVE: "received", MoveKind.COUNT: "counted"}


@dataclass(frozen=True)
class Quantity:
    """A quantity in the material's unit, and how it was written when that differs."""

    value: float
    written: str | None = None


def material_and_quantity(
    request: Request, kind: MoveKind
) -> tuple[Material, Quantity, tuple[str, ...]]:
    """'copper 2,500 kg for line 3' -> Copper, 2.5 t (written 2,500 kg), ('for', 'line', '3').
    The material is every word before the first one that starts with a digit."""
    usage, args = USAGE[kind], request.args
    catalog = request.services.catalog
    at = next((i for i, word in enumerate(args) if _STARTS_A_NUMBER.match(word)), None)
    if not args or at == 0:
        raise UserError(
            f"Which material? Usage: {usage}, e.g. {EXAMPLE[kind]}; materials: "
            f"{', '.join(catalog.keys)}."
        )
    if at is None:
        material = catalog.resolve(" ".join(args))
        raise UserError(
            f"How much {material.name}? Usage: {usage}, e.g. {EXAMPLE[kind]} "
            f"(quantities as {examples(material.unit)})."
        )
    material = catalog.resolve(" ".join(args[:at]))
    words = 1
    if at + 1 < len(args) and _is_unit(args[at + 1], material):
        words = 2
    text = " ".join(args[at : at + words])
    value = parse_quantity(text, material.unit)
    written = None
    given = text.lstrip("0123456789.,").strip()
    if given and unit_symbol(given) != unit_symbol(material.unit) and given != material.unit:
        written = text
    return material, Quantity(value, written), args[at + words :]


def _is_unit(word: str, material: Material) -> bool:
    return unit_symbol(word) is not None or word.lower() == material.unit.lower()


def _note(words: tuple[str, ...]) -> str | None:
    text = " ".join(words).strip()
    if len(text) > 200:
        raise UserError("A note has at most 200 characters.")
    return text or None


def purchase_order(words: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """'po 4711 late truck' -> ('PO 4711', ('late', 'truck')); a reference the purchasing
    orders ('PO-2026-0001') keeps its own spelling."""
    if len(words) >= 2 and words[0].lower() == "po":
        number = words[1]
        reference = number.upper() if number.upper().startswith("PO") else f"PO {number}"
        return reference, words[2:]
    if words and words[0].lower() == "po":
        raise UserError("Which purchase order? Write po and its number, e.g. po 4711.")
    return None, words


async def _record(request: Request, kind: MoveKind) -> Reply:
    material, quantity, rest = material_and_quantity(request, kind)
    reference = None
    if kind is MoveKind.RECEIVE:
        reference, rest = purchase_order(rest)
    outcome = await request.services.ledger.record(
        request.caller.actor(), material, kind, quantity.value, reference, _note(rest)
    )
    if isinstance(outcome, ToConfirm):
        return confirm_reply(outcome, quantity)
    return booked_reply(outcome, quantity)


async def use(request: Request) -> Reply:
    """/use MATERIAL QTY [note]: stock issued to production."""
    return await _record(request, MoveKind.USE)


async def receive(request: Request) -> Reply:
    """/receive MATERIAL QTY [po N] [note]: stock delivered."""
    return await _record(request, MoveKind.RECEIVE)


async def count(request: Request) -> Reply:
    """/count MATERIAL QTY: a stock-take; on hand becomes what was counted."""
    return await _record(request, MoveKind.COUNT)


def _number_arg(request: Request, usage: str) -> int:
    if len(request.args) != 1 or not request.args[0].lstrip("#").isdigit():
        raise UserError(f"Usage: {usage} (the number on the button).")
    return int(request.args[0].lstrip("#"))


async def undo(request: Request) -> Reply:
    """/undo N: takes move N back (the Undo button)."""
    move_id = _number_arg(request, "/undo MOVE")
    return undone_reply(await request.services.ledger.undo(request.caller.actor(), move_id))


async def confirm(request: Request) -> Reply:
    """/confirm N: books a move that waited for confirmation (the Confirm button)."""
    action_id = _number_arg(request, "/confirm N")
    booked = await request.services.ledger.confirm(request.caller.actor(), action_id)
    return booked_reply(booked, None)


async def discard(request: Request) -> Reply:
    """/discard N: cancels what waits under N, a move or a file (the Cancel button)."""
    action_id = _number_arg(request, "/discard N")
    action = await request.services.ledger.discard(request.caller.actor(), action_id)
    if "file_name" in action.payload:
        return Reply(f"Cancelled: {esc(action.payload['file_name'])} was not imported.")
    return Reply("Cancelled: nothing was booked.")


async def moves(request: Request) -> Reply:
    """/moves [MATERIAL] [N]: the last N stock moves, newest first."""
    args, limit = list(request.args), DEFAULT_MOVES
    if args and args[-1].isdigit():
        limit = int(args.pop())
        if not 1 <= limit <= MAX_MOVES:
            raise UserError(f"N is from 1 to {MAX_MOVES}, got {limit}. Example: /moves copper 20")
    material = request.services.catalog.resolve(" ".join(args)) if args else None
    listed = await request.services.ledger.moves(material, limit)
    refresh = " ".join(("/moves", *request.args))
    return Reply(moves_report(listed, request.services.catalog, material), refresh=refresh)


# --- answers -----------------------------------------------------------------------------


def _quantity(value: float, material: Material) -> str:
    return f"{amount(value)} {esc(material.unit)}"


def _cover_change(before: StockStatus, after: StockStatus) -> str:
    unit = after.material.unit
    text = f"On hand {amount(after.item.on_hand)} {esc(unit)}, {cover_text(after)}"
    if before.days_of_cover is not None and after.days_of_cover is not None:
        was = f"{before.days_of_cover:.0f}"
        if was != f"{after.days_of_cover:.0f}":
            text += f" (was {was})"
    return text + "."


def _alert_line(booked: Booked | Undone) -> str:
    if booked.alert is None:
        return ""
    return (
        f"\n⚠️ <b>{esc(booked.alert.severity)}</b>: {esc(booked.material.name)} is at or below "
        "its reorder point: a LOW_INVENTORY alert goes to the subscribed chats."
    )


def booked_reply(booked: Booked, quantity: Quantity | None) -> Reply:
    """'Copper: used 5 t. On hand 415 t, 34 days of cover (was 35).' with an Undo button."""
    move, material = booked.move, booked.material
    written = f" ({esc(quantity.written)})" if quantity and quantity.written else ""
    what = f"{DONE[move.kind]} {_quantity(move.quantity, material)}{written}"
    if move.kind is MoveKind.COUNT and move.difference is not None:
        what += f", {_difference(move.difference, material)}"
    if move.reference:
        what += f" ({esc(move.reference)})"
    text = f"<b>{esc(material.name)}</b>: {what}. {_cover_change(booked.before, booked.after)}"
    if booked.order is not None:
        text += "\n📦 " + order_line(booked.order)
    if booked.after.item.on_hand < 0:
        text += (
            "\nThe ledger now holds less than nothing: more was used than recorded. "
            f"/count {material.key} QTY sets it to what is there."
        )
    text += _alert_line(booked)
    minutes = UNDO_WINDOW.seconds // 60
    text += f"\n<i>Move #{move.id}; Undo works for {minutes} minutes.</i>"
    return Reply(text, choices=(Button("↩️ Undo", f"/undo {move.id}"),))


def _difference(difference: float, material: Material) -> str:
    if abs(difference) < 1e-9:
        return "as expected"
    side = "more" if difference > 0 else "less"
    return f"{_quantity(abs(difference), material)} {side} than expected"


def confirm_reply(pending: ToConfirm, quantity: Quantity) -> Reply:
    """The move that looks like a typo, the reason, and Confirm / Cancel."""
    material, status = pending.material, pending.status
    verb = {MoveKind.USE: "Use", MoveKind.RECEIVE: "Receive", MoveKind.COUNT: "Count"}[pending.kind]
    written = f" ({esc(quantity.written)})" if quantity.written else ""
    facts = f"on hand {_quantity(status.item.on_hand, material)}"
    if status.daily_use > 0:
        facts += f", use {_quantity(status.daily_use, material)}/day"
    return Reply(
        f"<b>{esc(material.name)}</b>: {verb.lower()} {_quantity(pending.quantity, material)}"
        f"{written}? {esc(pending.reason[:1].upper() + pending.reason[1:])} ({facts}).\n"
        "Nothing is booked until you confirm; this waits 10 minutes.",
        choices=(
            Button("✅ Confirm", f"/confirm {pending.action_id}"),
            Button("✖️ Cancel", f"/discard {pending.action_id}"),
        ),
    )


def undone_reply(undone: Undone) -> Reply:
    original, material = undone.original, undone.material
    return Reply(
        f"Undone: move #{original.id}, <b>{esc(material.name)}</b> {DONE[original.kind]} "
        f"{_quantity(original.quantity, material)}. {_cover_change(undone.before, undone.after)}"
        + ("" if undone.order is None else "\n📦 " + order_line(undone.order))
        + _alert_line(undone)
    )


def moves_report(
    listed: list[StockMove], catalog: MaterialCatalog, material: Material | None
) -> str:
    scope = f" of {esc(material.name)}" if material else ""
    if not listed:
        return f"No stock moves{scope} recorded yet. /use, /receive and /count record them."
    lines = [f"<b>Last {len(listed)} stock moves{scope}</b>, newest first"]
    for move in listed:
        name, unit = move.material, ""
        known = catalog.owner_of(move.material)
        if known is not None:
            name, unit = known.name, known.unit
        quantity = f"{amount(move.quantity)} {esc(unit)}".strip()
        if move.undoes is not None:
            what = f"undo of #{move.undoes} ({DONE[move.kind]} {quantity})"
        else:
            what = f"{DONE[move.kind]} {quantity}"
            if move.kind is MoveKind.COUNT and move.difference is not None and known:
                what += f", {_difference(move.difference, known)}"
        who = esc(move.user_name or move.source.value)
        if move.user_name and move.source.value == "import":
            who += " (import)"
        parts = [f"#{move.id} {moment(move.at)}", f"<b>{esc(name)}</b> {what}", who]
        if move.reference:
            parts.append(esc(move.reference))
        if move.note and move.undoes is None:
            parts.append(f"“{esc(move.note)}”")
        line = " · ".join(parts)
        if move.undone_by is not None:
            line = f"<s>{line}</s> (undone by #{move.undone_by})"
        lines.append(line)
    return "\n".join(lines)


COMMANDS: tuple[Command, ...] = (
    Command(
        "use",
        USAGE[MoveKind.USE],
        EXAMPLE[MoveKind.USE],
        "record stock used; the answer has an Undo button.",
        use,
        needs=Permission.RECORD,
        writes=True,
    ),
    Command(
        "receive",
        USAGE[MoveKind.RECEIVE],
        EXAMPLE[MoveKind.RECEIVE],
        "record a delivery, with its purchase order.",
        receive,
        needs=Permission.RECORD,
        writes=True,
    ),
    Command(
        "count",
        USAGE[MoveKind.COUNT],
        EXAMPLE[MoveKind.COUNT],
        "a stock-take: on hand becomes what you counted.",
        count,
        needs=Permission.RECORD,
        writes=True,
    ),
    Command(
        "moves",
        "/moves [MATERIAL] [N]",
        "/moves copper 20",
        "the last N stock moves (default 10) with who, when and the reference.",
        moves,
    ),
    Command(
        "undo",
        "/undo MOVE",
        "/undo 17",
        "take a move back within 10 minutes.",
        undo,
        needs=Permission.RECORD,
        writes=True,
        hidden=True,
    ),
    Command(
        "confirm",
        "/confirm N",
        "/confirm 41",
        "book a move that waited for confirmation.",
        confirm,
        needs=Permission.RECORD,
        writes=True,
        hidden=True,
    ),
    Command(
        "discard",
        "/discard N",
        "/discard 41",
        "cancel a move or a file that waits.",
        discard,
        needs=Permission.RECORD,
        writes=True,
        hidden=True,
    ),
)
