"""Errors whose message is meant for the person who asked."""

from __future__ import annotations

from core.wording import quoted


class UserError(Exception):
    """A request that cannot be answered as asked; the message (plain text) says what would work."""


class UnknownMaterial(UserError):
    """The text names no tracked material."""

    def __init__(self, text: str, known: list[str], suggestion: str | None) -> None:
        hint = f" Did you mean {suggestion}?" if suggestion else ""
        super().__init__(
            f"Unknown material '{quoted(text)}'.{hint} Known materials: {', '.join(known)}."
        )
        self.text = text
        self.known = known
        self.suggestion = suggestion


class FeedError(Exception):
    """A price feed could not be read at all (unreachable, an error status, not the expected
    format). The message says why, and never contains a secret (API keys, headers)."""
