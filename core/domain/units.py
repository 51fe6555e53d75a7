"""Quantities as people type them: `5`, `5t`, `5 t`, `2.5`, `2,500 kg`, `500kg`, `1,200 lb`,
converted to the material's unit.

Numbers take a dot as the decimal point and commas between groups of three digits (`2,500`);
a single comma followed by one or two digits is a decimal comma (`12,5` is 12.5). Masses
convert between tonnes, kilograms and pounds; a material in another unit (pieces, metres)
takes a bare number or its own unit.
"""

from __future__ import annotations

import math
import re

from core.errors import UserError

# How many kilograms one of each unit is; every spelling maps to its unit's symbol.
_KILOGRAMS = {"t": 1000.0, "kg": 1.0, "lb": 0.45359237, "g": 0.001}
_SPELLINGS = {
    "t": "t",
    "mt": "t",
    "tonne": "t",
    "tonnes": "t",
    "kg": "kg",
    "kgs": "kg",
    "kilo": "kg",
    "kilos": "kg",
    "kilogram": "kg",
    "kilograms": "kg",
    "lb": "lb",
    "lbs": "lb",
    "pound": "lb",
    "pounds": "lb",
    "g": "g",
    "gram": "g",
    "grams": "g",
}
_NUMBER = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^\d*\.\d+$|^\d+,\d{1,2}$")
_QUANTITY = re.compile(r"^\s*([0-9][0-9.,]*|\.[0-9]+)\s*([^\d\s].*)?$")


class BadQuantity(UserError):
    """A quantity that cannot be read or converted; the message says what works."""


def parse_number(text: str) -> float:
    """'2,500' -> 2500.0, '2.5' -> 2.5, '12,5' -> 12.5; raises ValueError otherwise."""
    cleaned = text.strip()
    if not _NUMBER.match(cleaned):
        raise ValueError(text)
    if re.fullmatch(r"\d+,\d{1,2}", cleaned):
        return float(cleaned.replace(",", "."))
    return float(cleaned.replace(",", ""))


def unit_symbol(text: str) -> str | None:
    """The symbol of a unit as people spell it ('Tonnes' -> 't'), None if unknown."""
    return _SPELLINGS.get(text.strip().lower().rstrip("."))


def convert(value: float, unit: str, to: str) -> float:
    """`value` in `unit` expressed in `to`; both must be known masses or the same unit."""
    source, target = unit_symbol(unit) or unit.lower(), unit_symbol(to) or to.lower()
    if source == target:
        return value
    if source in _KILOGRAMS and target in _KILOGRAMS:
        return value * _KILOGRAMS[source] / _KILOGRAMS[target]
    raise BadQuantity(f"{unit} cannot be converted to {to}.")


def examples(unit: str) -> str:
    """What a quantity in `unit` may look like, for error messages."""
    symbol = unit_symbol(unit)
    if symbol in _KILOGRAMS:
        return "5, 5t, 2.5 t, 2,500 kg or 1,200 lb"
    return f"5, 2.5 or 5 {unit}"


def parse_quantity(text: str, unit: str) -> float:
    """The quantity `text` names, in `unit` (the material's). Raises BadQuantity naming what
    works for anything else: no number, an unknown unit, a unit that does not convert, a
    negative or non-finite amount."""
    match = _QUANTITY.match(text)
    hint = f"write the quantity as {examples(unit)}"
    if match is None:
        raise BadQuantity(f"'{text.strip()}' is not a quantity: {hint}.")
    number_text, unit_text = match.group(1), (match.group(2) or "").strip()
    try:
        value = parse_number(number_text)
    except ValueError:
        raise BadQuantity(f"'{text.strip()}' is not a quantity: {hint}.") from None
    if not math.isfinite(value):
        raise BadQuantity(f"'{text.strip()}' is not a quantity: {hint}.")
    if not unit_text:
        return value
    given = unit_symbol(unit_text)
    own = unit_symbol(unit) or unit.lower()
    if given is None and unit_text.lower() != unit.lower():
        raise BadQuantity(f"'{unit_text}' is not a unit I know: {hint}.")
    given = given or own
    if given == own:
        return value
    if given in _KILOGRAMS and own in _KILOGRAMS:
        return convert(value, given, own)
    raise BadQuantity(f"{unit_text} cannot be converted to {unit}: {hint}.")
