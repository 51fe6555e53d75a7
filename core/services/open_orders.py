"""Purchase orders as the rest of the bot sees them: what open orders bring (/stock and
LOW_INVENTORY read `arrivals`, budgets `inbound`, the digest `lines`) and receipts booked against
them in the stock ledger (`/receive MATERIAL QTY po PO-2026-0001`: the ledger asks to check a
receipt, to count it on its order and to take it off again when it is undone, in the receipt's
own unit of work). A reference that is not one of our PO numbers concerns no order: the
buyer's own references ('po 4711') stay plain text on the stock move."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime

from core.alert_rules import amount
from core.domain.purchasing import (
    OPEN_ORDER_STATES,
    Inbound,
    Purchase,
    open_order_sort_key,
    parse_po_number,
)
from core.domain.stock import MoveKind, StockMove
from core.errors import UserError
from core.materials import MaterialCatalog
from core.models import Material
from core.ports import Clock
from core.ports_purchasing import PurchasingWork
from core.wording import plural

log = logging.getLogger(__name__)

# Open orders due within this many days go into the digest.
DUE_SOON_DAYS = 7


class OpenOrders:
    """Implements InboundOrders, OrdersDue and OrderReceipts (core/ports.py) over the
    purchases."""

    def __init__(
        self, catalog: MaterialCatalog, unit_of_work: Callable[[], PurchasingWork], clock: Clock
    ) -> None:
        self._catalog = catalog
        self._uow = unit_of_work
        self._clock = clock

    async def arrivals(self, material: str) -> list[Inbound]:
        today = self._clock.now().date()
        orders = await self._uow().purchases.in_states(OPEN_ORDER_STATES, material)
        return sorted(
            (i for p in orders if (i := p.inbound(today)) is not None), key=lambda i: i.due
        )

    async def inbound(self, material: str, until: date) -> float:
        return sum(i.quantity for i in await self.arrivals(material) if i.due <= until)

    async def lines(self, chat: str, now: datetime) -> list[str]:
        """Open orders due within DUE_SOON_DAYS or overdue, soonest first, one line each."""
        today = now.date()
        orders = await self._uow().purchases.in_states(OPEN_ORDER_STATES)
        due = [
            p
            for p in sorted(orders, key=lambda p: open_order_sort_key(p, today))
            if p.expected is not None and (p.expected - today).days <= DUE_SOON_DAYS
        ]
        lines = []
        for purchase in due:
            name = self._catalog.get(purchase.material).name
            late = purchase.days_late(today)
            when_due = (
                f"{plural(late, 'day')} overdue" if late else f"due {_day(purchase.expected)}"
            )
            lines.append(
                f"{purchase.po_number} {name}: {amount(purchase.outstanding)} {purchase.unit} "
                f"from {purchase.vendor}, {when_due}"
            )
        return lines

    # --- receipts against an order (OrderReceipts) ------------------------------------------

    async def check_receipt(
        self, material: Material, quantity: float, reference: str | None
    ) -> str | None:
        """Refuses a receipt no order can take; says why one above what the order still
        brings should be confirmed first."""
        purchase = await self._order_of(material, reference)
        if purchase is None:
            return None
        outstanding = purchase.outstanding
        if quantity > outstanding + 1e-9:
            over = amount(quantity - outstanding)
            return (
                f"that is {over} {purchase.unit} more than {purchase.po_number} still brings "
                f"({amount(outstanding)} {purchase.unit})"
            )
        return None

    async def receipt_booked(self, move: StockMove) -> Purchase | None:
        """Counts a booked receipt on the order its reference names."""
        if move.kind is not MoveKind.RECEIVE:
            return None
        material = self._catalog.get(move.material)
        async with self._uow() as uow:
            purchase = await self._order_of(material, move.reference)
            if purchase is None:
                return None
            received = purchase.receive(move.quantity, move.at)
            await save_purchase(uow, received, purchase)
        log.info(
            "%s: %s %s received (move #%s), %s",
            received.po_number,
            amount(move.quantity),
            received.unit,
            move.id,
            received.state.label,
        )
        return received

    async def receipt_undone(self, move: StockMove) -> Purchase | None:
        """Takes an undone receipt off its order again."""
        if move.kind is not MoveKind.RECEIVE or parse_po_number(move.reference or "") is None:
            return None
        async with self._uow() as uow:
            purchase = await uow.purchases.by_po_number((move.reference or "").upper())
            if purchase is None:
                return None
            corrected = purchase.unreceive(move.quantity)
            await save_purchase(uow, corrected, purchase)
        return corrected

    async def _order_of(self, material: Material, reference: str | None) -> Purchase | None:
        """The open order `reference` names (None: it names none of ours); raises UserError
        for one that does not exist, is not open or is another material's."""
        if reference is None or parse_po_number(reference) is None:
            return None
        number = reference.strip().upper()
        purchase = await self._uow().purchases.by_po_number(number)
        if purchase is None:
            raise UserError(f"There is no order {number}. /orders lists the open ones.")
        if purchase.material != material.key:
            raise UserError(
                f"{number} is for {self._catalog.get(purchase.material).name}, not {material.name}."
            )
        if not purchase.state.is_open_order:
            raise UserError(
                f"{number} is {purchase.state.label}: only an open order can be received "
                f"against. Leave out 'po {number}' to book the delivery on its own."
            )
        return purchase


def _day(day: date | None) -> str:
    return "-" if day is None else f"{day.day} {day:%b}"


async def save_purchase(uow: PurchasingWork, changed: Purchase, read: Purchase) -> None:
    """Stores `changed` if the purchase is still in the state it was `read` in; otherwise
    someone else changed it meanwhile (a second tap, another approver) and nothing is stored."""
    if not await uow.purchases.save(changed, read.state):
        raise UserError(
            f"{read.title} changed while this was being done: /orders shows where it stands now."
        )
