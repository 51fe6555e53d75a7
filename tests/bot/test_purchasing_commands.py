"""/order, /buy, /request, /approvals, /approve, /reject, /orders, /cancel, /report and /receive
against an order, through the shared command layer over a real SQLite file with the demo data:
the text each person reads, every refusal and bad argument in one line, and what was stored."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.bootstrap import build_services
from bot.chat.registry import execute, parse
from bot.chat.request import Caller
from bot.formatting import Button, Reply, alert_follow_up, purchase_message
from bot.rendering import Renderer
from bot.settings import load_settings
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.alerts import ALERT_COLUMNS, alert_from_row
from core.adapters.db.repos.purchases import SqlPurchaseRepo
from core.adapters.db.schema import alerts
from core.domain.purchasing import Purchase, PurchaseState
from core.models import Alert, AlertType, Channel, Role, Severity
from core.services import Services
from core.services.once import UpdateRef
from tests.conftest import png_size
from tests.fakes import COPPER, NOW, FakeClock

ADA = Caller(1, Role.ADMIN, 1, name="Ada", channel=Channel.TELEGRAM)
BOB = Caller(2, Role.BUYER, 2, name="Bob", channel=Channel.TELEGRAM)
CARLA = Caller(5, Role.BUYER, 5, name="Carla", channel=Channel.TELEGRAM)
VERA = Caller(7, Role.VIEWER, 7, name="Vera", channel=Channel.TELEGRAM)
OLGA = Caller(30, Role.APPROVER, 30, name="Olga", channel=Channel.TELEGRAM)
ROOM = -100
ADA_IN_ROOM = Caller(1, Role.ADMIN, ROOM, is_group=True, name="Ada", channel=Channel.TELEGRAM)
OLGA_IN_ROOM = Caller(30, Role.APPROVER, ROOM, is_group=True, name="Olga", channel=Channel.TELEGRAM)
BOB_IN_ROOM = Caller(2, Role.BUYER, ROOM, is_group=True, name="Bob", channel=Channel.TELEGRAM)
CONSOLE = Caller(0, Role.ADMIN, 0)


class Chat:
    """The bot's services over the demo database, and people talking to it."""

    def __init__(self, db: Database, services: Services, clock: FakeClock) -> None:
        self.db, self.services, self.clock = db, services, clock
        self.updates = 0

    async def ask(self, caller: Caller, line: str, update: int | None = None) -> Reply:
        """`caller` sends `line` (as a new Telegram update, or as update `update` again)."""
        if update is None:
            self.updates += 1
            update = self.updates
        name, args = parse(line)
        return await execute(
            name, args, caller, self.services, Renderer(), "ProcureTestBot", UpdateRef(update)
        )

    async def purchases(self) -> list[Purchase]:
        return list(reversed(await SqlPurchaseRepo(self.db).recent(100)))

    async def messages(self, chat: int) -> list[Alert]:
        """What the outbox holds for one chat, oldest first."""
        rows = await self.db.fetchall(
            sa.select(*ALERT_COLUMNS).where(alerts.c.chat == str(chat)).order_by(alerts.c.id)
        )
        return [alert_from_row(row) for row in rows]


@pytest.fixture
async def chat(database: Path) -> AsyncIterator[Chat]:
    db = await Database.open(sqlite_url(database))
    clock = FakeClock()
    settings = load_settings(
        _env_file=None,
        database_path=database,
        admin_user_ids={1},
        allowed_user_ids={2, 5},
        approver_user_ids={30},
        viewer_user_ids={7},
    )
    try:
        yield Chat(db, await build_services(db, settings, clock), clock)
    finally:
        await db.close()


async def room(chat: Chat) -> None:
    reply = await chat.ask(ADA_IN_ROOM, "/approvals here")
    assert reply.text.startswith("This group is the approval room now")


# --- /order and its Request button -----------------------------------------------------------


async def test_order_suggests_quantity_vendor_dates_and_offers_a_request_button(
    chat: Chat,
) -> None:
    reply = await chat.ask(BOB, "/order aluminium")
    lines = reply.text.splitlines()
    # 95 t on hand, 8.73 t a day, 14 days' lead time, 12.81 t safety stock: the cover target
    # is 8.73 x (14 + 7) + 12.81 = 196 t, so 101.x t more, rounded up to whole tonnes
    assert lines[0] == "<b>Order Aluminium now</b>: 102 t from Norsk Lettmetall AS"
    assert lines[1] == "3,323 USD/t = <b>338,946 USD</b>"
    assert lines[2] == "Order by 25 Nov · arrives 2 Dec (8 days) · stock runs out 4 Dec"
    assert lines[3].startswith("Cover target 196 t = 8.73 t/day x (14 days lead time + 7 to")
    assert lines[3].endswith("+ 12.81 t safety stock; on hand 95 t, on order 0 t.")
    assert lines[4] == "Price risk of waiting: no forecast yet."
    assert lines[5] == "Market 3,180 USD/t"
    assert lines[6:8] == [
        "Other vendors:",
        "• Gulf Aluminium Supply: 102 t at 3,275 USD/t = 334,050 USD, arrives 8 Dec ⚠️ after "
        "the stock-out",
    ]
    assert [(b.label, b.command) for b in reply.choices] == [
        ("🛒 Request this order", "/request 1")
    ]
    viewer = await chat.ask(VERA, "/order aluminium")
    assert viewer.text.startswith("<b>Order Aluminium now</b>") and viewer.choices == ()


async def test_the_request_button_requests_the_order_once_and_only_for_its_asker(
    chat: Chat,
) -> None:
    await room(chat)
    offer = await chat.ask(BOB, "/order aluminium")
    command = offer.choices[0].command
    other = await chat.ask(CARLA, command)
    assert other.text == "Only the person who asked for it or an admin may answer that."
    requested = await chat.ask(BOB, command)
    assert requested.text.startswith(
        "<b>Purchase request #1</b>: 102 t Aluminium from Norsk Lettmetall AS at 3,323 USD/t"
    )
    assert "so sent to the approval room for a decision; you will be told it here." in (
        requested.text
    )
    assert [(b.label, b.command) for b in requested.choices] == [("✖️ Cancel", "/cancel 1")]
    again = await chat.ask(BOB, command)  # a second tap
    assert again.text == "That has been done already."
    assert [p.quantity for p in await chat.purchases()] == [102.0]
    by_admin = await chat.ask(ADA, (await chat.ask(BOB, "/order nickel")).choices[0].command)
    assert by_admin.text.startswith("<b>Purchase request #2</b>: 26 t Nickel")
    stale = await chat.ask(BOB, "/order aluminium")
    chat.clock.advance(hours=1, seconds=1)
    expired = await chat.ask(BOB, stale.choices[0].command)
    assert expired.text == "That waited too long and has expired: send /order again."


async def test_nothing_to_order_says_so_without_a_button(chat: Chat) -> None:
    reply = await chat.ask(BOB, "/order steel")
    assert reply.text.startswith("<b>Steel rebar</b>: nothing to order now.")
    assert reply.choices == ()


# --- /buy --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("/buy", 'Which material? Usage: /buy MATERIAL QTY [from "VENDOR"]'),
        ("/buy copper", "How much Copper? Usage: /buy MATERIAL QTY"),
        ("/buy copper 100 from", "Usage: /buy MATERIAL QTY"),
        ("/buy copper 100 t via ship", "Usage: /buy MATERIAL QTY"),
        ("/buy copper 100 at cheap", "'cheap' is not a price: write it in USD per t"),
        ('/buy copper 10 from "Nobody"', "No valid USD quote from Nobody for Copper"),
        ("/buy copper 5", "No vendor to pick: no quote's minimum order and pack size fit 5 t"),
        ('/buy copper 20 from "Andes Cathode Trading"', "Andes Cathode Trading sells Copper"),
        ("/buy copper 0", "The quantity must be above 0, got 0."),
        ("/buy copper -5", "'-5' is not a quantity: write the quantity as 5, 5t"),
        ("/buy unobtainium 5", "Unknown material"),
    ],
)
async def test_a_bad_buy_gets_one_line_saying_what_works(
    chat: Chat, line: str, answer: str
) -> None:
    reply = await chat.ask(BOB, line)
    assert answer in reply.text and "\n" not in reply.text
    assert await chat.purchases() == []


async def test_buy_with_a_price_and_a_vendor_without_a_quote_uses_the_lead_time(
    chat: Chat,
) -> None:
    reply = await chat.ask(BOB, '/buy copper 2,500 kg from "Local Scrap" at 9,500 USD')
    assert reply.text.startswith(
        "<b>Purchase request #1</b>: 2.5 t Copper from Local Scrap at 9,500 USD/t = 23,750 USD."
    )
    assert "so sent to 2 approvers for a decision; you will be told it here." in reply.text
    (stored,) = await chat.purchases()
    assert (stored.delivery_days, stored.requested_by_name) == (21, "Bob")


async def test_within_the_approval_limit_a_buy_is_ordered_at_once(
    chat: Chat, database: Path
) -> None:
    settings = load_settings(
        _env_file=None, database_path=database, allowed_user_ids={2}, approval_limit=500_000
    )
    chat.services = await build_services(chat.db, settings, chat.clock)
    reply = await chat.ask(BOB, '/buy copper 30 from "Nordic Copper AB"')
    assert reply.text.startswith("<b>Ordered: PO-2026-0001</b>, 30 t Copper from Nordic Copper AB")
    assert "within the approval limit of 500,000 USD. Expected 4 Dec." in reply.text
    assert "/receive copper 30 po PO-2026-0001" in reply.text
    (order,) = await chat.purchases()
    assert order.state is PurchaseState.ORDERED and order.approved_by is None
    above = await chat.ask(BOB, '/buy copper 40 from "Nordic Copper AB"')
    assert "so it needs an approver, but none could be told: an admin sends /approvals here" in (
        above.text
    )


async def test_a_buy_handed_out_again_is_requested_once(chat: Chat) -> None:
    first = await chat.ask(BOB, '/buy copper 30 from "Nordic Copper AB"', update=500)
    again = await chat.ask(BOB, '/buy copper 30 from "Nordic Copper AB"', update=500)
    assert again.text == first.text
    assert len(await chat.purchases()) == 1


async def test_a_viewer_may_look_but_not_buy(chat: Chat) -> None:
    reply = await chat.ask(VERA, "/buy copper 30")
    assert reply.text.startswith("Your role is viewer, which may only read: /buy")
    assert (await chat.ask(VERA, "/orders")).text.startswith("No open orders")


# --- approvals ---------------------------------------------------------------------------------


async def test_only_an_admin_in_a_group_makes_it_the_approval_room(chat: Chat) -> None:
    refused = await chat.ask(OLGA_IN_ROOM, "/approvals here")
    assert refused.text == "Only admins may use /approvals."
    private = await chat.ask(ADA, "/approvals here")
    assert private.text.startswith("/approvals here works in a group chat")
    assert (await chat.ask(ADA, "/approvals")).text.startswith("There is no approval room")
    await room(chat)
    status = (await chat.ask(ADA_IN_ROOM, "/approvals")).text
    assert status.startswith("This group is the approval room. (Last changed by Ada, ")
    off = await chat.ask(ADA_IN_ROOM, "/approvals off")
    assert off.text == "No approval room any more: requests go to each approver privately."
    await chat.ask(BOB, '/buy copper 30 from "Nordic Copper AB"')
    assert [len(await chat.messages(c)) for c in (ROOM, 1, 30, 2)] == [0, 1, 1, 0]


async def test_a_request_is_posted_to_the_room_and_approved_by_an_approver_not_its_requester(
    chat: Chat,
) -> None:
    await room(chat)
    await chat.ask(BOB, '/buy copper 30 from "Nordic Copper AB"')
    (post,) = await chat.messages(ROOM)
    assert post.type is AlertType.PURCHASE
    assert post.message.splitlines() == [
        "Purchase request #1",
        "Purchase request #1 from Bob: 30 t Copper from Nordic Copper AB at 14,229 USD/t = "
        "426,870 USD, above the approval limit of 0 USD. Delivery 10 days after approval.",
    ]
    assert [a.command for a in post.actions] == ["/approve 1", "/reject 1"]
    buyer = await chat.ask(BOB_IN_ROOM, "/approve 1")
    assert buyer.text.startswith("Your role is buyer: /approve (approving purchases) needs")
    approved = await chat.ask(OLGA_IN_ROOM, "/approve 1")
    assert approved.text == (
        "✅ <b>Approved</b>: request #1 is <b>PO-2026-0001</b>, 30 t Copper from Nordic Copper "
        "AB, 426,870 USD, expected 4 Dec. Bob is told."
    )
    (told,) = await chat.messages(2)
    assert told.message.startswith("Request #1 approved: PO-2026-0001\nApproved by Olga:")
    twice = await chat.ask(OLGA_IN_ROOM, "/approve 1")
    assert twice.text == "Request #1 was approved by Olga already: it is PO-2026-0001."


async def test_an_approver_cannot_approve_their_own_request(chat: Chat) -> None:
    await chat.ask(OLGA, '/buy copper 30 from "Nordic Copper AB"')
    own = await chat.ask(OLGA, "/approve 1")
    assert own.text == "You asked for request #1: another approver or an admin must decide on it."
    assert (await chat.ask(ADA, "/approve 1")).text.startswith("✅ <b>Approved</b>")


async def test_reject_without_a_reason_asks_for_it_and_the_reason_rejects(chat: Chat) -> None:
    await room(chat)
    await chat.ask(BOB, '/buy copper 30 from "Nordic Copper AB"')
    asked = await chat.ask(OLGA_IN_ROOM, "/reject 1")
    assert asked.ask_reply and asked.choices == ()
    assert asked.text.startswith('❌ <a href="tg://user?id=30">Olga</a>, why reject request #1')
    assert "Reply to this message with the reason within 30 minutes" in asked.text
    services = chat.services
    assert services.purchasing is not None
    waiting = await services.purchasing.reason_awaited(30, ROOM)
    assert waiting is not None and waiting.id == 1
    assert await services.purchasing.reason_awaited(30, 30) is None  # not in another chat
    assert await services.purchasing.reason_awaited(1, ROOM) is None  # nor from someone else
    rejected = await chat.ask(OLGA_IN_ROOM, "/reject 1 wait for the March price")
    assert rejected.text == (
        "❌ <b>Rejected</b>: request #1 (30 t Copper from Nordic Copper AB): wait for the March "
        "price Bob is told."
    )
    assert await services.purchasing.reason_awaited(30, ROOM) is None
    (told,) = await chat.messages(2)
    assert told.message.endswith(": wait for the March price")
    (stored,) = await chat.purchases()
    assert (stored.state, stored.closed_by, stored.reason) == (
        PurchaseState.REJECTED,
        30,
        "wait for the March price",
    )


async def test_the_console_rejects_with_a_reason_only(chat: Chat) -> None:
    await chat.ask(BOB, '/buy copper 30 from "Nordic Copper AB"')
    asked = await chat.ask(CONSOLE, "/reject 1")
    assert asked.text == "A rejection needs a reason: /reject N REASON."
    assert (await chat.ask(CONSOLE, "/reject 1 no")).text.startswith("❌ <b>Rejected</b>")


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("/approve", "Which purchase? Usage: /approve N (the number /orders shows)."),
        ("/approve 99", "There is no purchase #99. /orders lists them."),
        ("/approve PO-2026-0042", "There is no order PO-2026-0042. /orders lists them."),
        ("/approve copper", "'copper' is not a purchase: give its number (12)"),
        ("/cancel", "Which purchase? Usage: /cancel N [reason]"),
        ("/orders open", "Usage: /orders [all] (all adds the closed ones)."),
        ("/approve 1 2", "/approve takes one purchase number, got '1 2'. Usage: /approve N"),
        ("/report 2026-13", "'2026-13' is not a month from 2000 on. Usage: /report [YYYY-MM]"),
        ("/report 1999-01", "'1999-01' is not a month from 2000 on."),
        ("/report November", "'November' is not a month from 2000 on."),
        ("/report 2027-01", "January 2027 has not started yet"),
        ("/approvals maybe", "There is no approval room"),
    ],
)
async def test_bad_arguments_get_one_line(chat: Chat, line: str, answer: str) -> None:
    reply = await chat.ask(ADA, line)
    assert answer in reply.text and "\n" not in reply.text


# --- /orders, /cancel, /receive against an order, /stock ----------------------------------------


async def test_orders_list_open_ones_and_waiting_requests_and_all_adds_the_closed(
    chat: Chat,
) -> None:
    await chat.ask(BOB, '/buy copper 30 from "Nordic Copper AB"')
    await chat.ask(BOB, '/buy zinc 50 from "Deccan Zinc Exports"')
    await chat.ask(CARLA, '/buy nickel 5 from "Antwerp Alloys NV"')
    await chat.ask(OLGA, "/approve 1")
    await chat.ask(OLGA, "/reject 3 not now")
    chat.clock.advance(days=12)  # PO-2026-0001 was expected on 4 Dec
    listed = (await chat.ask(VERA, "/orders")).text.splitlines()
    assert listed[0] == "<b>Open orders</b> (1), overdue first"
    assert listed[1].startswith("🟠 <b>PO-2026-0001</b> 30 t Copper from Nordic Copper AB")
    assert "expected 4 Dec, <b>2 days late</b>" in listed[1]
    assert listed[2] == "<b>Waiting for approval</b> (1)"
    assert listed[3].startswith("⏳ #2 50 t Zinc from Deccan Zinc Exports")
    everything = (await chat.ask(VERA, "/orders all")).text
    assert "✖️ #3 5 t Nickel from Antwerp Alloys NV: rejected by Olga: not now" in everything


async def test_only_the_requester_or_an_admin_cancels(chat: Chat) -> None:
    await chat.ask(BOB, '/buy copper 30 from "Nordic Copper AB"')
    await chat.ask(OLGA, "/approve 1")
    refused = await chat.ask(CARLA, "/cancel 1")
    assert refused.text == "Only Bob or an admin may cancel PO-2026-0001."
    asked = await chat.ask(ADA, "/cancel PO-2026-0001 supplier went bust")
    assert asked.text == (
        "Cancel <b>PO-2026-0001</b> (30 t Copper from Nordic Copper AB, 426,870 USD, 0 of 30 t "
        "received)? Tell the vendor too. Nothing changes unless you tap the button within 10 "
        "minutes."
    )
    assert [(b.label, b.command) for b in asked.choices] == [
        ("✖️ Cancel the order", "/cancel_order 1")
    ]
    assert (await chat.purchases())[0].state is PurchaseState.ORDERED
    done = await chat.ask(ADA, "/cancel_order 1")
    assert done.text == (
        "Cancelled: PO-2026-0001 (30 t Copper from Nordic Copper AB). Bob is told."
    )
    again = await chat.ask(ADA, "/cancel_order 1")
    assert again.text == "That has been done already."
    withdrawn = await chat.ask(BOB, '/buy copper 20 from "Nordic Copper AB"')
    assert withdrawn.choices[0].command == "/cancel 2"
    assert (await chat.ask(BOB, "/cancel 2")).text == (
        "Cancelled: request #2 (20 t Copper from Nordic Copper AB)."
    )
    (told,) = [m for m in await chat.messages(2) if "cancelled" in m.message]
    assert told.message.endswith(": supplier went bust.")


async def test_receiving_against_an_order_partly_then_more_than_ordered(chat: Chat) -> None:
    await chat.ask(BOB, '/buy copper 30 from "Nordic Copper AB"')
    await chat.ask(OLGA, "/approve 1")
    stock = await chat.ask(BOB, "/stock copper")
    assert "33 days of cover" in stock.text
    assert "on its way: +30 t due 4 Dec → 36 days of cover with it" in stock.text
    part = await chat.ask(BOB, "/receive copper 20 t po PO-2026-0001")
    assert "received 20 t (PO-2026-0001)" in part.text
    assert "📦 PO-2026-0001: 20 of 30 t received, 10 t still to come." in part.text
    over = await chat.ask(BOB, "/receive copper 15 po po-2026-0001")
    assert "receive 15 t? That is 5 t more than PO-2026-0001 still brings (10 t)" in over.text
    assert [b.label for b in over.choices] == ["✅ Confirm", "✖️ Cancel"]
    confirmed = await chat.ask(BOB, over.choices[0].command)
    assert "📦 PO-2026-0001 is received in full (35 t)." in confirmed.text
    undone = await chat.ask(BOB, confirmed.choices[0].command)
    assert "📦 PO-2026-0001: 20 of 30 t received, 10 t still to come." in undone.text
    wrong = await chat.ask(BOB, "/receive aluminium 5 po PO-2026-0001")
    assert wrong.text == "PO-2026-0001 is for Copper, not Aluminium."
    unknown = await chat.ask(BOB, "/receive copper 5 po PO-2026-0007")
    assert unknown.text == "There is no order PO-2026-0007. /orders lists the open ones."
    own = await chat.ask(BOB, "/receive copper 5 po 4711")
    assert "received 5 t (PO 4711)" in own.text and "📦" not in own.text


# --- /report -----------------------------------------------------------------------------------


async def test_report_lists_the_months_orders_with_a_chart(chat: Chat, database: Path) -> None:
    empty = await chat.ask(VERA, "/report")
    assert empty.text.startswith("<b>Purchasing, November 2026</b>: no orders were placed.")
    assert empty.chart is None
    await chat.ask(BOB, '/buy copper 30 from "Nordic Copper AB"')
    await chat.ask(OLGA, "/approve 1")
    reply = await chat.ask(VERA, "/report 2026-11")
    lines = reply.text.splitlines()
    assert lines[1] == "<b>Copper</b>: 1 order, 30 t, spend 426,870 USD"
    assert lines[2].startswith("    paid 14,229 USD/t on average; the market was 13,950 when")
    assert "premium +2.0%" in lines[2]
    assert lines[3] == "    advice followed: 0 of 1 order placed on BUY NOW"
    assert lines[4].startswith("    vs buying the same on a fixed schedule (every day's close")
    assert lines[-1].startswith("Total spend: 426,870 USD.")
    assert reply.chart is not None and png_size(reply.chart) == (800, 500)


def test_a_po_overdue_alert_offers_the_open_orders_and_a_post_shows_its_title_bold() -> None:
    overdue = Alert(
        AlertType.PO_OVERDUE, Severity.WARNING, "copper", "late", NOW, "PO_OVERDUE:PO-2026-0001"
    )
    assert alert_follow_up(overdue, COPPER) == Button("Open orders", "/orders")
    assert purchase_message("Request #1 approved\nBy <Olga> & co.") == (
        "🛒 <b>Request #1 approved</b>\nBy &lt;Olga&gt; &amp; co."
    )
