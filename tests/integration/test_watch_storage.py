"""Watches, digests, quiet hours and held deliveries in the database, on SQLite and PostgreSQL;
and the migration that brought them, on a database holding alerts already."""

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from bot.bootstrap import unit_of_work
from core.adapters.db.engine import Database
from core.adapters.db.repos.alerts import SqlAlertRepo
from core.adapters.db.repos.digests import SqlDigestRepo, SqlQuietHoursRepo
from core.adapters.db.repos.outbox import SqlOutbox
from core.adapters.db.repos.prices import SqlMaterialRepo, SqlPriceRepo
from core.adapters.db.repos.stock import SqlInventoryRepo
from core.adapters.db.repos.watches import SqlWatchRepo
from core.digests import DigestService
from core.domain.digests import DigestSchedule
from core.domain.local_time import DailyTime, QuietHours, find_zone
from core.domain.watches import Direction, WatchKind, WatchRule
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from core.models import (
    Action,
    Alert,
    AlertType,
    Channel,
    Delivery,
    DeliveryStatus,
    PricePoint,
    Recipient,
    Severity,
)
from core.prices import PriceService
from core.quiet_hours import QuietHoursService
from tests.fakes import COPPER, COPPER_DROP, NOW, STEEL, FakeClock
from tests.legacy import database_at

CHAT = "-100123"
BERLIN = find_zone("Europe/Berlin")
BELOW = WatchRule("copper", WatchKind.BELOW, 9000)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.open(database_url)
    await SqlMaterialRepo(database).upsert(COPPER)
    await SqlMaterialRepo(database).upsert(STEEL)
    yield database
    await database.close()


async def test_the_migration_keeps_every_alert_and_delivery_and_widens_their_checks(
    database_url: str,
) -> None:
    db = await database_at(database_url, "0002")
    async with db.transaction() as tx:
        for statement in (
            "INSERT INTO materials (key, name, unit, currency, aliases, position) "
            "VALUES ('copper', 'Copper', 't', 'USD', '[]', 1)",
            "INSERT INTO alerts (id, type, severity, material, message, created_at, "
            "dedup_key) VALUES (41, 'PRICE_DROP', 'WARNING', 'copper', 'Copper fell', "
            "'2026-11-24T12:00:00Z', 'PRICE_DROP:copper')",
            "INSERT INTO deliveries (alert_id, channel, address, status, attempts, "
            "next_attempt_at, detail) VALUES (41, 'telegram', '5', 'pending', 0, "
            "'2026-11-24T12:00:00Z', '')",
        ):
            await tx.exec_driver_sql(statement)
    await db.close()

    db = await Database.open(database_url)  # up to the head
    try:
        outbox = SqlOutbox(db)
        [kept] = await outbox.deliveries(41)
        assert (kept.address, kept.status) == ("5", DeliveryStatus.PENDING)
        assert [a.message for a in await SqlAlertRepo(db).recent(5)] == ["Copper fell"]
        level = replace(COPPER_DROP, type=AlertType.PRICE_LEVEL, chat=CHAT)
        held = Recipient(Channel.TELEGRAM, CHAT, hold_until=NOW + timedelta(hours=8))
        stored = await outbox.record(level, [held])
        [delivery] = await outbox.deliveries(stored.id)
        assert delivery.status is DeliveryStatus.HELD
        with pytest.raises(sa.exc.IntegrityError):
            async with db.transaction() as tx:
                await tx.execute(sa.text("UPDATE alerts SET type = 'NOT_A_TYPE'"))
        async with db.transaction() as tx:  # deliveries still go with their alert
            await tx.execute(sa.text("DELETE FROM alerts"))
        assert await outbox.deliveries() == []
    finally:
        await db.close()


async def test_a_chat_has_one_watch_per_condition_and_others_may_watch_the_same(
    db: Database,
) -> None:
    watches = SqlWatchRepo(db)
    first = await watches.add(CHAT, BELOW, 2002, NOW, None, armed=True)
    assert first is not None and first.rule == BELOW and first.armed
    assert await watches.add(CHAT, replace(BELOW, once=True), 1001, NOW, None, True) is None
    assert await watches.add("777", BELOW, 1001, NOW, None, True) is not None
    assert await watches.add(CHAT, replace(BELOW, threshold=8500), 2002, NOW, None, True)
    assert [w.rule.threshold for w in await watches.of_chat(CHAT)] == [9000, 8500]


async def test_removed_watches_come_back_together_unless_watched_again(db: Database) -> None:
    watches = SqlWatchRepo(db)
    move = WatchRule("steel", WatchKind.MOVE, 3, Direction.DOWN, 7)
    added = [await watches.add(CHAT, rule, 2002, NOW, None, True) for rule in (BELOW, move)]
    ids = [w.id for w in added if w is not None]
    before = await watches.version()
    assert await watches.remove(ids, 1001, NOW) == 2
    assert await watches.version() != before
    assert await watches.of_chat(CHAT) == []
    assert await watches.get(ids[0]) is None
    assert await watches.add(CHAT, BELOW, 2002, NOW, None, True)  # set again meanwhile
    assert await watches.restore(ids[0], "other chat", None) == []
    assert await watches.restore(ids[0], CHAT, 2002) == []  # removed by 1001
    [restored] = await watches.restore(ids[0], CHAT, 1001)
    assert restored.rule == move
    assert await watches.restore(ids[0], CHAT, None) == []


async def test_live_watches_leave_out_expired_finished_and_removed_ones(db: Database) -> None:
    watches = SqlWatchRepo(db)
    rules = [BELOW, replace(BELOW, threshold=1), replace(BELOW, threshold=2, once=True)]
    expiring = [None, NOW + timedelta(days=1), None]
    added = [
        await watches.add(CHAT, r, 2002, NOW, e, True) for r, e in zip(rules, expiring, strict=True)
    ]
    keep, expires, once = (w for w in added if w is not None)
    fired = replace(once, armed=False, triggered_at=NOW, triggered_price=1.5)
    version = await watches.version()
    assert await watches.record(fired)
    assert await watches.version() == version  # a price firing a watch is no change of the set
    assert [w.id for w in await watches.live(NOW)] == [keep.id, expires.id]
    assert [w.id for w in await watches.live(NOW + timedelta(days=1))] == [keep.id]
    await watches.remove([keep.id], 2002, NOW)
    assert not await watches.record(replace(keep, armed=False))
    assert (await watches.of_chat(CHAT))[-1].triggered_price == 1.5


async def test_watches_rearm_and_follow_a_group_that_became_a_supergroup(db: Database) -> None:
    watches = SqlWatchRepo(db)
    watch = await watches.add("-4242", BELOW, 2002, NOW, None, armed=False)
    assert watch is not None
    assert await watches.rearm([watch.id]) == 1
    assert await watches.move_chat("-4242", "-1004242") == 1
    [moved] = await watches.of_chat("-1004242")
    assert moved.armed and moved.chat == "-1004242"


async def test_a_digest_is_booked_once_per_chat_and_local_day(db: Database) -> None:
    digests = SqlDigestRepo(db)
    daily = DailyTime(time(7, 30), BERLIN)
    await digests.set(DigestSchedule(CHAT, daily, NOW, 2002, NOW))
    assert await digests.get(CHAT) == DigestSchedule(CHAT, daily, NOW, 2002, NOW)
    assert [s.chat for s in await digests.due(NOW)] == [CHAT]
    assert await digests.due(NOW - timedelta(seconds=1)) == []
    day = date(2026, 11, 24)
    assert await digests.book(CHAT, day, NOW)
    assert not await digests.book(CHAT, day, NOW + timedelta(minutes=1))
    stored = await SqlOutbox(db).record(replace(COPPER_DROP, type=AlertType.DIGEST), [])
    assert stored.id is not None
    await digests.booked(CHAT, day, stored.id)
    await digests.reschedule(CHAT, NOW + timedelta(days=1))
    assert await digests.due(NOW) == []
    await digests.move_chat(CHAT, "-1009")
    assert not await digests.book("-1009", day, NOW)  # the day moved with the chat
    assert await digests.remove("-1009") and await digests.get("-1009") is None


async def test_quiet_hours_are_kept_per_chat(db: Database) -> None:
    quiet = SqlQuietHoursRepo(db)
    hours = QuietHours(time(22, 0), time(7, 0), BERLIN)
    await quiet.set(CHAT, hours, 2002, NOW)
    await quiet.set("777", replace(hours, starts=time(23, 0)), None, NOW)
    assert await quiet.get(CHAT) == hours
    assert set(await quiet.all()) == {CHAT, "777"}
    assert await quiet.remove(CHAT) and not await quiet.remove(CHAT)
    assert await quiet.get(CHAT) is None


async def test_held_deliveries_wait_then_share_the_fate_of_the_message_that_carries_them(
    db: Database,
) -> None:
    outbox = SqlOutbox(db)
    until = NOW + timedelta(hours=8)
    held = Recipient(Channel.TELEGRAM, CHAT, hold_until=until)
    other = Recipient(Channel.TELEGRAM, "777")
    first = await outbox.record(COPPER_DROP, [held, other])
    await outbox.record(replace(COPPER_DROP, message="second"), [held])
    assert [d.address for d, _ in await outbox.due(Channel.TELEGRAM, until, 10)] == ["777"]
    assert await outbox.held_due(until - timedelta(seconds=1)) == []
    due = await outbox.held_due(until)
    assert [a.message for _, a in due] == [COPPER_DROP.message, "second"]
    summary = (await outbox.summaries([first.id or 0]))[first.id or 0]
    assert (summary.waiting, summary.held) == (2, 1)

    carrier = await outbox.record(
        replace(COPPER_DROP, type=AlertType.HELD_ALERTS, chat=CHAT),
        [Recipient(Channel.TELEGRAM, CHAT)],
    )
    assert carrier.id is not None
    ids = [d.id for d, _ in due]
    assert await outbox.carry(ids, carrier.id) == 2
    assert await outbox.carry(ids, carrier.id) == 0  # carried once
    assert await outbox.held_due(until) == []
    [delivery] = [d for d, _ in await outbox.due(Channel.TELEGRAM, until, 10) if d.address == CHAT]
    claimed = await outbox.claim(delivery.id, "worker", until)
    assert claimed is not None
    await outbox.mark_sent(claimed.id, until)
    statuses = {d.alert_id: d.status for d in await outbox.deliveries() if d.address == CHAT}
    assert set(statuses.values()) == {DeliveryStatus.SENT}


async def test_a_released_delivery_is_pending_again_and_leaving_drops_held_ones(
    db: Database,
) -> None:
    outbox = SqlOutbox(db)
    until = NOW + timedelta(hours=8)
    one = await outbox.record(COPPER_DROP, [Recipient(Channel.TELEGRAM, CHAT, hold_until=until)])
    two = await outbox.record(COPPER_DROP, [Recipient(Channel.TELEGRAM, CHAT, hold_until=until)])
    assert await outbox.hold_until(Channel.TELEGRAM, CHAT, NOW) == 2
    [(first, _), (second, _)] = await outbox.held_due(NOW)
    assert await outbox.release([first.id], NOW) == 1
    assert [d.alert_id for d, _ in await outbox.due(Channel.TELEGRAM, NOW, 5)] == [one.id]
    assert await outbox.cancel(Channel.TELEGRAM, CHAT, "the user blocked the bot") == 2
    [dropped] = await outbox.deliveries(two.id)
    assert (dropped.status, dropped.detail) == (DeliveryStatus.FAILED, "the user blocked the bot")
    assert second.alert_id == two.id


async def test_alerts_lists_an_alert_for_one_chat_there_only_and_no_digests(
    db: Database,
) -> None:
    outbox, repo = SqlOutbox(db), SqlAlertRepo(db)
    actions = (Action("Copper chart", "/price copper"), Action("Remove watch #3", "/unwatch 3"))
    level = Alert(
        AlertType.PRICE_LEVEL,
        Severity.WARNING,
        "copper",
        "Copper fell below 9,000",
        NOW,
        "watch:3",
        chat=CHAT,
        actions=actions,
    )
    await outbox.record(COPPER_DROP, [])
    await outbox.record(level, [])
    await outbox.record(replace(level, type=AlertType.DIGEST, actions=()), [])
    assert [a.type for a in await repo.recent(10)] == [AlertType.PRICE_DROP]
    mine = await repo.recent(10, chat=CHAT)
    assert [a.type for a in mine] == [AlertType.PRICE_LEVEL, AlertType.PRICE_DROP]
    assert mine[0].actions == actions and mine[0].chat == CHAT
    assert [a.type for a in await repo.recent(10, chat="777")] == [AlertType.PRICE_DROP]


async def test_every_materials_latest_and_earlier_price_come_in_one_query(db: Database) -> None:
    prices = SqlPriceRepo(db)
    points = [
        PricePoint("copper", NOW - timedelta(days=d), 9000.0 + d, "feed") for d in range(3)
    ] + [PricePoint("steel", NOW - timedelta(hours=1), 500.0, "feed")]
    await prices.add(points)
    latest = await prices.latest_of(["copper", "steel", "nowhere"])
    assert {m: p.price for m, p in latest.items()} == {"copper": 9000, "steel": 500}
    earlier = await prices.at_or_before_of(
        {"copper": NOW - timedelta(hours=30), "steel": NOW - timedelta(hours=2)}
    )
    assert {m: p.price for m, p in earlier.items()} == {"copper": 9002}
    assert await prices.latest_of([]) == {}


class LateDigests(SqlDigestRepo):
    """A second process's view: the digests it read as due before the first booked them."""

    stale: list[DigestSchedule]

    async def due(self, now: datetime) -> list[DigestSchedule]:
        return self.stale


class LateOutbox(SqlOutbox):
    """A second process's view: the held deliveries it read before the first released them."""

    stale: list[tuple[Delivery, Alert]]

    async def held_due(self, now: datetime) -> list[tuple[Delivery, Alert]]:
        return self.stale


def _digests(db: Database, clock: FakeClock, repo: SqlDigestRepo) -> DigestService:
    catalog = MaterialCatalog([COPPER, STEEL])
    return DigestService(
        unit_of_work(db),
        repo,
        PriceService(catalog, SqlPriceRepo(db)),
        InventoryService(catalog, SqlInventoryRepo(db), clock),
        SqlAlertRepo(db),
        clock,
    )


async def test_a_second_process_late_by_a_moment_books_no_second_digest(db: Database) -> None:
    clock = FakeClock(NOW.replace(hour=6))
    leader = _digests(db, clock, SqlDigestRepo(db))
    await leader.set(CHAT, DailyTime(time(7, 30), BERLIN), 2002)
    clock.current = NOW.replace(hour=6, minute=30)  # 07:30 in Berlin
    late = LateDigests(db)
    late.stale = await SqlDigestRepo(db).due(clock.now())
    assert await leader.book_due() == 1
    assert await _digests(db, clock, late).book_due() == 0
    assert [d.address for d in await SqlOutbox(db).deliveries()] == [CHAT]


async def test_a_second_process_late_by_a_moment_releases_no_second_message(
    db: Database,
) -> None:
    clock = FakeClock(NOW.replace(hour=23))
    outbox, late = SqlOutbox(db), LateOutbox(db)
    quiet = QuietHoursService(unit_of_work(db), SqlQuietHoursRepo(db), outbox, clock)
    await quiet.set(CHAT, QuietHours(time(22, 0), time(7, 0), find_zone(None)), 2002)
    for message in ("first", "second"):
        recipients = await quiet.schedule([Recipient(Channel.TELEGRAM, CHAT)], Severity.WARNING)
        await outbox.record(replace(COPPER_DROP, message=message), recipients)
    clock.current = NOW.replace(hour=7) + timedelta(days=1)
    late.stale = await outbox.held_due(clock.now())
    assert await quiet.release() == 2
    other = QuietHoursService(unit_of_work(db), SqlQuietHoursRepo(db), late, clock)
    assert await other.release() == 0
    waiting = [d for d in await outbox.deliveries() if d.status is DeliveryStatus.PENDING]
    assert len(waiting) == 1  # the one message, rolled back in the second process
    assert len(await outbox.deliveries()) == 3
