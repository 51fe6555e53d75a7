"""The purchasing use cases (core/services/purchasing.py) over hand-written fakes of their ports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.domain.actors import Source
from core.domain.purchasing import (
    APPROVAL_ROOM,
    Inbound,
    NoticeKind,
    PriceOutlook,
    Purchase,
    PurchaseState,
    StockPosition,
)
from core.domain.stock import MoveKind, StockMove
from core.errors import UserError
from core.materials import MaterialCatalog
from core.models import Advice, Alert, AlertType, CurrentAdvice, PricePoint, Severity
from core.services.open_orders import OpenOrders
from core.services.purchasing import CancelToConfirm
from tests.fakes import ALUMINIUM, COPPER, MATERIALS, NOW
from tests.purchasing_fakes import (
    ADA,
    ANN,
    BEN,
    CONSOLE,
    OLGA,
    PAUL,
    ROOM,
    VERA,
    Break,
    FakePurchaseRepo,
    FakePurchasing,
    FakeWork,
    Someone,
    Terms,
)

TODAY = NOW.date()
ACME = Terms("Acme Metals", 9900.0, delivery_days=14, breaks=(Break(100.0, 9800.0),))
BOLT = Terms("Bolt", 9700.0, delivery_days=40)  # cheaper, but arrives after the stock-out


@pytest.fixture
def world() -> FakePurchasing:
    world = FakePurchasing()
    world.stock.positions["copper"] = StockPosition(
        on_hand=150.0, daily_use=10.0, safety_stock=50.0, lead_time_days=20
    )
    world.quotes.by_material["copper"] = [ACME, BOLT]
    world.prices.points.append(PricePoint("copper", NOW - timedelta(hours=1), 9600.0, "test"))
    world.advice.advice["copper"] = CurrentAdvice("copper", Advice.BUY_NOW, "stock is low")
    world.approvers.ids = [OLGA.user_id or 0, PAUL.user_id or 0, ADA.user_id or 0]
    world.state.values[APPROVAL_ROOM] = str(ROOM)
    return world


async def waiting_request(world: FakePurchasing, quantity: float = 100.0) -> Purchase:
    requested = await world.service().request(ANN, COPPER, quantity, "Acme Metals")
    assert requested.purchase.state is PurchaseState.REQUESTED
    return requested.purchase


async def open_order(world: FakePurchasing, quantity: float = 100.0) -> Purchase:
    purchase = await waiting_request(world, quantity)
    return await world.service().approve(OLGA, purchase.id)


# --- /order ------------------------------------------------------------------------------------


async def test_order_suggestion_counts_open_orders_and_gives_the_price_risk_of_waiting(
    world: FakePurchasing,
) -> None:
    await open_order(world, 40.0)  # 40 t due in 14 days
    world.outlooks.by_material["copper"] = PriceOutlook(
        now=9600.0, price=9600.0, lower=9000.0, upper=10200.0, days=7
    )
    answer = await world.service().suggest(COPPER)
    suggestion = answer.suggestion
    # target 10 x (20 + 7) + 50 = 320 t; 150 t on hand and 40 t on order: 130 t more,
    # and at Acme's 100 t price break 130 t cost 9,800 each
    assert (suggestion.target, suggestion.inbound, suggestion.needed) == (320.0, 40.0, 130.0)
    assert suggestion.pick is not None and suggestion.pick.vendor == "Acme Metals"
    assert suggestion.pick.total == 130 * 9800.0
    assert [o.vendor for o in suggestion.options if o.late] == ["Bolt"]
    assert answer.risk is not None
    assert answer.risk.low == pytest.approx(130 * 9800.0 * 9000 / 9600)
    assert answer.risk.high == pytest.approx(130 * 9800.0 * 10200 / 9600)
    assert answer.risk.chance_cheaper == pytest.approx(0.5)
    assert answer.market_price == 9600.0
    assert answer.advice is not None and answer.advice.advice is Advice.BUY_NOW


async def test_order_suggestion_without_stock_figures_says_how_to_record_them(
    world: FakePurchasing,
) -> None:
    with pytest.raises(UserError, match=r"No stock is recorded for Aluminium: .*/count aluminium"):
        await world.service().suggest(ALUMINIUM)


async def test_a_received_or_cancelled_order_no_longer_counts_as_inbound(
    world: FakePurchasing,
) -> None:
    order = await open_order(world, 40.0)
    await world.service().cancel(ANN, order.id, confirmed=True)
    answer = await world.service().suggest(COPPER)
    assert answer.suggestion.inbound == 0.0 and answer.suggestion.needed == 170.0


# --- /buy --------------------------------------------------------------------------------------


async def test_a_request_within_the_limit_is_ordered_at_once_with_the_market_and_advice_of_now(
    world: FakePurchasing,
) -> None:
    requested = await world.service(approval_limit=1_000_000.0).request(
        ANN, COPPER, 100.0, "acme  METALS"
    )
    order = requested.purchase
    assert not requested.needs_approval
    assert order.state is PurchaseState.ORDERED
    assert order.po_number == "PO-2026-0001"
    assert order.vendor == "Acme Metals" and order.unit_price == 9800.0  # the 100 t break
    assert order.total == 980_000.0
    assert order.approved_by is None and order.approved_at == NOW
    assert order.expected == TODAY + timedelta(days=14)
    assert (order.market_price, order.advice) == (9600.0, Advice.BUY_NOW)
    assert world.notices.posted == []
    assert world.purchases.stored[order.id] == order


async def test_a_request_above_the_limit_is_posted_to_the_approval_room(
    world: FakePurchasing,
) -> None:
    requested = await world.service(approval_limit=500_000.0).request(
        ANN, COPPER, 100.0, "Acme Metals"
    )
    assert requested.needs_approval and requested.told == 1
    assert requested.purchase.state is PurchaseState.REQUESTED
    [notice] = world.notices.posted
    assert (notice.kind, notice.chat_id, notice.purchase_id) == (
        NoticeKind.APPROVAL,
        ROOM,
        requested.purchase.id,
    )
    assert notice.text == (
        "Purchase request #1 from Ann: 100 t Copper from Acme Metals at 9,800 USD/t = "
        "980,000 USD, above the approval limit of 500,000 USD. Delivery 14 days after approval."
    )


async def test_without_a_room_each_approver_but_the_requester_is_asked_privately(
    world: FakePurchasing,
) -> None:
    del world.state.values[APPROVAL_ROOM]
    requested = await world.service().request(OLGA, COPPER, 100.0, "Acme Metals")
    assert requested.told == 2
    assert sorted(n.chat_id for n in world.notices.posted) == [ADA.user_id, PAUL.user_id]


async def test_a_request_without_a_vendor_goes_to_the_one_that_delivers_in_time(
    world: FakePurchasing,
) -> None:
    requested = await world.service().request(ANN, COPPER, 50.0)
    # Bolt is cheaper but arrives on day 40; the stock runs out on day 15
    assert requested.purchase.vendor == "Acme Metals"
    assert requested.purchase.unit_price == 9900.0  # below the 100 t break


async def test_a_quantity_the_vendor_does_not_sell_is_refused_with_one_that_works(
    world: FakePurchasing,
) -> None:
    world.quotes.by_material["copper"] = [Terms("Acme Metals", 9900.0, min_order_qty=25.0)]
    with pytest.raises(UserError) as refused:
        await world.service().request(ANN, COPPER, 20.0, "Acme Metals")
    assert str(refused.value) == (
        'Acme Metals sells Copper from 25 t: /buy copper 25 from "Acme Metals", or give the '
        "price you agreed (at PRICE)."
    )
    assert world.purchases.stored == {}


async def test_a_price_given_overrides_the_quote_and_names_a_vendor_without_one(
    world: FakePurchasing,
) -> None:
    service = world.service()
    agreed = await service.request(ANN, COPPER, 20.0, "Acme Metals", price=9500.0)
    assert agreed.purchase.unit_price == 9500.0 and agreed.purchase.delivery_days == 14
    newcomer = await service.request(ANN, COPPER, 20.0, "Newco", price=9400.0)
    # no quote to take the delivery time from: the material's lead time
    assert newcomer.purchase.vendor == "Newco" and newcomer.purchase.delivery_days == 20
    with pytest.raises(UserError, match=r'No valid USD quote from Nobody .*from "Nobody" at PRICE'):
        await service.request(ANN, COPPER, 20.0, "Nobody")


@pytest.mark.parametrize(
    ("quantity", "price", "message"),
    [
        (0.0, None, "The quantity must be above 0, got 0."),
        (float("nan"), None, "The quantity must be above 0, got nan."),
        (10.0, -5.0, "The price must be above 0, got -5."),
    ],
)
async def test_bad_quantities_and_prices_are_refused_in_one_line(
    world: FakePurchasing, quantity: float, price: float | None, message: str
) -> None:
    with pytest.raises(UserError) as refused:
        await world.service().request(ANN, COPPER, quantity, "Acme Metals", price)
    assert str(refused.value) == message


async def test_a_viewer_cannot_request_a_purchase(world: FakePurchasing) -> None:
    with pytest.raises(UserError, match="Viewers cannot request purchases"):
        await world.service().request(VERA, COPPER, 100.0, "Acme Metals")
    assert world.purchases.stored == {}


# --- approval -----------------------------------------------------------------------------------


async def test_an_approver_approves_and_the_requester_is_told_the_order_number(
    world: FakePurchasing,
) -> None:
    purchase = await waiting_request(world)
    world.clock.advance(hours=3)
    order = await world.service().approve(OLGA, purchase.id)
    assert order.state is PurchaseState.ORDERED
    assert (order.approved_by, order.approved_by_name) == (OLGA.user_id, "Olga")
    assert order.po_number == "PO-2026-0001"
    assert order.expected == date(2026, 12, 8)
    [told] = world.notices.to(ANN.chat_id or 0)
    assert told.kind is NoticeKind.OUTCOME
    assert told.text == (
        "Approved by Olga: your request #1 is PO-2026-0001, 100 t Copper from Acme Metals, "
        "980,000 USD, expected 8 Dec."
    )


async def test_the_requester_cannot_approve_their_own_request_even_as_an_approver(
    world: FakePurchasing,
) -> None:
    requested = await world.service().request(OLGA, COPPER, 100.0, "Acme Metals")
    with pytest.raises(UserError, match="You asked for request #1: another approver"):
        await world.service().approve(OLGA, requested.purchase.id)
    assert world.purchases.stored[1].state is PurchaseState.REQUESTED


@pytest.mark.parametrize("who", [BEN, VERA])
async def test_buyers_and_viewers_cannot_approve_or_reject(
    world: FakePurchasing, who: Someone
) -> None:
    purchase = await waiting_request(world)
    service = world.service()
    with pytest.raises(UserError, match="Only approvers and admins may approve or reject"):
        await service.approve(who, purchase.id)
    with pytest.raises(UserError, match="Only approvers and admins may approve or reject"):
        await service.reject(who, purchase.id, "no")
    assert world.purchases.stored[purchase.id].state is PurchaseState.REQUESTED


async def test_a_second_approval_is_refused_and_changes_nothing(world: FakePurchasing) -> None:
    purchase = await waiting_request(world)
    first = await world.service().approve(OLGA, purchase.id)
    with pytest.raises(
        UserError, match="Request #1 was approved by Olga already: it is PO-2026-0001"
    ):
        await world.service().approve(PAUL, purchase.id)
    assert world.purchases.stored[purchase.id] == first
    assert len(world.notices.to(ANN.chat_id or 0)) == 1


async def test_an_approval_that_loses_a_race_stores_nothing(world: FakePurchasing) -> None:
    purchase = await waiting_request(world)

    class RacedRepo(FakePurchaseRepo):
        async def get(self, purchase_id: int) -> Purchase | None:
            read = await super().get(purchase_id)
            # another approver rejects it between this read and the save
            if read is not None and read.state is PurchaseState.REQUESTED:
                self.stored[purchase_id] = read.reject(PAUL.user_id, "Paul", NOW, "no")
            return read

    raced = RacedRepo()
    raced.stored, raced.last_id = world.purchases.stored, world.purchases.last_id
    world.purchases = raced
    with pytest.raises(UserError, match="Request #1 changed while this was being done"):
        await world.service().approve(OLGA, purchase.id)
    assert world.notices.to(ANN.chat_id or 0) == []


async def test_an_approval_whose_notice_cannot_be_queued_is_rolled_back(
    world: FakePurchasing,
) -> None:
    purchase = await waiting_request(world)
    world.notices.failure = RuntimeError("database is locked")
    with pytest.raises(RuntimeError):
        await world.service().approve(OLGA, purchase.id)
    assert world.purchases.stored[purchase.id] == purchase
    world.notices.failure = None
    order = await world.service().approve(OLGA, purchase.id)
    assert order.po_number == "PO-2026-0001"  # no number was used up


async def test_po_numbers_count_on_within_a_year_and_start_again_in_the_next(
    world: FakePurchasing,
) -> None:
    service = world.service(approval_limit=10_000_000.0)
    first = await service.request(ANN, COPPER, 100.0, "Acme Metals")
    second = await service.request(ANN, COPPER, 100.0, "Acme Metals")
    world.clock.current = datetime(2027, 1, 2, 9, 0, tzinfo=UTC)
    next_year = await service.request(ANN, COPPER, 100.0, "Acme Metals")
    assert [r.purchase.po_number for r in (first, second, next_year)] == [
        "PO-2026-0001",
        "PO-2026-0002",
        "PO-2027-0001",
    ]


async def test_the_command_line_acts_as_an_admin_and_may_approve(world: FakePurchasing) -> None:
    purchase = await waiting_request(world)
    order = await world.service().approve(CONSOLE, purchase.id)
    assert order.state is PurchaseState.ORDERED and order.approved_by is None
    assert order.approved_by_name == "console"


async def test_a_rejection_tells_the_requester_the_reason(world: FakePurchasing) -> None:
    purchase = await waiting_request(world)
    rejected = await world.service().reject(OLGA, purchase.id, "  wait for the March price ")
    assert rejected.state is PurchaseState.REJECTED
    assert rejected.reason == "wait for the March price"
    [told] = world.notices.to(ANN.chat_id or 0)
    assert told.text == (
        "Rejected by Olga: your request #1 (100 t Copper from Acme Metals): wait for the March "
        "price"
    )
    with pytest.raises(
        UserError, match="Request #1 was rejected by Olga already: wait for the March price"
    ):
        await world.service().approve(PAUL, purchase.id)


async def test_a_rejection_without_a_reason_is_refused(world: FakePurchasing) -> None:
    purchase = await waiting_request(world)
    with pytest.raises(UserError, match="A rejection needs a reason"):
        await world.service().reject(OLGA, purchase.id, "")
    assert world.purchases.stored[purchase.id].state is PurchaseState.REQUESTED


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (7, "There is no purchase #7. /orders lists them."),
        ("#7", "There is no purchase #7. /orders lists them."),
        ("PO-2026-0009", "There is no order PO-2026-0009. /orders lists them."),
        ("copper", "'copper' is not a purchase: give its number (12) or its order number"),
    ],
)
async def test_an_unknown_purchase_is_named_in_one_line(
    world: FakePurchasing, ref: int | str, message: str
) -> None:
    with pytest.raises(UserError) as refused:
        await world.service().approve(OLGA, ref)
    assert str(refused.value).startswith(message)


# --- reminders ------------------------------------------------------------------------------------


async def test_an_unanswered_request_is_posted_once_more_after_the_reminder_time(
    world: FakePurchasing,
) -> None:
    purchase = await waiting_request(world)
    service = world.service()
    world.clock.advance(hours=23)
    assert await service.remind() == []
    world.clock.advance(hours=1)
    [reminded] = await service.remind()
    assert reminded.id == purchase.id and reminded.reminded_at == world.clock.now()
    world.clock.advance(days=3)
    assert await service.remind() == []
    posts = world.notices.to(ROOM)
    assert [n.kind for n in posts] == [NoticeKind.APPROVAL, NoticeKind.REMINDER]
    assert posts[1].text.startswith("Still waiting since 24 Nov 12:00 UTC. Purchase request #1")


async def test_the_reminder_time_is_a_setting_and_decided_requests_get_none(
    world: FakePurchasing,
) -> None:
    decided = await waiting_request(world)
    await world.service().approve(OLGA, decided.id)
    waiting = await waiting_request(world)
    world.clock.advance(hours=2)
    reminded = await world.service(remind_after=timedelta(hours=2)).remind()
    assert [p.id for p in reminded] == [waiting.id]


# --- cancelling ---------------------------------------------------------------------------------


async def test_a_requester_withdrawing_a_request_tells_the_approvers(world: FakePurchasing) -> None:
    purchase = await waiting_request(world)
    cancelled = await world.service().cancel(ANN, purchase.id, "bought elsewhere")
    assert isinstance(cancelled, Purchase) and cancelled.state is PurchaseState.CANCELLED
    assert (cancelled.closed_by, cancelled.reason) == (ANN.user_id, "bought elsewhere")
    withdrawn = world.notices.to(ROOM)[-1]
    assert withdrawn.kind is NoticeKind.WITHDRAWN
    assert withdrawn.text == (
        "Request #1 (100 t Copper from Acme Metals) was cancelled by Ann: bought elsewhere. "
        "No decision is needed."
    )
    assert world.notices.to(ANN.chat_id or 0) == []  # she did it herself


async def test_an_admin_may_cancel_an_order_and_the_requester_is_told(
    world: FakePurchasing,
) -> None:
    order = await open_order(world)
    asked = await world.service().cancel(ADA, order.id, "supplier went bust")
    assert isinstance(asked, CancelToConfirm) and asked.purchase.id == order.id
    assert world.purchases.stored[order.id].state is PurchaseState.ORDERED  # not yet
    with pytest.raises(UserError, match="Only the person who asked for it or an admin"):
        await world.service().confirm_cancel(ANN, asked.action_id)
    cancelled = await world.service().confirm_cancel(ADA, asked.action_id)
    assert (cancelled.state, cancelled.reason) == (PurchaseState.CANCELLED, "supplier went bust")
    with pytest.raises(UserError, match=r"That has been done already\."):
        await world.service().confirm_cancel(ADA, asked.action_id)
    told = world.notices.to(ANN.chat_id or 0)[-1]
    assert told.text == (
        "Cancelled by Ada: PO-2026-0001 (100 t Copper from Acme Metals): supplier went bust."
    )


async def test_someone_else_cannot_cancel(world: FakePurchasing) -> None:
    order = await open_order(world)
    with pytest.raises(UserError, match="Only Ann or an admin may cancel PO-2026-0001"):
        await world.service().cancel(OLGA, order.id)


# --- receiving (the stock ledger's receipts against an order) ------------------------------------


def open_orders(world: FakePurchasing) -> OpenOrders:
    """What the stock ledger books receipts against an order through."""
    return OpenOrders(MaterialCatalog(MATERIALS), lambda: FakeWork(world), world.clock)


def receipt(quantity: float, reference: str = "PO-2026-0001", move_id: int = 1) -> StockMove:
    """A receipt booked in the stock ledger by Ben."""
    return StockMove(
        "copper",
        MoveKind.RECEIVE,
        quantity,
        NOW,
        Source.TELEGRAM,
        BEN.user_id,
        BEN.name,
        reference=reference,
        id=move_id,
    )


async def test_a_partial_receipt_counts_on_its_order_and_leaves_the_rest_open(
    world: FakePurchasing,
) -> None:
    order = await open_order(world)
    service, orders = world.service(), open_orders(world)
    assert await orders.check_receipt(COPPER, 40.0, "po-2026-0001") is None
    first = await orders.receipt_booked(receipt(40.0, "po-2026-0001"))
    assert first is not None and first.state is PurchaseState.PARTIALLY_RECEIVED
    assert first.outstanding == 60.0
    book = await service.orders()
    assert [line.purchase.id for line in book.open] == [order.id]
    rest = await orders.receipt_booked(receipt(60.0, move_id=2))
    assert rest is not None and rest.state is PurchaseState.RECEIVED
    assert rest.received_at == NOW
    assert (await service.orders()).open == ()


async def test_receiving_more_than_an_order_still_brings_is_confirmed_first(
    world: FakePurchasing,
) -> None:
    await open_order(world)
    service = open_orders(world)
    await service.receipt_booked(receipt(90.0))
    reason = await service.check_receipt(COPPER, 25.0, "PO-2026-0001")
    assert reason == "that is 15 t more than PO-2026-0001 still brings (10 t)"
    confirmed = await service.receipt_booked(receipt(25.0, move_id=2))
    assert confirmed is not None and confirmed.state is PurchaseState.RECEIVED
    assert confirmed.received == 115.0


async def test_a_receipt_naming_an_unknown_closed_or_other_order_is_refused(
    world: FakePurchasing,
) -> None:
    order = await open_order(world)
    service, orders = world.service(), open_orders(world)
    with pytest.raises(UserError, match="PO-2026-0001 is for Copper, not Aluminium"):
        await orders.check_receipt(ALUMINIUM, 10.0, "PO-2026-0001")
    with pytest.raises(UserError, match="There is no order PO-2026-0009"):
        await orders.check_receipt(COPPER, 10.0, "PO-2026-0009")
    await service.cancel(ANN, order.id, confirmed=True)
    with pytest.raises(UserError, match="PO-2026-0001 is cancelled: only an open order"):
        await orders.receipt_booked(receipt(10.0))
    assert world.purchases.stored[order.id].received == 0.0


async def test_a_reference_of_the_buyers_own_concerns_no_order(world: FakePurchasing) -> None:
    await open_order(world)
    service = open_orders(world)
    assert await service.check_receipt(COPPER, 500.0, "PO 4711") is None
    assert await service.receipt_booked(receipt(500.0, "PO 4711")) is None
    assert await service.receipt_booked(receipt(500.0, "")) is None
    assert world.purchases.stored[1].received == 0.0


async def test_an_undone_receipt_comes_off_its_order_which_opens_again(
    world: FakePurchasing,
) -> None:
    await open_order(world)
    service = open_orders(world)
    await service.receipt_booked(receipt(40.0))
    await service.receipt_booked(receipt(60.0, move_id=2))
    reopened = await service.receipt_undone(receipt(60.0, move_id=2))
    assert reopened is not None and reopened.state is PurchaseState.PARTIALLY_RECEIVED
    assert (reopened.received, reopened.outstanding, reopened.received_at) == (40.0, 60.0, None)
    back = await service.receipt_undone(receipt(40.0))
    assert back is not None and back.state is PurchaseState.ORDERED and back.outstanding == 100.0
    assert await service.receipt_undone(receipt(5.0, "PO 4711")) is None


# --- /orders ------------------------------------------------------------------------------------


async def test_open_orders_list_overdue_first_with_how_critical_it_is(
    world: FakePurchasing,
) -> None:
    world.quotes.by_material["copper"] = [
        ACME,
        Terms("Fast", 9900.0, delivery_days=3),
        Terms("Slow", 9900.0, delivery_days=30),
    ]
    service = world.service()
    slow = (await service.request(ANN, COPPER, 10.0, "Slow")).purchase
    fast = (await service.request(ANN, COPPER, 10.0, "Fast")).purchase
    await service.approve(OLGA, slow.id)
    await service.approve(OLGA, fast.id)
    waiting = await waiting_request(world)
    world.clock.advance(days=5)  # Fast was due 2 days ago
    book = await service.orders()
    assert [line.purchase.id for line in book.open] == [fast.id, slow.id]
    late = book.open[0].overdue
    assert late is not None and late.days_late == 2
    # 150 t on hand at 10 t a day (the clock moved; the fake stock did not), 10 t from Slow
    # after the stock-out: out in 15 days, after a 3-day delivery would arrive
    assert late.severity is Severity.WARNING
    assert book.open[1].overdue is None
    assert [p.id for p in book.waiting] == [waiting.id]
    assert book.closed == ()
    assert [o.purchase.id for o in await service.overdue_orders()] == [fast.id]


async def test_an_overdue_order_is_critical_when_the_stock_runs_out_before_delivery(
    world: FakePurchasing,
) -> None:
    order = await open_order(world)  # 14 days' delivery
    world.stock.positions["copper"] = StockPosition(
        on_hand=50.0, daily_use=10.0, safety_stock=50.0, lead_time_days=20
    )
    world.clock.advance(days=15)
    [late] = await world.service().overdue_orders()
    assert late.purchase.id == order.id
    assert late.severity is Severity.CRITICAL


async def test_orders_all_adds_the_closed_purchases_newest_first(world: FakePurchasing) -> None:
    rejected = await waiting_request(world)
    await world.service().reject(OLGA, rejected.id, "no")
    received = await open_order(world)
    await open_orders(world).receipt_booked(receipt(100.0))
    book = await world.service().orders(include_closed=True)
    assert [p.id for p in book.closed] == [received.id, rejected.id]


# --- the approval room ---------------------------------------------------------------------------


async def test_only_an_admin_in_a_group_makes_it_the_approval_room(world: FakePurchasing) -> None:
    service = world.service()
    with pytest.raises(UserError, match="Only admins may use /approvals"):
        await service.set_approval_room(OLGA, ROOM, is_group=True)
    with pytest.raises(UserError, match="/approvals here works in a group chat"):
        await service.set_approval_room(ADA, ADA.chat_id, is_group=False)
    await service.set_approval_room(ADA, -42, is_group=True)
    room, changed = await service.approval_room()
    assert room == -42 and changed is not None and changed.startswith(f"{ADA.name}, ")
    assert await service.close_approval_room(ADA) == -42
    assert (await service.approval_room())[0] is None
    requested = await service.request(ANN, COPPER, 100.0, "Acme Metals")
    assert requested.told == 3  # Olga, Paul and Ada privately


# --- /report -------------------------------------------------------------------------------------


async def test_the_report_covers_the_orders_placed_in_the_month(world: FakePurchasing) -> None:
    service = world.service(approval_limit=10_000_000.0)
    world.prices.points.clear()

    def close(day: datetime, price: float) -> None:
        world.prices.points.append(PricePoint("copper", day.replace(hour=17), price, "test"))
        world.clock.current = day.replace(hour=18)

    close(datetime(2026, 10, 31, tzinfo=UTC), 9000.0)
    await service.request(ANN, COPPER, 10.0, "Acme Metals")  # in October: left out
    close(datetime(2026, 11, 1, tzinfo=UTC), 9500.0)
    close(datetime(2026, 11, 2, tzinfo=UTC), 9700.0)
    await service.request(ANN, COPPER, 100.0, "Acme Metals")  # at 9,800, market 9,700
    close(datetime(2026, 11, 3, tzinfo=UTC), 9900.0)
    report = await service.report(date(2026, 11, 1))
    [(material, line)] = report.lines
    assert material == COPPER
    assert (line.orders, line.quantity, line.spend) == (1, 100.0, 980_000.0)
    assert line.market_average == 9700.0
    assert line.followed == 1
    # the schedule: the mean close of 1-3 Nov (October's is not in it), 9,700
    assert line.schedule_price == pytest.approx(9700.0)
    assert line.versus_schedule == pytest.approx(0.0)


async def test_a_report_for_a_month_not_started_is_refused(world: FakePurchasing) -> None:
    with pytest.raises(UserError, match="December 2026 has not started yet"):
        await world.service().report(date(2026, 12, 1))
    assert (await world.service().report()).lines == ()


# --- the Request button under /order ----------------------------------------------------------


async def test_a_buyers_suggestion_keeps_its_pick_for_the_request_button_which_works_once(
    world: FakePurchasing,
) -> None:
    service = world.service()
    suggested = await service.suggest(COPPER, ANN)
    assert suggested.offer is not None
    with pytest.raises(UserError, match="Only the person who asked for it or an admin"):
        await service.request_offer(BEN, suggested.offer)
    requested = await service.request_offer(ANN, suggested.offer)
    pick = suggested.suggestion.pick
    assert pick is not None
    assert (requested.purchase.vendor, requested.purchase.quantity) == (pick.vendor, pick.quantity)
    with pytest.raises(UserError, match=r"That has been done already\."):
        await service.request_offer(ANN, suggested.offer)
    assert len(world.purchases.stored) == 1


async def test_a_viewer_gets_the_suggestion_without_a_button_and_an_old_one_expires(
    world: FakePurchasing,
) -> None:
    service = world.service()
    assert (await service.suggest(COPPER, VERA)).offer is None
    assert (await service.suggest(COPPER)).offer is None
    offer = (await service.suggest(COPPER, ANN)).offer
    assert offer is not None
    world.clock.advance(hours=1)
    with pytest.raises(UserError, match="That waited too long and has expired: send /order"):
        await service.request_offer(ANN, offer)
    assert world.purchases.stored == {}


async def test_a_failed_request_leaves_its_button_usable(world: FakePurchasing) -> None:
    offer = (await world.service().suggest(COPPER, ANN)).offer
    assert offer is not None
    world.notices.failure = RuntimeError("database is locked")
    with pytest.raises(RuntimeError):
        await world.service().request_offer(ANN, offer)
    world.notices.failure = None
    assert (await world.service().request_offer(ANN, offer)).purchase.id == 1


# --- the Reject button: a reason, asked for -------------------------------------------------------


OLGA_IN_ROOM = Someone(30, "Olga", "approver", chat_id=ROOM)


async def test_the_reject_button_waits_for_the_pressing_approvers_reason_in_that_chat(
    world: FakePurchasing,
) -> None:
    purchase = await waiting_request(world)
    service = world.service()
    asked = await service.ask_reason(OLGA_IN_ROOM, purchase.id)
    assert asked.state is PurchaseState.REQUESTED and world.notices.to(ANN.chat_id or 0) == []
    waiting = await service.reason_awaited(30, ROOM)
    assert waiting is not None and waiting.id == purchase.id
    assert await service.reason_awaited(30, OLGA.chat_id or 0) is None
    assert await service.reason_awaited(PAUL.user_id or 0, ROOM) is None
    await service.reject(OLGA_IN_ROOM, purchase.id, "too dear")
    assert await service.reason_awaited(30, ROOM) is None
    world.clock.advance(minutes=31)
    other = await waiting_request(world)
    await service.ask_reason(OLGA_IN_ROOM, other.id)
    await service.approve(PAUL, other.id)  # decided meanwhile: no reason is awaited any more
    assert await service.reason_awaited(30, ROOM) is None


async def test_a_reason_is_asked_only_of_who_may_decide_and_expires(
    world: FakePurchasing,
) -> None:
    purchase = await waiting_request(world)
    service = world.service()
    with pytest.raises(UserError, match="Only approvers and admins may approve or reject"):
        await service.ask_reason(ANN, purchase.id)
    own = (await service.request(OLGA, COPPER, 100.0, "Acme Metals")).purchase
    with pytest.raises(UserError, match="You asked for request #2"):
        await service.ask_reason(OLGA_IN_ROOM, own.id)
    with pytest.raises(UserError, match=r"A rejection needs a reason: /reject N REASON\."):
        await service.ask_reason(CONSOLE, purchase.id)
    await service.ask_reason(OLGA_IN_ROOM, purchase.id)
    world.clock.advance(minutes=30)
    assert await service.reason_awaited(30, ROOM) is None


# --- PO_OVERDUE -----------------------------------------------------------------------------------


class RecordingMonitor:
    """The alert monitor as purchasing uses it: records what it is asked to raise."""

    def __init__(self) -> None:
        self.raised: list[Alert] = []

    async def raise_alert(self, candidate: Alert) -> Alert | None:
        self.raised.append(candidate)
        return candidate


async def test_an_overdue_order_raises_po_overdue_critical_when_stock_runs_out_first(
    world: FakePurchasing,
) -> None:
    await open_order(world)  # due 8 Dec
    service = world.service()
    monitor = RecordingMonitor()
    assert await service.check_overdue() == []  # no monitor wired: nothing raised
    service.alerts = monitor
    assert await service.check_overdue() == []  # not overdue yet
    world.clock.advance(days=16)
    world.stock.positions["copper"] = StockPosition(
        on_hand=50.0, daily_use=10.0, safety_stock=50.0, lead_time_days=20
    )
    (alert,) = await service.check_overdue()
    assert (alert.type, alert.severity, alert.material) == (
        AlertType.PO_OVERDUE,
        Severity.CRITICAL,
        "copper",
    )
    assert alert.dedup_key == "PO_OVERDUE:PO-2026-0001" and alert.magnitude == 2.0
    assert alert.message == (
        "PO-2026-0001 is 2 days overdue: 100 t Copper from Acme Metals was expected on 8 Dec "
        "and has not all arrived; the stock runs out on 15 Dec, before a new delivery could "
        "arrive (12:00 UTC). Chase Acme Metals now, or order elsewhere: /order copper."
    )
    assert (
        alert.facts is not None
        and alert.facts.change == "PO-2026-0001 2 days overdue, 100 t to come"
    )


# --- what open orders bring, for the rest of the bot ----------------------------------------------


async def test_open_orders_give_arrivals_inbound_by_a_day_and_the_digest_lines(
    world: FakePurchasing,
) -> None:
    world.quotes.by_material["copper"] = [ACME, Terms("Fast", 9900.0, delivery_days=3)]
    first = await open_order(world, 40.0)  # due 8 Dec
    fast = (await world.service().request(ANN, COPPER, 10.0, "Fast")).purchase
    second = await world.service().approve(OLGA, fast.id)  # due 27 Nov
    orders = open_orders(world)
    await orders.receipt_booked(receipt(4.0, "PO-2026-0002"))
    assert await orders.arrivals("copper") == [
        Inbound(6.0, date(2026, 11, 27)),
        Inbound(40.0, date(2026, 12, 8)),
    ]
    assert await orders.arrivals("aluminium") == []
    assert await orders.inbound("copper", date(2026, 12, 1)) == 6.0
    world.clock.advance(days=5)  # the second is 2 days late, and counts as due today
    assert (await orders.arrivals("copper"))[0] == Inbound(6.0, date(2026, 11, 29))
    # the digest: orders overdue or due within a week
    assert await orders.lines("-1", world.clock.now()) == [
        "PO-2026-0002 Copper: 6 t from Fast, 2 days overdue"
    ]
    world.clock.advance(days=2)
    assert await orders.lines("-1", world.clock.now()) == [
        "PO-2026-0002 Copper: 6 t from Fast, 4 days overdue",
        "PO-2026-0001 Copper: 40 t from Acme Metals, due 8 Dec",
    ]
    assert (first.id, second.id) == (1, 2)
