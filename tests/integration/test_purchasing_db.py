"""Purchasing in storage, on SQLite and PostgreSQL: the purchases and their PO numbers, a request
and its approval post as one unit of work, receipts against an order through the real stock
ledger (partial, over, undone), and the migration from the last release's schema."""

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.bootstrap import build_services
from bot.settings import load_settings
from core.adapters.db.engine import Database
from core.adapters.db.repos.alerts import ALERT_COLUMNS, SqlAlertRepo, alert_from_row
from core.adapters.db.repos.outbox import SqlOutbox, SqlStateStore
from core.adapters.db.repos.pending import SqlPendingActionRepo
from core.adapters.db.repos.prices import SqlMaterialRepo, SqlPriceRepo
from core.adapters.db.repos.purchases import SqlPurchaseRepo
from core.adapters.db.repos.stock import SqlInventoryRepo, SqlStockMoveRepo
from core.adapters.db.repos.vendors import SqlVendorRepo
from core.adapters.db.schema import alerts
from core.adapters.db.unit_of_work import SqlUnitOfWork
from core.domain.actors import Actor, Source
from core.domain.pending import PendingAction, PendingKind
from core.domain.purchasing import APPROVAL_ROOM, Purchase, PurchaseState
from core.domain.stock import MoveKind, NewMove
from core.errors import UserError
from core.models import Advice, Alert, AlertType, PricePoint, Role, Severity
from core.services import Services
from core.services.stock import Booked, ToConfirm
from tests.fakes import ALUMINIUM, COPPER, NOW, FakeClock, quote, stock_item
from tests.legacy import database_at

BOB = Actor(2, "Bob", Role.BUYER, Source.TELEGRAM, chat_id=2)
OLGA = Actor(30, "Olga", Role.APPROVER, Source.TELEGRAM, chat_id=-100)
ROOM = -100


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.open(database_url)
    for material in (COPPER, ALUMINIUM):
        await SqlMaterialRepo(database).upsert(material)
    yield database
    await database.close()


def purchase(**changes: object) -> Purchase:
    base = Purchase(
        material="copper",
        vendor="Acme Metals",
        quantity=100.0,
        unit="t",
        unit_price=9800.0,
        currency="USD",
        delivery_days=14,
        requested_by=2,
        requested_by_name="Bob",
        requested_at=NOW,
        chat_id=2,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_a_purchase_round_trips_with_every_field(db: Database) -> None:
    repo = SqlPurchaseRepo(db)
    stored = await repo.add(purchase())
    assert stored.id > 0 and await repo.get(stored.id) == stored
    ordered = stored.approve(30, "Olga", NOW).order(
        "PO-2026-0001", NOW + timedelta(hours=1), 9600.0, Advice.BUY_NOW
    )
    ordered = ordered.receive(40.0, NOW + timedelta(days=3))
    assert await repo.save(ordered, PurchaseState.REQUESTED)
    assert await repo.get(stored.id) == ordered
    assert await repo.by_po_number("PO-2026-0001") == ordered
    assert await repo.by_po_number("PO-2026-0002") is None
    assert ordered.expected == date(2026, 12, 8) and ordered.advice is Advice.BUY_NOW


async def test_a_purchase_is_saved_only_from_the_state_it_was_read_in(db: Database) -> None:
    repo = SqlPurchaseRepo(db)
    stored = await repo.add(purchase())
    rejected = stored.reject(30, "Olga", NOW, "too dear")
    assert await repo.save(rejected, PurchaseState.REQUESTED)
    approved = stored.approve(31, "Paul", NOW)  # read before Olga's rejection
    assert not await repo.save(approved, PurchaseState.REQUESTED)
    assert await repo.get(stored.id) == rejected


async def test_purchases_are_found_by_state_by_month_and_newest_first(db: Database) -> None:
    repo = SqlPurchaseRepo(db)
    waiting = await repo.add(purchase())
    october = await repo.add(
        purchase(state=PurchaseState.ORDERED, ordered_at=datetime(2026, 10, 31, 23, tzinfo=UTC))
    )
    november = await repo.add(
        purchase(
            material="aluminium",
            state=PurchaseState.PARTIALLY_RECEIVED,
            ordered_at=datetime(2026, 11, 1, tzinfo=UTC),
        )
    )
    open_states = [PurchaseState.ORDERED, PurchaseState.PARTIALLY_RECEIVED]
    assert [p.id for p in await repo.in_states(open_states)] == [october.id, november.id]
    assert [p.id for p in await repo.in_states(open_states, "aluminium")] == [november.id]
    assert [p.id for p in await repo.in_states([PurchaseState.REQUESTED])] == [waiting.id]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    between = await repo.ordered_between(start, datetime(2026, 12, 1, tzinfo=UTC))
    assert [p.id for p in between] == [november.id]
    assert [p.id for p in await repo.recent(2)] == [november.id, october.id]


async def test_po_numbers_count_per_year_and_a_rolled_back_order_gives_its_number_back(
    db: Database,
) -> None:
    repo = SqlPurchaseRepo(db)
    assert [await repo.next_sequence(2026) for _ in range(3)] == [1, 2, 3]
    assert await repo.next_sequence(2027) == 1
    with pytest.raises(RuntimeError):
        async with SqlUnitOfWork(db) as uow:
            assert await uow.purchases.next_sequence(2026) == 4
            raise RuntimeError("the order failed after taking its number")
    assert await repo.next_sequence(2026) == 4


async def test_a_reason_waits_for_its_approver_in_its_chat_only(db: Database) -> None:
    pending = SqlPendingActionRepo(db)
    asked = await pending.add(
        PendingAction(PendingKind.REASON, {"purchase": 7}, 30, -100, NOW, NOW + timedelta(30))
    )
    await pending.add(PendingAction(PendingKind.MOVE, {}, 30, -100, NOW, NOW + timedelta(30)))
    assert await pending.waiting(PendingKind.REASON, 30, -100, NOW) == asked
    assert await pending.waiting(PendingKind.REASON, 30, 30, NOW) is None
    assert await pending.waiting(PendingKind.REASON, 31, -100, NOW) is None
    assert await pending.waiting(PendingKind.REASON, 30, -100, NOW + timedelta(31)) is None


# --- the use cases over the database ---------------------------------------------------------


async def services_over(db: Database, **settings: object) -> Services:
    await SqlInventoryRepo(db).upsert(stock_item("copper", daily_consumption=10, minimum=50))
    await SqlStockMoveRepo(db).add(NewMove("copper", MoveKind.COUNT, 300, NOW, Source.CONSOLE))
    await SqlVendorRepo(db).add(
        [quote("Acme Metals", price=9800.0, delivery_days=14, min_order_qty=None)],
        None,
        None,
        "console",
    )
    await SqlPriceRepo(db).add([PricePoint("copper", NOW - timedelta(hours=1), 9600.0, "test")])
    return await build_services(
        db,
        load_settings(_env_file=None, approver_user_ids={30}, **settings),
        FakeClock(NOW + timedelta(hours=1)),
    )


async def test_a_request_and_its_approval_post_are_stored_together(db: Database) -> None:
    services = await services_over(db)
    assert services.purchasing is not None
    await SqlStateStore(db).set(APPROVAL_ROOM, str(ROOM))
    requested = await services.purchasing.request(BOB, COPPER, 100.0, "Acme Metals")
    assert requested.told == 1
    assert await SqlAlertRepo(db).recent(10, chat=str(ROOM)) == []  # not an alert
    (post,) = await _messages(db)
    assert post.type is AlertType.PURCHASE and post.chat == str(ROOM)
    assert post.message.startswith("Purchase request #1\nPurchase request #1 from Bob:")
    assert [(a.label, a.command) for a in post.actions] == [
        ("✅ Approve", "/approve 1"),
        ("❌ Reject", "/reject 1"),
    ]
    (delivery,) = await SqlOutbox(db).deliveries(post.id)
    assert delivery.address == str(ROOM)


async def _messages(db: Database) -> list[Alert]:
    """Every message in the outbox, alerts or not, oldest first."""
    rows = await db.fetchall(sa.select(*ALERT_COLUMNS).order_by(alerts.c.id))
    return [alert_from_row(row) for row in rows]


async def test_a_request_whose_post_fails_stores_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = await services_over(db)
    assert services.purchasing is not None

    async def broken(*args: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(SqlOutbox, "record", broken)
    with pytest.raises(RuntimeError):
        await services.purchasing.request(BOB, COPPER, 100.0, "Acme Metals")
    assert await SqlPurchaseRepo(db).recent(10) == []


async def test_an_approval_places_the_order_with_its_number_and_tells_the_requester(
    db: Database,
) -> None:
    services = await services_over(db)
    assert services.purchasing is not None
    requested = await services.purchasing.request(BOB, COPPER, 100.0, "Acme Metals")
    order = await services.purchasing.approve(OLGA, requested.purchase.id)
    assert (order.po_number, order.market_price, order.approved_by) == ("PO-2026-0001", 9600, 30)
    stored = await SqlPurchaseRepo(db).get(order.id)
    assert stored is not None and stored.state is PurchaseState.ORDERED
    told = [m for m in await _messages(db) if m.chat == "2"]
    assert [m.message.splitlines()[0] for m in told] == ["Request #1 approved: PO-2026-0001"]
    with pytest.raises(UserError, match="was approved by Olga already"):
        await services.purchasing.approve(OLGA, requested.purchase.id)


async def test_receipts_against_an_order_partial_over_and_undone(db: Database) -> None:
    services = await services_over(db, approval_limit=10_000_000)
    assert services.purchasing is not None
    order = (await services.purchasing.request(BOB, COPPER, 100.0, "Acme Metals")).purchase
    assert order.po_number == "PO-2026-0001"
    ledger, repo = services.ledger, SqlPurchaseRepo(db)

    part = await ledger.record(BOB, COPPER, MoveKind.RECEIVE, 40.0, "po-2026-0001")
    assert isinstance(part, Booked) and part.order is not None
    assert (part.order.state, part.order.outstanding) == (PurchaseState.PARTIALLY_RECEIVED, 60.0)
    assert part.after.item.on_hand == 340

    asked = await ledger.record(BOB, COPPER, MoveKind.RECEIVE, 75.0, "PO-2026-0001")
    assert isinstance(asked, ToConfirm)
    assert asked.reason == "that is 15 t more than PO-2026-0001 still brings (60 t)"
    assert (await repo.get(order.id)) == part.order  # nothing booked yet
    confirmed = await ledger.confirm(BOB, asked.action_id)
    assert confirmed.order is not None and confirmed.order.state is PurchaseState.RECEIVED
    assert confirmed.order.received == 115.0

    undone = await ledger.undo(BOB, confirmed.move.id)
    assert undone.order is not None and undone.order.state is PurchaseState.PARTIALLY_RECEIVED
    stored = await repo.get(order.id)
    assert stored is not None and stored.outstanding == 60.0
    assert (await services.inventory.status(COPPER)).inbound_quantity == 60.0


async def test_a_receipt_against_a_closed_order_books_nothing(db: Database) -> None:
    services = await services_over(db, approval_limit=10_000_000)
    assert services.purchasing is not None
    order = (await services.purchasing.request(BOB, COPPER, 100.0, "Acme Metals")).purchase
    await services.purchasing.cancel(BOB, order.id, confirmed=True)
    moves = len(await SqlStockMoveRepo(db).recent(100))
    with pytest.raises(UserError, match="PO-2026-0001 is cancelled: only an open order"):
        await services.ledger.record(BOB, COPPER, MoveKind.RECEIVE, 40.0, "PO-2026-0001")
    assert len(await SqlStockMoveRepo(db).recent(100)) == moves


async def test_an_order_arriving_in_time_keeps_low_stock_from_alerting(db: Database) -> None:
    services = await services_over(db, approval_limit=10_000_000)
    assert services.purchasing is not None
    # 300 t at 10 t a day with a 20-day lead time and 50 t safety stock: reorder at 250 t
    await services.ledger.record(BOB, COPPER, MoveKind.USE, 60.0)  # 240 t: low
    status = await services.inventory.status(COPPER)
    assert status.is_low and status.inbound == ()
    await services.purchasing.request(BOB, COPPER, 100.0, "Acme Metals")  # due in 14 days
    status = await services.inventory.status(COPPER)
    assert status.is_low and status.inbound_quantity == 100.0
    assert status.cover_with_inbound == pytest.approx(34.0)
    booked = await services.ledger.record(BOB, COPPER, MoveKind.USE, 1.0)
    assert isinstance(booked, Booked) and booked.alert is None


# --- the migration ---------------------------------------------------------------------------


async def test_the_migration_keeps_alerts_and_pending_actions_and_takes_the_new_kinds(
    database_url: str,
) -> None:
    db = await database_at(database_url, "0005")
    try:
        await SqlMaterialRepo(db).upsert(COPPER)
        old_alert = Alert(
            AlertType.LOW_INVENTORY, Severity.WARNING, "copper", "low", NOW, "LOW_INVENTORY:copper"
        )
        stored = await SqlAlertRepo(db).add(old_alert)
        await SqlPendingActionRepo(db).add(
            PendingAction(PendingKind.MOVE, {"a": 1}, 2, 2, NOW, NOW + timedelta(minutes=10))
        )
    finally:
        await db.close()
    db = await Database.open(database_url)
    try:
        assert await SqlAlertRepo(db).recent(5) == [replace(old_alert, id=stored.id)]
        overdue = replace(old_alert, type=AlertType.PO_OVERDUE, dedup_key="PO_OVERDUE:PO-1")
        assert (await SqlAlertRepo(db).add(overdue)).id is not None
        reason = PendingAction(PendingKind.REASON, {"purchase": 1}, 2, 2, NOW, NOW)
        assert (await SqlPendingActionRepo(db).add(reason)).id == 2
        assert (await SqlPendingActionRepo(db).get(1)) is not None
        assert (await SqlPurchaseRepo(db).add(purchase())).id == 1
    finally:
        await db.close()
