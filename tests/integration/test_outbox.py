"""The delivery outbox on a real SQLite file and a real PostgreSQL server: one transaction per
alert, nothing lost or sent twice across an abandoned worker or two racing ones, and the state
machine's edges."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.alerts import SqlAlertRepo
from core.adapters.db.repos.outbox import LEASE, SqlOutbox, SqlStateStore
from core.adapters.db.repos.prices import SqlMaterialRepo
from core.adapters.db.repos.subscriptions import SqlSubscriptionRepo
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
from tests.legacy import legacy_sqlite


async def open_db(url: str) -> Database:
    db = await Database.open(url)
    await SqlMaterialRepo(db).upsert(COPPER)
    return db


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await open_db(database_url)
    yield database
    await database.close()


def chats(n: int) -> list[Recipient]:
    return [Recipient(Channel.TELEGRAM, str(1000 + i)) for i in range(n)]


def worker_for(
    db: Database, clock: FakeClock, *notifiers: FakeNotifier, **options: object
) -> DeliveryWorker:
    recipients = RecipientDirectory(SqlSubscriptionRepo(db), clock, (), True, SqlOutbox(db))
    return DeliveryWorker(
        SqlOutbox(db),
        {n.channel: n for n in notifiers},
        recipients,
        clock,
        **options,  # type: ignore[arg-type]
    )


async def test_an_alert_and_its_deliveries_are_stored_together_or_not_at_all(db: Database) -> None:
    outbox = SqlOutbox(db)
    broken = [Recipient(Channel.TELEGRAM, "1"), Recipient(Channel.TELEGRAM, None)]  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
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
    outbox, clock = SqlOutbox(db), FakeClock()
    await SqlSubscriptionRepo(db).add(Subscription(Channel.TELEGRAM, "1003", NOW))
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
    (blocked,) = await SqlSubscriptionRepo(db).all(Channel.TELEGRAM)
    assert blocked.disabled_reason == "blocked by the user"


async def test_an_abandoned_worker_loses_nothing_and_a_new_one_sends_nothing_twice(
    database_url: str,
) -> None:
    """The crash: a worker dies mid-batch (its task cancelled, its connection never closed);
    a new process opens the same database and finishes the job."""
    clock = FakeClock()
    first_db = await open_db(database_url)
    await SqlOutbox(first_db).record(ALERT, chats(20))
    await SqlOutbox(first_db).record(
        Alert(AlertType.LOW_INVENTORY, Severity.CRITICAL, "copper", "Low", NOW, "low"), chats(5)
    )

    hang = asyncio.Event()

    class Dying(FakeNotifier):
        async def send(self, address: str, alert: Alert) -> SendResult:
            # (counted at the start of a send: `sent` grows only after the send's await, so
            # three sends in flight could all pass a check on it)
            if len(self.attempts) >= 7:
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

    second_db = await Database.open(database_url)  # the restarted process
    try:
        survivor = FakeNotifier(Channel.TELEGRAM)
        report = await worker_for(second_db, clock, survivor).run()
        assert report.recovered == 3
        delivered = [a for a, _ in dying.sent] + [a for a, _ in survivor.sent]
        assert len(delivered) == 25 and report.sent == 18
        per_alert = [(a, m.dedup_key) for a, m in dying.sent + survivor.sent]
        assert len(set(per_alert)) == 25  # nobody got the same alert twice
        statuses = {d.status for d in await SqlOutbox(second_db).deliveries()}
        assert statuses == {DeliveryStatus.SENT}
    finally:
        await second_db.close()
        await first_db.close()


async def test_a_message_accepted_just_before_a_crash_is_sent_again(db: Database) -> None:
    """The documented at-least-once window: accepted by the channel, result not yet stored."""
    outbox, clock = SqlOutbox(db), FakeClock()
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
    outbox, clock = SqlOutbox(db), FakeClock()
    subscriptions = SqlSubscriptionRepo(db)
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
    outbox = SqlOutbox(db)
    number = Recipient(Channel.WHATSAPP, "+4915112345678")
    await outbox.record(ALERT, [number, *chats(1)])
    assert await outbox.cancel(Channel.WHATSAPP, number.address, "removed") == 1
    statuses = {d.address: (d.status, d.detail) for d in await outbox.deliveries()}
    assert statuses == {
        number.address: (DeliveryStatus.FAILED, "removed"),
        "1000": (DeliveryStatus.PENDING, ""),
    }


async def test_due_deliveries_respect_their_time_and_a_result_needs_a_claim(db: Database) -> None:
    outbox = SqlOutbox(db)
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


async def test_job_state_survives_a_restart(database_url: str) -> None:
    for round_ in range(2):
        db = await Database.open(database_url)
        state = SqlStateStore(db)
        if round_ == 0:
            assert await state.get("csv-feed:x") is None
            await state.set("csv-feed:x", "1")
            await state.set("csv-feed:x", "2")
        else:
            assert await state.get("csv-feed:x") == "2"
        await db.close()


async def test_a_claim_whose_worker_died_is_taken_back_when_its_lease_runs_out(
    db: Database,
) -> None:
    outbox = SqlOutbox(db)
    await outbox.record(ALERT, chats(1))
    ((delivery, _),) = await outbox.due(Channel.TELEGRAM, NOW, 10)
    assert await outbox.claim(delivery.id, "old-worker", NOW) is not None
    assert await outbox.due(Channel.TELEGRAM, NOW + LEASE / 2, 10) == []
    later = NOW + LEASE + timedelta(seconds=1)
    ((again, _),) = await outbox.due(Channel.TELEGRAM, later, 10)
    reclaimed = await outbox.claim(again.id, "new-worker", later)
    assert reclaimed is not None and reclaimed.attempts == 2


async def test_two_workers_racing_over_one_outbox_never_claim_a_delivery_twice(
    database_url: str,
) -> None:
    """Two processes' connections claim from the same due list at once."""
    first, second = await open_db(database_url), await Database.open(database_url)
    try:
        await SqlOutbox(first).record(ALERT, chats(40))
        due = [d.id for d, _ in await SqlOutbox(first).due(Channel.TELEGRAM, NOW, 100)]

        async def claim_all(db: Database, owner: str) -> list[int]:
            claimed = []
            for delivery_id in due:
                if await SqlOutbox(db).claim(delivery_id, owner, NOW) is not None:
                    claimed.append(delivery_id)
            return claimed

        mine, theirs = await asyncio.gather(claim_all(first, "a"), claim_all(second, "b"))
        assert sorted(mine + theirs) == sorted(due)
        assert not set(mine) & set(theirs)
    finally:
        await second.close()
        await first.close()


async def test_alerts_from_before_the_outbox_migration_stay_readable(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = legacy_sqlite(path, version=1)
    old.executescript(
        """INSERT INTO materials VALUES ('copper', 'Copper', 't', 'USD', '[]');
           INSERT INTO alerts (type, severity, material, message, created_at, dedup_key)
           VALUES ('LOW_INVENTORY', 'WARNING', 'copper', 'Low', '2026-11-01T08:00:00Z', 'k');"""
    )
    old.close()

    db = await Database.open(sqlite_url(path))
    try:
        (alert,) = await SqlAlertRepo(db).recent(5)
        assert (alert.message, alert.facts, alert.magnitude) == ("Low", None, None)
        assert alert.id is not None
        assert await SqlOutbox(db).summaries([alert.id]) == {}
    finally:
        await db.close()


async def test_the_cool_down_counts_only_alerts_that_reached_or_can_reach_someone(
    db: Database,
) -> None:
    outbox = SqlOutbox(db)
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
