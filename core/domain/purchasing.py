"""Purchasing as pure rules: how much to order and from whom, the price risk of waiting, a
purchase from request to receipt, its approval, and what the month's orders earned.

States of one purchase (a request that may become a purchase order), kept in the database:

    requested --approve--> approved --order--> ordered --receive all--> received      (final)
       |  |                                     |  |                       ^
       |  '--reject, with a reason--> rejected  |  '--receive part--> partially received
       |                              (final)   |        (more parts: stays there)  |  |
       '--cancel--> cancelled (final) <--cancel-'<--cancel the rest-----------------'  |
                                                           receive the rest --------'

- `requested`: waiting for an approver. A request whose total is at or below the approval
  limit does not wait: it is approved (by nobody: `approved_by` is None) and ordered at once.
- `approved` -> `ordered` happen in the same unit of work: the order gets its number
  (PO-2026-0001, counted per year), its expected arrival (approval day + the vendor's delivery
  days), and the market price and the advice of that moment (`market_price`, `advice`), which
  the monthly report compares it with.
- Receipts add up in `received`. Below the ordered quantity the order is `partially received`
  and the rest stays open; at or above it the order is `received`. A receipt above what is
  still outstanding is confirmed first (by the service: a typo would distort the stock).
- `cancel`: a request by its requester or an admin; an order (or what is left of a partially
  received one: the vendor will not send the rest) likewise. What was received stays received.
- `rejected`, `cancelled` and `received` are final. One correction reaches back: a receipt
  taken back with its Undo button (the stock ledger's, within its 10 minutes) takes its
  quantity off the order again, so a received order is partially received or ordered once
  more (a cancelled one stays cancelled, with less received).

Approval (four eyes): above the limit, only an approver or an admin who is not the requester
may approve or reject. The limit is an amount in the material's currency (APPROVAL_LIMIT,
default 0: every purchase needs an approver). A request still waiting after the reminder time
(APPROVAL_REMIND_HOURS) is posted once more, and only once.
"""

from __future__ import annotations

import calendar
import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from statistics import NormalDist
from typing import Protocol

from core.errors import UserError
from core.models import Advice, Severity

ORDER_REVIEW_DAYS = 7
# The StateStore key of the approval room's chat id (empty: no room, approvers privately).
APPROVAL_ROOM = "purchasing.approval_room"
# who last set or closed the approval room, and when ("Olga, 26 Nov 2026 09:14 UTC")
APPROVAL_ROOM_CHANGED = "purchasing.approval_room.changed"
APPROVAL_REMIND_AFTER = timedelta(hours=24)
# core.models.Role values: who may request and receive purchases, and who may decide on them.
BUYING_ROLES = frozenset({"buyer", "approver", "admin"})
APPROVING_ROLES = frozenset({"approver", "admin"})
ADMIN_ROLE = "admin"

# Quantities and money are floats: compare them with a little slack, so that 3 x 0.1 t is
# 0.3 t, and 100 t at 9.80 is not above a limit of 980.
_SLACK = 1e-9
_MONEY_SLACK = 1e-6


class PriceBreakTerms(Protocol):
    """A lower unit price from an order quantity on (core.models.PriceBreak)."""

    @property
    def quantity(self) -> float: ...

    @property
    def price(self) -> float: ...


class Quote(Protocol):
    """A vendor's quote as the order rule reads it (core.models.VendorQuote, with the pack
    size and price breaks the stock ledger's quotes carry)."""

    @property
    def vendor(self) -> str: ...

    @property
    def price(self) -> float: ...

    @property
    def currency(self) -> str: ...

    @property
    def rating(self) -> float: ...

    @property
    def delivery_days(self) -> int: ...

    @property
    def min_order_qty(self) -> float | None: ...

    @property
    def pack_size(self) -> float | None: ...

    @property
    def breaks(self) -> Sequence[PriceBreakTerms]: ...

    @property
    def valid_until(self) -> date | None: ...


# --- How much, from whom, by when --------------------------------------------------------


@dataclass(frozen=True)
class StockPosition:
    """What the order rule needs of one material's stock, in the material's unit."""

    on_hand: float
    daily_use: float
    safety_stock: float
    lead_time_days: int

    @property
    def reorder_point(self) -> float:
        return self.daily_use * self.lead_time_days + self.safety_stock


@dataclass(frozen=True)
class Inbound:
    """What an open order still brings, and the day it is due."""

    quantity: float
    due: date


def cover_target(position: StockPosition, review_days: int = ORDER_REVIEW_DAYS) -> float:
    """The stock an order should bring the material up to: daily use x (lead time + review
    days) + safety stock. The review days are the time until the next look at the material,
    which the order must also cover."""
    return position.daily_use * (position.lead_time_days + review_days) + position.safety_stock


def needed_quantity(
    position: StockPosition, inbound: Sequence[Inbound], review_days: int = ORDER_REVIEW_DAYS
) -> float:
    """Cover target - (on hand + open orders), at least 0; before any vendor's terms."""
    covered = position.on_hand + sum(i.quantity for i in inbound)
    return max(0.0, _tidy(cover_target(position, review_days) - covered))


def round_to_terms(quantity: float, min_order: float | None, pack_size: float | None) -> float:
    """Up to the vendor's minimum order, then up to a whole number of packs."""
    rounded = max(quantity, min_order or 0.0)
    if pack_size:
        rounded = math.ceil(rounded / pack_size - _SLACK) * pack_size
    return _tidy(rounded)


def unit_price(quote: Quote, quantity: float) -> float:
    """The quote's unit price for an order of `quantity`: the lowest of its price and the
    price breaks that `quantity` reaches."""
    reached = [b.price for b in quote.breaks if quantity >= b.quantity - _SLACK]
    return min([quote.price, *reached])


def days_until(
    level: float,
    on_hand: float,
    daily_use: float,
    inbound: Sequence[Inbound],
    today: date,
) -> float | None:
    """Days from today until the projected stock first falls to `level`: `on_hand` is used at
    `daily_use` a day, and each open order adds what it still brings on its due day (an
    overdue one today). None when the material is not used (the stock never falls)."""
    if daily_use <= 0:
        return None
    arrivals = sorted((max(0, (i.due - today).days), i.quantity) for i in inbound)
    stock, elapsed = on_hand, 0.0
    for offset, quantity in arrivals:
        if offset > elapsed:
            reached = elapsed + (stock - level) / daily_use
            if reached < offset:
                return max(0.0, reached)
            stock -= daily_use * (offset - elapsed)
            elapsed = offset
        stock += quantity
    return max(0.0, elapsed + (stock - level) / daily_use)


def day_after(today: date, days: float) -> date:
    """The day `days` (fractional) after the start of today falls on."""
    return today + timedelta(days=math.floor(days + _SLACK))


def stock_out_day(position: StockPosition, inbound: Sequence[Inbound], today: date) -> date | None:
    """The day the projected stock runs out (open orders arriving on their due days); None
    when the material is not used."""
    days = days_until(0.0, position.on_hand, position.daily_use, inbound, today)
    return None if days is None else day_after(today, days)


def inbound_covers(position: StockPosition, inbound: Sequence[Inbound], today: date) -> bool:
    """Whether open orders take care of low stock, so that LOW_INVENTORY need not nag: the
    orders due no later than the stock would run out without them bring the inventory
    position (on hand + on order, the textbook reorder quantity) above the reorder point."""
    runs_out = days_until(0.0, position.on_hand, position.daily_use, (), today)
    in_time = sum(
        i.quantity
        for i in inbound
        if runs_out is None or max(0, (i.due - today).days) <= runs_out + _SLACK
    )
    return in_time > 0 and position.on_hand + in_time > position.reorder_point + _SLACK


@dataclass(frozen=True)
class VendorOption:
    """One vendor's quote priced for this order. `quantity` is the need rounded to the vendor's
    minimum order and pack size (or up to a price break, when that costs less in total);
    `order_by` is the last day an order with this vendor arrives before the stock falls into
    its safety stock (None: the material is not used); `late` says it arrives after the
    projected stock-out."""

    vendor: str
    quantity: float
    unit_price: float
    delivery_days: int
    arrival: date
    order_by: date | None
    late: bool
    rating: float

    @property
    def total(self) -> float:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Suggestion:
    """The order the rule suggests for one material, with every vendor priced for it, the
    pick first: vendors who deliver by the projected stock-out before those who do not, then
    the lowest unit price at the quantity, the earliest arrival, the best rating. A late vendor
    is picked only when no vendor can deliver in time (the earliest of them, then)."""

    target: float
    on_hand: float
    inbound: float
    needed: float
    stock_out: date | None
    options: tuple[VendorOption, ...]
    left_out: tuple[str, ...]  # quotes not priced, and why ("Acme: expired on 3 Nov")

    @property
    def pick(self) -> VendorOption | None:
        return self.options[0] if self.options else None

    @property
    def nothing_to_order(self) -> bool:
        return self.needed <= 0


def fits_terms(quote: Quote, quantity: float) -> bool:
    """Whether the vendor takes an order of exactly `quantity` (minimum order, pack size)."""
    fitting = round_to_terms(quantity, quote.min_order_qty, quote.pack_size)
    return math.isclose(fitting, quantity, rel_tol=_SLACK, abs_tol=_SLACK)


def option_for(
    quote: Quote,
    quantity: float,
    today: date,
    stock_out: date | None,
    safety_reached: date | None = None,
) -> VendorOption:
    """`quote` priced for an order of exactly `quantity` placed today."""
    arrival = today + timedelta(days=quote.delivery_days)
    order_by = (
        None if safety_reached is None else safety_reached - timedelta(days=quote.delivery_days)
    )
    return VendorOption(
        vendor=quote.vendor,
        quantity=quantity,
        unit_price=unit_price(quote, quantity),
        delivery_days=quote.delivery_days,
        arrival=arrival,
        order_by=order_by,
        late=stock_out is not None and arrival > stock_out,
        rating=quote.rating,
    )


def price_option(
    quote: Quote,
    needed: float,
    today: date,
    stock_out: date | None,
    safety_reached: date | None = None,
) -> VendorOption:
    """`quote` priced for an order of `needed`: rounded up to whole units of the material
    (nobody orders 100.79 t), then to its terms, and further up to a price break when the
    larger order costs less in total."""
    whole = math.ceil(needed - _SLACK)
    candidates = [round_to_terms(whole, quote.min_order_qty, quote.pack_size)]
    candidates += [
        round_to_terms(b.quantity, quote.min_order_qty, quote.pack_size)
        for b in quote.breaks
        if b.quantity > candidates[0]
    ]
    quantity = min(candidates, key=lambda q: (round(q * unit_price(quote, q), 6), q))
    return option_for(quote, quantity, today, stock_out, safety_reached)


def preference(option: VendorOption) -> tuple[object, ...]:
    """The order rule's preference among vendors, as a sort key (the pick sorts first)."""
    name = option.vendor.casefold()
    if option.late:
        return (1, option.arrival, option.unit_price, -option.rating, name)
    return (0, option.unit_price, option.arrival, -option.rating, name)


def suggest(
    position: StockPosition,
    inbound: Sequence[Inbound],
    quotes: Sequence[Quote],
    currency: str,
    today: date,
    review_days: int = ORDER_REVIEW_DAYS,
) -> Suggestion:
    """The order to place now for one material: how much (the need, before each vendor's
    terms), each valid quote in the material's currency priced for it, the pick first."""
    needed = needed_quantity(position, inbound, review_days)
    stock_out = stock_out_day(position, inbound, today)
    until_safety = days_until(
        position.safety_stock, position.on_hand, position.daily_use, inbound, today
    )
    safety_reached = None if until_safety is None else day_after(today, until_safety)
    left_out: list[str] = []
    options: list[VendorOption] = []
    for quote in quotes:
        if quote.currency != currency:
            left_out.append(f"{quote.vendor}: quoted in {quote.currency}, not {currency}")
        elif quote.valid_until is not None and quote.valid_until < today:
            left_out.append(f"{quote.vendor}: expired on {_short(quote.valid_until)}")
        elif needed > 0:
            options.append(price_option(quote, needed, today, stock_out, safety_reached))
    return Suggestion(
        target=_tidy(cover_target(position, review_days)),
        on_hand=position.on_hand,
        inbound=_tidy(sum(i.quantity for i in inbound)),
        needed=needed,
        stock_out=stock_out,
        options=tuple(sorted(options, key=preference)),
        left_out=tuple(left_out),
    )


# --- The price risk of waiting -----------------------------------------------------------

Z95 = NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class PriceOutlook:
    """A calibrated forecast of the market price `days` ahead: `now` is today's price,
    `price` the forecast and `lower`..`upper` its 95% interval."""

    now: float
    price: float
    lower: float
    upper: float
    days: int

    def __post_init__(self) -> None:
        if not 0 < self.lower <= self.price <= self.upper or self.now <= 0:
            raise ValueError(f"not a forecast with a 95% interval around it: {self}")


@dataclass(frozen=True)
class WaitingRisk:
    """What waiting `days` to place an order would do to its cost: its 95% range, and the
    chance that it would be cheaper than now."""

    days: int
    cost_now: float
    low: float
    high: float
    chance_cheaper: float


def waiting_risk(cost_now: float, outlook: PriceOutlook) -> WaitingRisk:
    """The risk of placing an order costing `cost_now` today `outlook.days` later instead.

    Assumptions:
    - the vendor's price moves with the market: the order would cost `cost_now` x (market
      price then / market price now), for the same quantity;
    - the market price then follows a two-piece log-normal law: the forecast price is its
      median, and on each side of it the log price is normal with the spread that puts that
      side's interval bound at 1.96 standard deviations. This is the one law with that median
      that reproduces the calibrated 95% interval exactly, an asymmetric one included: the
      cost's 95% range is the interval scaled, and the chance of a lower price than today's is
      Phi((ln now - ln forecast) / spread of the side today's price lies on).
    """
    scale = cost_now / outlook.now
    median = math.log(outlook.price)
    below = math.log(outlook.now) < median
    bound = outlook.lower if below else outlook.upper
    spread = abs(median - math.log(bound)) / Z95
    distance = math.log(outlook.now) - median
    if spread > 0:
        chance = NormalDist().cdf(distance / spread)
    else:  # no uncertainty on that side: the price is certainly at or beyond the forecast
        chance = 0.0 if below else (1.0 if distance > 0 else 0.5)
    return WaitingRisk(outlook.days, cost_now, scale * outlook.lower, scale * outlook.upper, chance)


# --- A purchase, from request to receipt ---------------------------------------------------


class PurchaseState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    ORDERED = "ordered"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def is_open_order(self) -> bool:
        return self in OPEN_ORDER_STATES

    @property
    def is_final(self) -> bool:
        return not NEXT_STATES[self]


OPEN_ORDER_STATES = frozenset({PurchaseState.ORDERED, PurchaseState.PARTIALLY_RECEIVED})

NEXT_STATES: dict[PurchaseState, frozenset[PurchaseState]] = {
    PurchaseState.REQUESTED: frozenset(
        {PurchaseState.APPROVED, PurchaseState.REJECTED, PurchaseState.CANCELLED}
    ),
    PurchaseState.APPROVED: frozenset({PurchaseState.ORDERED}),
    PurchaseState.ORDERED: frozenset(
        {PurchaseState.PARTIALLY_RECEIVED, PurchaseState.RECEIVED, PurchaseState.CANCELLED}
    ),
    PurchaseState.PARTIALLY_RECEIVED: frozenset(
        {PurchaseState.PARTIALLY_RECEIVED, PurchaseState.RECEIVED, PurchaseState.CANCELLED}
    ),
    PurchaseState.RECEIVED: frozenset(),
    PurchaseState.REJECTED: frozenset(),
    PurchaseState.CANCELLED: frozenset(),
}

PO_NUMBER = re.compile(r"^PO-(\d{4})-(\d{4,})$", re.IGNORECASE)


def po_number(year: int, sequence: int) -> str:
    """'PO-2026-0001': the year's orders counted from 1."""
    return f"PO-{year}-{sequence:04d}"


def parse_po_number(text: str) -> tuple[int, int] | None:
    """(year, sequence) of 'PO-2026-0001' (any case), or None."""
    match = PO_NUMBER.match(text.strip())
    return (int(match[1]), int(match[2])) if match else None


@dataclass(frozen=True)
class Purchase:
    """A purchase request and, once approved, its purchase order. Amounts are in the
    material's currency and quantities in its unit; `chat_id` is where it was requested (the
    requester is told the outcome there). Each change returns a new value and refuses a step
    the state machine above does not have."""

    material: str
    vendor: str
    quantity: float
    unit: str
    unit_price: float
    currency: str
    delivery_days: int
    requested_by: int | None
    requested_by_name: str
    requested_at: datetime
    chat_id: int | None = None
    state: PurchaseState = PurchaseState.REQUESTED
    id: int = 0
    approved_by: int | None = None
    approved_by_name: str | None = None
    approved_at: datetime | None = None
    po_number: str | None = None
    ordered_at: datetime | None = None
    expected: date | None = None
    market_price: float | None = None
    advice: Advice | None = None
    received: float = 0.0
    received_at: datetime | None = None
    closed_by: int | None = None
    closed_by_name: str | None = None
    closed_at: datetime | None = None
    reason: str | None = None
    reminded_at: datetime | None = None

    @property
    def total(self) -> float:
        return self.quantity * self.unit_price

    @property
    def outstanding(self) -> float:
        """What an order still brings (0 once received or closed)."""
        if not self.state.is_open_order:
            return 0.0
        return max(0.0, _tidy(self.quantity - self.received))

    @property
    def label(self) -> str:
        """'PO-2026-0001' once ordered, 'request #12' before."""
        return self.po_number or f"request #{self.id}"

    @property
    def title(self) -> str:
        """The label at the start of a sentence: 'PO-2026-0001', 'Request #12'."""
        return self.po_number or f"Request #{self.id}"

    def inbound(self, today: date) -> Inbound | None:
        """What the open order still brings and when (an overdue order: today)."""
        if not self.outstanding or self.expected is None:
            return None
        return Inbound(self.outstanding, max(self.expected, today))

    def days_late(self, today: date) -> int:
        """Days past the expected arrival without a full receipt (0: not overdue)."""
        if not self.state.is_open_order or self.expected is None:
            return 0
        return max(0, (today - self.expected).days)

    def _to(self, state: PurchaseState, **changes: object) -> Purchase:
        if state not in NEXT_STATES[self.state]:
            raise UserError(f"{self.title} is {self.state.label}: {_cannot[state]}.")
        return replace(self, state=state, **changes)  # type: ignore[arg-type]

    def approve(self, by: int | None, by_name: str | None, at: datetime) -> Purchase:
        """Approved by `by` (None: within the approval limit, nobody had to)."""
        return self._to(
            PurchaseState.APPROVED, approved_by=by, approved_by_name=by_name, approved_at=at
        )

    def order(
        self, number: str, at: datetime, market_price: float | None, advice: Advice | None
    ) -> Purchase:
        """Placed with the vendor as order `number`, due `delivery_days` after `at`."""
        return self._to(
            PurchaseState.ORDERED,
            po_number=number,
            ordered_at=at,
            expected=at.date() + timedelta(days=self.delivery_days),
            market_price=market_price,
            advice=advice,
        )

    def reject(self, by: int | None, by_name: str, at: datetime, reason: str) -> Purchase:
        if not reason.strip():
            raise UserError("A rejection needs a reason, for the requester.")
        return self._to(
            PurchaseState.REJECTED,
            closed_by=by,
            closed_by_name=by_name,
            closed_at=at,
            reason=reason.strip(),
        )

    def cancel(
        self, by: int | None, by_name: str, at: datetime, reason: str | None = None
    ) -> Purchase:
        return self._to(
            PurchaseState.CANCELLED,
            closed_by=by,
            closed_by_name=by_name,
            closed_at=at,
            reason=(reason or "").strip() or None,
        )

    def receive(self, quantity: float, at: datetime) -> Purchase:
        """`quantity` received against the order: received in full at or above the ordered
        quantity, otherwise partially, with the rest still open."""
        if not quantity > 0:
            raise UserError(f"A receipt must be above 0, got {quantity:g}.")
        received = _tidy(self.received + quantity)
        complete = received >= self.quantity - _SLACK
        return self._to(
            PurchaseState.RECEIVED if complete else PurchaseState.PARTIALLY_RECEIVED,
            received=received,
            received_at=at if complete else None,
        )

    def unreceive(self, quantity: float) -> Purchase:
        """A receipt of `quantity` taken back (its stock move undone): the order has that much
        less received, and is open again unless it was cancelled."""
        if self.po_number is None:
            raise UserError(f"{self.title} is {self.state.label}: nothing was received.")
        received = max(0.0, _tidy(self.received - quantity))
        state = self.state
        if state is not PurchaseState.CANCELLED:
            partly = received > 0
            complete = received >= self.quantity - _SLACK
            state = (
                PurchaseState.RECEIVED
                if complete
                else PurchaseState.PARTIALLY_RECEIVED
                if partly
                else PurchaseState.ORDERED
            )
        return replace(
            self,
            state=state,
            received=received,
            received_at=self.received_at if state is PurchaseState.RECEIVED else None,
        )

    def remind(self, at: datetime) -> Purchase:
        if self.state is not PurchaseState.REQUESTED:
            raise UserError(f"{self.title} is {self.state.label}: nothing to remind.")
        return replace(self, reminded_at=at)


_cannot = {
    PurchaseState.APPROVED: "only a request waiting for approval can be approved",
    PurchaseState.ORDERED: "only an approved request can be ordered",
    PurchaseState.PARTIALLY_RECEIVED: "only an open order can be received against",
    PurchaseState.RECEIVED: "only an open order can be received against",
    PurchaseState.REJECTED: "only a request waiting for approval can be rejected",
    PurchaseState.CANCELLED: "only a waiting request or an open order can be cancelled",
    PurchaseState.REQUESTED: "a purchase cannot go back to requested",
}


# --- Who may do what ------------------------------------------------------------------------


def needs_approval(total: float, limit: float) -> bool:
    """Above the approval limit a purchase needs an approver; at or below it, it does not."""
    return total > limit + _MONEY_SLACK


def may_buy(role: str, doing: str) -> None:
    """Raises UserError unless `role` may request purchases and receive them (`doing`, for
    the answer: "request purchases")."""
    if role not in BUYING_ROLES:
        raise UserError(f"Viewers cannot {doing}: a buyer, an approver or an admin can.")


def may_decide(purchase: Purchase, user_id: int | None, role: str) -> None:
    """Raises UserError unless this user may approve or reject `purchase`: an approver or an
    admin who is not its requester (four eyes). The command line (no user id) is an admin who
    is nobody's same person."""
    if role not in APPROVING_ROLES:
        raise UserError("Only approvers and admins may approve or reject purchases.")
    if user_id is not None and user_id == purchase.requested_by:
        raise UserError(
            f"You asked for {purchase.label}: another approver or an admin must decide on it."
        )


def may_cancel(purchase: Purchase, user_id: int | None, role: str) -> None:
    """Raises UserError unless this user may cancel `purchase`: its requester or an admin."""
    if role == ADMIN_ROLE:
        return
    if user_id is None or user_id != purchase.requested_by:
        who = purchase.requested_by_name or "its requester"
        raise UserError(f"Only {who} or an admin may cancel {purchase.label}.")


def reminder_due(purchase: Purchase, now: datetime, after: timedelta) -> bool:
    """A request unanswered for `after` that has not been reminded of yet."""
    return (
        purchase.state is PurchaseState.REQUESTED
        and purchase.reminded_at is None
        and now - purchase.requested_at >= after
    )


class NoticeKind(StrEnum):
    """Purchasing's messages to one chat; the kind decides the buttons it comes with."""

    APPROVAL = "approval"  # a request to decide on: Approve / Reject
    REMINDER = "reminder"  # the same request, posted once more: Approve / Reject
    OUTCOME = "outcome"  # the requester told: approved and ordered, rejected, or cancelled
    WITHDRAWN = "withdrawn"  # the approvers told: a request was cancelled before a decision


@dataclass(frozen=True)
class Notice:
    """A message about a purchase for one chat (a group, or a person's private chat), in plain
    text: a title line and what happened."""

    kind: NoticeKind
    purchase_id: int
    chat_id: int
    text: str
    title: str = ""


# --- Overdue orders --------------------------------------------------------------------------


@dataclass(frozen=True)
class Overdue:
    """An order past its expected day without a full receipt. `stock_out` is when the stock
    runs out without what it still brings (None: not used), and CRITICAL says that happens
    before a delivery could arrive (the vendor's delivery days, from today)."""

    purchase: Purchase
    days_late: int
    severity: Severity
    stock_out: date | None


def overdue(
    purchase: Purchase,
    today: date,
    position: StockPosition | None,
    other_inbound: Sequence[Inbound] = (),
) -> Overdue | None:
    """PO_OVERDUE for an order past its expected day, or None. WARNING, or CRITICAL when the
    stock (on hand and the other open orders on their days, without this one) runs out before
    a delivery the vendor started today would arrive: chasing the vendor alone cannot keep the
    line going."""
    late = purchase.days_late(today)
    if late == 0:
        return None
    stock_out = None if position is None else stock_out_day(position, other_inbound, today)
    could_arrive = today + timedelta(days=max(1, purchase.delivery_days))
    critical = stock_out is not None and stock_out < could_arrive
    return Overdue(purchase, late, Severity.CRITICAL if critical else Severity.WARNING, stock_out)


def open_order_sort_key(purchase: Purchase, today: date) -> tuple[int, date, int]:
    """Overdue orders first, then by expected day (so the longest overdue comes first)."""
    return (
        0 if purchase.days_late(today) else 1,
        purchase.expected or today,
        purchase.id,
    )


# --- The monthly report -------------------------------------------------------------------


def month_span(month: date) -> tuple[datetime, datetime]:
    """The UTC times [start, end) of the calendar month of `month`."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    days = calendar.monthrange(month.year, month.month)[1]
    return start, start + timedelta(days=days)


def counted_quantity(purchase: Purchase) -> float:
    """What an order committed to: its quantity, or what was received of a cancelled one."""
    if purchase.state is PurchaseState.CANCELLED:
        return purchase.received
    return purchase.quantity


@dataclass(frozen=True)
class MaterialReport:
    """What one material's orders of a month earned (amounts in the material's currency).

    Orders: those that became orders in the month, whatever their state since; a cancelled one
    counts with what was received of it (none: left out).
    - `quantity` = sum of q_i, `spend` = sum of q_i x p_i (p_i: the unit price agreed),
      `average_paid` = spend / quantity.
    - `market_average` = sum of q_i x m_i / sum of q_i, where m_i is the market price stored
      when order i was placed: the market over the same days, weighted like the orders.
      `premium_pct` = (average_paid / market_average - 1) x 100: what the vendors charged above
      the market. Orders placed with no market price known are left out of both averages.
    - `followed`: orders placed while the advice was BUY NOW; `against`: placed while it was
      WAIT; the rest were placed on MONITOR or without advice.
    - The fixed schedule: the same quantity bought in equal parts on every day of the month
      (up to the report's last day) at that day's closing market price, paying the same
      premium over the market as the orders did. `schedule_price` is the mean of those daily
      closes (days without a price are skipped), `schedule_cost` = quantity x schedule_price x
      (average_paid / market_average), and `versus_schedule` = spend - schedule_cost, which
      equals spend x (1 - schedule_price / market_average): below 0, the timing of the orders
      saved that much against buying on the schedule.
    """

    material: str
    orders: int
    quantity: float
    spend: float
    average_paid: float
    market_average: float | None
    premium_pct: float | None
    followed: int
    against: int
    schedule_price: float | None
    schedule_cost: float | None
    versus_schedule: float | None


def material_report(
    material: str, orders: Sequence[Purchase], daily_closes: Sequence[float]
) -> MaterialReport | None:
    """The report line of one material from its orders of the month and the market's daily
    closes over the month; None when it had no orders."""
    counted = [(p, counted_quantity(p)) for p in orders if counted_quantity(p) > 0]
    if not counted:
        return None
    quantity = sum(q for _, q in counted)
    spend = sum(q * p.unit_price for p, q in counted)
    priced = [(p, q) for p, q in counted if p.market_price is not None]
    market = premium = schedule_price = schedule_cost = versus = None
    if priced:
        priced_quantity = sum(q for _, q in priced)
        market = sum(q * (p.market_price or 0.0) for p, q in priced) / priced_quantity
        paid = sum(q * p.unit_price for p, q in priced) / priced_quantity
        premium = (paid / market - 1) * 100
        if daily_closes:
            schedule_price = statistics.fmean(daily_closes)
            schedule_cost = quantity * schedule_price * paid / market
            versus = spend - schedule_cost
    return MaterialReport(
        material=material,
        orders=len(counted),
        quantity=_tidy(quantity),
        spend=spend,
        average_paid=spend / quantity,
        market_average=market,
        premium_pct=premium,
        followed=sum(p.advice is Advice.BUY_NOW for p, _ in counted),
        against=sum(p.advice is Advice.WAIT for p, _ in counted),
        schedule_price=schedule_price,
        schedule_cost=schedule_cost,
        versus_schedule=versus,
    )


def _tidy(value: float) -> float:
    """Float noise off a quantity: 0.30000000000000004 -> 0.3."""
    return round(value, 9) + 0.0


def _short(day: date) -> str:
    return f"{day.day} {day:%b}"
