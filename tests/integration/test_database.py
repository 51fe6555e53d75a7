"""The database layer on real SQLite files and a real PostgreSQL server: migrations, the
upgrade of files from before Alembic, and every repository, on both backends."""

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.adapters.db import migrate
from core.adapters.db.engine import Database, DatabaseError, sqlite_url
from core.adapters.db.migrate import SchemaTooNew, current_revision, head
from core.adapters.db.repos.access import SqlUserRepo
from core.adapters.db.repos.alerts import SqlAlertRepo
from core.adapters.db.repos.outbox import SqlOutbox
from core.adapters.db.repos.prices import SqlMaterialRepo, SqlPriceRepo
from core.adapters.db.repos.stock import SqlInventoryRepo, SqlStockMoveRepo
from core.adapters.db.repos.subscriptions import SqlSubscriptionRepo
from core.adapters.db.repos.vendors import SqlVendorRepo
from core.adapters.db.schema import metadata
from core.adapters.db.unit_of_work import SqlUnitOfWork
from core.domain.actors import Source
from core.domain.stock import MoveKind, NewMove
from core.models import (
    Alert,
    AlertType,
    Channel,
    PricePoint,
    Recipient,
    Role,
    Severity,
    Subscription,
)
from tests.fakes import COPPER, COPPER_DROP, NOW, STEEL, quote, stock_item
from tests.legacy import legacy_sqlite


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.open(database_url)
    await SqlMaterialRepo(database).upsert(COPPER)
    await SqlMaterialRepo(database).upsert(STEEL)
    yield database
    await database.close()


async def test_migrations_build_the_whole_schema_in_an_empty_database(database_url: str) -> None:
    db = await Database.open(database_url)
    try:
        assert await current_revision(db) == head()
        async with db.reading() as connection:
            tables = await connection.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        assert set(metadata.tables) <= tables
    finally:
        await db.close()


async def test_a_sqlite_file_gets_its_connection_settings(tmp_path: Path) -> None:
    db = await Database.open(sqlite_url(tmp_path / "nested" / "fresh.db"))
    try:
        for pragma, value in (("journal_mode", "wal"), ("foreign_keys", 1), ("busy_timeout", 5000)):
            assert await db.scalar(sa.text(f"PRAGMA {pragma}")) == value
    finally:
        await db.close()


async def test_reopening_applies_nothing_twice(database_url: str) -> None:
    for _ in range(2):
        db = await Database.open(database_url)
        assert await current_revision(db) == head()
        await db.close()


async def test_a_database_from_a_newer_procurebot_is_refused(database_url: str) -> None:
    db = await Database.open(database_url)
    async with db.transaction() as tx:
        await tx.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    await db.close()
    with pytest.raises(SchemaTooNew, match="revision 9999, which this version of procurebot"):
        await Database.open(database_url)


async def test_a_sqlite_file_newer_than_the_legacy_steps_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    legacy_sqlite(path, version=0).execute("PRAGMA user_version = 42").connection.close()
    with pytest.raises(SchemaTooNew, match=r"schema version 42, but this version of procurebot"):
        await Database.open(sqlite_url(path))


async def test_a_failing_migration_leaves_nothing_half_applied(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    newest = head()
    (scripts / "versions" / "9000_broken.py").write_text(
        f"""import sqlalchemy as sa
from alembic import op

revision = "9000"
down_revision = "{newest}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("extra", sa.Column("x", sa.Integer))
    op.execute("THIS IS NOT SQL")
"""
    )
    monkeypatch.setattr(migrate, "MIGRATIONS", scripts)
    with pytest.raises(DatabaseError, match=r"DATABASE_URL .* cannot be used"):
        await Database.open(database_url)
    db = await Database.open(database_url, migrate=False)
    try:
        assert await current_revision(db) == newest
        async with db.reading() as connection:
            tables = await connection.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        assert "extra" not in tables
    finally:
        await db.close()


async def test_a_file_from_before_alembic_is_upgraded_with_nothing_lost(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = legacy_sqlite(path)  # schema version 4, as the last release before Alembic left it
    old.executescript(
        """
        INSERT INTO materials VALUES ('copper', 'Copper', 't', 'USD', '["cu"]');
        INSERT INTO materials VALUES ('steel', 'Steel rebar', 't', 'USD', '[]');
        INSERT INTO prices (material, at, price, source)
            VALUES ('copper', '2026-11-20T09:00:00Z', 101.0, 'feed'),
                   ('copper', '2026-11-20T16:00:00Z', 103.0, 'feed');
        INSERT INTO users VALUES (7, 'buyer', 'Nia', 1, '2026-11-01T08:00:00Z');
        INSERT INTO alerts (type, severity, material, message, created_at, dedup_key)
            VALUES ('LOW_INVENTORY', 'WARNING', 'copper', 'Low', '2026-11-01T08:00:00Z', 'k');
        INSERT INTO deliveries (alert_id, channel, address, status, next_attempt_at)
            VALUES (1, 'telegram', '42', 'sending', '2026-11-01T08:00:00Z');
        """
    )
    old.close()

    db = await Database.open(sqlite_url(path))
    try:
        assert await current_revision(db) == head()
        assert await db.scalar(sa.text("PRAGMA user_version")) == migrate.MANAGED_BY_ALEMBIC
        assert [m.key for m in await SqlMaterialRepo(db).all()] == ["copper", "steel"]
        prices = SqlPriceRepo(db)
        assert await prices.daily_closes("copper", date(2026, 11, 1)) == [
            (date(2026, 11, 20), 103.0)
        ]
        # daily closes are kept by the repository now, not by the old triggers
        await prices.add([PricePoint("copper", datetime(2026, 11, 20, 17, tzinfo=UTC), 99.0, "x")])
        await prices.delete_source("x")
        assert (await prices.daily_closes("copper", date(2026, 11, 20)))[0][1] == 103.0
        assert (await SqlUserRepo(db).get(7)) is not None
        (alert,) = await SqlAlertRepo(db).recent(5)
        assert alert.message == "Low"
        assert await SqlOutbox(db).recover("new-leader") == 1
    finally:
        await db.close()

    older = tmp_path / "first-release.db"
    legacy_sqlite(older, version=1).close()  # before the outbox, invites and forecasts
    db = await Database.open(sqlite_url(older))
    try:
        assert await current_revision(db) == head()
    finally:
        await db.close()


async def test_an_unreachable_or_wrong_database_url_names_the_setting_without_the_password(
    tmp_path: Path,
) -> None:
    with pytest.raises(DatabaseError) as refused:
        await Database.open("postgresql://bob:s3cret@127.0.0.1:1/procurement")
    assert "DATABASE_URL postgresql://bob:***@127.0.0.1:1/procurement cannot be used" in str(
        refused.value
    )
    assert "s3cret" not in str(refused.value)
    for url, says in (
        ("mysql://x@y/z", "cannot use"),
        ("not a url", "not a database URL"),
        ("sqlite://", "names no SQLite file"),
    ):
        with pytest.raises(DatabaseError, match=says):
            await Database.open(url)
    (tmp_path / "a-folder.db").mkdir()
    with pytest.raises(DatabaseError, match="cannot be used"):
        await Database.open(sqlite_url(tmp_path / "a-folder.db"))


async def test_a_unit_of_work_commits_everything_or_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with SqlUnitOfWork(db) as uow:
            await uow.prices.add([PricePoint("copper", NOW, 1.0, "f")])
            await uow.outbox.record(COPPER_DROP, [Recipient(Channel.TELEGRAM, "1")])
            await uow.state.set("k", "v")
            raise RuntimeError("interrupted")
    assert await SqlPriceRepo(db).count() == 0
    assert await SqlAlertRepo(db).recent(5) == []
    assert await SqlOutbox(db).deliveries() == []

    async with SqlUnitOfWork(db) as uow:
        await uow.prices.add([PricePoint("copper", NOW, 1.0, "f")])
        await uow.outbox.record(COPPER_DROP, [Recipient(Channel.TELEGRAM, "1")])
    assert await SqlPriceRepo(db).count() == 1
    assert len(await SqlOutbox(db).deliveries()) == 1


async def test_the_same_price_is_never_stored_twice(db: Database) -> None:
    prices = SqlPriceRepo(db)
    point = PricePoint("copper", NOW, 9000.0, "feed")
    assert await prices.add([point]) == 1
    assert await prices.add([point, PricePoint("copper", NOW, 9001.0, "feed")]) == 0
    assert await prices.add([PricePoint("copper", NOW, 9000.0, "other-feed")]) == 1
    assert await prices.count() == 2


async def test_a_price_for_an_unknown_material_is_rejected(db: Database) -> None:
    with pytest.raises(IntegrityError):
        await SqlPriceRepo(db).add([PricePoint("gold", NOW, 1.0, "feed")])


async def test_prices_come_back_in_time_order(db: Database) -> None:
    prices = SqlPriceRepo(db)
    points = [PricePoint("copper", NOW - timedelta(days=d), 100.0 + d, "f") for d in range(5)]
    await prices.add(points)
    latest = await prices.latest("copper")
    assert latest == points[0]
    assert latest.at.tzinfo is not None
    assert await prices.at_or_before("copper", NOW - timedelta(hours=30)) == points[2]
    history = await prices.history("copper", NOW - timedelta(days=2))
    assert [p.price for p in history] == [102.0, 101.0, 100.0]


async def test_a_failed_transaction_stores_nothing(db: Database) -> None:
    prices = SqlPriceRepo(db)
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await prices.add([PricePoint("copper", NOW, 1.0, "f")])
            raise RuntimeError("interrupted")
    assert await prices.count() == 0


async def test_inventory_vendors_alerts_and_users_round_trip(db: Database) -> None:
    inventory, vendors, ledger = SqlInventoryRepo(db), SqlVendorRepo(db), SqlStockMoveRepo(db)
    await inventory.upsert(stock_item("copper", daily_consumption=12.5))
    for day, kind, quantity in (
        (1, MoveKind.COUNT, 321.5),
        (1, MoveKind.USE, 11),
        (2, MoveKind.USE, 12),
    ):
        at = datetime(2026, 11, day, 8, tzinfo=UTC)
        await ledger.add(NewMove("copper", kind, quantity, at, Source.CONSOLE))
    (item,) = await inventory.all()
    assert (item.on_hand, item.daily_consumption) == (321.5 - 23, 12.5)
    assert await inventory.consumption("copper", date(2026, 11, 2)) == [(date(2026, 11, 2), 12.0)]

    await vendors.replace(
        "copper",
        [
            quote("A", quoted_at=NOW),
            quote("B", min_order_qty=None, valid_until=None, quoted_at=NOW),
        ],
    )
    later = quote("C", valid_until=date(2027, 1, 31), quoted_at=NOW)
    await vendors.replace("copper", [later])
    assert await vendors.quotes("copper") == [later]

    alerts = SqlAlertRepo(db)
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

    users = SqlUserRepo(db)
    await users.grant(42, Role.BUYER, 1, datetime(2026, 11, 1, tzinfo=UTC))
    granted = await users.get(42)
    assert granted is not None and granted.role is Role.BUYER
    assert await users.revoke(42) is True
    assert await users.revoke(42) is False


async def test_subscriptions_are_kept_moved_disabled_and_renewed(db: Database) -> None:
    subscriptions = SqlSubscriptionRepo(db)
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
    prices = SqlPriceRepo(db)
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
    prices = SqlPriceRepo(db)
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
