"""From low stock to a received purchase order, end to end: the real bot (PTB over HTTP against
the fake Bot API, the real SQLite file, the real outbox and delivery worker) as buyers and their
managers use it in their private chats and the managers' group. And a rejected request with its
reason, given as a reply to the bot's question."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.rendering import Renderer
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.purchases import SqlPurchaseRepo
from core.domain.purchasing import Purchase, PurchaseState
from tests.bot.telegram import BUYER_ID, RunningBot, running_bot
from tests.conftest import png_size
from tests.fake_telegram import FakeBotApi, FakeChat, FakeUser, Message

APPROVER_ID = 3030
GROUP_ID = -5005


@pytest.fixture
def approver(telegram_api: FakeBotApi) -> FakeUser:
    return telegram_api.user(APPROVER_ID, "Olga", "olga_ok")


@pytest.fixture
def managers(telegram_api: FakeBotApi) -> FakeChat:
    return telegram_api.group(GROUP_ID, "Managers")


@pytest.fixture
async def bot(
    telegram_api: FakeBotApi,
    database: Path,
    chart_renderer: Renderer,
    admin: FakeUser,
    buyer: FakeUser,
    approver: FakeUser,
) -> AsyncIterator[RunningBot]:
    # Bob buys and may approve too, so that only the four-eyes rule stops him approving his
    # own request.
    async with running_bot(
        telegram_api,
        database,
        chart_renderer,
        allowed_user_ids={BUYER_ID},
        approver_user_ids={BUYER_ID, APPROVER_ID},
    ) as running:
        yield running


async def purchases(database: Path) -> list[Purchase]:
    db = await Database.open(sqlite_url(database))
    try:
        return list(reversed(await SqlPurchaseRepo(db).recent(100)))
    finally:
        await db.close()


def posts(api: FakeBotApi, chat: int, title: str) -> list[Message]:
    return [m for m in api.sent_to(chat) if m.reads.startswith(f"🛒 {title}")]


async def test_low_stock_to_a_received_order_with_four_eyes_in_the_approval_group(
    bot: RunningBot,
    database: Path,
    admin: FakeUser,
    buyer: FakeUser,
    approver: FakeUser,
    managers: FakeChat,
) -> None:
    api = bot.api
    low = await bot.say(buyer, "/stock aluminium")
    assert "🔴 Aluminium: 95 t on hand" in low.text and "CRITICAL" in low.text
    room = await bot.say(admin, "/approvals here", managers)
    assert room.text.startswith("This group is the approval room now")

    suggested = await bot.say(buyer, "/order aluminium")
    assert suggested.text.startswith("Order Aluminium now: 102 t from Norsk Lettmetall AS")
    assert suggested.last.labels == ["🛒 Request this order"]
    requested = await bot.press(buyer, suggested.last, "🛒 Request this order")
    assert requested.text.startswith("Purchase request #1: 102 t Aluminium from Norsk")
    assert "so sent to the approval room for a decision; you will be told it here." in (
        requested.text
    )
    assert posts(api, GROUP_ID, "Purchase request #1") == []  # not before the outbox sends it

    await bot.deliver()
    (post,) = posts(api, GROUP_ID, "Purchase request #1")
    assert "Purchase request #1 from Bob (@bob_buys): 102 t Aluminium" in post.reads
    assert post.labels == ["✅ Approve", "❌ Reject"]

    own = await bot.press(buyer, post, "✅ Approve")
    assert own.text == "You asked for request #1: another approver or an admin must decide on it."
    assert (await purchases(database))[0].state is PurchaseState.REQUESTED
    approved = await bot.press(approver, post, "✅ Approve")
    assert approved.text.startswith(
        "✅ Approved: request #1 is PO-2026-0001, 102 t Aluminium from Norsk Lettmetall AS"
    )
    assert approved.text.endswith("expected 2 Dec. Bob (@bob_buys) is told.")
    again = await bot.press(approver, post, "✅ Approve")  # a second tap
    assert again.text == "Request #1 was approved by Olga (@olga_ok) already: it is PO-2026-0001."

    await bot.deliver()
    (told,) = [m for m in api.sent_to(BUYER_ID) if "approved: PO-2026-0001" in m.reads]
    assert told.reads.startswith("🛒 Request #1 approved: PO-2026-0001\nApproved by Olga")
    orders = await bot.say(buyer, "/orders")
    assert "🟢 PO-2026-0001 102 t Aluminium from Norsk Lettmetall AS" in orders.text
    assert "expected 2 Dec" in orders.text
    stock = await bot.say(buyer, "/stock aluminium")
    assert "on its way: +102 t due 2 Dec" in stock.text

    received = await bot.say(buyer, "/receive aluminium 102 t po PO-2026-0001")
    assert "received 102 t (PO-2026-0001)" in received.text
    assert "📦 PO-2026-0001 is received in full (102 t)." in received.text
    assert (await bot.say(buyer, "/orders")).text.startswith("No open orders")
    (order,) = await purchases(database)
    assert (order.state, order.received, order.approved_by) == (
        PurchaseState.RECEIVED,
        102.0,
        APPROVER_ID,
    )

    report = await bot.say(approver, "/report", managers)
    assert report.last.photo is not None and png_size(report.last.photo) == (800, 500)
    assert "Aluminium: 1 order, 102 t, spend 338,946 USD" in report.text


async def test_a_rejected_request_tells_the_requester_the_reason_given_as_a_reply(
    bot: RunningBot,
    database: Path,
    admin: FakeUser,
    buyer: FakeUser,
    approver: FakeUser,
    managers: FakeChat,
) -> None:
    api = bot.api
    await bot.say(admin, "/approvals here", managers)
    asked = await bot.say(buyer, '/buy copper 30 from "Nordic Copper AB"')
    assert asked.text.startswith("Purchase request #1: 30 t Copper from Nordic Copper AB")
    await bot.deliver()
    (post,) = posts(api, GROUP_ID, "Purchase request #1")

    question = await bot.press(approver, post, "❌ Reject")
    assert question.text.startswith("❌ Olga (@olga_ok), why reject request #1 (30 t Copper")
    markup = question.last.reply_markup
    assert markup is not None and markup["force_reply"] is True and markup["selective"] is True
    assert (await purchases(database))[0].state is PurchaseState.REQUESTED

    chatter = await bot.say(buyer, "who wants coffee?", managers, reply_to=question.last)
    assert chatter.messages == []  # the group's own talk, not a reason
    rejected = await bot.say(approver, "wait for the March price", managers, reply_to=question.last)
    assert rejected.text == (
        "❌ Rejected: request #1 (30 t Copper from Nordic Copper AB): wait for the March price "
        "Bob (@bob_buys) is told."
    )
    (stored,) = await purchases(database)
    assert (stored.state, stored.reason, stored.closed_by) == (
        PurchaseState.REJECTED,
        "wait for the March price",
        APPROVER_ID,
    )
    await bot.deliver()
    (told,) = [m for m in api.sent_to(BUYER_ID) if "rejected" in m.reads]
    assert told.reads == (
        "🛒 Request #1 rejected\nRejected by Olga (@olga_ok): your request #1 (30 t Copper from "
        "Nordic Copper AB): wait for the March price"
    )
    assert told.labels == ["📦 Orders"]


async def test_without_a_room_approvers_are_asked_privately_and_a_reason_is_a_plain_message(
    bot: RunningBot, database: Path, buyer: FakeUser, approver: FakeUser
) -> None:
    api = bot.api
    asked = await bot.say(buyer, '/buy zinc 30 from "Hamburg NE-Metalle"')
    assert "so sent to 2 approvers for a decision" in asked.text  # Olga and the admin
    await bot.deliver()
    assert posts(api, BUYER_ID, "Purchase request #1") == []  # not to the requester
    (post,) = posts(api, APPROVER_ID, "Purchase request #1")
    question = await bot.press(approver, post, "❌ Reject")
    assert question.text.startswith("❌ why reject request #1 (30 t Zinc")
    unrelated = await bot.say(buyer, "hello")
    assert unrelated.text.startswith("Send me a command")  # Bob was asked for nothing
    rejected = await bot.say(approver, "we have enough zinc")
    assert rejected.text.startswith("❌ Rejected: request #1 (30 t Zinc from Hamburg NE-Metalle)")
    after = await bot.say(approver, "thanks")
    assert after.text.startswith("Send me a command")  # the reason was taken once
    (stored,) = await purchases(database)
    assert (stored.state, stored.reason) == (PurchaseState.REJECTED, "we have enough zinc")
