"""Small wording rules every reply and alert shares: numbers as people read them."""

from __future__ import annotations


def percent(value: float, decimals: int = 1) -> str:
    """A signed change, thousands separated, never '-0.0%': '+9,769.0%', '-6.2%', '+0.0%'."""
    shown = round(value, decimals)
    if shown == 0:
        shown = 0.0  # -0.0 too
    return f"{shown:+,.{decimals}f}%"


ECHO_LIMIT = 40


def quoted(text: str, limit: int = ECHO_LIMIT) -> str:
    """What a user typed, as a reply repeats it: at most `limit` characters, then '...'."""
    return text if len(text) <= limit else text[:limit] + "..."


def plural(count: float, word: str, plural_form: str | None = None) -> str:
    """'1 day', '2 days', '0 days' (a count shown without decimals)."""
    shown = f"{count:,.0f}"
    return f"{shown} {word if shown == '1' else plural_form or word + 's'}"
