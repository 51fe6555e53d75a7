"""How purchasing plugs into the rest of the bot, over fakes: what open orders do to /stock and
to LOW_INVENTORY, the approval room following its group, the notices as outbox messages, who
the approvers are, the forecast as a price outlook, and the purchasing job."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from core.access import AccessPolicy
from core.alert_rules import AlertPolicy, stock_alert
from core.chats import ChatMoves
from core.delivery import DeliveryWorker
from core.domain.purchasing import (
    APPROVAL_ROOM,
    Inbound,
    Notice,
    NoticeKind,
    PriceOutlook,
    StockPosition,
)
from core.feeds import PricePoller
from core.forecast_model import ForecastConfig
from core.forecasting import Forecast
from core.inventory import InventoryService, StockLevel, assess_stock
from core.jobs import AlertJobs
from core.materials import MaterialCatalog
from core.models import AlertType, Channel, Recipient, Role, Severity, Subscription
from core.monitoring import AlertMonitor
from core.recipients import RecipientDirectory
from core.services.purchasing_wiring import (
    ForecastOutlooks,
    InventoryFigures,
    OutboxNotices,
    RoleApprovers,
)
from tests.fakes import (
    ALUMINIUM,
    COPPER,
    MATERIALS,
    NOW,
    FakeClock,
    FakeFeed,
    FakeForecastRepo,
    FakeInboundOrders,
    FakeInventoryRepo,
    FakeOutbox,
    FakePriceRepo,
    FakeStateStore,
    FakeSubscriptionRepo,
    FakeUnitOfWork,
    FakeUserRepo,
    flat_run,
    stock_item,
)
from tests.purchasing_fakes import ANN, OLGA, FakePurchasing, Terms

TODAY = NOW.date()
# 200 t at 10 t a day, 20 days' lead time, 50 t minimum: reorder at 250 t, out in 20 days
LOW = stock_item("copper", on_hand=200, daily_consumption=10, minimum=50, lead_time_days=20)


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


# --- /stock and LOW_INVENTORY ------------------------------------------------------------------


def test_stock_shows_what_is_on_its_way_and_the_cover_with_it() -> None:
    status = assess_stock(COPPER, LOW, [], [Inbound(100.0, day(5))], TODAY)
    assert status.level is StockLevel.REORDER  # the level is about the stock on hand
    assert (status.days_of_cover, status.cover_with_inbound, status.inbound_quantity) == (
        20.0,
        30.0,
        100.0,
    )
    assert assess_stock(COPPER, LOW, []).cover_with_inbound is None


def test_low_stock_is_not_alerted_while_an_order_arriving_in_time_covers_it() -> None:
    in_time = assess_stock(COPPER, LOW, [], [Inbound(100.0, day(15))], TODAY)
    assert stock_alert(in_time, NOW) is None
    too_late = assess_stock(COPPER, LOW, [], [Inbound(100.0, day(25))], TODAY)
    too_small = assess_stock(COPPER, LOW, [], [Inbound(40.0, day(5))], TODAY)
    for status in (too_late, too_small):
        alert = stock_alert(status, NOW)
        assert alert is not None and alert.type is AlertType.LOW_INVENTORY


async def test_the_inventory_service_reads_the_open_orders() -> None:
    orders = FakeInboundOrders([("copper", day(9), 30.0), ("copper", day(3), 20.0)])
    inventory = InventoryService(MaterialCatalog(MATERIALS), FakeInventoryRepo([LOW]), FakeClock())
    assert (await inventory.status(COPPER)).inbound == ()
    inventory = InventoryService(
        MaterialCatalog(MATERIALS), FakeInventoryRepo([LOW]), FakeClock(), orders
    )
    status = await inventory.status(COPPER)
    assert status.inbound == (Inbound(20.0, day(3)), Inbound(30.0, day(9)))
    assert status.cover_with_inbound == 25.0
    position = await InventoryFigures(inventory).position(COPPER)
    assert position == StockPosition(200.0, 10.0, 50.0, 20)
    assert await InventoryFigures(inventory).position(ALUMINIUM) is None


# --- the approval room, the notices, the approvers ------------------------------------------------


async def test_the_approval_room_follows_its_group_when_it_becomes_a_supergroup() -> None:
    uow = FakeUnitOfWork()
    await uow.state.set(APPROVAL_ROOM, "-100")
    moves = ChatMoves(uow)
    await moves("-555", "-100555")
    assert await uow.state.get(APPROVAL_ROOM) == "-100"
    await moves("-100", "-100100")
    assert await uow.state.get(APPROVAL_ROOM) == "-100100"


async def test_a_request_to_decide_on_goes_to_its_chat_with_approve_and_reject() -> None:
    outbox = FakeOutbox()
    notices = OutboxNotices(outbox, FakeClock())
    await notices.post(Notice(NoticeKind.APPROVAL, 12, -100, "Ann asks for 100 t.", "Request"))
    await notices.post(Notice(NoticeKind.OUTCOME, 12, 20, "Approved by Olga.", "Approved"))
    await notices.post(Notice(NoticeKind.WITHDRAWN, 12, -100, "Cancelled by Ann."))
    asked, told, withdrawn = outbox.alerts
    assert (asked.type, asked.severity, asked.chat) == (AlertType.PURCHASE, Severity.INFO, "-100")
    assert asked.message == "Request\nAnn asks for 100 t."
    assert [(a.label, a.command) for a in asked.actions] == [
        ("✅ Approve", "/approve 12"),
        ("❌ Reject", "/reject 12"),
    ]
    assert [a.command for a in told.actions] == ["/orders"]
    assert (withdrawn.message, withdrawn.actions) == ("Cancelled by Ann.", ())
    assert [(d.channel, d.address) for d in outbox.deliveries.values()] == [
        (Channel.TELEGRAM, "-100"),
        (Channel.TELEGRAM, "20"),
        (Channel.TELEGRAM, "-100"),
    ]


async def test_approvers_are_approvers_and_admins_from_the_settings_and_granted() -> None:
    users = FakeUserRepo()
    access = AccessPolicy(
        frozenset({1}), frozenset({2}), users, FakeClock(), approver_ids=frozenset({30, 31})
    )
    await users.grant(40, Role.APPROVER, 1, NOW)
    await users.grant(41, Role.ADMIN, 1, NOW)
    await users.grant(31, Role.BUYER, 1, NOW)  # an admin made this approver a buyer
    assert await RoleApprovers(access).approvers() == [1, 30, 40, 41]


# --- the forecast as a price outlook --------------------------------------------------------------


async def test_the_stored_forecast_is_the_price_outlook_of_waiting() -> None:
    forecasts = FakeForecastRepo()
    outlooks = ForecastOutlooks(forecasts, 7)
    assert await outlooks.outlook("copper") is None  # no forecast yet: no risk shown
    closes = pd.Series(
        [9000.0] * 60, index=pd.date_range(TODAY - timedelta(days=59), periods=60, freq="D")
    )
    forecast = Forecast(
        "copper",
        NOW,
        TODAY,
        9600.0,
        tuple(day(n) for n in range(1, 8)),
        (9600.0,) * 6 + (9700.0,),
        (9000.0,) * 7,
        (10_200.0,) * 7,
        "naive",
        "no candidate beat naive",
        TODAY - timedelta(days=59),
        TODAY,
        {},
    )
    await forecasts.save(flat_run(closes, 7, ForecastConfig()), forecast, backfilled=False)
    assert await outlooks.outlook("copper") == PriceOutlook(9600.0, 9700.0, 9000.0, 10_200.0, 7)


# --- the purchasing job ---------------------------------------------------------------------------


async def test_the_purchasing_job_reminds_once_and_raises_po_overdue_within_the_cool_down() -> None:
    world = FakePurchasing()
    world.quotes.by_material["copper"] = [Terms("Fast", 9900.0, delivery_days=3)]
    world.stock.positions["copper"] = StockPosition(300.0, 10.0, 50.0, 20)
    service = world.service()
    waiting = (await service.request(ANN, COPPER, 10.0, "Fast")).purchase
    ordered = (await service.request(ANN, COPPER, 20.0, "Fast")).purchase
    await service.approve(OLGA, ordered.id)
    catalog = MaterialCatalog(MATERIALS)
    outbox, prices = FakeOutbox(), FakePriceRepo()
    subscriptions = FakeSubscriptionRepo()
    await subscriptions.add(Subscription(Channel.TELEGRAM, "500", NOW))
    recipients = RecipientDirectory(subscriptions, world.clock)
    inventory = InventoryService(catalog, FakeInventoryRepo(), world.clock)
    monitor = AlertMonitor(
        catalog, prices, inventory, outbox, recipients, FakeStateStore(), world.clock, AlertPolicy()
    )
    service.alerts = monitor
    jobs = AlertJobs(
        PricePoller(FakeFeed(), catalog, prices, world.clock),
        monitor,
        DeliveryWorker(outbox, {}, recipients, world.clock),
        purchasing=service,
    )
    assert await jobs.check_purchases() == []
    world.clock.advance(days=5)  # a day past the reminder time, two days past the order's day
    raised = await jobs.check_purchases()
    assert raised is not None
    (overdue,) = raised
    assert overdue.type is AlertType.PO_OVERDUE and overdue.severity is Severity.WARNING
    assert overdue.message.startswith("PO-2026-0001 is 2 days overdue: 20 t Copper from Fast")
    assert [n.kind for n in world.notices.posted if n.purchase_id == waiting.id] == [
        NoticeKind.APPROVAL,
        NoticeKind.REMINDER,
    ]
    world.clock.advance(hours=1)
    assert await jobs.check_purchases() == []  # the cool-down holds the alert back
    assert [n.kind for n in world.notices.posted].count(NoticeKind.REMINDER) == 1
    assert [d.address for d in outbox.deliveries.values()] == ["500"]
    assert Recipient(Channel.TELEGRAM, "500") in await recipients.for_alerts()
