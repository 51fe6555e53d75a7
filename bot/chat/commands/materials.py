"""/material add and /material set (admins): the materials the bot tracks and their figures."""

from __future__ import annotations

import re

from bot.chat.commands.quotes import words_of
from bot.chat.request import Command, Request
from bot.formatting import Reply, amount, esc
from core.access import Permission
from core.domain.materials import (
    check_currency,
    check_key,
    check_name,
    check_unit,
    split_aliases,
)
from core.domain.units import BadQuantity, parse_quantity
from core.errors import UserError
from core.models import InventoryItem, Material
from core.services.materials import Figures

ADD = '/material add KEY "NAME" UNIT CURRENCY [lead Nd] [min Q]'
SET = "/material set KEY lead Nd | min Q | daily Q | aliases a,b"
USAGE = f"{ADD}, or {SET}"
_DAYS = re.compile(r"^(\d+)\s*(?:d|days?)?$", re.IGNORECASE)


def _figures(tokens: list[str], unit: str, allowed: tuple[str, ...]) -> tuple[Figures, str | None]:
    """'lead 14d min 100' -> Figures(lead_time_days=14, minimum=100); also the aliases text."""
    lead = minimum = daily = None
    aliases = None
    while tokens:
        keyword = tokens.pop(0).lower()
        if keyword not in allowed:
            raise UserError(f"'{keyword}' is not something I can set. Usage: {USAGE}")
        if not tokens:
            raise UserError(f"{keyword} needs a value. Usage: {USAGE}")
        value = tokens.pop(0)
        if keyword == "aliases":
            aliases = " ".join([value, *tokens])
            tokens.clear()
        elif keyword == "lead":
            match = _DAYS.match(value)
            if match is None:
                raise UserError(f"lead takes a number of days, like lead 14d; got '{value}'.")
            lead = int(match.group(1))
        else:
            if tokens and tokens[0].lower() not in allowed and not tokens[0][:1].isdigit():
                value += " " + tokens.pop(0)  # "min 100 t"
            try:
                quantity = parse_quantity(value, unit)
            except BadQuantity as error:
                raise UserError(f"{keyword}: {error}") from None
            if keyword == "min":
                minimum = quantity
            else:
                daily = quantity
    return Figures(lead, minimum, daily), aliases


async def material(request: Request) -> Reply:
    """/material add ... | set ...: adds a material or changes its figures (admins)."""
    words = words_of(" ".join(request.args))
    if not words or words[0][0].lower() not in ("add", "set"):
        raise UserError(f"Usage: {USAGE}.")
    action = words[0][0].lower()
    actor = request.caller.actor()
    service = request.services.materials
    if action == "add":
        if len(words) < 5:
            raise UserError(f'Usage: {ADD}, e.g. /material add zinc "Zinc SHG" t USD lead 14d')
        key = check_key(words[1][0])
        name, unit = check_name(words[2][0]), check_unit(words[3][0])
        currency = check_currency(words[4][0])
        figures, _ = _figures([w for w, _ in words[5:]], unit, ("lead", "min"))
        added = await service.add(actor, Material(key, name, unit, currency), figures)
        return Reply(
            f"Added <b>{esc(added.name)}</b> ({esc(added.key)}, {esc(added.unit)}, prices in "
            f"{esc(added.currency)}). Its stock starts at 0: /count {esc(added.key)} QTY records "
            f"what is there; /material set {esc(added.key)} daily Q sets its daily use."
        )
    if len(words) < 3:
        raise UserError(f"Usage: {SET}, e.g. /material set copper lead 21d")
    known = request.services.catalog.resolve(words[1][0])
    figures, aliases = _figures(
        [w for w, _ in words[2:]], known.unit, ("lead", "min", "daily", "aliases")
    )
    changed, item = await service.change(
        actor, known, figures, split_aliases(aliases) if aliases is not None else None
    )
    return Reply(material_report(changed, item))


def material_report(material: Material, item: InventoryItem) -> str:
    unit = esc(material.unit)
    aliases = ", ".join(material.aliases) or "none"
    return (
        f"<b>{esc(material.name)}</b> ({esc(material.key)}): lead time {item.lead_time_days} "
        f"days · minimum {amount(item.minimum)} {unit} · configured daily use "
        f"{amount(item.daily_consumption)} {unit} · aliases: {esc(aliases)}"
    )


COMMANDS: tuple[Command, ...] = (
    Command(
        "material",
        f"{ADD}, /material set KEY ...",
        "/material set copper lead 21d",
        "add a material, or set its lead time, minimum, daily use or aliases (admins).",
        material,
        needs=Permission.ADMIN,
        writes=True,
    ),
)
