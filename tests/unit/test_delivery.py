"""The delivery worker over a fake outbox, with scripted notifier results."""

import asyncio
from collections import Counter
from datetime import datetime

import pytest

from core.delivery import DeliveryWorker, RetryPolicy
from core.models import (
    Alert,
    AlertType,
    Channel,
    Delivery,
    DeliveryStatus,
    Recipient,
    SendResult,
    SendStatus,
    Severity,
    Subscription,
)
from core.recipients import RecipientDirectory
from tests.fakes import NOW, FakeClock, FakeNotifier, FakeOutbox, FakeSubscriptionRepo

ALERT = Alert(AlertType.PRICE_DROP, Severity.WARNING, "copper", "Copper fell", NOW, "d:copper")
RETRY = SendResult(SendStatus.RETRY, "HTTP 502")
SENT = SendResult(SendStatus.SENT)


class Setup:
    def __init__(self, *chats: str, whatsapp: tuple[str, ...] = (), **worker: object) -> None:
        self.clock = FakeClock()
        self.outbox = FakeOutbox()
        self.subscriptions = FakeSubscriptionRepo()
        self.telegram = FakeNotifier(Channel.TELEGRAM)
        self.whatsapp = FakeNotifier(Channel.WHATSAPP)
        self.recipients = RecipientDirectory(
            self.subscriptions, self.clock, whatsapp, True, self.outbox
        )
        self.chats = chats
        self.numbers = whatsapp
        self.worker = self.new_worker(**worker)

    def new_worker(self, **options: object) -> DeliveryWorker:
        return DeliveryWorker(
            self.outbox,
            {Channel.TELEGRAM: self.telegram, Channel.WHATSAPP: self.whatsapp},
            self.recipients,
            self.clock,
            **options,  # type: ignore[arg-type]
        )

    async def alert(self) -> Alert:
        for chat in self.chats:
            await self.subscriptions.add(Subscription(Channel.TELEGRAM, chat, NOW))
        recipients = await self.recipients.for_alerts()
        return await self.outbox.record(ALERT, recipients)

    def statuses(self) -> dict[str, DeliveryStatus]:
        return {d.address: d.status for d in self.outbox.deliveries.values()}


async def test_every_recipient_gets_the_alert_once() -> None:
    setup = Setup("1", "2", "3", whatsapp=("+4915112345678",))
    await setup.alert()
    report = await setup.worker.run()
    assert report.sent == 4
    assert sorted(a for a, _ in setup.telegram.sent) == ["1", "2", "3"]
    assert [a for a, _ in setup.whatsapp.sent] == ["+4915112345678"]
    assert set(setup.statuses().values()) == {DeliveryStatus.SENT}

    assert (await setup.worker.run()).attempted == 0  # sent is never sent again
    assert len(setup.telegram.attempts) == 3


async def test_transient_failures_back_off_exponentially_then_succeed() -> None:
    setup = Setup("1")
    setup.telegram.script["1"] = [RETRY, RETRY, RETRY]
    await setup.alert()
    waits = []
    for _ in range(3):
        assert (await setup.worker.run()).retried == 1
        (delivery,) = setup.outbox.deliveries.values()
        waits.append((delivery.next_attempt_at - setup.clock.now()).total_seconds())
        assert (await setup.worker.run()).attempted == 0  # not due yet
        setup.clock.current = delivery.next_attempt_at
    assert waits == [5, 10, 20]
    assert (await setup.worker.run()).sent == 1
    assert setup.statuses() == {"1": DeliveryStatus.SENT}


def test_the_backoff_is_capped_and_retry_after_is_honoured() -> None:
    policy = RetryPolicy()
    assert [policy.delay(n) for n in (1, 2, 3, 7, 8, 9, 11)] == [5, 10, 20, 320, 600, 600, 600]
    assert policy.delay(3, retry_after=42) == 42
    assert policy.delay(3, retry_after=0.2) == 1


async def test_a_rate_limit_pauses_the_channel_for_its_retry_after() -> None:
    setup = Setup("1", "2", concurrency={Channel.TELEGRAM: 1})
    setup.telegram.script["1"] = [SendResult(SendStatus.RETRY, "429", retry_after=30)]
    await setup.alert()
    report = await setup.worker.run()
    assert (report.retried, report.sent) == (1, 0)  # chat 2 waits for the pause too
    assert setup.telegram.attempts == ["1"]
    setup.clock.advance(seconds=29)
    assert (await setup.worker.run()).attempted == 0
    setup.clock.advance(seconds=1)
    assert (await setup.worker.run()).sent == 2


async def test_after_the_last_attempt_the_delivery_fails_with_the_reason() -> None:
    setup = Setup("1", policy=RetryPolicy(max_attempts=3))
    setup.telegram.script["1"] = [RETRY] * 5
    await setup.alert()
    for _ in range(3):
        await setup.worker.run()
        setup.clock.advance(hours=1)
    (delivery,) = setup.outbox.deliveries.values()
    assert delivery.status is DeliveryStatus.FAILED and delivery.attempts == 3
    assert delivery.detail == "gave up after 3 attempts: HTTP 502"
    assert len(setup.telegram.attempts) == 3


async def test_a_blocked_chat_is_unsubscribed_and_its_other_alerts_dropped() -> None:
    setup = Setup("1", "2", concurrency={Channel.TELEGRAM: 1})
    blocked = SendResult(SendStatus.FAILED, "blocked by the user", disable=True)
    setup.telegram.script["1"] = [blocked]
    await setup.alert()
    await setup.alert()
    await setup.worker.run()
    assert setup.telegram.attempts.count("1") == 1  # the second alert was not even tried
    failed = setup.outbox.by_status(DeliveryStatus.FAILED)
    assert [(d.address, d.detail) for d in failed] == [("1", "blocked by the user")] * 2
    subscription = setup.subscriptions.subscriptions[(Channel.TELEGRAM, "1")]
    assert subscription.disabled_reason == "blocked by the user"
    assert Recipient(Channel.TELEGRAM, "1") not in await setup.recipients.for_alerts()


async def test_an_opted_out_number_from_the_settings_is_remembered_as_off() -> None:
    setup = Setup(whatsapp=("+4915112345678",))
    opted_out = SendResult(SendStatus.FAILED, "opted out (Twilio 21610)", disable=True)
    setup.whatsapp.script["+4915112345678"] = [opted_out]
    await setup.alert()
    await setup.worker.run()
    assert await setup.recipients.for_alerts() == []
    (number,) = await setup.recipients.whatsapp()
    assert number.from_settings and number.disabled_reason == "opted out (Twilio 21610)"


async def test_an_alert_the_notifier_sent_on_to_a_supergroup_is_recorded_there_not_resent() -> None:
    setup = Setup("-100", concurrency={Channel.TELEGRAM: 1})
    setup.telegram.script["-100"] = [SendResult(SendStatus.SENT, moved_to="-1009")]
    await setup.alert()
    await setup.alert()  # still pending for the old id when the first one finds out
    report = await setup.worker.run()
    assert (report.moved, report.sent) == (1, 2)
    assert setup.telegram.attempts == ["-100", "-1009"]  # the notifier's own re-send not repeated
    assert [d.address for d in setup.outbox.by_status(DeliveryStatus.SENT)] == ["-1009"] * 2
    assert [s.address for s in await setup.subscriptions.all(Channel.TELEGRAM)] == ["-1009"]


async def test_a_failed_attempt_at_the_new_id_is_retried_there() -> None:
    setup = Setup("-100")
    setup.telegram.script["-100"] = [SendResult(SendStatus.RETRY, "HTTP 502", moved_to="-1009")]
    await setup.alert()
    assert (await setup.worker.run()).retried == 1
    assert setup.statuses() == {"-1009": DeliveryStatus.PENDING}
    setup.clock.advance(seconds=5)
    assert (await setup.worker.run()).sent == 1
    assert setup.telegram.attempts == ["-100", "-1009"]


async def test_a_permanent_failure_is_marked_with_its_reason_and_not_retried() -> None:
    setup = Setup("1")
    setup.telegram.script["1"] = [SendResult(SendStatus.FAILED, "Bad Request: chat not found")]
    await setup.alert()
    await setup.worker.run()
    setup.clock.advance(hours=5)
    await setup.worker.run()
    assert setup.telegram.attempts == ["1"]
    (delivery,) = setup.outbox.deliveries.values()
    assert delivery.detail == "Bad Request: chat not found"


async def test_a_notifier_that_raises_or_hangs_counts_as_a_transient_failure() -> None:
    class Raising(FakeNotifier):
        async def send(self, address: str, alert: Alert) -> SendResult:
            raise ValueError("bug")

    class Hanging(FakeNotifier):
        async def send(self, address: str, alert: Alert) -> SendResult:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    setup = Setup("1", whatsapp=("+4915112345678",))
    setup.telegram, setup.whatsapp = Raising(Channel.TELEGRAM), Hanging(Channel.WHATSAPP)
    worker = setup.new_worker(send_timeout=0.01)
    await setup.alert()
    report = await worker.run()
    assert report.retried == 2
    details = sorted(d.detail for d in setup.outbox.deliveries.values())
    assert details == ["no answer within 0.01 s", "unexpected ValueError"]


async def test_sends_run_concurrently_up_to_the_channel_limit() -> None:
    setup = Setup(*(str(n) for n in range(50)), concurrency={Channel.TELEGRAM: 8})
    await setup.alert()
    report = await setup.worker.run()
    assert report.sent == 50
    assert 1 < setup.telegram.most_in_flight <= 8


async def test_a_run_while_one_is_going_does_nothing() -> None:
    setup = Setup("1")
    setup.telegram.gate = asyncio.Event()
    await setup.alert()
    first = asyncio.create_task(setup.worker.run())
    while not setup.telegram.attempts:
        await asyncio.sleep(0)
    assert (await setup.worker.run()).skipped
    setup.telegram.gate.set()
    assert (await first).sent == 1


async def test_an_abandoned_worker_loses_nothing_and_the_next_one_sends_the_rest_once() -> None:
    setup = Setup(*(str(n) for n in range(10)), concurrency={Channel.TELEGRAM: 2})
    await setup.alert()
    gate = asyncio.Event()

    class Stalling(FakeNotifier):
        async def send(self, address: str, alert: Alert) -> SendResult:
            if len(self.attempts) >= 4:  # the 5th and later sends hang: the "crash"
                self.attempts.append(address)
                await gate.wait()
            return await super().send(address, alert)

    crashed = Stalling(Channel.TELEGRAM)
    setup.telegram = crashed
    worker = setup.new_worker(concurrency={Channel.TELEGRAM: 2})
    run = asyncio.create_task(worker.run())
    while len(crashed.attempts) < 6:
        await asyncio.sleep(0)
    run.cancel()  # the process dies mid-batch
    with pytest.raises(asyncio.CancelledError):
        await run
    in_flight = setup.outbox.by_status(DeliveryStatus.SENDING)
    assert len(in_flight) == 2 and len(crashed.sent) == 4

    setup.telegram = FakeNotifier(Channel.TELEGRAM)
    restarted = setup.new_worker()
    report = await restarted.run()
    assert report.recovered == 2 and report.sent == 6
    everyone = [a for a, _ in crashed.sent] + [a for a, _ in setup.telegram.sent]
    assert sorted(everyone, key=int) == [str(n) for n in range(10)]  # none lost, none twice


async def test_deliveries_for_a_channel_without_a_notifier_wait() -> None:
    setup = Setup("1", whatsapp=("+4915112345678",))
    await setup.alert()
    worker = DeliveryWorker(
        setup.outbox, {Channel.WHATSAPP: setup.whatsapp}, setup.recipients, setup.clock
    )
    assert (await worker.run()).sent == 1
    assert setup.statuses()["1"] is DeliveryStatus.PENDING


async def test_a_retried_delivery_goes_out_when_its_time_comes() -> None:
    setup = Setup("1")
    setup.telegram.script["1"] = [RETRY]
    await setup.alert()
    await setup.worker.run()
    setup.clock.advance(seconds=4)
    assert (await setup.worker.run()).attempted == 0
    setup.clock.advance(seconds=1)
    assert (await setup.worker.run()).sent == 1


async def test_a_database_error_ends_the_run_and_the_next_run_tries_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup = Setup("1", "2")
    await setup.alert()
    claim = setup.outbox.claim
    failures = 1

    async def flaky_claim(delivery_id: int, owner: str, now: datetime) -> Delivery | None:
        nonlocal failures
        if failures:
            failures -= 1
            raise OSError("disk I/O error")
        return await claim(delivery_id, owner, now)

    setup.outbox.claim = flaky_claim  # type: ignore[method-assign]
    report = await asyncio.wait_for(setup.worker.run(), 10)  # ends instead of spinning
    assert report.sent <= 1 and "could not be processed" in caplog.text
    assert (await setup.worker.run()).sent + report.sent == 2
    assert set(setup.statuses().values()) == {DeliveryStatus.SENT}


async def test_when_told_to_stop_it_starts_no_new_send_and_records_those_in_flight() -> None:
    setup = Setup(*(str(n) for n in range(10)), concurrency={Channel.TELEGRAM: 3})
    await setup.alert()
    stopping = False

    class StopsTheBotMidway(FakeNotifier):
        async def send(self, address: str, alert: Alert) -> SendResult:
            nonlocal stopping
            if len(self.attempts) == 4:
                stopping = True  # SIGTERM arrives while sends are in flight
            return await super().send(address, alert)

    setup.telegram = StopsTheBotMidway(Channel.TELEGRAM)
    worker = setup.new_worker(concurrency={Channel.TELEGRAM: 3})
    report = await worker.run(keep_going=lambda: not stopping)
    statuses = Counter(setup.statuses().values())
    assert statuses[DeliveryStatus.SENDING] == 0  # nothing left to be sent again at restart
    assert statuses[DeliveryStatus.SENT] == report.sent == len(setup.telegram.attempts) < 10
    assert (await setup.new_worker().run()).sent == 10 - report.sent
