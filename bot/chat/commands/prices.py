"""/prices (admins, in a private chat): feed prices held as implausible, accepted or dropped;
a bad stored price deleted."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.chat.request import Command, Request
from bot.formatting import Reply, amount, esc, held_prices_line, held_report, moment
from core.errors import UserError
from core.wording import quoted

PRICES_USAGE = (
    "Usage: /prices, /prices accept MATERIAL, /prices drop MATERIAL or "
    "/prices delete MATERIAL TIME (TIME in UTC, e.g. 2026-11-24T14:05)"
)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLOCK = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?$")
_SECONDS = re.compile(r"^\d{1,2}:\d{2}:\d{2}")


def parse_moment(words: tuple[str, ...]) -> tuple[datetime, timedelta]:
    """A time an admin typed ('2026-11-24T14:05', '2026-11-24 14:05:17', '2026-11-24'; UTC
    unless it says otherwise) and how precise it is: a day, a minute or a second."""
    text = "T".join(words)
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"'{quoted(' '.join(words))}' is not a time: write it as 2026-11-24T14:05 (UTC)."
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    clock = text.partition("T")[2]
    if not clock:
        span = timedelta(days=1)
    elif _SECONDS.match(clock):
        span = timedelta(seconds=1)
    else:
        span = timedelta(minutes=1)
    return at.astimezone(UTC), span


def _split_time(words: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(material words, time words): the time is the last word, or the last two when they
    are a day and a clock time."""
    if len(words) >= 3 and _DAY.match(words[-2]) and _CLOCK.match(words[-1]):
        return words[:-2], words[-2:]
    return words[:-1], words[-1:]


async def prices(request: Request) -> Reply:
    """/prices [accept MATERIAL | drop MATERIAL | delete MATERIAL TIME]: feed prices held as
    implausible, accepted or dropped; a bad stored price removed (admins)."""
    request.private_only("/prices")
    guard = request.services.price_guard
    if guard is None:
        return Reply("Feed prices are not checked here, so none are held.")
    if not request.args:
        return Reply(held_report(await guard.all_held(), guard.max_jump_pct), refresh="/prices")
    action, rest = request.args[0].lower(), request.args[1:]
    if action in ("accept", "drop"):
        material = request.material(f"/prices {action} MATERIAL", rest)
        if action == "accept":
            held = await guard.accept(material)
            done = f"Accepted {len(held.points)} held {esc(material.name)} prices"
            then = f"/price {material.key} shows them now."
        else:
            held = await guard.drop(material)
            done = f"Dropped {len(held.points)} held {esc(material.name)} prices"
            then = "They will not be stored."
        if not held.points:
            return Reply(f"No {esc(material.name)} prices are held. /prices lists what is.")
        return Reply(f"{done} ({held_prices_line(held)}). {then}")
    if action == "delete":
        material_words, time_words = _split_time(rest)
        if not material_words:
            raise UserError(f"Which material and time? {PRICES_USAGE}")
        material = request.material("/prices delete MATERIAL TIME", material_words)
        at, span = parse_moment(time_words)
        point = await guard.delete(material, at, span)
        latest = (await request.services.prices.summary(material)).latest
        now = (
            f" It now shows {amount(latest.price)} {esc(material.price_unit)} "
            f"({moment(latest.at)})."
            if latest is not None
            else ""
        )
        return Reply(
            f"Deleted the {esc(material.name)} price of {amount(point.price)} "
            f"{esc(material.price_unit)} stored at {point.at:%Y-%m-%d %H:%M:%S} UTC.{now} "
            "Forecasts leave it out from their next retrain."
        )
    raise UserError(f"Unknown /prices action '{quoted(request.args[0])}'. {PRICES_USAGE}")


COMMANDS: tuple[Command, ...] = (
    Command(
        "prices",
        "/prices [accept MATERIAL | drop MATERIAL | delete MATERIAL TIME]",
        "/prices accept copper",
        "feed prices held as implausible: accept or drop them; delete a bad stored price (admins).",
        prices,
        admin_only=True,
        writes=True,
    ),
)
