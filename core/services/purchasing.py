"""Purchasing use cases: suggest an order, request it, approve or reject it, cancel it, list the
open orders, remind approvers, raise PO_OVERDUE, and report what the month's orders earned.

Each use case that writes is one unit of work: the purchase, the stock receipt and the notices it
posts through the outbox commit together or not at all, and a state change is stored only if
the purchase is still in the state it was read in (two approvers, or one tapping twice, cannot
both decide). What open orders bring, and receipts against them, are in
core/services/open_orders.py. The rules themselves are in core/domain/purchasing.py.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.alert_rules import amount, when
from core.domain.actors import Person
from core.domain.pending import PendingAction, PendingKind, PendingState
from core.domain.purchasing import (
    ADMIN_ROLE,
    APPROVAL_REMIND_AFTER,
    APPROVAL_ROOM,
    APPROVAL_ROOM_CHANGED,
    BUYING_ROLES,
    OPEN_ORDER_STATES,
    ORDER_REVIEW_DAYS,
    Inbound,
    MaterialReport,
    Notice,
    NoticeKind,
    Overdue,
    Purchase,
    PurchaseState,
    Quote,
    StockPosition,
    Suggestion,
    WaitingRisk,
    fits_terms,
    material_report,
    may_buy,
    may_cancel,
    may_decide,
    month_span,
    needs_approval,
    open_order_sort_key,
    option_for,
    overdue,
    parse_po_number,
    po_number,
    preference,
    reminder_due,
    round_to_terms,
    stock_out_day,
    suggest,
    unit_price,
    waiting_risk,
)
from core.errors import UserError
from core.materials import MaterialCatalog
from core.models import Alert, AlertFacts, AlertType, CurrentAdvice, Material, Severity
from core.ports import AdviceSource, Clock, PriceRepo
from core.ports_purchasing import (
    AlertRaiser,
    ApproverDirectory,
    Outlooks,
    PurchaseNotices,
    PurchasingWork,
    QuoteSource,
    StockFigures,
)
from core.services.open_orders import save_purchase
from core.services.pending import answerable
from core.wording import plural

log = logging.getLogger(__name__)

RECENT_LIMIT = 50
# How long the Request button under an order suggestion works: after that, stock and quotes
# may have moved, and /order suggests again.
OFFER_WINDOW = timedelta(hours=1)
# How long a rejection waits for its reason (the approver's next message in that chat).
REASON_WINDOW = timedelta(minutes=30)
# How long cancelling an order waits for its confirmation.
CANCEL_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class PurchasingPolicy:
    """APPROVAL_LIMIT (in each material's currency), APPROVAL_REMIND_HOURS, ORDER_REVIEW_DAYS."""

    approval_limit: float = 0.0
    remind_after: timedelta = APPROVAL_REMIND_AFTER
    review_days: int = ORDER_REVIEW_DAYS


@dataclass(frozen=True)
class SuggestedOrder:
    """What /order answers: the stock figures and the suggestion made from them, the price
    risk of waiting with the pick, the market price and recommendation of the moment, and the
    pending action behind its Request button (None: nothing to request, or the asker may not
    request purchases)."""

    material: Material
    position: StockPosition
    suggestion: Suggestion
    risk: WaitingRisk | None
    market_price: float | None
    advice: CurrentAdvice | None
    offer: int | None = None


@dataclass(frozen=True)
class Requested:
    """A purchase request stored: ordered at once (within the limit), or posted to `told`
    chats for approval (0: no approver could be told): the approval room (`in_room`) or each
    approver privately."""

    purchase: Purchase
    needs_approval: bool
    told: int = 0
    in_room: bool = False


@dataclass(frozen=True)
class CancelToConfirm:
    """An order not cancelled yet: an order placed with a vendor is cancelled only once its
    canceller confirms (pending action `action_id`), so that a mistyped number cancels
    nothing."""

    action_id: int
    purchase: Purchase


@dataclass(frozen=True)
class OpenOrder:
    purchase: Purchase
    overdue: Overdue | None = None


@dataclass(frozen=True)
class OrderBook:
    """What /orders shows: open orders (overdue first), requests waiting for approval, and with
    `all` the closed purchases too (newest first)."""

    open: tuple[OpenOrder, ...]
    waiting: tuple[Purchase, ...]
    closed: tuple[Purchase, ...] = ()


@dataclass(frozen=True)
class Report:
    """What /report shows for one month: a line per material with orders, in catalog order."""

    month: date
    start: datetime
    end: datetime
    lines: tuple[tuple[Material, MaterialReport], ...]


class PurchasingService:
    def __init__(
        self,
        catalog: MaterialCatalog,
        unit_of_work: Callable[[], PurchasingWork],
        stock: StockFigures,
        quotes: QuoteSource,
        prices: PriceRepo,
        outlooks: Outlooks,
        advice: AdviceSource,
        approvers: ApproverDirectory,
        notices: PurchaseNotices,
        clock: Clock,
        policy: PurchasingPolicy | None = None,
        alerts: AlertRaiser | None = None,
    ) -> None:
        self._catalog = catalog
        self._uow = unit_of_work
        self._stock = stock
        self._quotes = quotes
        self._prices = prices
        self._outlooks = outlooks
        self._advice = advice
        self._approvers = approvers
        self._notices = notices
        self._clock = clock
        self.policy = policy or PurchasingPolicy()
        self.alerts = alerts  # the alert monitor, for PO_OVERDUE (None: not raised)

    # --- /order ---------------------------------------------------------------------------

    async def suggest(self, material: Material, by: Person | None = None) -> SuggestedOrder:
        """How much to order now, from whom, by when, and the price risk of waiting. For `by`
        (someone who may request purchases) the pick is kept for an hour as a pending action,
        which the Request button asks for."""
        position = await self._stock.position(material)
        if position is None:
            raise UserError(
                f"No stock is recorded for {material.name}: count it first (/count "
                f"{material.key} QTY)."
            )
        today = self._clock.now().date()
        inbound = await self._inbound(material, today)
        quotes = await self._quotes.quotes(material.key)
        suggestion = suggest(
            position, inbound, quotes, material.currency, today, self.policy.review_days
        )
        risk = None
        pick = suggestion.pick
        if pick is not None:
            outlook = await self._outlooks.outlook(material.key)
            if outlook is not None:
                risk = waiting_risk(pick.total, outlook)
        latest = await self._prices.latest(material.key)
        advice = (await self._advice.current()).get(material.key)
        offer = None
        if by is not None and by.role in BUYING_ROLES and pick is not None:
            offer = await self._offer(by, material, pick.quantity, pick.vendor)
        return SuggestedOrder(
            material,
            position,
            suggestion,
            risk,
            None if latest is None else latest.price,
            advice,
            offer,
        )

    async def _offer(self, by: Person, material: Material, quantity: float, vendor: str) -> int:
        now = self._clock.now()
        async with self._uow() as uow:
            action = await uow.pending.add(
                PendingAction(
                    PendingKind.ORDER,
                    {"material": material.key, "quantity": quantity, "vendor": vendor},
                    by.user_id,
                    by.chat_id,
                    now,
                    now + OFFER_WINDOW,
                )
            )
        return action.id

    async def request_offer(self, by: Person, action_id: int) -> Requested:
        """The Request button under an order suggestion: requests that order, once."""
        may_buy(by.role, "request purchases")
        now = self._clock.now()
        async with self._uow() as uow:
            action = await answerable(uow.pending, by, action_id, PendingKind.ORDER, now)
            if not await uow.pending.settle(action_id, PendingState.DONE, now):
                raise UserError("That has been done already.")
            payload = action.payload
            return await self.request(
                by,
                self._catalog.get(payload["material"]),
                float(payload["quantity"]),
                str(payload["vendor"]),
            )

    # --- /buy -----------------------------------------------------------------------------

    async def request(
        self,
        by: Person,
        material: Material,
        quantity: float,
        vendor: str | None = None,
        price: float | None = None,
    ) -> Requested:
        """A purchase request, priced from the vendor's quote when no price is given. At or
        below the approval limit it is ordered at once; above it, it is posted to the approval
        room (or to each approver privately) to be decided on."""
        may_buy(by.role, "request purchases")
        if not (math.isfinite(quantity) and quantity > 0):
            raise UserError(f"The quantity must be above 0, got {quantity:g}.")
        if price is not None and not (math.isfinite(price) and price > 0):
            raise UserError(f"The price must be above 0, got {price:g}.")
        now = self._clock.now()
        vendor_name, agreed_price, delivery_days = await self._terms(
            material, quantity, vendor, price, now.date()
        )
        purchase = Purchase(
            material=material.key,
            vendor=vendor_name,
            quantity=quantity,
            unit=material.unit,
            unit_price=agreed_price,
            currency=material.currency,
            delivery_days=delivery_days,
            requested_by=by.user_id,
            requested_by_name=by.name,
            requested_at=now,
            chat_id=by.chat_id,
        )
        async with self._uow() as uow:
            if not needs_approval(purchase.total, self.policy.approval_limit):
                ordered = await self._place(uow, purchase.approve(None, None, now), now)
                stored = await uow.purchases.add(ordered)
                log.info("%s placed by %s: %s", stored.po_number, by.name, self._what(stored))
                return Requested(stored, needs_approval=False)
            purchase = await uow.purchases.add(purchase)
            told = await self._ask_approvers(uow, purchase, NoticeKind.APPROVAL)
            in_room = _room(await uow.state.get(APPROVAL_ROOM)) is not None
        log.info(
            "Request #%s by %s: %s, to %d chats", purchase.id, by.name, self._what(purchase), told
        )
        return Requested(purchase, needs_approval=True, told=told, in_room=in_room)

    async def _terms(
        self,
        material: Material,
        quantity: float,
        vendor: str | None,
        price: float | None,
        today: date,
    ) -> tuple[str, float, int]:
        """The vendor, unit price and delivery days of a request: from the named vendor's
        quote, or the vendor the order rule picks for this quantity among the quotes whose
        terms it meets; a price given overrides the quote's (and its terms)."""
        quotes = [
            q
            for q in await self._quotes.quotes(material.key)
            if q.currency == material.currency and (q.valid_until is None or q.valid_until >= today)
        ]
        if vendor is not None:
            named = _vendor_key(vendor)
            quote = next((q for q in quotes if _vendor_key(q.vendor) == named), None)
            if quote is None:
                if price is None:
                    raise UserError(
                        f"No valid {material.currency} quote from {vendor} for {material.name}: "
                        f'give the price (/buy {material.key} {amount(quantity)} from "{vendor}" '
                        f"at PRICE) or record a quote with /quote."
                    )
                position = await self._stock.position(material)
                return vendor, price, position.lead_time_days if position is not None else 0
        else:
            quote = await self._pick(material, quantity, quotes, today, price is None)
        if price is None:
            _check_terms(quote, material, quantity)
            price = unit_price(quote, quantity)
        return quote.vendor, price, quote.delivery_days

    async def _pick(
        self,
        material: Material,
        quantity: float,
        quotes: Sequence[Quote],
        today: date,
        on_terms: bool,
    ) -> Quote:
        """The vendor the order rule picks for exactly `quantity`, among the quotes whose
        minimum order and pack size it meets (`on_terms`; else among all)."""
        fitting = [q for q in quotes if not on_terms or fits_terms(q, quantity)]
        if not fitting:
            hint = (
                f"no quote's minimum order and pack size fit {amount(quantity)} {material.unit}"
                if quotes
                else f"there is no valid {material.currency} quote for {material.name}"
            )
            raise UserError(
                f"No vendor to pick: {hint}. Name one and its price: /buy {material.key} "
                f'{amount(quantity)} from "VENDOR" at PRICE.'
            )
        position = await self._stock.position(material)
        stock_out = None
        if position is not None:
            stock_out = stock_out_day(position, await self._inbound(material, today), today)
        options = [option_for(q, quantity, today, stock_out) for q in fitting]
        best = min(range(len(fitting)), key=lambda i: preference(options[i]))
        return fitting[best]

    async def _inbound(self, material: Material, today: date) -> list[Inbound]:
        """What the material's open orders still bring, and when."""
        reading = self._uow()  # reads need no unit of work
        open_orders = await reading.purchases.in_states(OPEN_ORDER_STATES, material.key)
        return [i for p in open_orders if (i := p.inbound(today)) is not None]

    # --- /approve, /reject, /cancel ---------------------------------------------------------

    async def approve(self, by: Person, ref: int | str) -> Purchase:
        """Approves a waiting request, which becomes a purchase order at once; the requester
        is told."""
        now = self._clock.now()
        async with self._uow() as uow:
            purchase = await self._find(uow, ref)
            may_decide(purchase, by.user_id, by.role)
            _still_waiting(purchase)
            ordered = await self._place(uow, purchase.approve(by.user_id, by.name, now), now)
            await save_purchase(uow, ordered, purchase)
            await self._tell_requester(
                ordered,
                f"Request #{ordered.id} approved: {ordered.po_number}",
                f"Approved by {by.name}: your request #{ordered.id} is {ordered.po_number}, "
                f"{self._what(ordered)}, {_money(ordered.total, ordered.currency)}, "
                f"expected {_day(ordered.expected)}.",
                by,
            )
        log.info("Request #%s approved by %s: %s", ordered.id, by.name, ordered.po_number)
        return ordered

    async def ask_reason(self, by: Person, ref: int | str) -> Purchase:
        """The Reject button (or /reject N without a reason): the request is rejected once its
        reason comes, as `by`'s next message in this chat (REASON_WINDOW); until then it
        waits as it was."""
        now = self._clock.now()
        if by.user_id is None or by.chat_id is None:
            raise UserError("A rejection needs a reason: /reject N REASON.")
        async with self._uow() as uow:
            purchase = await self._find(uow, ref)
            may_decide(purchase, by.user_id, by.role)
            _still_waiting(purchase)
            await uow.pending.add(
                PendingAction(
                    PendingKind.REASON,
                    {"purchase": purchase.id},
                    by.user_id,
                    by.chat_id,
                    now,
                    now + REASON_WINDOW,
                )
            )
        return purchase

    async def reason_awaited(self, user_id: int, chat_id: int) -> Purchase | None:
        """The request whose rejection waits for this user's reason in this chat, if it still
        waits for a decision."""
        reading = self._uow()
        action = await reading.pending.waiting(
            PendingKind.REASON, user_id, chat_id, self._clock.now()
        )
        if action is None:
            return None
        purchase = await reading.purchases.get(int(action.payload["purchase"]))
        if purchase is None or purchase.state is not PurchaseState.REQUESTED:
            return None
        return purchase

    async def reject(self, by: Person, ref: int | str, reason: str) -> Purchase:
        """Rejects a waiting request with a reason; the requester is told it."""
        now = self._clock.now()
        async with self._uow() as uow:
            purchase = await self._find(uow, ref)
            may_decide(purchase, by.user_id, by.role)
            _still_waiting(purchase)
            rejected = purchase.reject(by.user_id, by.name, now, reason)
            await save_purchase(uow, rejected, purchase)
            if by.user_id is not None and by.chat_id is not None:
                asked = await uow.pending.waiting(PendingKind.REASON, by.user_id, by.chat_id, now)
                if asked is not None and asked.payload.get("purchase") == purchase.id:
                    await uow.pending.settle(asked.id, PendingState.DONE, now)
            await self._tell_requester(
                rejected,
                f"Request #{rejected.id} rejected",
                f"Rejected by {by.name}: your request #{rejected.id} "
                f"({self._what(rejected)}): {rejected.reason}",
                by,
            )
        log.info("Request #%s rejected by %s", rejected.id, by.name)
        return rejected

    async def cancel(
        self, by: Person, ref: int | str, reason: str | None = None, confirmed: bool = False
    ) -> Purchase | CancelToConfirm:
        """Cancels a waiting request, or an open order once `confirmed` (its requester or an
        admin). The approvers are told when a request they were asked about is withdrawn, the
        requester when someone else cancels."""
        now = self._clock.now()
        async with self._uow() as uow:
            purchase = await self._find(uow, ref)
            may_cancel(purchase, by.user_id, by.role)
            cancelled = purchase.cancel(by.user_id, by.name, now, reason)
            if purchase.state.is_open_order and not confirmed:
                action = await uow.pending.add(
                    PendingAction(
                        PendingKind.CANCEL,
                        {"purchase": purchase.id, "reason": reason},
                        by.user_id,
                        by.chat_id,
                        now,
                        now + CANCEL_WINDOW,
                    )
                )
                return CancelToConfirm(action.id, purchase)
            await save_purchase(uow, cancelled, purchase)
            why = f": {cancelled.reason.rstrip('.')}." if cancelled.reason else "."
            if purchase.state is PurchaseState.REQUESTED:
                await self._post_to_approvers(
                    uow,
                    cancelled,
                    NoticeKind.WITHDRAWN,
                    f"Request #{purchase.id} withdrawn",
                    f"Request #{purchase.id} ({self._what(purchase)}) was cancelled by "
                    f"{by.name}{why} No decision is needed.",
                )
            await self._tell_requester(
                cancelled,
                f"{purchase.title} cancelled",
                f"Cancelled by {by.name}: {purchase.label} ({self._what(purchase)}){why}",
                by,
            )
        log.info("%s cancelled by %s", purchase.title, by.name)
        return cancelled

    async def confirm_cancel(self, by: Person, action_id: int) -> Purchase:
        """Cancels the order a /cancel waited to confirm (its Cancel the order button)."""
        now = self._clock.now()
        async with self._uow() as uow:
            action = await answerable(uow.pending, by, action_id, PendingKind.CANCEL, now)
            if not await uow.pending.settle(action_id, PendingState.DONE, now):
                raise UserError("That has been done already.")
            reason = action.payload.get("reason")
            cancelled = await self.cancel(
                by, int(action.payload["purchase"]), reason, confirmed=True
            )
        assert isinstance(cancelled, Purchase)
        return cancelled

    # --- /orders ----------------------------------------------------------------------------

    async def orders(self, include_closed: bool = False) -> OrderBook:
        """Open orders, overdue first (with how overdue and how critical), the requests
        waiting for approval, and with `include_closed` the closed purchases too."""
        today = self._clock.now().date()
        reading = self._uow()
        open_orders = await reading.purchases.in_states(OPEN_ORDER_STATES)
        waiting = await reading.purchases.in_states([PurchaseState.REQUESTED])
        recent = await reading.purchases.recent(RECENT_LIMIT) if include_closed else []
        lines = []
        for purchase in sorted(open_orders, key=lambda p: open_order_sort_key(p, today)):
            late = None
            if purchase.days_late(today):
                material = self._catalog.get(purchase.material)
                others = [
                    i
                    for p in open_orders
                    if p.material == purchase.material
                    and p.id != purchase.id
                    and (i := p.inbound(today)) is not None
                ]
                position = await self._stock.position(material)
                late = overdue(purchase, today, position, others)
            lines.append(OpenOrder(purchase, late))
        closed = tuple(p for p in recent if p.state.is_final)
        return OrderBook(tuple(lines), tuple(waiting), closed)

    async def overdue_orders(self) -> list[Overdue]:
        """The open orders past their expected day (for PO_OVERDUE), the longest overdue first."""
        book = await self.orders()
        return [line.overdue for line in book.open if line.overdue is not None]

    async def check_overdue(self) -> list[Alert]:
        """PO_OVERDUE for each open order past its expected day (the alert monitor's
        cool-down keeps one from repeating unless it turns CRITICAL)."""
        if self.alerts is None:
            return []
        now = self._clock.now()
        raised = []
        for late in await self.overdue_orders():
            material = self._catalog.get(late.purchase.material)
            alert = await self.alerts.raise_alert(overdue_alert(late, material, now))
            if alert is not None:
                raised.append(alert)
        return raised

    # --- reminders ----------------------------------------------------------------------------

    async def remind(self) -> list[Purchase]:
        """Posts each request unanswered for the reminder time once more (once only); each
        in its own unit of work."""
        now = self._clock.now()
        waiting = await self._uow().purchases.in_states([PurchaseState.REQUESTED])
        reminded = []
        for candidate in waiting:
            if not reminder_due(candidate, now, self.policy.remind_after):
                continue
            async with self._uow() as uow:
                purchase = await uow.purchases.get(candidate.id)
                if purchase is None or not reminder_due(purchase, now, self.policy.remind_after):
                    continue
                marked = purchase.remind(now)
                if not await uow.purchases.save(marked, purchase.state):
                    continue
                await self._ask_approvers(uow, marked, NoticeKind.REMINDER)
                reminded.append(marked)
            log.info("Request #%s is still waiting: approvers reminded", marked.id)
        return reminded

    # --- /approvals here | off ------------------------------------------------------------

    async def approval_room(self) -> tuple[int | None, str | None]:
        """The approval room (None: there is none), and who last set or closed it, when."""
        state = self._uow().state
        return _room(await state.get(APPROVAL_ROOM)), await state.get(APPROVAL_ROOM_CHANGED)

    def _changed_by(self, by: Person) -> str:
        return f"{by.name}, {self._clock.now():%d %b %Y %H:%M} UTC"

    async def set_approval_room(self, by: Person, chat_id: int | None, is_group: bool) -> None:
        """Makes this group the approval room (admins)."""
        _admin_only(by, "/approvals")
        if chat_id is None or not is_group:
            raise UserError(
                "/approvals here works in a group chat: add the bot to the managers' group "
                "and send it there."
            )
        async with self._uow() as uow:
            await uow.state.set(APPROVAL_ROOM, str(chat_id))
            await uow.state.set(APPROVAL_ROOM_CHANGED, self._changed_by(by))
        log.info("Chat %s is the approval room, set by %s", chat_id, by.name)

    async def close_approval_room(self, by: Person) -> int | None:
        """No approval room any more: requests go to each approver privately. Returns the
        room that was set (None: there was none)."""
        _admin_only(by, "/approvals")
        async with self._uow() as uow:
            was = _room(await uow.state.get(APPROVAL_ROOM))
            await uow.state.set(APPROVAL_ROOM, "")
            await uow.state.set(APPROVAL_ROOM_CHANGED, self._changed_by(by))
        log.info("No approval room any more (it was %s), by %s", was, by.name)
        return was

    # --- /report ------------------------------------------------------------------------------

    async def report(self, month: date | None = None) -> Report:
        """What the orders of a month (default: this one) earned, per material."""
        now = self._clock.now()
        month = (month or now.date()).replace(day=1)
        start, end = month_span(month)
        if start > now:
            raise UserError(f"{month:%B %Y} has not started yet: ask for this month or one before.")
        last_day = min(end - timedelta(days=1), now).date()
        placed = await self._uow().purchases.ordered_between(start, end)
        by_material: dict[str, list[Purchase]] = defaultdict(list)
        for purchase in placed:
            by_material[purchase.material].append(purchase)
        lines = []
        for material in self._catalog:
            if material.key not in by_material:
                continue
            closes = [
                price
                for day, price in await self._prices.daily_closes(material.key, start.date())
                if day <= last_day
            ]
            line = material_report(material.key, by_material[material.key], closes)
            if line is not None:
                lines.append((material, line))
        return Report(month, start, end, tuple(lines))

    # --- the steps shared ---------------------------------------------------------------------

    def _what(self, purchase: Purchase) -> str:
        """'100 t Copper from Acme Metals'."""
        name = self._catalog.get(purchase.material).name
        return f"{amount(purchase.quantity)} {purchase.unit} {name} from {purchase.vendor}"

    async def _find(self, uow: PurchasingWork, ref: int | str) -> Purchase:
        if isinstance(ref, str):
            text = ref.strip().lstrip("#")
            if parse_po_number(text) is not None:
                found = await uow.purchases.by_po_number(text.upper())
                if found is None:
                    raise UserError(f"There is no order {text.upper()}. /orders lists them.")
                return found
            if not text.isdigit():
                raise UserError(
                    f"'{ref[:40]}' is not a purchase: give its number (12) or its order number "
                    "(PO-2026-0001). /orders lists them."
                )
            ref = int(text)
        purchase = await uow.purchases.get(ref)
        if purchase is None:
            raise UserError(f"There is no purchase #{ref}. /orders lists them.")
        return purchase

    async def _place(self, uow: PurchasingWork, approved: Purchase, now: datetime) -> Purchase:
        """The approved request as an order: its number, and the market and advice of now."""
        sequence = await uow.purchases.next_sequence(now.year)
        latest = await self._prices.latest(approved.material)
        advice = (await self._advice.current()).get(approved.material)
        return approved.order(
            po_number(now.year, sequence),
            now,
            None if latest is None else latest.price,
            None if advice is None else advice.advice,
        )

    async def _approval_chats(self, uow: PurchasingWork, purchase: Purchase) -> list[int]:
        room = _room(await uow.state.get(APPROVAL_ROOM))
        if room is not None:
            return [room]
        return sorted({a for a in await self._approvers.approvers() if a != purchase.requested_by})

    async def _ask_approvers(
        self, uow: PurchasingWork, purchase: Purchase, kind: NoticeKind
    ) -> int:
        """Posts the request to the approval room, or to each approver but the requester;
        returns to how many chats."""
        title = f"Purchase request #{purchase.id}"
        text = (
            f"Purchase request #{purchase.id} from {purchase.requested_by_name}: "
            f"{self._what(purchase)} at "
            f"{amount(purchase.unit_price)} {purchase.currency}/{purchase.unit} = "
            f"{_money(purchase.total, purchase.currency)}, above the approval limit of "
            f"{_money(self.policy.approval_limit, purchase.currency)}. Delivery "
            f"{plural(purchase.delivery_days, 'day')} after approval."
        )
        if kind is NoticeKind.REMINDER:
            now = self._clock.now()
            title = f"Reminder: purchase request #{purchase.id}"
            text = f"Still waiting since {when(purchase.requested_at, now)}. {text}"
        return await self._post_to_approvers(uow, purchase, kind, title, text)

    async def _post_to_approvers(
        self, uow: PurchasingWork, purchase: Purchase, kind: NoticeKind, title: str, text: str
    ) -> int:
        chats = await self._approval_chats(uow, purchase)
        for chat in chats:
            await self._notices.post(Notice(kind, purchase.id, chat, text, title))
        return len(chats)

    async def _tell_requester(self, purchase: Purchase, title: str, text: str, by: Person) -> None:
        """Tells the requester, in the chat they asked in (or privately), unless they did it
        themselves."""
        chat = purchase.chat_id if purchase.chat_id is not None else purchase.requested_by
        if chat is None or (by.user_id is not None and by.user_id == purchase.requested_by):
            return
        await self._notices.post(Notice(NoticeKind.OUTCOME, purchase.id, chat, text, title))


def overdue_alert(late: Overdue, material: Material, now: datetime) -> Alert:
    """PO_OVERDUE for one order: how late, what is still to come, and what to do."""
    purchase = late.purchase
    to_come = f"{amount(purchase.outstanding)} {purchase.unit}"
    expected = _day(purchase.expected)
    critical = late.severity is Severity.CRITICAL
    if late.stock_out is None:
        stock = f"{material.name} is not being used, so nothing runs out meanwhile"
        todo = f"Chase {purchase.vendor}"
    elif critical:
        stock = f"the stock runs out on {_day(late.stock_out)}, before a new delivery could arrive"
        todo = f"Chase {purchase.vendor} now, or order elsewhere: /order {material.key}"
    else:
        stock = f"the stock lasts until {_day(late.stock_out)}"
        todo = f"Chase {purchase.vendor}"
    days = plural(late.days_late, "day")
    return Alert(
        type=AlertType.PO_OVERDUE,
        severity=late.severity,
        material=material.key,
        message=(
            f"{purchase.po_number} is {days} overdue: {to_come} {material.name} from "
            f"{purchase.vendor} was expected on {expected} and has not all arrived; "
            f"{stock} ({when(now, now)}). {todo}."
        ),
        created_at=now,
        dedup_key=f"{AlertType.PO_OVERDUE}:{purchase.po_number}",
        magnitude=float(late.days_late),
        facts=AlertFacts(
            material.name,
            f"{purchase.po_number} {days} overdue, {to_come} to come",
            f"{amount(purchase.unit_price)} {purchase.currency}/{purchase.unit}",
            todo,
        ),
    )


def _still_waiting(purchase: Purchase) -> None:
    """Refuses to decide on a request decided already, saying how it was decided."""
    if purchase.state is PurchaseState.REQUESTED:
        return
    number = purchase.po_number
    if number is not None:
        if purchase.approved_by_name is None:
            raise UserError(f"Request #{purchase.id} needed no approval: it is {number}.")
        raise UserError(
            f"Request #{purchase.id} was approved by {purchase.approved_by_name} already: it "
            f"is {number}."
        )
    by = purchase.closed_by_name or "someone"
    why = f": {purchase.reason}" if purchase.reason else "."
    raise UserError(f"Request #{purchase.id} was {purchase.state.label} by {by} already{why}")


def _vendor_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _check_terms(quote: Quote, material: Material, quantity: float) -> None:
    """Refuses a quantity the quoting vendor would not take, naming the one it would."""
    if fits_terms(quote, quantity):
        return
    terms = []
    if quote.min_order_qty:
        terms.append(f"from {amount(quote.min_order_qty)} {material.unit}")
    if quote.pack_size:
        terms.append(f"in packs of {amount(quote.pack_size)} {material.unit}")
    fitting = round_to_terms(quantity, quote.min_order_qty, quote.pack_size)
    raise UserError(
        f"{quote.vendor} sells {material.name} {' '.join(terms)}: /buy {material.key} "
        f'{amount(fitting)} from "{quote.vendor}", or give the price you agreed (at PRICE).'
    )


def _admin_only(by: Person, command: str) -> None:
    if by.role != ADMIN_ROLE:
        raise UserError(f"Only admins may use {command}.")


def _room(value: str | None) -> int | None:
    return int(value) if value else None


def _money(value: float, currency: str) -> str:
    return f"{amount(value)} {currency}"


def _day(day: date | None) -> str:
    return "-" if day is None else f"{day.day} {day:%b}"
