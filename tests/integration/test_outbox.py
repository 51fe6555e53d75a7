"""The delivery outbox on a real SQLite file: one transaction per alert, nothing lost or sent
twice across an abandoned worker, and the state machine's edges."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiosqlite
import pytest

from core.adapters.sqlite import MIGRATIONS, Database
from core.adapters.sqlite_outbox import SqliteOutbox, SqliteStateStore
from core.adapters.sqlite_repos import (
    SqliteAlertRepo,
    SqliteMaterialRepo,
    SqliteSubscriptionRepo,
)
from core.delivery import DeliveryWorker
from core.models import (
    Alert,
    AlertType,
    Channel,
    DeliveryStatus,
    Recipient,
    SendResult,
    SendStatus,
    Severity,
    Subscription,
)
from core.recipients import RecipientDirectory
from tests.fakes import COPPER, NOW, FakeClock, FakeNotifier
from tests.fakes import COPPER_DROP as ALERT


async def open_db(path: Path) -> Database:
    db = await Database.open(path)
    await SqliteMaterialRepo(db).upsert(COPPER)
    return db


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_db(tmp_path / "outbox.db")
    yield database
    await database.close()


def chats(n: int) -> list[Recipient]:
    return [Recipient(Channel.TELEGRAM, str(1000 + i)) for i in range(n)]


def worker_for(
    db: Database, clock: FakeClock, *notifiers: FakeNotifier, **options: object
) -> DeliveryWorker:
    recipients = RecipientDirectory(SqliteSubscriptionRepo(db), clock, (), True, SqliteOutbox(db))
    return DeliveryWorker(
        SqliteOutbox(db),
        {n.channel: n for n in notifiers},
        recipients,
        clock,
        **options,  # type: ignore[arg-type]
    )


async def test_an_alert_and_its_deliveries_are_stored_together_or_not_at_all(db: Database) -> None:
    outbox = SqliteOutbox(db)
    broken = [Recipient(Channel.TELEGRAM, "1"), Recipient(Channel.TELEGRAM, None)]  # type: ignore[arg-type]
    with pytest.raises(Exception, match="NOT NULL"):
        await outbox.record(ALERT, broken)
    assert await outbox.last_alert(ALERT.dedup_key) is None
    assert await outbox.deliveries() == []

    stored = await outbox.record(ALERT, [*chats(2), Recipient(Channel.WHATSAPP, "+4915112345678")])
    assert stored.id is not None
    assert await outbox.last_alert(ALERT.dedup_key) == stored  # facts and magnitude round-trip
    deliveries = await outbox.deliveries(stored.id)
    assert [(d.channel, d.status, d.attempts) for d in deliveries] == [
        (Channel.TELEGRAM, DeliveryStatus.PENDING, 0),
        (Channel.TELEGRAM, DeliveryStatus.PENDING, 0),
        (Channel.WHATSAPP, DeliveryStatus.PENDING, 0),
    ]


async def test_the_worker_sends_each_pending_delivery_once_and_records_the_outcome(
    db: Database,
) -> None:
    outbox, clock = SqliteOutbox(db), FakeClock()
    await SqliteSubscriptionRepo(db).add(Subscription(Channel.TELEGRAM, "1003", NOW))
    alert = await outbox.record(ALERT, [*chats(4), Recipient(Channel.WHATSAPP, "+4915112345678")])
    telegram, whatsapp = FakeNotifier(Channel.TELEGRAM), FakeNotifier(Channel.WHATSAPP)
    telegram.script["1001"] = [SendResult(SendStatus.RETRY, "HTTP 502")]
    telegram.script["1003"] = [SendResult(SendStatus.FAILED, "blocked by the user", disable=True)]
    worker = worker_for(db, clock, telegram, whatsapp)

    report = await worker.run()
    assert (report.sent, report.retried, report.failed) == (3, 1, 1)
    clock.advance(seconds=5)
    assert (await worker.run()).sent == 1
    assert (await worker.run()).attempted == 0
    assert sorted(a for a, _ in telegram.sent) == ["1000", "1001", "1002"]
    assert alert.id is not None
    (summary,) = (await outbox.summaries([alert.id])).values()
    assert (summary.total, summary.sent, summary.failed, summary.waiting) == (5, 4, 1, 0)
    assert summary.failures == (("blocked by the user", 1),)
    (blocked,) = await SqliteSubscriptionRepo(db).all(Channel.TELEGRAM)
    assert blocked.disabled_reason == "blocked by the user"


async def test_an_abandoned_worker_loses_nothing_and_a_new_one_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    """The crash: a worker dies mid-batch (its task cancelled, its connection never closed);
    a new process opens the same file and finishes the job."""
    path, clock = tmp_path / "crash.db", FakeClock()
    first_db = await open_db(path)
    await SqliteOutbox(first_db).record(ALERT, chats(20))
    await SqliteOutbox(first_db).record(
        Alert(AlertType.LOW_INVENTORY, Severity.CRITICAL, "copper", "Low", NOW, "low"), chats(5)
    )

    hang = asyncio.Event()

    class Dying(FakeNotifier):
        async def send(self, address: str, alert: Alert) -> SendResult:
            if len(self.sent) >= 7:
                self.attempts.append(address)
                await hang.wait()  # never returns: the process dies here
            return await super().send(address, alert)

    dying = Dying(Channel.TELEGRAM)
    run = asyncio.create_task(
        worker_for(first_db, clock, dying, concurrency={Channel.TELEGRAM: 3}).run()
    )
    while len(dying.attempts) < 10:  # 7 sent, 3 stuck in flight
        await asyncio.sleep(0.001)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    second_db = await Database.open(path)  # the restarted process
    try:
        survivor = FakeNotifier(Channel.TELEGRAM)
        report = await worker_for(second_db, clock, survivor).run()
        assert report.recovered == 3
        delivered = [a for a, _ in dying.sent] + [a for a, _ in survivor.sent]
        assert len(delivered) == 25 and report.sent == 18
        per_alert = [(a, m.dedup_key) for a, m in dying.sent + survivor.sent]
        assert len(set(per_alert)) == 25  # nobody got the same alert twice
        statuses = {d.status for d in await SqliteOutbox(second_db).deliveries()}
        assert statuses == {DeliveryStatus.SENT}
    finally:
        await second_db.close()
        await first_db.close()


async def test_a_message_accepted_just_before_a_crash_is_sent_again(db: Database) -> None:
    """The documented at-least-once window: accepted by the channel, result not yet stored."""
    outbox, clock = SqliteOutbox(db), FakeClock()
    await outbox.record(ALERT, chats(1))
    accepted = asyncio.Event()

    class AcceptsThenDies(FakeNotifier):
        async def send(self, address: str, alert: Alert) -> SendResult:
            self.sent.append((address, alert))  # the channel has it now
            accepted.set()
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    dying = AcceptsThenDies(Channel.TELEGRAM)
    run = asyncio.create_task(worker_for(db, clock, dying).run())
    await accepted.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    survivor = FakeNotifier(Channel.TELEGRAM)
    assert (await worker_for(db, clock, survivor).run()).recovered == 1
    assert len(dying.sent) + len(survivor.sent) == 2


async def test_a_moved_chat_gets_each_of_its_alerts_at_the_new_id_once(db: Database) -> None:
    outbox, clock = SqliteOutbox(db), FakeClock()
    subscriptions = SqliteSubscriptionRepo(db)
    await subscriptions.add(Subscription(Channel.TELEGRAM, "-100", NOW))
    first = await outbox.record(ALERT, [Recipient(Channel.TELEGRAM, "-100")])
    # The second alert went to both the old group and (already) the new supergroup.
    second = await outbox.record(
        Alert(AlertType.LOW_INVENTORY, Severity.WARNING, "copper", "Low", NOW, "low"),
        [Recipient(Channel.TELEGRAM, "-100"), Recipient(Channel.TELEGRAM, "-1009")],
    )
    telegram = FakeNotifier(Channel.TELEGRAM)
    # The notifier finds out while sending the first alert, and sends it on to -1009 itself.
    telegram.script["-100"] = [SendResult(SendStatus.SENT, moved_to="-1009")]
    await worker_for(db, clock, telegram, concurrency={Channel.TELEGRAM: 1}).run()

    assert telegram.attempts == ["-100", "-1009"]
    assert [s.address for s in await subscriptions.all(Channel.TELEGRAM)] == ["-1009"]
    assert first.id is not None and second.id is not None
    assert [(d.address, d.status) for d in await outbox.deliveries(first.id)] == [
        ("-1009", DeliveryStatus.SENT)
    ]
    assert [(d.address, d.status, d.detail) for d in await outbox.deliveries(second.id)] == [
        ("-100", DeliveryStatus.FAILED, "moved to -1009, which gets this alert already"),
        ("-1009", DeliveryStatus.SENT, ""),
    ]


async def test_removing_a_number_cancels_only_its_pending_deliveries(db: Database) -> None:
    outbox = SqliteOutbox(db)
    number = Recipient(Channel.WHATSAPP, "+4915112345678")
    await outbox.record(ALERT, [number, *chats(1)])
    assert await outbox.cancel(Channel.WHATSAPP, number.address, "removed") == 1
    statuses = {d.address: (d.status, d.detail) for d in await outbox.deliveries()}
    assert statuses == {
        number.address: (DeliveryStatus.FAILED, "removed"),
        "1000": (DeliveryStatus.PENDING, ""),
    }


async def test_due_deliveries_respect_their_time_and_a_result_needs_a_claim(db: Database) -> None:
    outbox = SqliteOutbox(db)
    await outbox.record(ALERT, chats(2))
    (first, _), (second, _) = await outbox.due(Channel.TELEGRAM, NOW, 10)
    claimed = await outbox.claim(first.id, "me", NOW)
    assert claimed is not None and (claimed.status, claimed.attempts) == ("sending", 1)
    assert await outbox.claim(first.id, "other", NOW) is None
    await outbox.mark_retry(first.id, NOW + timedelta(seconds=30), "HTTP 502")
    await outbox.mark_sent(second.id, NOW)  # never claimed: nothing happens
    due_now = [d.id for d, _ in await outbox.due(Channel.TELEGRAM, NOW, 10)]
    assert due_now == [second.id]
    later = [d.id for d, _ in await outbox.due(Channel.TELEGRAM, NOW + timedelta(seconds=30), 10)]
    assert sorted(later) == sorted([first.id, second.id])
    assert [d.id for d, _ in await outbox.due(Channel.WHATSAPP, NOW, 10)] == []


async def test_job_state_survives_a_restart(tmp_path: Path) -> None:
    for round_ in range(2):
        db = await Database.open(tmp_path / "state.db")
        state = SqliteStateStore(db)
        if round_ == 0:
            assert await state.get("csv-feed:x") is None
            await state.set("csv-feed:x", "1")
            await state.set("csv-feed:x", "2")
        else:
            assert await state.get("csv-feed:x") == "2"
        await db.close()


async def test_alerts_from_before_the_outbox_migration_stay_readable(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(await aiosqlite.connect(path, isolation_level=None), path)
    old.connection.row_factory = aiosqlite.Row
    await old.migrate(MIGRATIONS[:1])
    await SqliteMaterialRepo(old).upsert(COPPER)
    async with old.transaction() as tx:
        await tx.execute(
            """INSERT INTO alerts (type, severity, material, message, created_at, dedup_key)
               VALUES ('LOW_INVENTORY', 'WARNING', 'copper', 'Low', '2026-11-01T08:00:00Z', 'k')"""
        )
    await old.close()

    db = await Database.open(path)
    try:
        (alert,) = await SqliteAlertRepo(db).recent(5)
        assert (alert.message, alert.facts, alert.magnitude) == ("Low", None, None)
        assert alert.id is not None
        assert await SqliteOutbox(db).summaries([alert.id]) == {}
    finally:
        await db.close()


async def test_the_cool_down_counts_only_alerts_that_reached_or_can_reach_someone(
    db: Database,
) -> None:
    outbox = SqliteOutbox(db)
    await outbox.record(ALERT, [])  # nobody subscribed
    assert await outbox.last_alert(ALERT.dedup_key) is None
    failed = await outbox.record(ALERT, chats(2))
    for delivery in await outbox.deliveries(failed.id):
        await outbox.claim(delivery.id, "worker", NOW)
        await outbox.mark_failed(delivery.id, "Forbidden: bot was blocked by the user")
    assert await outbox.last_alert(ALERT.dedup_key) is None
    pending = await outbox.record(ALERT, chats(1))
    assert await outbox.last_alert(ALERT.dedup_key) == pending
    later = await outbox.record(ALERT, [])
    assert later.id is not None and await outbox.last_alert(ALERT.dedup_key) == pending
    [delivery] = await outbox.deliveries(pending.id)
    await outbox.claim(delivery.id, "worker", NOW)
    await outbox.mark_sent(delivery.id, NOW)
    assert await outbox.last_alert(ALERT.dedup_key) == pending
