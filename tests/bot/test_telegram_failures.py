"""When Telegram fails or the bot has a bug: the user gets a short apology at worst, never a
trace, and the bot keeps answering; 429s are waited out; subscriptions follow what Telegram
reports about chats."""

import asyncio

import pytest

from bot.telegram.rate_limit import MessageRateLimiter, SendWindow
from core.models import Channel
from tests.bot.telegram import BUYER_ID, RunningBot
from tests.fake_telegram import Failure, FakeUser

APOLOGY = (
    "Sorry, something went wrong on our side while answering that. It has been logged; please "
    "try again in a minute."
)


@pytest.mark.parametrize("failure", [Failure.server_error(500), Failure.gateway_page(502)])
async def test_a_5xx_while_answering_gets_an_apology_and_the_bot_carries_on(
    telegram_bot: RunningBot,
    buyer: FakeUser,
    failure: Failure,
    caplog: pytest.LogCaptureFixture,
) -> None:
    telegram_bot.api.fail("sendMessage", failure)
    turn = await telegram_bot.say(buyer, "/help")
    assert turn.text == APOLOGY
    assert "Failed to handle update" in caplog.text and f"from user {BUYER_ID}" in caplog.text
    assert "(/help)" in caplog.text
    assert (await telegram_bot.say(buyer, "/help")).text.startswith("Commands")


async def test_a_5xx_while_polling_does_not_stop_the_bot(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    await telegram_bot.api.wait_for(lambda: telegram_bot.api.calls_to("getUpdates"))
    telegram_bot.api.fail("getUpdates", Failure.server_error(502))
    turn = await telegram_bot.say(buyer, "/price")
    assert turn.text.startswith("Prices")
    assert any(c.status == 502 for c in telegram_bot.api.calls_to("getUpdates"))


async def test_flood_control_is_waited_out_and_the_answer_still_comes(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    telegram_bot.api.fail("sendPhoto", Failure.too_many_requests(retry_after=1))
    turn = await telegram_bot.say(buyer, "/price copper")
    assert turn.last.photo is not None and turn.text.startswith("Copper: ")
    refused, accepted = telegram_bot.api.calls_to("sendPhoto")
    assert (refused.status, accepted.status) == (429, 200)
    assert accepted.at - refused.at >= 1.0  # retry_after honoured


async def test_a_slow_telegram_only_delays_the_answer(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    telegram_bot.api.fail("sendMessage", Failure.slow(1.5))
    assert (await telegram_bot.say(buyer, "/alerts")).text.startswith("No alerts yet.")


async def test_a_bug_in_a_command_gets_an_apology_never_a_trace(
    telegram_bot: RunningBot,
    buyer: FakeUser,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise ZeroDivisionError("division by zero in the price service")

    monkeypatch.setattr(telegram_bot.services.prices, "summaries", broken)
    turn = await telegram_bot.say(buyer, "/price")
    assert turn.text == APOLOGY
    assert "ZeroDivisionError" in caplog.text and "Traceback" in caplog.text  # in the log only
    assert "Traceback" not in turn.text and "division" not in turn.text
    assert "Copper" in (await telegram_bot.say(buyer, "/price copper")).text


async def test_a_chat_that_blocked_the_bot_while_it_answered_is_unsubscribed(
    telegram_bot: RunningBot, buyer: FakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    await telegram_bot.say(buyer, "/subscribe")
    telegram_bot.api.fail("sendMessage", Failure.bot_blocked(), chat_id=buyer.id)
    assert (await telegram_bot.say(buyer, "/alerts")).messages == []
    subscription = await telegram_bot.services.subscriptions.get(Channel.TELEGRAM, str(buyer.id))
    assert subscription is not None and not subscription.active
    assert "Forbidden: bot was blocked by the user" in (subscription.disabled_reason or "")
    assert f"Unsubscribed telegram {BUYER_ID}: Forbidden: bot was blocked" in caplog.text
    answers = telegram_bot.api.calls_to("sendMessage")
    assert [c.status for c in answers] == [200, 403]  # /subscribe, then /alerts: no apology


async def test_blocking_the_bot_unsubscribes_the_chat_and_subscribe_brings_it_back(
    telegram_bot: RunningBot, buyer: FakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    subscriptions = telegram_bot.services.subscriptions
    assert (await telegram_bot.say(buyer, "/subscribe")).text.startswith("Subscribed.")
    assert (await telegram_bot.say(buyer, "/subscribe")).text.startswith(
        "This chat gets alerts already."
    )
    telegram_bot.api.block(buyer)
    await telegram_bot.answered(telegram_bot.api.last_update_id)
    assert await subscriptions.active() == []
    assert f"Unsubscribed telegram {BUYER_ID}: the user blocked the bot" in caplog.text

    telegram_bot.api.chats[buyer.id].blocked = False  # unblocked, and asks again
    assert (await telegram_bot.say(buyer, "/subscribe")).text.startswith("Subscribed.")
    assert [s.address for s in await subscriptions.active()] == [str(buyer.id)]
    assert (await telegram_bot.say(buyer, "/unsubscribe")).text.startswith("Unsubscribed")
    assert (await telegram_bot.say(buyer, "/unsubscribe")).text == (
        "This chat gets no alerts. /subscribe starts them."
    )


async def test_a_group_that_becomes_a_supergroup_keeps_its_subscription(
    telegram_bot: RunningBot, admin: FakeUser, buyer: FakeUser
) -> None:
    group = telegram_bot.api.group(-4242, "Purchasing team")
    await telegram_bot.say(admin, "/subscribe", group)
    supergroup = telegram_bot.api.migrate(group, by=admin)
    await telegram_bot.answered(telegram_bot.api.last_update_id)
    [subscription] = await telegram_bot.services.subscriptions.active()
    assert subscription.address == str(supergroup.id)
    assert (await telegram_bot.say(buyer, "/price", supergroup)).text.startswith("Prices")


async def test_chat_actions_never_spend_the_message_budget() -> None:
    limiter = MessageRateLimiter(window=SendWindow(limit=1, period=1000))
    sent: list[str] = []

    async def call(endpoint: str) -> bool:
        sent.append(endpoint)
        return True

    async def request(endpoint: str) -> object:
        return await limiter.process_request(call, (endpoint,), {}, endpoint, {"chat_id": 5}, None)

    await request("sendMessage")  # the whole budget for the next 1000 seconds
    for _ in range(5):
        await asyncio.wait_for(request("sendChatAction"), 10)
    waiting = asyncio.ensure_future(request("sendMessage"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()
    waiting.cancel()
    assert sent == ["sendMessage"] + ["sendChatAction"] * 5
