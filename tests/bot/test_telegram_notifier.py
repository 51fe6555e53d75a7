"""Alerts to Telegram chats through the Notifier port, over real HTTP: every outcome Telegram can
give, mapped to a SendResult (what the delivery worker does with each: test_alert_delivery.py)."""

from datetime import timedelta

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot import charts
from bot.rendering import Renderer
from bot.telegram_notifier import TelegramNotifier, outcome_of
from core.models import Action, Alert, AlertType, Channel, SendResult, SendStatus, Severity
from tests.bot.telegram import RunningBot
from tests.conftest import png_size
from tests.fake_telegram import Failure, FakeUser
from tests.fakes import NOW

DROP = Alert(
    AlertType.PRICE_DROP,
    Severity.CRITICAL,
    "copper",
    "Copper fell 6.2% in 24 h to 8,412 USD/t (14:05 UTC) <LME> & COMEX. Forecast: WAIT.",
    NOW - timedelta(minutes=5),
    "drop:copper",
    id=7,
)


async def subscribed(bot: RunningBot, user: FakeUser) -> str:
    await bot.services.subscriptions.subscribe(Channel.TELEGRAM, str(user.id), user.id)
    return str(user.id)


async def test_an_alert_reaches_the_chat_escaped_with_a_button_to_follow_up(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    result = await telegram_bot.notifier.send(await subscribed(telegram_bot, buyer), DROP)
    assert result == SendResult(SendStatus.SENT)
    [alert] = telegram_bot.api.sent_to(buyer.id)
    assert alert.reads == (
        "🔴 CRITICAL · PRICE_DROP\n"
        "Copper fell 6.2% in 24 h to 8,412 USD/t (14:05 UTC) <LME> & COMEX. Forecast: WAIT.\n"
        "24 Nov 11:55 UTC"
    )
    turn = await telegram_bot.press(buyer, alert, "Copper price")
    assert turn.last.photo is not None and png_size(turn.last.photo) == (800, 500)


async def test_flood_control_is_waited_out_before_reporting_retry(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    address = await subscribed(telegram_bot, buyer)
    telegram_bot.api.fail("sendMessage", Failure.too_many_requests(retry_after=1))
    assert (await telegram_bot.notifier.send(address, DROP)).status is SendStatus.SENT
    refused, accepted = telegram_bot.api.calls_to("sendMessage")
    assert accepted.at - refused.at >= 1.0

    telegram_bot.api.fail("sendMessage", Failure.too_many_requests(retry_after=1), times=10)
    result = await telegram_bot.notifier.send(address, DROP)
    assert (result.status, result.retry_after) == (SendStatus.RETRY, 1.0)
    assert "Flood control exceeded" in result.detail


async def test_a_chat_that_blocked_the_bot_is_reported_as_unreachable(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    address = await subscribed(telegram_bot, buyer)
    telegram_bot.api.fail("sendMessage", Failure.bot_blocked())
    result = await telegram_bot.notifier.send(address, DROP)
    assert result == SendResult(
        SendStatus.FAILED, "Forbidden: bot was blocked by the user", disable=True
    )


async def test_an_alert_for_a_group_that_became_a_supergroup_follows_it(
    telegram_bot: RunningBot, admin: FakeUser
) -> None:
    group = telegram_bot.api.group(-4242, "Purchasing team")
    await telegram_bot.services.subscriptions.subscribe(Channel.TELEGRAM, "-4242", admin.id)
    supergroup = telegram_bot.api.group(-1004242, "Purchasing team", supergroup=True)
    group.migrated_to = supergroup.id  # the bot has not heard of it yet

    result = await telegram_bot.notifier.send("-4242", DROP)
    assert result == SendResult(SendStatus.SENT, moved_to=str(supergroup.id))
    assert telegram_bot.api.sent_to(supergroup.id)[0].reads.startswith("🔴 CRITICAL")


@pytest.mark.parametrize(
    ("failure", "status", "disable"),
    [
        (Failure.server_error(500), SendStatus.RETRY, False),
        (Failure.server_error(503), SendStatus.RETRY, False),
        (Failure.gateway_page(502), SendStatus.RETRY, False),
        (Failure.error(400, "Bad Request: message is too long"), SendStatus.FAILED, False),
        (Failure.error(400, "Bad Request: chat not found"), SendStatus.FAILED, True),
        (
            Failure.error(403, "Forbidden: bot was kicked from the group chat"),
            SendStatus.FAILED,
            True,
        ),
    ],
)
async def test_telegram_failures_map_to_retry_or_failed(
    telegram_bot: RunningBot,
    buyer: FakeUser,
    failure: Failure,
    status: SendStatus,
    disable: bool,
) -> None:
    address = await subscribed(telegram_bot, buyer)
    telegram_bot.api.fail("sendMessage", failure)
    result = await telegram_bot.notifier.send(address, DROP)
    assert (result.status, result.disable) == (status, disable)


async def test_an_address_that_is_no_chat_id_fails_for_good(telegram_bot: RunningBot) -> None:
    result = await telegram_bot.notifier.send("+4915112345678", DROP)
    assert (result.status, result.disable) == (SendStatus.FAILED, True)
    assert not telegram_bot.api.calls_to("sendMessage")


async def test_an_unknown_chat_fails_for_good(telegram_bot: RunningBot) -> None:
    result = await telegram_bot.notifier.send("987654", DROP)
    assert result == SendResult(SendStatus.FAILED, "Chat not found", disable=True)


def test_timeouts_and_network_errors_are_worth_retrying() -> None:
    assert outcome_of(TimedOut()).status is SendStatus.RETRY
    assert outcome_of(NetworkError("httpx.ConnectError: refused")).status is SendStatus.RETRY
    assert outcome_of(RetryAfter(30)).retry_after == 30.0
    assert outcome_of(BadRequest("Message text is empty")).status is SendStatus.FAILED
    assert outcome_of(Forbidden("Forbidden: user is deactivated")).disable


def test_the_notifier_is_for_telegram() -> None:
    assert TelegramNotifier.channel is Channel.TELEGRAM


def digest(text: str) -> Alert:
    return Alert(
        AlertType.DIGEST,
        Severity.INFO,
        None,
        text,
        NOW,
        "DIGEST:chat",
        id=8,
        actions=(Action("Prices", "/price"), Action("Stock", "/stock")),
    )


async def test_a_digest_comes_with_its_chart_its_buttons_and_bold_headings(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    api = telegram_bot.api
    notifier = TelegramNotifier(telegram_bot.application.bot, charts=lambda alert: _png())
    result = await notifier.send(
        str(buyer.id), digest("Daily digest <today>\nPrices\n• Copper 9,000")
    )
    assert result == SendResult(SendStatus.SENT)
    text, chart = api.sent_to(buyer.id)
    assert text.html == "<b>Daily digest &lt;today&gt;</b>\n<b>Prices</b>\n• Copper 9,000"
    assert text.labels == ["Prices", "Stock"]
    assert chart.photo is not None and png_size(chart.photo) == (800, 500)


async def test_a_digest_longer_than_a_message_is_split_and_a_chart_that_fails_is_only_logged(
    telegram_bot: RunningBot, buyer: FakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(alert: Alert) -> bytes | None:
        raise RuntimeError("chart process died")

    notifier = TelegramNotifier(telegram_bot.application.bot, charts=broken)
    long = "Daily digest\n" + "\n".join(f"• line {i} " + "x" * 80 for i in range(80))
    assert (await notifier.send(str(buyer.id), digest(long))).status is SendStatus.SENT
    pieces = telegram_bot.api.sent_to(buyer.id)
    assert len(pieces) == 2 and all(len(p.reads) < 4096 for p in pieces)
    assert pieces[0].labels == [] and pieces[1].labels == ["Prices", "Stock"]
    assert "The chart of message 8 did not reach chat" in caplog.text


async def _png() -> bytes:
    return await Renderer()(charts.overview_chart, [], 30)
