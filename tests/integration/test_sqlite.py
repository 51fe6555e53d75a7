"""The SQLite adapter on a real database file."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest

from core.adapters.sqlite import MIGRATIONS, Database, SchemaTooNew
from core.adapters.sqlite_repos import (
    SqliteAlertRepo,
    SqliteInventoryRepo,
    SqliteMaterialRepo,
    SqlitePriceRepo,
    SqliteSubscriptionRepo,
    SqliteUserRepo,
    SqliteVendorRepo,
)
from core.models import Alert, AlertType, Channel, PricePoint, Role, Severity, Subscription
from tests.fakes import COPPER, NOW, STEEL, quote, stock_item


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "nested" / "test.db")
    await SqliteMaterialRepo(database).upsert(COPPER)
    await SqliteMaterialRepo(database).upsert(STEEL)
    yield database
    await database.close()


async def test_migrations_build_the_schema_from_an_empty_file(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "fresh.db")
    try:
        assert await db.schema_version() == len(MIGRATIONS)
        tables = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master")}
        assert {
            "materials",
            "prices",
            "inventory",
            "vendor_quotes",
            "alerts",
            "users",
            "subscriptions",
            "consumption",
        } <= tables
        for pragma, value in (("journal_mode", "wal"), ("foreign_keys", 1), ("busy_timeout", 5000)):
            rows = await db.fetchall(f"PRAGMA {pragma}")
            assert rows[0][0] == value
    finally:
        await db.close()


async def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    for _ in range(2):
        db = await Database.open(tmp_path / "again.db")
        assert await db.schema_version() == len(MIGRATIONS)
        await db.close()


async def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    async with aiosqlite.connect(path) as raw:
        await raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 3}")
    with pytest.raises(SchemaTooNew, match=r"schema version \d+, but this version of procurebot"):
        await Database.open(path)


async def test_a_failing_migration_leaves_nothing_half_applied(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "half.db")
    broken = (*MIGRATIONS, ("CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL"))
    with pytest.raises(aiosqlite.OperationalError):
        await db.migrate(broken)
    assert await db.schema_version() == len(MIGRATIONS)
    assert await db.fetchone("SELECT name FROM sqlite_master WHERE name = 'extra'") is None
    await db.close()


async def test_the_same_price_is_never_stored_twice(db: Database) -> None:
    prices = SqlitePriceRepo(db)
    point = PricePoint("copper", NOW, 9000.0, "feed")
    assert await prices.add([point]) == 1
    assert await prices.add([point, PricePoint("copper", NOW, 9001.0, "feed")]) == 0
    assert await prices.add([PricePoint("copper", NOW, 9000.0, "other-feed")]) == 1
    assert await prices.count() == 2


async def test_a_price_for_an_unknown_material_is_rejected(db: Database) -> None:
    with pytest.raises(aiosqlite.IntegrityError):
        await SqlitePriceRepo(db).add([PricePoint("gold", NOW, 1.0, "feed")])


async def test_prices_come_back_in_time_order(db: Database) -> None:
    prices = SqlitePriceRepo(db)
    points = [PricePoint("copper", NOW - timedelta(days=d), 100.0 + d, "f") for d in range(5)]
    await prices.add(points)
    latest = await prices.latest("copper")
    assert latest == points[0]
    assert latest.at.tzinfo is not None
    assert await prices.at_or_before("copper", NOW - timedelta(hours=30)) == points[2]
    history = await prices.history("copper", NOW - timedelta(days=2))
    assert [p.price for p in history] == [102.0, 101.0, 100.0]


async def test_a_failed_transaction_stores_nothing(db: Database) -> None:
    prices = SqlitePriceRepo(db)
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await prices.add([PricePoint("copper", NOW, 1.0, "f")])
            raise RuntimeError("interrupted")
    assert await prices.count() == 0


async def test_inventory_vendors_alerts_and_users_round_trip(db: Database) -> None:
    inventory, vendors = SqliteInventoryRepo(db), SqliteVendorRepo(db)
    await inventory.upsert(stock_item("copper", on_hand=321.5))
    await inventory.record_consumption("copper", [(date(2026, 11, d), 10.0 + d) for d in (1, 2)])
    assert (await inventory.all())[0].on_hand == 321.5
    assert await inventory.consumption("copper", date(2026, 11, 2)) == [12.0]

    await vendors.replace("copper", [quote("A"), quote("B", min_order_qty=None, valid_until=None)])
    await vendors.replace("copper", [quote("C", valid_until=date(2027, 1, 31))])
    assert await vendors.quotes("copper") == [quote("C", valid_until=date(2027, 1, 31))]

    alerts = SqliteAlertRepo(db)
    for minutes in (5, 1, 3):
        await alerts.add(
            Alert(
                AlertType.LOW_INVENTORY,
                Severity.WARNING,
                "copper",
                f"{minutes} min ago",
                NOW - timedelta(minutes=minutes),
                "low:cu",
            )
        )
    recent = await alerts.recent(2)
    assert [a.message for a in recent] == ["1 min ago", "3 min ago"]
    assert all(a.id is not None for a in recent)
    assert await alerts.recent(5, "steel") == []

    users = SqliteUserRepo(db)
    await users.grant(42, Role.BUYER, 1, datetime(2026, 11, 1, tzinfo=UTC))
    granted = await users.get(42)
    assert granted is not None and granted.role is Role.BUYER
    assert await users.revoke(42) is True
    assert await users.revoke(42) is False


async def test_subscriptions_are_kept_moved_disabled_and_renewed(db: Database) -> None:
    subscriptions = SqliteSubscriptionRepo(db)
    group = Subscription(Channel.TELEGRAM, "-100", NOW, added_by=1)
    assert await subscriptions.add(group) is True
    assert await subscriptions.add(group) is False
    await subscriptions.add(Subscription(Channel.WHATSAPP, "+4915112345678", NOW))

    await subscriptions.move(Channel.TELEGRAM, "-100", "-1001234")
    assert [s.address for s in await subscriptions.all(Channel.TELEGRAM)] == ["-1001234"]

    await subscriptions.disable(Channel.WHATSAPP, "+4915112345678", "Twilio 21610: opted out")
    (number,) = await subscriptions.all(Channel.WHATSAPP)
    assert not number.active and number.disabled_reason == "Twilio 21610: opted out"
    assert await subscriptions.add(Subscription(Channel.WHATSAPP, "+4915112345678", NOW)) is True
    (number,) = await subscriptions.all(Channel.WHATSAPP)
    assert number.active

    assert await subscriptions.remove(Channel.TELEGRAM, "-1001234") is True
    assert await subscriptions.remove(Channel.TELEGRAM, "-1001234") is False


async def test_daily_closes_follow_the_last_price_of_each_day(db: Database) -> None:
    prices = SqlitePriceRepo(db)
    day = datetime(2026, 11, 20, tzinfo=UTC)
    await prices.add(
        [
            PricePoint("copper", day + timedelta(hours=16), 103.0, "feed"),
            PricePoint("copper", day + timedelta(hours=9), 101.0, "feed"),
            PricePoint("copper", day + timedelta(days=1, hours=9), 104.0, "feed"),
            PricePoint("steel", day + timedelta(hours=9), 500.0, "feed"),
        ]
    )
    assert await prices.daily_closes("copper", date(2026, 11, 1)) == [
        (date(2026, 11, 20), 103.0),
        (date(2026, 11, 21), 104.0),
    ]
    await prices.add([PricePoint("copper", day + timedelta(hours=17), 99.0, "other")])
    assert (await prices.daily_closes("copper", date(2026, 11, 20)))[0] == (
        date(2026, 11, 20),
        99.0,
    )
    await prices.delete_source("other")  # the day's close falls back to what is left
    assert (await prices.daily_closes("copper", date(2026, 11, 20)))[0] == (
        date(2026, 11, 20),
        103.0,
    )
    assert await prices.daily_closes("copper", date(2026, 11, 21)) == [(date(2026, 11, 21), 104.0)]


async def test_deleting_a_bad_price_restores_its_days_close(db: Database) -> None:
    prices = SqlitePriceRepo(db)
    day = datetime(2026, 11, 20, 9, tzinfo=UTC)
    await prices.add(
        [
            PricePoint("copper", day, 9_100.0, "feed"),
            PricePoint("copper", day + timedelta(hours=7), 910_000.0, "feed"),
            PricePoint("steel", day + timedelta(hours=7), 500.0, "feed"),
        ]
    )
    assert await prices.delete("copper", day + timedelta(hours=7)) == 1
    assert await prices.delete("copper", day + timedelta(hours=8)) == 0
    latest = await prices.latest("copper")
    assert latest is not None and latest.price == 9_100.0
    assert await prices.daily_closes("copper", day.date()) == [(day.date(), 9_100.0)]
    assert await prices.daily_closes("steel", day.date()) == [(day.date(), 500.0)]
