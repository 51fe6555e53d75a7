"""Actions waiting for a person's answer (Confirm / Cancel, Import / Cancel): kept in the
database, so that a restart loses none and the answer can come from any bot process.

    pending --answered by its owner (or an admin) in time--> done
            \\--cancelled----------------------------------> cancelled
    (a pending action past `expires_at` can no longer be answered)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class PendingKind(StrEnum):
    MOVE = "move"  # a stock move that looked like a typo, to be confirmed
    IMPORT = "import"  # a checked file, to be imported
    ORDER = "order"  # a suggested purchase order, to be requested (its Request button)
    REASON = "reason"  # a rejection of a purchase request, waiting for its reason
    CANCEL = "cancel"  # a purchase order to be cancelled, once confirmed

    @property
    def by_whom(self) -> str:
        """How its owner is named: purchasing's actions were asked for, the rest sent."""
        purchasing = (PendingKind.ORDER, PendingKind.REASON, PendingKind.CANCEL)
        return "asked for it" if self in purchasing else "sent it"

    @property
    def again(self) -> str:
        """What to send again once it has expired."""
        return "/order" if self is PendingKind.ORDER else "it"


class PendingState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PendingAction:
    """An action waiting for an answer; `payload` is what to do (JSON-ready values), `data`
    what goes with it when that is large (the checked rows of a file, as JSON lines), kept
    as text so that storing it costs no encoding."""

    kind: PendingKind
    payload: dict[str, Any]
    user_id: int | None
    chat_id: int | None
    created_at: datetime
    expires_at: datetime
    state: PendingState = PendingState.PENDING
    id: int = 0
    data: str | None = None

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at
