"""What a material's key, name, unit, currency and aliases may be (for /material and files)."""

from __future__ import annotations

import re

from core.errors import UserError

KEY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
UNIT = re.compile(r"^[^\s\d,;:]{1,10}$")
NAME_LIMIT = 64


def check_key(text: str) -> str:
    key = text.strip().lower()
    if not KEY.match(key):
        raise UserError(
            f"'{text}' is not a material key: a lower-case word of up to 32 letters, digits, "
            "- or _, starting with a letter, e.g. copper or steel-rebar."
        )
    return key


def check_name(text: str) -> str:
    name = " ".join(text.split())
    if not name or len(name) > NAME_LIMIT:
        raise UserError(f"A material's name has 1 to {NAME_LIMIT} characters, got '{text}'.")
    return name


def check_unit(text: str) -> str:
    unit = text.strip()
    if not UNIT.match(unit):
        raise UserError(f"'{text}' is not a unit: use a short word such as t, kg, lb or pcs.")
    return unit


def check_currency(text: str) -> str:
    currency = text.strip().upper()
    if not CURRENCY.match(currency):
        raise UserError(f"'{text}' is not a currency: use its three-letter code, e.g. USD or EUR.")
    return currency


def split_aliases(text: str) -> tuple[str, ...]:
    """'cu, copper cathode' -> ('cu', 'copper cathode'); separated by commas or semicolons."""
    names = [" ".join(part.split()) for part in re.split(r"[,;]", text)]
    return tuple(dict.fromkeys(name for name in names if name))
