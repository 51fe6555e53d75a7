"""Alerts from the outbox to Telegram chats through the running bot: its delivery worker, its
TelegramNotifier behind the bot's rate limiter, the real SQLite outbox, over real HTTP to the fake
Bot API. Each Telegram failure ends with every chat that can be reached holding the alert once.

The bot's clock is fake, so a retry falls due when the test moves the clock, not after a wait.
"""

import asyncio
import itertools
import logging
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from bot.rendering import Renderer
from core.models import Alert, AlertType, Channel, Delivery, DeliveryStatus, Severity
from tests.bot.telegram import BUYER_ID, RunningBot, running_bot
from tests.fake_telegram import Failure, FakeBotApi, FakeUser

DROP = "Copper fell 6.2% in 24 h to 8,412 USD/t (11:55 UTC). Forecast: WAIT."
RISE = "Copper rose 7.0% in 24 h to 9,001 USD/t (12:55 UTC). Forecast: MONITOR."


async def raise_alert(bot: RunningBot, message: str = DROP, minutes_ahead: int = 0) -> Alert:
    """An alert recorded with a delivery to every subscribed chat; due `minutes_ahead` from
    now on the bot's clock (an alert that is still pending when something else happens)."""
    alert = Alert(
        AlertType.PRICE_DROP,
        Severity.WARNING,
        "copper",
        message,
        bot.clock.now() + timedelta(minutes=minutes_ahead),
        f"test:{message}",
    )
    return await bot.alerting.outbox.record(alert, await bot.services.recipients.for_alerts())


def received(bot: RunningBot, chat_id: int) -> Counter[str]:
    """How often each alert text arrived in a chat."""
    texts = (m.reads for m in bot.api.sent_to(chat_id))
    return Counter(text for text in texts if DROP in text or RISE in text)


async def deliveries(bot: RunningBot, alert: Alert) -> list[Delivery]:
    return await bot.alerting.outbox.deliveries(alert.id)


@pytest.fixture
async def subscribed(telegram_bot: RunningBot, buyer: FakeUser, admin: FakeUser) -> RunningBot:
    for user in (buyer, admin):
        assert (await telegram_bot.say(user, "/subscribe")).text.startswith("Subscribed.")
    return telegram_bot


async def test_an_alert_reaches_every_subscribed_chat_once(
    subscribed: RunningBot, buyer: FakeUser, admin: FakeUser
) -> None:
    alert = await raise_alert(subscribed)
    assert (await subscribed.deliver()).sent == 2
    assert (await subscribed.deliver()).attempted == 0
    for user in (buyer, admin):
        assert received(subscribed, user.id) == {subscribed.api.sent_to(user.id)[-1].reads: 1}
    assert {d.status for d in await deliveries(subscribed, alert)} == {DeliveryStatus.SENT}


async def test_flood_control_is_honoured_and_the_alert_is_sent_once(
    subscribed: RunningBot, buyer: FakeUser
) -> None:
    api = subscribed.api
    # More 429s than the rate limiter waits out itself: the delivery is retried later.
    api.fail("sendMessage", Failure.too_many_requests(retry_after=1), times=4, chat_id=buyer.id)
    alert = await raise_alert(subscribed)
    report = await subscribed.deliver()
    assert (report.retried, report.sent) == (1, 1)  # the buyer's waits, the admin's went out
    refused = [c for c in api.calls_to("sendMessage") if c.status == 429]
    assert len(refused) == 4
    assert all(b.at - a.at >= 1.0 for a, b in itertools.pairwise(refused))
    [waiting] = [d for d in await deliveries(subscribed, alert) if d.address == str(buyer.id)]
    assert waiting.next_attempt_at == subscribed.clock.now() + timedelta(seconds=1)

    assert (await subscribed.deliver()).attempted == 0  # not before retry_after is over
    subscribed.clock.advance(seconds=1)
    assert (await subscribed.deliver()).sent == 1
    assert sum(received(subscribed, buyer.id).values()) == 1
    assert {d.status for d in await deliveries(subscribed, alert)} == {DeliveryStatus.SENT}


@pytest.mark.parametrize("failure", [Failure.server_error(500), Failure.gateway_page(502)])
async def test_a_5xx_is_retried_after_a_backoff_and_the_alert_sent_once(
    subscribed: RunningBot, buyer: FakeUser, failure: Failure
) -> None:
    subscribed.api.fail("sendMessage", failure, chat_id=buyer.id)
    alert = await raise_alert(subscribed)
    assert (await subscribed.deliver()).retried == 1
    subscribed.clock.advance(seconds=4)
    assert (await subscribed.deliver()).attempted == 0
    subscribed.clock.advance(seconds=1)
    assert (await subscribed.deliver()).sent == 1
    assert sum(received(subscribed, buyer.id).values()) == 1
    [delivery] = [d for d in await deliveries(subscribed, alert) if d.address == str(buyer.id)]
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)


async def test_a_chat_that_blocked_the_bot_is_unsubscribed_and_its_pending_alerts_dropped(
    subscribed: RunningBot, buyer: FakeUser, admin: FakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    subscribed.api.chats[buyer.id].blocked = True  # the bot has not been told yet
    now = await raise_alert(subscribed)
    later = await raise_alert(subscribed, RISE, minutes_ahead=10)
    report = await subscribed.deliver()
    assert (report.failed, report.sent) == (1, 1)

    [blocked] = [d for d in await deliveries(subscribed, now) if d.address == str(buyer.id)]
    assert (blocked.status, blocked.detail) == (
        DeliveryStatus.FAILED,
        "Forbidden: bot was blocked by the user",
    )
    [dropped] = [d for d in await deliveries(subscribed, later) if d.address == str(buyer.id)]
    assert (dropped.status, dropped.detail) == (DeliveryStatus.FAILED, blocked.detail)
    subscription = await subscribed.services.subscriptions.get(Channel.TELEGRAM, str(buyer.id))
    assert subscription is not None and subscription.disabled_reason == blocked.detail
    unsubscribed = [r.getMessage() for r in caplog.records if "Unsubscribed" in r.getMessage()]
    assert unsubscribed == [
        f"Unsubscribed telegram {BUYER_ID}: Forbidden: bot was blocked by the user "
        "(1 pending delivery dropped)"
    ]

    subscribed.clock.advance(minutes=10)
    assert (await subscribed.deliver()).sent == 1  # the admin still gets the later one
    assert sum(received(subscribed, admin.id).values()) == 2
    assert len(subscribed.api.calls_to("sendMessage")) == 2 + 3  # 2 /subscribe replies


async def test_a_group_that_became_a_supergroup_gets_its_alerts_there_once(
    telegram_bot: RunningBot, admin: FakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    group = telegram_bot.api.group(-4242, "Purchasing team")
    await telegram_bot.say(admin, "/subscribe", group)
    supergroup = telegram_bot.api.group(-1004242, "Purchasing team", supergroup=True)
    group.migrated_to = supergroup.id  # the bot has not heard of it yet

    first = await raise_alert(telegram_bot)
    second = await raise_alert(telegram_bot, RISE, minutes_ahead=10)
    report = await telegram_bot.deliver()
    assert (report.sent, report.moved) == (1, 1)
    telegram_bot.clock.advance(minutes=10)
    assert (await telegram_bot.deliver()).sent == 1

    assert sorted(received(telegram_bot, supergroup.id).values()) == [1, 1]  # each alert once
    assert received(telegram_bot, group.id) == {}
    for alert in (first, second):
        [delivery] = await deliveries(telegram_bot, alert)
        assert (delivery.address, delivery.status) == (str(supergroup.id), DeliveryStatus.SENT)
    [subscription] = await telegram_bot.services.subscriptions.active()
    assert subscription.address == str(supergroup.id)
    to_the_group = [c for c in telegram_bot.api.calls_to("sendMessage") if c.chat_id == group.id]
    assert [c.status for c in to_the_group] == [200, 400]  # /subscribe, then the first alert
    assert "Subscription of telegram -4242 moved to -1004242 (1 pending delivery" in caplog.text


async def test_unsubscribing_drops_the_alerts_still_waiting_for_the_chat(
    subscribed: RunningBot, buyer: FakeUser, admin: FakeUser
) -> None:
    alert = await raise_alert(subscribed, minutes_ahead=5)
    assert (await subscribed.say(buyer, "/unsubscribe")).text.startswith("Unsubscribed")
    subscribed.clock.advance(minutes=5)
    assert (await subscribed.deliver()).sent == 1
    assert received(subscribed, buyer.id) == {}
    statuses = {d.address: (d.status, d.detail) for d in await deliveries(subscribed, alert)}
    assert statuses == {
        str(buyer.id): (DeliveryStatus.FAILED, "unsubscribed"),
        str(admin.id): (DeliveryStatus.SENT, ""),
    }


async def test_the_bot_runs_the_alert_jobs_and_a_failing_job_keeps_its_schedule(
    telegram_api: FakeBotApi,
    database: Path,
    chart_renderer: Renderer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_bot(
        telegram_api,
        database,
        chart_renderer,
        scheduled_jobs=True,
        price_update_seconds=1,
    ) as bot:
        assert bot.application.job_queue is not None
        names = sorted(job.name or "" for job in bot.application.job_queue.jobs())
        assert names == [
            "check purchases",
            "check stock",
            "daily retention",
            "deliver alerts",
            "digests and quiet hours",
            "poll prices",
            "retrain forecasts",
        ]
        calls = 0

        async def broken() -> None:
            nonlocal calls
            calls += 1
            raise RuntimeError(f"price poll failure {calls}")

        monkeypatch.setattr(bot.alerting.jobs.poller, "poll", broken)
        for _ in range(200):  # up to 20 s: the job runs every second
            if calls >= 2:
                break
            await asyncio.sleep(0.1)
    assert calls >= 2
    failures = [r for r in caplog.records if r.getMessage() == "Failed to handle job 'poll prices'"]
    assert len(failures) >= 2 and failures[0].exc_info is not None
    assert "price poll failure 1" in caplog.text


async def test_the_scheduled_retrain_stores_forecasts_and_buy_signals_reach_subscribers(
    telegram_api: FakeBotApi, database: Path, chart_renderer: Renderer, admin: FakeUser
) -> None:
    async with running_bot(
        telegram_api,
        database,
        chart_renderer,
        scheduled_jobs=True,
        forecast_retrain_seconds=2,
        price_update_seconds=3600,
    ) as bot:
        assert (await bot.say(admin, "/subscribe")).text.startswith("Subscribed.")

        def buy_signals() -> set[str]:
            texts = (m.reads for m in bot.api.sent_to(admin.id))
            return {t for t in texts if "BUY_SIGNAL" in t}

        # Demo stock: aluminium below its minimum, nickel at its reorder point.
        await bot.api.wait_for(lambda: len(buy_signals()) == 2, 180)
        forecasts = bot.services.forecasts
        assert forecasts is not None
        advice = await forecasts.current()
        assert set(advice) == {"copper", "aluminium", "steel", "nickel", "zinc"}
        assert {k for k, v in advice.items() if v.advice.value == "BUY NOW"} == {
            "aluminium",
            "nickel",
        }
        signals = "\n".join(sorted(buy_signals()))
        assert "Aluminium" in signals and "Nickel" in signals
