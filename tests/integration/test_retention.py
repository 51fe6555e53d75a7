"""Retention on both backends: polls older than PRICE_RETENTION_DAYS are thinned to each day's
close and sent deliveries over a year old go, while every daily close, every recent price and
everything /price, /stock and /alerts show stays exactly as it was."""

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.bootstrap import build_services
from bot.commands import Caller, Renderer, execute, parse
from bot.settings import load_settings
from core.adapters.db.engine import Database
from core.adapters.db.repos.outbox import SqlOutbox, SqlStateStore
from core.adapters.db.repos.prices import SqlPriceRepo
from core.adapters.db.repos.retention import SqlRetentionStore
from core.adapters.db.schema import daily_closes, deliveries, prices
from core.health import HealthLog
from core.models import Alert, AlertType, Channel, PricePoint, Recipient, Role, Severity
from core.retention import RetentionService
from data import demo
from tests.fakes import NOW, FakeClock

KEEP_DAYS = 90
POLL = timedelta(minutes=30)
POLLED_DAYS = 130
ADMIN = Caller(1, Role.ADMIN, 1)
UNCLOSED_DAY = (NOW - timedelta(days=200)).date()  # before the demo history: no close


async def poll_history(db: Database) -> None:
    """Half-hourly polls of copper and zinc for the last 130 days, through the repository (so
    each day's close is kept as in production), and a day of prices with no close at all."""
    start = datetime.combine(NOW.date() - timedelta(days=POLLED_DAYS), datetime.min.time(), UTC)
    points = []
    at = start
    step = 0
    while at < NOW:
        for material, base in (("copper", 9000.0), ("zinc", 2500.0)):
            points.append(PricePoint(material, at, base + (step * 7919) % 200, "poller"))
        at += POLL
        step += 1
    repo = SqlPriceRepo(db)
    for index in range(0, len(points), 2000):
        await repo.add(points[index : index + 2000])
    async with db.transaction() as tx:
        midnight = datetime.combine(UNCLOSED_DAY, datetime.min.time(), UTC)
        await tx.execute(
            sa.insert(prices),
            [
                {
                    "material": "copper",
                    "at": midnight + timedelta(hours=h),
                    "price": 1.0 + h,
                    "source": "x",
                }
                for h in (1, 2, 3)
            ],
        )


async def alert_history(db: Database) -> None:
    """100 recent aluminium alerts (the newest overall), 150 copper alerts over a year old
    (each sent to one chat and failed for another) and 3 zinc alerts older still."""
    outbox = SqlOutbox(db)

    async def raise_alert(material: str, at: datetime, n: int) -> None:
        alert = Alert(
            AlertType.PRICE_DROP, Severity.WARNING, material, f"{material} fell ({n}).", at, f"d{n}"
        )
        stored = await outbox.record(
            alert, [Recipient(Channel.TELEGRAM, "1"), Recipient(Channel.TELEGRAM, "2")]
        )
        assert stored.id is not None
        sent, failed = await outbox.deliveries(stored.id)
        for delivery in (sent, failed):
            await outbox.claim(delivery.id, "w", at)
        await outbox.mark_sent(sent.id, at)
        await outbox.mark_failed(failed.id, "blocked")

    for n in range(1, 101):
        await raise_alert("aluminium", NOW - timedelta(days=n), n)
    for n in range(150):
        await raise_alert("copper", NOW - timedelta(days=400, hours=n), 1000 + n)
    for n in range(3):
        await raise_alert("zinc", NOW - timedelta(days=500, hours=n), 2000 + n)


async def answers(db: Database) -> dict[str, str]:
    services = await build_services(db, load_settings(_env_file=None), FakeClock(NOW))
    replies = {}
    for line in ("/price", "/price copper", "/price zinc", "/stock", "/alerts", "/alerts 100",
                 "/alerts copper", "/alerts zinc"):  # fmt: skip
        name, args = parse(line)
        replies[line] = (await execute(name, args, ADMIN, services, Renderer())).text
    return replies


async def all_closes(db: Database) -> list[tuple[str, date, datetime, float]]:
    rows = await db.fetchall(
        sa.select(daily_closes).order_by(daily_closes.c.material, daily_closes.c.day)
    )
    return [(r.material, r.day, r.at, r.price) for r in rows]


async def all_prices(db: Database) -> list[tuple[str, datetime, float, str]]:
    rows = await db.fetchall(
        sa.select(prices).order_by(prices.c.material, prices.c.at, prices.c.source)
    )
    return [(r.material, r.at, r.price, r.source) for r in rows]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.open(database_url)
    await demo.seed(database, NOW.date())
    await poll_history(database)
    await alert_history(database)
    try:
        yield database
    finally:
        await database.close()


def retention(db: Database, clock: FakeClock) -> RetentionService:
    state = SqlStateStore(db)
    return RetentionService(
        SqlRetentionStore(db), state, HealthLog(state, clock), clock, KEEP_DAYS, 100
    )


async def test_retention_keeps_every_daily_close_and_everything_shown(db: Database) -> None:
    closes, polls, replies = await all_closes(db), await all_prices(db), await answers(db)
    sent = await db.scalar(
        sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.status == "sent")
    )

    report = await retention(db, FakeClock(NOW)).run()

    assert await all_closes(db) == closes
    assert await answers(db) == replies
    cutoff = datetime.combine(NOW.date() - timedelta(days=KEEP_DAYS), datetime.min.time(), UTC)
    after = await all_prices(db)
    assert [p for p in after if p[1] >= cutoff] == [p for p in polls if p[1] >= cutoff]
    old = [p for p in after if p[1] < cutoff and p[1].date() != UNCLOSED_DAY]
    per_day = Counter((material, at.date()) for material, at, _, _ in old)
    assert set(per_day.values()) == {1}  # one price a day...
    close_of = {(m, day): (at, price) for m, day, at, price in closes}
    assert all(close_of[m, at.date()] == (at, price) for m, at, price, _ in old)  # ...its close
    assert [p for p in after if p[1].date() == UNCLOSED_DAY] == [
        p for p in polls if p[1].date() == UNCLOSED_DAY
    ]
    assert report.prices_removed == len(polls) - len(after) > 0

    # The 50 oldest copper alerts are neither among the newest 100 nor copper's newest 100.
    assert report.deliveries_removed == 50
    left = await db.scalar(
        sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.status == "sent")
    )
    assert left == sent - 50
    failed = await db.scalar(
        sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.status == "failed")
    )
    assert failed == 253  # failed deliveries are never removed
    assert report.batches > 0 and report.longest_hold > 0


async def test_retention_runs_once_a_day_and_a_second_run_changes_nothing(db: Database) -> None:
    clock = FakeClock(NOW)
    service = retention(db, clock)
    first = await service.run_if_due()
    assert first is not None
    kept = await all_prices(db)
    clock.advance(hours=23)
    assert await service.run_if_due() is None
    clock.advance(hours=1)
    second = await service.run_if_due()
    assert second is not None
    # a day later one more day has passed the cutoff and is thinned, nothing else
    removed = set(kept) - set(await all_prices(db))
    assert {at.date() for _, at, _, _ in removed} == {(NOW - timedelta(days=KEEP_DAYS)).date()}
    assert second.prices_removed == len(removed) == 2 * 48  # 48 polls + the demo price, - 1
    assert second.deliveries_removed == 0
    state = await HealthLog(SqlStateStore(db), clock).retention()
    assert state is not None and state.at == clock.now()


async def test_retention_gives_the_space_back_to_the_file_system_on_sqlite(db: Database) -> None:
    if db.backend != "sqlite":
        pytest.skip("PostgreSQL's autovacuum makes the space reusable by itself")
    store = SqlRetentionStore(db)
    before = await store.size()
    report = await retention(db, FakeClock(NOW)).run()
    assert report.pages_freed > 0
    assert await store.size() < before
    assert await db.scalar(sa.text("PRAGMA freelist_count")) == 0
