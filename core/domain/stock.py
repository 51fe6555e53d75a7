"""The stock ledger: moves are appended, never changed; on hand and daily use come from them.

- A receipt adds its quantity, a use takes it away, and a count (a stock-take) says what is
  there: on hand becomes the counted quantity, and the difference from what the ledger
  expected is recorded with it.
- Undo appends a move that names the move it takes back (`undoes`). A move taken back and the
  move taking it back both leave the *effective* ledger, which is what on hand, daily use and
  exports are made of.
- On hand is the last effective count (by time, then id) plus the receipts and minus the uses
  after it (zero before any count).
- Daily use comes from recorded uses once they span at least `MIN_USE_DAYS` days (days
  without a use count as zero), otherwise from the configured figure.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from core.domain.actors import Source

UNDO_WINDOW = timedelta(minutes=10)
CONFIRM_WINDOW = timedelta(minutes=10)
MIN_USE_DAYS = 14
USE_HISTORY_DAYS = 90
# A use of more than this many days of use at once is probably a typo.
LARGE_USE_DAYS = 10
# A count further than this from the expected stock is probably a typo: the larger of a share
# of the expected stock and a number of days of use.
COUNT_TOLERANCE_SHARE = 0.25
COUNT_TOLERANCE_DAYS = 5


class MoveKind(StrEnum):
    RECEIVE = "receive"
    USE = "use"
    COUNT = "count"


@dataclass(frozen=True)
class NewMove:
    """A move about to be recorded; `quantity` is in the material's unit (a count: what was
    counted). `difference` is the count's difference from the expected stock."""

    material: str
    kind: MoveKind
    quantity: float
    at: datetime
    source: Source
    user_id: int | None = None
    user_name: str | None = None
    chat_id: int | None = None
    reference: str | None = None
    note: str | None = None
    difference: float | None = None
    undoes: int | None = None
    import_id: int | None = None


@dataclass(frozen=True)
class StockMove(NewMove):
    """A recorded move, with its id; `undone_by` is the id of the move that took it back."""

    id: int = 0
    undone_by: int | None = None

    @property
    def effective(self) -> bool:
        return self.undoes is None and self.undone_by is None


def change_of(kind: MoveKind, quantity: float) -> float:
    """What a receipt or a use does to on hand (a count sets it instead)."""
    if kind is MoveKind.RECEIVE:
        return quantity
    if kind is MoveKind.USE:
        return -quantity
    raise ValueError("a count sets on hand; it has no change of its own")


def on_hand(moves: Iterable[StockMove]) -> float:
    """On hand after the effective `moves` (of one material), replayed in time order."""
    level = 0.0
    for move in sorted((m for m in moves if m.effective), key=lambda m: (m.at, m.id)):
        level = (
            move.quantity
            if move.kind is MoveKind.COUNT
            else level + change_of(move.kind, move.quantity)
        )
    return level


def daily_series(recorded: Sequence[tuple[date, float]], today: date) -> list[float]:
    """The use of each day from the first recorded day to yesterday, zero where none was
    recorded; today's use is left out until the day is over."""
    days = {day: quantity for day, quantity in recorded if day < today}
    if not days:
        return []
    first = min(days)
    return [days.get(first + timedelta(days=i), 0.0) for i in range((today - first).days)]


@dataclass(frozen=True)
class Usage:
    """Daily use and its spread, and where they come from."""

    daily: float
    spread: float | None
    days: int  # days of recorded use behind it (0: the configured figure)

    @property
    def recorded(self) -> bool:
        return self.days > 0

    @property
    def basis(self) -> str:
        if self.recorded:
            return f"recorded use over {self.days} days"
        return "configured figure"


def usage(daily_use: Sequence[float], configured: float) -> Usage:
    """From recorded daily use when it spans at least MIN_USE_DAYS days, else configured."""
    if len(daily_use) >= MIN_USE_DAYS:
        return Usage(statistics.fmean(daily_use), statistics.stdev(daily_use), len(daily_use))
    return Usage(configured, None, 0)


def doubt(kind: MoveKind, quantity: float, expected: float, daily: float) -> str | None:
    """Why this move looks like a typo (to be confirmed first), or None.

    A use of more than is on hand or of more than LARGE_USE_DAYS days of use at once; a count
    further from the expected stock than the tolerance."""
    if kind is MoveKind.USE:
        if quantity > expected:
            return "that is more than the stock on hand"
        if daily > 0 and quantity > LARGE_USE_DAYS * daily:
            return f"that is more than {LARGE_USE_DAYS} days of use at once"
        return None
    if kind is MoveKind.COUNT:
        tolerance = max(COUNT_TOLERANCE_SHARE * abs(expected), COUNT_TOLERANCE_DAYS * daily)
        if tolerance > 0 and abs(quantity - expected) > tolerance:
            return "that is far from the expected stock"
    return None


def with_differences(existing: Sequence[StockMove], new: Sequence[NewMove]) -> list[NewMove]:
    """The new moves (appended after the existing ones), each count with its difference from
    the stock the ledger expects at its time: the effective existing moves and the new ones
    before it, replayed in time order."""
    result = list(new)
    if not any(m.kind is MoveKind.COUNT for m in new):
        return result
    # Merged rather than sorted as one list: a file is usually in time order already, and a
    # merge keeps no thread from running for long (a sort of a large list holds the GIL).
    before = sorted(((m.at, 0, m.id, m) for m in existing if m.effective), key=_first_three)
    order: Sequence[int] = range(len(new))
    if any(new[i].at > new[i + 1].at for i in range(len(new) - 1)):
        order = sorted(order, key=lambda i: new[i].at)
    added = ((new[i].at, 1, i, new[i]) for i in order)
    levels: dict[str, float] = {}
    for _, is_new, index, move in heapq.merge(before, added, key=_first_three):
        level = levels.get(move.material, 0.0)
        if move.kind is MoveKind.COUNT:
            if is_new:
                result[index] = replace(move, difference=move.quantity - level)
            levels[move.material] = move.quantity
        else:
            levels[move.material] = level + change_of(move.kind, move.quantity)
    return result


def _first_three(entry: tuple[datetime, int, int, NewMove]) -> tuple[datetime, int, int]:
    return entry[:3]


def move_key(move: NewMove) -> tuple[str, str, datetime, float, str | None, str | None]:
    """What makes two moves the same move (an import of rows already in the ledger)."""
    return (move.material, move.kind.value, move.at, move.quantity, move.reference, move.note)
