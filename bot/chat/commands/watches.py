"""/watch, /watches and /unwatch: a chat's own price watches (core/watches.py), with their
argument parsing and their replies."""

from __future__ import annotations

import re
from datetime import datetime

from bot.chat.request import Command, Request
from bot.formatting import Button, Reply, amount, esc, moment, short_date
from core.domain.watches import (
    MAX_LASTS_DAYS,
    MAX_MOVE_DAYS,
    MAX_MOVE_PCT,
    Direction,
    Watch,
    WatchKind,
    WatchRule,
    WatchState,
    days,
    describe,
)
from core.errors import UserError
from core.materials import MaterialCatalog
from core.models import Channel, Material, Role
from core.watches import Added, Listed, Removal, WatchService

WATCH_USAGE = (
    "/watch MATERIAL above|below PRICE [once] [for Nd] or /watch MATERIAL move PCT [DAYS] [for Nd]"
)
WATCH_EXAMPLES = "e.g. /watch copper below 9000, /watch nickel move 3"
UNWATCH_USAGE = "/unwatch N (a number from /watches) or /unwatch all"
NOT_A_CHAT = (
    "Watches, digests and quiet hours belong to a Telegram chat: send the command in the chat "
    "(private or group) that should get them; in the console, start it with --chat CHAT_ID."
)

_KINDS = {kind.value: kind for kind in WatchKind}
_PRICE = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
_PCT = re.compile(r"^([+-]?)(\d+(?:\.\d+)?)%?$")
_DAYS = re.compile(r"^(\d+)d?$")


def parse_price(text: str) -> float:
    """'9000', '9,000' or '9000.50'; raises UserError naming what fits."""
    value = float(text.replace(",", "")) if _PRICE.match(text) else 0.0
    if value <= 0:
        raise UserError(
            f"'{text}' is not a price above zero: give a number such as 9000 or 9,000.50."
        )
    return value


def parse_move(text: str) -> tuple[Direction, float]:
    """'3', '3%', '+3' (up only) or '-2.5%' (down only)."""
    match = _PCT.match(text)
    pct = float(match.group(2)) if match else 0.0
    if match is None or not 0 < pct <= MAX_MOVE_PCT:
        raise UserError(
            f"'{text}' is not a move in percent: give a number above 0 and at most "
            f"{MAX_MOVE_PCT:g}, such as 3 (either way), +3 (up) or -3 (down)."
        )
    direction = {"+": Direction.UP, "-": Direction.DOWN}.get(match.group(1), Direction.EITHER)
    return direction, pct


def _whole_days(text: str, what: str, most: int) -> int:
    match = _DAYS.match(text.lower())
    count = int(match.group(1)) if match else 0
    if not 1 <= count <= most:
        raise UserError(f"'{text}' is not {what}: give a whole number of days from 1 to {most}.")
    return count


def parse_watch(args: tuple[str, ...], catalog: MaterialCatalog) -> tuple[WatchRule, int | None]:
    """The watch the arguments of /watch describe, and for how many days it lasts (None: until
    removed); raises UserError with one line naming what fits."""
    if not args:
        raise UserError(f"What should this chat watch? Usage: {WATCH_USAGE}; {WATCH_EXAMPLES}.")
    at = next((i for i, w in enumerate(args) if i > 0 and w.lower() in _KINDS), None)
    if at is None:
        catalog.resolve(args[0])  # an unknown material is the clearer message
        raise UserError(
            f"Say above, below or move after the material. Usage: {WATCH_USAGE}; {WATCH_EXAMPLES}."
        )
    material = catalog.resolve(" ".join(args[:at]))
    kind = _KINDS[args[at].lower()]
    rest = list(args[at + 1 :])
    lasts = _take_lasts(rest)
    once = any(w.lower() == "once" for w in rest)
    rest = [w for w in rest if w.lower() != "once"]
    if kind is WatchKind.MOVE:
        if not rest:
            raise UserError(f"How large a move, in percent? e.g. /watch {material.key} move 3")
        direction, pct = parse_move(rest[0])
        window = _whole_days(rest[1], "a window", MAX_MOVE_DAYS) if len(rest) > 1 else 1
        rule = WatchRule(material.key, kind, pct, direction, window, once)
        extra = rest[2:]
    else:
        if not rest:
            raise UserError(f"At what price? e.g. /watch {material.key} {kind} 9000")
        rule = WatchRule(material.key, kind, parse_price(rest[0]), once=once)
        extra = rest[1:]
    if extra:
        raise UserError(
            f"'{' '.join(extra)}' is not part of a watch. Usage: {WATCH_USAGE}; {WATCH_EXAMPLES}."
        )
    return rule, lasts


def _take_lasts(words: list[str]) -> int | None:
    """Takes 'for 7d' (or 'for 7', 'for 7 days') out of `words`; the number of days."""
    at = next((i for i, w in enumerate(words) if w.lower() == "for"), None)
    if at is None:
        return None
    if at + 1 >= len(words):
        raise UserError("For how long? Say for 7d (7 days), up to 365.")
    count = _whole_days(words[at + 1], "a time to last", MAX_LASTS_DAYS)
    end = at + 2
    if end < len(words) and words[end].lower() in ("day", "days"):
        end += 1
    del words[at:end]
    return count


def _chat(request: Request) -> str:
    if request.caller.channel is not Channel.TELEGRAM:
        raise UserError(NOT_A_CHAT)
    return str(request.caller.chat_id)


def _service(request: Request) -> WatchService:
    if request.services.watches is None:
        raise UserError("Watches are not set up here.")
    return request.services.watches


def _distance(rule: WatchRule, price: float) -> str:
    """'1.7% above' the level."""
    gap = (price / rule.threshold - 1) * 100
    side = "above" if gap >= 0 else "below"
    return f"{abs(gap):.1f}% {side}"


def added_reply(added: Added, material: Material) -> Reply:
    watch, rule = added.watch, added.watch.rule
    lines = [f"👀 <b>Watch #{watch.id} set</b>: {esc(describe(rule, material))}."]
    unit = esc(material.price_unit)
    if rule.is_level:
        level, rearm = amount(rule.threshold), amount(rule.rearm_price)
        back = "above" if rule.kind is WatchKind.BELOW else "below"
        if added.price is None:
            lines.append(f"There is no {esc(material.name)} price yet.")
        elif watch.armed:
            lines.append(
                f"{esc(material.name)} is {amount(added.price.price)} {unit} now, "
                f"{_distance(rule, added.price.price)} the level."
            )
        else:
            lines.append(
                f"{esc(material.name)} is {amount(added.price.price)} {unit} now, "
                f"{rule.kind} {level} already: the watch fires at the next crossing, once the "
                f"price has been back {back} {rearm}."
            )
        if rule.once:
            lines.append(f"It alerts this chat the first time the price crosses {level}.")
        else:
            lines.append(
                f"It alerts this chat each time the price crosses {level}, and again only after "
                f"the price has been back {back} {rearm} (0.5%)."
            )
    else:
        lines.append(
            f"It alerts this chat when the price is {rule.threshold:g}% or more "
            f"{_move_way(rule)} its price {days(rule.days)} before; a larger move or twice "
            "the size is alerted again within the alerts' cool-down."
        )
    if watch.expires_at is not None:
        lines.append(f"It lasts until {moment(watch.expires_at)}.")
    if added.replaced is not None:
        lines.append(f"It takes the place of watch #{added.replaced.id}, which was over.")
    return Reply(
        "\n".join(lines),
        choices=(Button("Remove", f"/unwatch {watch.id}"), Button("All watches", "/watches")),
    )


def _move_way(rule: WatchRule) -> str:
    return {Direction.UP: "above", Direction.DOWN: "below", Direction.EITHER: "away from"}[
        rule.direction
    ]


def _state(watch: Watch, now: datetime) -> str:
    state = watch.state(now)
    rule = watch.rule
    if state is WatchState.EXPIRED and watch.expires_at is not None:
        return f"<b>expired</b> {short_date(watch.expires_at)}"
    if state is WatchState.WAITING:
        return f"waiting: arms once back {_back(rule)} {amount(rule.rearm_price)}"
    if watch.triggered_at is None:
        return "armed"
    at = f"{amount(watch.triggered_price or 0)}"
    if watch.triggered_change is not None:
        at += f", {watch.triggered_change:+.1f}%"
    fired = f"fired {moment(watch.triggered_at)} at {at}"
    if watch.finished:
        return f"{fired}; done"
    if rule.is_level and not watch.armed:
        return f"{fired}; arms again once back {_back(rule)} {amount(rule.rearm_price)}"
    return f"armed; last {fired}"


def _back(rule: WatchRule) -> str:
    return "above" if rule.kind is WatchKind.BELOW else "below"


def watch_line(listed: Listed, material: Material, caller: int, now: datetime) -> str:
    watch = listed.watch
    parts = [f"<b>#{watch.id}</b> {esc(describe(watch.rule, material))}", _state(watch, now)]
    if listed.price is not None:
        now_at = f"now {amount(listed.price.price)}"
        if watch.rule.is_level:
            now_at += f" ({_distance(watch.rule, listed.price.price)})"
        parts.append(now_at)
    if watch.expires_at is not None and not watch.expired(now):
        parts.append(f"until {short_date(watch.expires_at)}")
    parts.append("set by you" if watch.created_by == caller else f"set by {watch.created_by}")
    return " · ".join(parts)


def watch_report(listed: list[Listed], catalog: MaterialCatalog, caller: int, now: datetime) -> str:
    if not listed:
        return f"This chat watches no prices yet. Set one: {WATCH_EXAMPLES}."
    lines = [f"<b>Watches in this chat</b> ({len(listed)})"]
    lines += [watch_line(item, catalog.get(item.watch.material), caller, now) for item in listed]
    lines.append(f"<i>Remove one: {UNWATCH_USAGE}.</i>")
    return "\n".join(lines)


def removal_reply(removal: Removal, catalog: MaterialCatalog) -> Reply:
    if not removal.removed:
        others = f" {removal.kept} set by others stay: only they or an admin may remove them."
        return Reply("No watches of yours to remove here." + (others if removal.kept else ""))
    if len(removal.removed) == 1:
        watch = removal.removed[0]
        text = (
            f"Removed watch #{watch.id}: {esc(describe(watch.rule, catalog.get(watch.material)))}."
        )
    else:
        numbers = ", ".join(f"#{w.id}" for w in removal.removed)
        text = f"Removed {len(removal.removed)} watches: {numbers}."
    if removal.kept:
        text += f" {removal.kept} set by others stay: only they or an admin may remove them."
    return Reply(text, choices=(Button("Undo", f"/unwatch undo {removal.removed[0].id}"),))


async def watch(request: Request) -> Reply:
    """/watch MATERIAL above|below PRICE [once] [for Nd] | MATERIAL move PCT [DAYS] [for Nd]."""
    chat = _chat(request)
    service = _service(request)
    rule, lasts = parse_watch(request.args, request.services.catalog)
    added = await service.add(chat, rule, request.caller.user_id, lasts)
    return added_reply(added, request.services.catalog.get(rule.material))


async def watches(request: Request) -> Reply:
    """/watches: this chat's watches with their state and last trigger."""
    request.no_args("/watches")
    chat = _chat(request)
    listed = await _service(request).of_chat(chat)
    now = request.services.clock.now()
    text = watch_report(listed, request.services.catalog, request.caller.user_id, now)
    return Reply(text, refresh="/watches")


async def unwatch(request: Request) -> Reply:
    """/unwatch N | all, and /unwatch undo N (the Undo button)."""
    chat = _chat(request)
    service, caller = _service(request), request.caller
    admin = caller.role is Role.ADMIN
    words = [w.lower() for w in request.args]
    if words[:1] == ["undo"] and len(words) == 2 and _number(words[1]) is not None:
        restored = await service.restore(chat, int(words[1].lstrip("#")), caller.user_id, admin)
        if not restored:
            return Reply(
                "Nothing to bring back: that removal was not yours to undo, it was undone "
                "already, or this chat watches the same again."
            )
        catalog = request.services.catalog
        shown = "; ".join(
            f"#{w.id} {esc(describe(w.rule, catalog.get(w.material)))}" for w in restored
        )
        return Reply(f"Back again: {shown}.", choices=(Button("All watches", "/watches"),))
    if len(words) != 1:
        raise UserError(f"Which watch? Usage: {UNWATCH_USAGE}.")
    if words[0] == "all":
        removal = await service.remove(chat, None, caller.user_id, admin)
    else:
        number = _number(words[0])
        if number is None:
            raise UserError(f"'{request.args[0]}' is not a watch number. Usage: {UNWATCH_USAGE}.")
        removal = await service.remove(chat, number, caller.user_id, admin)
    return removal_reply(removal, request.services.catalog)


def _number(text: str) -> int | None:
    text = text.removeprefix("#")
    return int(text) if text.isdigit() and 0 < int(text) < 2**53 else None


COMMANDS: tuple[Command, ...] = (
    Command(
        "watch",
        WATCH_USAGE,
        "/watch copper below 9000",
        "this chat's own price alert: a level crossed, or a move of PCT% in DAYS days.",
        watch,
        writes=True,
    ),
    Command("watches", "/watches", "/watches", "this chat's watches and their state.", watches),
    Command(
        "unwatch",
        UNWATCH_USAGE,
        "/unwatch 3",
        "remove a watch (yours, or any as an admin).",
        unwatch,
        writes=True,
    ),
)
