"""The stock ledger, pending actions and handled updates on SQLite and PostgreSQL, a stock move
as one unit of work with its alert, and the migration that starts the ledger from a database
as the last release left it."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.bootstrap import build_services
from bot.settings import load_settings
from core.adapters.db.engine import Database
from core.adapters.db.repos.access import SqlInviteRepo, SqlUserRepo
from core.adapters.db.repos.outbox import SqlOutbox
from core.adapters.db.repos.pending import SqlHandledUpdateRepo, SqlPendingActionRepo
from core.adapters.db.repos.prices import SqlMaterialRepo
from core.adapters.db.repos.stock import SqlInventoryRepo, SqlStockMoveRepo
from core.adapters.db.repos.subscriptions import SqlSubscriptionRepo
from core.adapters.db.repos.vendors import SqlVendorRepo
from core.adapters.db.schema import UtcDateTime
from core.domain.actors import Actor, Source
from core.domain.pending import PendingAction, PendingKind, PendingState
from core.domain.stock import MoveKind, NewMove
from core.models import Channel, Invite, Role, Subscription
from core.services.stock import Booked
from tests.fakes import ALUMINIUM, COPPER, NOW, FakeClock, stock_item
from tests.legacy import database_at

BOB = Actor(2, "Bob", Role.BUYER, Source.TELEGRAM, chat_id=2)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.open(database_url)
    for material in (COPPER, ALUMINIUM):
        await SqlMaterialRepo(database).upsert(material)
    yield database
    await database.close()


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


async def test_on_hand_is_the_last_count_and_what_came_after_undone_moves_left_out(
    db: Database,
) -> None:
    ledger, inventory = SqlStockMoveRepo(db), SqlInventoryRepo(db)
    await inventory.upsert(stock_item("copper", on_hand=999))  # on hand is not taken from here
    for hours, kind, quantity in (
        (-50, MoveKind.USE, 7),  # before the count: already in it
        (-48, MoveKind.COUNT, 400),
        (-24, MoveKind.USE, 30),
        (-1, MoveKind.RECEIVE, 20),
    ):
        await ledger.add(NewMove("copper", kind, quantity, at(hours), Source.CONSOLE))
    (item,) = await inventory.all()
    assert item.on_hand == 390
    receipt = (await ledger.recent(1, "copper"))[0]
    undo = NewMove("copper", MoveKind.RECEIVE, 20, at(0), Source.CONSOLE, undoes=receipt.id)
    reversal = await ledger.add(undo)
    assert reversal is not None and await ledger.add(undo) is None  # only one undo per move
    assert (await inventory.all())[0].on_hand == 370
    taken_back = await ledger.get(receipt.id)
    assert taken_back is not None and taken_back.undone_by == reversal.id
    assert [m.kind for m in await ledger.effective("copper")] == [
        MoveKind.USE,
        MoveKind.COUNT,
        MoveKind.USE,
    ]
    assert await inventory.consumption("copper", date(2026, 11, 1)) == [
        (date(2026, 11, 22), 7.0),
        (date(2026, 11, 23), 30.0),
    ]


async def test_a_pending_action_is_answered_once_and_not_after_it_expired(db: Database) -> None:
    pending = SqlPendingActionRepo(db)
    action = await pending.add(
        PendingAction(PendingKind.MOVE, {"quantity": 500.0}, 2, 2, NOW, NOW + timedelta(minutes=10))
    )
    stored = await pending.get(action.id)
    assert stored is not None and stored.payload == {"quantity": 500.0}
    assert await pending.settle(action.id, PendingState.DONE, NOW) is True
    assert await pending.settle(action.id, PendingState.DONE, NOW) is False
    late = await pending.add(
        PendingAction(PendingKind.IMPORT, {}, 2, 2, NOW, NOW + timedelta(minutes=10))
    )
    assert await pending.settle(late.id, PendingState.DONE, NOW + timedelta(minutes=10)) is False


async def test_an_update_is_claimed_once_by_its_id_or_its_callback_query(db: Database) -> None:
    handled = SqlHandledUpdateRepo(db)
    assert await handled.claim(41, None, NOW) is True
    await handled.record(41, '{"text": "booked"}')
    assert await handled.claim(41, None, NOW) is False
    assert await handled.reply(41) == '{"text": "booked"}'
    assert await handled.claim(42, "q9", NOW) is True
    assert await handled.claim(43, "q9", NOW) is False
    assert await handled.prune(NOW + timedelta(seconds=1)) == 2
    assert await handled.reply(41) is None


async def test_a_use_its_low_stock_alert_and_the_alerts_deliveries_commit_together(
    db: Database,
) -> None:
    await SqlInventoryRepo(db).upsert(stock_item("aluminium", daily_consumption=10, minimum=50))
    await SqlStockMoveRepo(db).add(
        NewMove("aluminium", MoveKind.COUNT, 300, at(-1), Source.CONSOLE)
    )
    await SqlSubscriptionRepo(db).add(Subscription(Channel.TELEGRAM, "42", NOW))
    services = await build_services(db, load_settings(_env_file=None), FakeClock())
    booked = await services.ledger.record(BOB, ALUMINIUM, MoveKind.USE, 60)
    assert isinstance(booked, Booked) and booked.alert is not None
    deliveries = await SqlOutbox(db).deliveries()
    assert [(d.alert_id, d.address) for d in deliveries] == [(booked.alert.id, "42")]


async def test_when_the_alert_fails_the_move_is_rolled_back_with_it(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await SqlInventoryRepo(db).upsert(stock_item("aluminium", daily_consumption=10, minimum=50))
    await SqlStockMoveRepo(db).add(
        NewMove("aluminium", MoveKind.COUNT, 300, at(-1), Source.CONSOLE)
    )
    services = await build_services(db, load_settings(_env_file=None), FakeClock())

    async def broken(*args: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(SqlOutbox, "record", broken)
    with pytest.raises(RuntimeError):
        await services.ledger.record(BOB, ALUMINIUM, MoveKind.USE, 60)
    assert len(await SqlStockMoveRepo(db).recent(10)) == 1  # only the count
    assert (await services.inventory.status(ALUMINIUM)).item.on_hand == 300


OLD = sa.MetaData()
OLD_INVENTORY = sa.Table(
    "inventory",
    OLD,
    *(sa.Column(c) for c in ("material", "on_hand", "unit", "daily_consumption", "minimum")),
    sa.Column("lead_time_days"),
    sa.Column("updated_at", UtcDateTime),
)
OLD_CONSUMPTION = sa.Table(
    "consumption", OLD, sa.Column("material"), sa.Column("day", sa.Date), sa.Column("quantity")
)
OLD_QUOTES = sa.Table(
    "vendor_quotes",
    OLD,
    *(sa.Column(c) for c in ("vendor", "material", "price", "currency", "rating")),
    *(sa.Column(c) for c in ("delivery_days", "min_order_qty")),
    sa.Column("valid_until", sa.Date),
)
OLD_USERS = sa.Table(
    "users",
    OLD,
    *(sa.Column(c) for c in ("user_id", "role", "name", "added_by")),
    sa.Column("added_at", UtcDateTime),
)


async def test_the_ledger_starts_from_the_stock_on_hand_and_keeps_the_recorded_use(
    database_url: str,
) -> None:
    old = await database_at(database_url, "0002")
    try:
        await SqlMaterialRepo(old).upsert(COPPER)
        async with old.transaction() as tx:
            await tx.execute(
                sa.insert(OLD_INVENTORY).values(
                    material="copper",
                    on_hand=420.0,
                    unit="t",
                    daily_consumption=12.0,
                    minimum=100.0,
                    lead_time_days=21,
                    updated_at=NOW,
                )
            )
            today = datetime.now(UTC).date()
            await tx.execute(
                sa.insert(OLD_CONSUMPTION),
                [
                    {"material": "copper", "day": today - timedelta(days=d), "quantity": 10.0 + d}
                    for d in range(1, 21)
                ],
            )
            await tx.execute(
                sa.insert(OLD_QUOTES).values(
                    vendor="Acme",
                    material="copper",
                    price=9100.0,
                    currency="USD",
                    rating=4.0,
                    delivery_days=12,
                    min_order_qty=None,
                    valid_until=date(2027, 1, 31),
                )
            )
            await tx.execute(
                sa.insert(OLD_USERS).values(
                    user_id=7, role="buyer", name="Nia", added_by=1, added_at=NOW
                )
            )
    finally:
        await old.close()

    db = await Database.open(database_url)
    try:
        (item,) = await SqlInventoryRepo(db).all()
        assert (item.on_hand, item.daily_consumption, item.lead_time_days) == (420.0, 12.0, 21)
        used = await SqlInventoryRepo(db).consumption("copper", today - timedelta(days=30))
        assert len(used) == 20 and used[0] == (today - timedelta(days=20), 30.0)
        opening = (await SqlStockMoveRepo(db).recent(1, "copper"))[0]
        assert (opening.kind, opening.quantity) == (MoveKind.COUNT, 420.0)
        assert opening.note is not None and opening.note.startswith("opening balance")
        (acme,) = await SqlVendorRepo(db).quotes("copper")
        assert (acme.vendor, acme.price, acme.valid_until) == ("Acme", 9100.0, date(2027, 1, 31))
        users = SqlUserRepo(db)
        nia = await users.get(7)
        assert nia is not None and (nia.role, nia.name) == (Role.BUYER, "Nia")
        await users.grant(8, Role.VIEWER, 1, NOW)
        await users.grant(7, Role.APPROVER, 1, NOW)
        assert [(u.user_id, u.role) for u in await users.all()] == [
            (7, Role.APPROVER),
            (8, Role.VIEWER),
        ]
        await SqlInviteRepo(db).add(Invite("h", Role.VIEWER, 1, NOW, NOW + timedelta(days=7)))
        with pytest.raises(sa.exc.IntegrityError):
            async with db.transaction() as tx:
                await tx.execute(sa.text("UPDATE users SET role = 'boss' WHERE user_id = 8"))
    finally:
        await db.close()
