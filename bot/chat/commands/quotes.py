"""/quote: recording a vendor's quote from a phone."""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.chat.request import Command, Request
from bot.formatting import Reply, amount, esc, short_date
from core.access import Permission
from core.domain.imports import RowError, parse_breaks
from core.domain.quotes import QuoteTerms
from core.domain.units import BadQuantity, parse_number, parse_quantity, unit_symbol
from core.errors import UserError
from core.models import Material
from core.services.quotes import RecordedQuote

USAGE = (
    '/quote MATERIAL "VENDOR" PRICE [CUR] [delivery Nd] [min Q] [pack Q] '
    "[valid Nd | until DATE] [rating R] [breaks Q:P,...]"
)
EXAMPLE = '/quote copper "Nordic Copper AB" 9,150 delivery 10d min 25t valid 30d rating 4.5'
# Phones turn straight quotes into curly ones.
_QUOTES = {'"': '"', "“": "”", "„": "“", "”": "”", "«": "»"}
_DAYS = re.compile(r"^(\d+)\s*(?:d|days?)?$", re.IGNORECASE)
_KEYWORDS = {"delivery", "min", "pack", "valid", "until", "rating", "breaks"}


def words_of(text: str) -> list[tuple[str, bool]]:
    """Words, and phrases in quotes as one word: [(word, was it quoted?)]."""
    words: list[tuple[str, bool]] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
            continue
        if char in _QUOTES:
            closing = {_QUOTES[char], char, "”", "“", '"'}
            end = next((i for i in range(index + 1, len(text)) if text[i] in closing), None)
            if end is None:
                raise UserError(f"A quote mark is not closed. Usage: {USAGE}")
            words.append((text[index + 1 : end].strip(), True))
            index = end + 1
            continue
        end = index
        while end < len(text) and not text[end].isspace():
            end += 1
        words.append((text[index:end], False))
        index = end
    return words


def parse_quote(request: Request) -> QuoteTerms:
    """The quote the command's words describe; raises UserError naming what is wrong."""
    words = words_of(" ".join(request.args))
    catalog = request.services.catalog
    if not words:
        raise UserError(f"Usage: {USAGE}, e.g. {EXAMPLE}")
    quoted = next((i for i, (_, was_quoted) in enumerate(words) if was_quoted), None)
    if quoted is None:
        if len(words) < 3:
            raise UserError(f"Which vendor and price? Usage: {USAGE}")
        material_words, vendor, rest = [words[0][0]], words[1][0], words[2:]
    else:
        material_words, vendor, rest = (
            [w for w, _ in words[:quoted]],
            words[quoted][0],
            words[quoted + 1 :],
        )
    if not material_words:
        raise UserError(f"Which material? Usage: {USAGE}")
    material = catalog.resolve(" ".join(material_words))
    if not vendor:
        raise UserError(f"Which vendor? Usage: {USAGE}")
    tokens = [w for w, _ in rest]
    if not tokens:
        raise UserError(f"What price did {vendor} quote? Usage: {USAGE}")
    price = _price(tokens.pop(0), material)
    terms: dict[str, object] = {}
    if tokens and re.fullmatch(r"[A-Za-z]{3}", tokens[0]) and tokens[0].lower() not in _KEYWORDS:
        terms["currency"] = tokens.pop(0).upper()
    while tokens:
        keyword = tokens.pop(0).lower()
        if keyword not in _KEYWORDS:
            raise UserError(f"'{keyword}' is not part of a quote. Usage: {USAGE}")
        if not tokens:
            raise UserError(f"{keyword} needs a value. Usage: {USAGE}")
        value = tokens.pop(0)
        if keyword in ("min", "pack") and tokens and unit_symbol(tokens[0]) is not None:
            value += " " + tokens.pop(0)
        while keyword == "breaks" and tokens and (":" in tokens[0] or tokens[0] == ","):
            value += tokens.pop(0)  # "50:9100, 100:9000" typed with spaces
        if keyword == "delivery":
            terms["delivery_days"] = _days(value, "delivery")
        elif keyword == "min":
            terms["min_order_qty"] = _quantity(value, material, "min")
        elif keyword == "pack":
            terms["pack_size"] = _quantity(value, material, "pack")
        elif keyword == "valid":
            today = request.services.clock.now().date()
            terms["valid_until"] = today + timedelta(days=_days(value, "valid"))
        elif keyword == "until":
            terms["valid_until"] = _date(value)
        elif keyword == "rating":
            terms["rating"] = _rating(value)
        else:
            try:
                terms["breaks"] = parse_breaks(value, material.unit)
            except RowError as error:
                raise UserError(f"{str(error).capitalize()}.") from None
    return QuoteTerms(vendor, material.key, price, **terms)  # type: ignore[arg-type]


def _price(text: str, material: Material) -> float:
    try:
        price = parse_number(text)
    except ValueError:
        raise UserError(
            f"'{text}' is not a price: write it as a number in {material.currency} per "
            f"{material.unit}, e.g. 9,150 or 9150.50. Usage: {USAGE}"
        ) from None
    if price <= 0:
        raise UserError(f"The price must be above 0, got {text}.")
    return price


def _days(text: str, keyword: str) -> int:
    match = _DAYS.match(text)
    if match is None:
        raise UserError(f"{keyword} takes a number of days, like {keyword} 14d; got '{text}'.")
    return int(match.group(1))


def _quantity(text: str, material: Material, keyword: str) -> float:
    try:
        value = parse_quantity(text, material.unit)
    except BadQuantity as error:
        raise UserError(f"{keyword}: {error}") from None
    if value <= 0:
        raise UserError(f"{keyword} must be above 0, got {text}.")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"until takes a date like 2026-12-31, got '{text}'.") from None


def _rating(text: str) -> float:
    try:
        rating = float(text.replace(",", "."))
    except ValueError:
        rating = -1.0
    if not 0 <= rating <= 5:
        raise UserError(f"rating is a number from 0 to 5, like rating 4.5; got '{text}'.")
    return rating


async def quote(request: Request) -> Reply:
    """/quote MATERIAL "VENDOR" PRICE ...: records a vendor's quote."""
    terms = parse_quote(request)
    recorded = await request.services.quotes.record(request.caller.actor(), terms)
    return Reply(quote_reply(recorded, request.services.catalog.get(terms.material)))


def quote_reply(recorded: RecordedQuote, material: Material) -> str:
    q = recorded.quote
    unit = esc(material.unit)
    parts = [
        f"{amount(q.price)} {esc(q.currency)}/{unit}",
        f"delivery {q.delivery_days} days",
        f"rating {q.rating:g}",
    ]
    if q.min_order_qty is not None:
        parts.append(f"min {amount(q.min_order_qty)} {unit}")
    if q.pack_size is not None:
        parts.append(f"pack {amount(q.pack_size)} {unit}")
    if q.valid_until is not None:
        parts.append(f"valid to {short_date(q.valid_until)} {q.valid_until:%Y}")
    if q.breaks:
        parts.append(
            "breaks " + ", ".join(f"{amount(b.quantity)}+ {amount(b.price)}" for b in q.breaks)
        )
    text = f"Quote recorded: <b>{esc(q.vendor)}</b>, {esc(material.name)}: " + " · ".join(parts)
    previous = recorded.superseded
    if previous is not None:
        text += (
            f"\nIt replaces their quote of {amount(previous.price)} {esc(previous.currency)}"
            + (f" from {short_date(previous.quoted_at)}" if previous.quoted_at else "")
            + ", which stays in the history."
        )
    if recorded.assumed:
        text += f"\n<i>Not given, so assumed: {esc('; '.join(recorded.assumed))}.</i>"
    return text + f"\n/vendors {esc(material.key)} ranks them."


COMMANDS: tuple[Command, ...] = (
    Command(
        "quote",
        USAGE,
        EXAMPLE,
        "record a vendor's quote; it replaces their previous one.",
        quote,
        needs=Permission.RECORD,
        writes=True,
    ),
)
