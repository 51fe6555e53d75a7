"""The ports purchasing needs (core/services/purchasing.py); adapters implement them.

`PurchaseRepo` is on the SQL unit of work (core/adapters/db/unit_of_work.py) next to the other
repositories; `PurchasingWork` is that unit of work as purchasing sees it. The rest are small
views of other parts of the bot (stock figures, vendor quotes, forecasts, roles, the outbox,
the alert monitor), each in the shape purchasing reads it; core/services/purchasing_wiring.py
has the adapters."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol

from core.domain.purchasing import (
    Notice,
    PriceOutlook,
    Purchase,
    PurchaseState,
    Quote,
    StockPosition,
)
from core.models import Alert, Material
from core.ports import PendingActionRepo, StateStore


class PurchaseRepo(Protocol):
    async def add(self, purchase: Purchase) -> Purchase:
        """Stores a new purchase; returns it with its id."""
        ...

    async def get(self, purchase_id: int) -> Purchase | None: ...

    async def by_po_number(self, number: str) -> Purchase | None:
        """The order with this number (as stored: 'PO-2026-0001')."""
        ...

    async def save(self, purchase: Purchase, was: PurchaseState) -> bool:
        """Stores the purchase's changes if it is still in state `was`; False when it is not
        any more (another approver, or a second tap, moved it first): nothing is changed."""
        ...

    async def next_sequence(self, year: int) -> int:
        """The sequence of the next PO number of `year` (1 for the year's first order)."""
        ...

    async def in_states(
        self, states: Collection[PurchaseState], material: str | None = None
    ) -> list[Purchase]:
        """The purchases in these states (of one material, or all), oldest first."""
        ...

    async def ordered_between(self, start: datetime, end: datetime) -> list[Purchase]:
        """The purchases that became orders at or after `start` and before `end`, in any
        state since, oldest first."""
        ...

    async def recent(self, limit: int) -> list[Purchase]:
        """The newest purchases first, whatever their state."""
        ...


class PurchasingWork(Protocol):
    """One use case's writes (core.ports.UnitOfWork, as purchasing sees it): committed together
    when the `async with` block ends normally, rolled back together when it raises. The other
    ports' writes (a receipt in the stock ledger, a notice in the outbox) join the unit of work
    open in the same task. Reads may use the repositories without entering it."""

    @property
    def purchases(self) -> PurchaseRepo: ...

    @property
    def state(self) -> StateStore: ...

    @property
    def pending(self) -> PendingActionRepo: ...

    async def __aenter__(self) -> PurchasingWork: ...

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class StockFigures(Protocol):
    async def position(self, material: Material) -> StockPosition | None:
        """On hand, daily use, safety stock and lead time (None: no stock is recorded)."""
        ...


class QuoteSource(Protocol):
    async def quotes(self, material: str) -> Sequence[Quote]:
        """Each vendor's current quote for the material, expired ones included."""
        ...


class Outlooks(Protocol):
    async def outlook(self, material: str) -> PriceOutlook | None:
        """Today's price and the calibrated forecast at the horizon (None: no forecast)."""
        ...


class ApproverDirectory(Protocol):
    async def approvers(self) -> Sequence[int]:
        """The user ids of every approver and admin."""
        ...


class PurchaseNotices(Protocol):
    """The outbox, for purchasing's messages to one chat."""

    async def post(self, notice: Notice) -> None:
        """Queues the notice, in the unit of work open in this task: it is sent (with its
        buttons, by kind) once that commits, and a crash loses none."""
        ...


class AlertRaiser(Protocol):
    """The alert monitor, for PO_OVERDUE: records the alert for every subscriber unless its
    cool-down holds it back (core.monitoring.AlertMonitor.raise_alert)."""

    async def raise_alert(self, candidate: Alert) -> Alert | None: ...
