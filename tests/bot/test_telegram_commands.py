"""The real bot over real HTTP, as a buyer uses it in a private chat: every command with good and
bad arguments, the charts, the keyboards and the buttons."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.alerts import SqlAlertRepo
from core.adapters.db.repos.prices import SqlPriceRepo
from core.adapters.db.repos.vendors import SqlVendorRepo
from core.models import Alert, AlertType, PricePoint, Severity
from tests.bot.telegram import RunningBot, Turn
from tests.conftest import png_size
from tests.fake_telegram import FakeUser
from tests.fakes import NOW, quote

MATERIAL_BUTTONS = ["Copper", "Aluminium", "Steel rebar", "Nickel", "Zinc"]


def one_line_answer(turn: Turn) -> str:
    """The single text message a bad request gets: one line, no chart, no buttons."""
    assert len(turn.messages) == 1, turn.messages
    message = turn.last
    assert message.photo is None and not message.buttons
    assert message.reads.count("\n") == 0, message.reads
    return message.reads


async def test_start_welcomes_a_buyer_with_the_commands_but_not_the_admin_ones(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    turn = await telegram_bot.say(buyer, "/start")
    assert turn.text.startswith("Welcome to the Smart Procurement Bot.")
    for usage in ("/price [MATERIAL]", "/forecast MATERIAL", "/stock", "/subscribe"):
        assert usage in turn.text
    assert "/invite" not in turn.text and "/users" not in turn.text
    assert turn.last.html is not None and "<b>Welcome" in turn.last.html  # sent as HTML


async def test_help_lists_every_command_with_an_example(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    turn = await telegram_bot.say(buyer, "/help")
    assert "/vendors MATERIAL: vendors ranked" in turn.text and "e.g. /vendors steel" in turn.text
    assert "Materials: copper, aluminium, steel, nickel, zinc" in turn.text
    assert one_line_answer(await telegram_bot.say(buyer, "/help me")) == (
        "/help takes no arguments, got 'me'."
    )


async def test_price_overview_offers_a_button_per_material_and_refresh(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    turn = await telegram_bot.say(buyer, "/price")
    assert len(turn.messages) == 1 and turn.last.photo is None
    assert "Copper: 13,950 USD/t · 1d -1.4% · 7d +1.2%" in turn.text
    assert "Latest price 23 Nov 16:00 UTC" in turn.text
    assert turn.last.labels == [*MATERIAL_BUTTONS, "🔄 Refresh"]
    assert [len(row) for row in turn.last.buttons] == [3, 2, 1]


async def test_a_material_button_answers_with_its_chart(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    overview = (await telegram_bot.say(buyer, "/price")).last
    turn = await telegram_bot.press(buyer, overview, "Copper")
    assert turn.answer == {"text": "", "show_alert": False}  # the spinner stops
    photo = turn.last
    assert photo.photo is not None and png_size(photo.photo) == (800, 500)
    assert photo.caption is not None and photo.caption.startswith("Copper: 13,950 USD/t")
    assert "30 days: low" in photo.caption
    assert photo.labels == ["🔄 Refresh"]


async def test_price_of_a_material_is_a_photo_with_caption_and_refresh(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    turn = await telegram_bot.say(buyer, "/price aluminum")
    assert len(turn.messages) == 1
    assert turn.last.photo is not None and png_size(turn.last.photo) == (800, 500)
    assert turn.text.startswith("Aluminium: 3,180 USD/t")
    refreshed = await telegram_bot.press(buyer, turn.last, "🔄 Refresh")
    assert refreshed.last.photo is not None and refreshed.last.caption == turn.last.caption


async def test_refresh_of_a_text_answer_updates_it_in_place(
    telegram_bot: RunningBot, buyer: FakeUser, database: Path
) -> None:
    overview = (await telegram_bot.say(buyer, "/price")).last
    unchanged = await telegram_bot.press(buyer, overview, "🔄 Refresh")
    assert unchanged.messages == []  # nothing new to show, nothing sent

    db = await Database.open(sqlite_url(database))  # a new price arrives, as from the price feed
    try:
        await SqlPriceRepo(db).add([PricePoint("copper", NOW, 14_500.0, "test")])
    finally:
        await db.close()
    refreshed = await telegram_bot.press(buyer, overview, "🔄 Refresh")
    assert [m.message_id for m in refreshed.messages] == [overview.message_id]
    assert "Copper: 14,500 USD/t" in overview.reads and overview.edits == 1
    assert overview.labels[-1] == "🔄 Refresh"


async def test_stock_is_a_chart_with_the_report_low_ones_first(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    turn = await telegram_bot.say(buyer, "/stock")
    assert len(turn.messages) == 1
    photo = turn.last
    assert photo.photo is not None and png_size(photo.photo) == (800, 500)
    lines = photo.reads.splitlines()
    assert lines[0] == "Stock: 2 of 5 need ordering"
    assert lines[1].startswith("🔴 Aluminium") and "CRITICAL" in lines[2]
    assert lines[3].startswith("🟠 Nickel")
    assert photo.labels == ["🔄 Refresh"]


async def test_a_report_too_long_for_a_caption_follows_its_chart(
    telegram_bot: RunningBot, buyer: FakeUser, database: Path
) -> None:
    db = await Database.open(sqlite_url(database))
    try:
        quotes = [
            quote(f"Vendor number {i} with a long trading name GmbH", price=13_000 + 50 * i)
            for i in range(12)
        ]
        await SqlVendorRepo(db).replace("copper", quotes)
    finally:
        await db.close()
    turn = await telegram_bot.say(buyer, "/vendors copper")
    photo, report = turn.messages
    assert photo.photo is not None and png_size(photo.photo) == (800, 500)
    assert photo.caption is not None and photo.caption.startswith("Copper vendors (score:")
    assert "\n" not in photo.caption and not photo.buttons
    assert report.reads.startswith("Copper vendors (score:") and len(report.reads) > 1024
    assert "12. Vendor number 11" in report.reads
    assert report.labels == ["🔄 Refresh"]


async def test_stock_of_one_material(telegram_bot: RunningBot, buyer: FakeUser) -> None:
    turn = await telegram_bot.say(buyer, "/stock rebar")
    assert turn.last.photo is not None
    assert turn.text.startswith("Stock: all ok\n🟢 Steel rebar: 900 t on hand")


async def test_vendors_without_a_material_offers_buttons_then_ranks_with_a_chart(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    question = await telegram_bot.say(buyer, "/vendors")
    assert question.text.startswith("Which material? Usage: /vendors MATERIAL")
    assert question.last.labels == MATERIAL_BUTTONS
    turn = await telegram_bot.press(buyer, question.last, "Steel rebar")
    assert turn.messages[0].photo is not None and png_size(turn.messages[0].photo) == (800, 500)
    assert "1. Rhein Stahlhandel: 567 USD/t" in turn.text
    assert "Best pick: Rhein Stahlhandel scores 96/100" in turn.text
    assert "EXPIRED 19 Nov" in turn.text


async def test_forecast_comes_with_chart_advice_and_track_record(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    question = await telegram_bot.say(buyer, "/forecast")
    assert question.last.labels == MATERIAL_BUTTONS
    first = await telegram_bot.press(buyer, question.last, "Nickel")  # no forecast yet
    assert first.text.startswith("Nickel: 7-day forecast\n16,700 USD/t on 23 Nov → expected")
    assert "because its record is being built" in first.text
    assert "Track record: being built." in first.text
    forecasts = telegram_bot.services.forecasts
    assert forecasts is not None
    await forecasts.settle()  # the record, built in the background
    turn = await telegram_bot.press(buyer, first.last, "🔄 Refresh")
    assert turn.messages[0].photo is not None and png_size(turn.messages[0].photo) == (800, 500)
    assert turn.text.startswith("Nickel: 7-day forecast\n16,700 USD/t on 23 Nov → expected")
    assert "BUY NOW: Stock is below its reorder point (38 t against " in turn.text
    assert "Track record: last " in turn.text


async def test_budget_prices_the_planned_use_with_a_chart(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    turn = await telegram_bot.say(buyer, "/budget copper 90")
    assert turn.messages[0].photo is not None and png_size(turn.messages[0].photo) == (800, 500)
    assert turn.text.startswith("Next 90 days of copper: 660 t to buy, expected ")
    assert "95% range " in turn.text
    assert "Planned use: 12 t a day for 90 days = 1,080 t, less 420 t on hand." in turn.text
    question = await telegram_bot.say(buyer, "/budget")
    assert question.text.startswith("Which material? Usage: /budget MATERIAL [DAYS]")
    bad = await telegram_bot.say(buyer, "/budget copper 120")
    assert (
        bad.text
        == "DAYS must be a whole number from 1 to 90, got '120'. Example: /budget copper 90"
    )


async def test_alerts_when_there_are_none_and_in_pieces_when_there_are_many(
    telegram_bot: RunningBot, buyer: FakeUser, database: Path
) -> None:
    assert (await telegram_bot.say(buyer, "/alerts")).text.startswith("No alerts yet.")
    db = await Database.open(sqlite_url(database))
    try:
        repo = SqlAlertRepo(db)
        for minute in range(100):
            await repo.add(
                Alert(
                    AlertType.PRICE_DROP,
                    Severity.WARNING,
                    "copper",
                    f"Copper fell 6.{minute:02d}% in 24 h <sharp> & fast " + "x" * 120,
                    NOW - timedelta(minutes=minute),
                    "drop:copper",
                )
            )
    finally:
        await db.close()
    turn = await telegram_bot.say(buyer, "/alerts 100")
    assert len(turn.messages) >= 5  # over 20,000 characters, split at line breaks
    assert turn.messages[0].reads.startswith("Last 100 alerts, newest first")
    assert "Copper fell 6.00% in 24 h <sharp> & fast" in turn.text  # escaped, read as typed
    assert all(not m.buttons for m in turn.messages[:-1])
    assert turn.last.labels == ["🔄 Refresh"]
    assert turn.text.count("Copper fell") == 100


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "/price unobtainium",
            "Unknown material 'unobtainium'. Did you mean aluminium? Known materials: copper, "
            "aluminium, steel, nickel, zinc.",
        ),
        ("/stock gold", "Unknown material 'gold'. Known materials: copper, aluminium, steel, "),
        ("/vendors <b>steel</b>", "Unknown material '<b>steel</b>'."),
        ("/alerts 0", "N must be a whole number from 1 to 100, got '0'. Example: /alerts 20"),
        ("/alerts lots", "'lots' is neither a number of alerts (1 to 100) nor a material"),
        ("/frobnicate", "Unknown command /frobnicate. Send /help for the list."),
        ("/prise", "Unknown command /prise. Did you mean /price? Send /help for the list."),
        ("/forecast gold", "Unknown material 'gold'. Known materials: copper, aluminium, "),
        ("/subscribe now", "/subscribe takes no arguments, got 'now'."),
        ("/unsubscribe all", "/unsubscribe takes no arguments, got 'all'."),
        ("/invite", "Only admins may use /invite."),
        ("/users", "Only admins may use /users."),
    ],
)
async def test_bad_requests_get_one_line_naming_what_would_work(
    telegram_bot: RunningBot, buyer: FakeUser, command: str, expected: str
) -> None:
    answer = one_line_answer(await telegram_bot.say(buyer, command))
    assert answer.startswith(expected)


async def test_plain_text_points_to_the_commands(telegram_bot: RunningBot, buyer: FakeUser) -> None:
    answer = one_line_answer(await telegram_bot.say(buyer, "how much is copper?"))
    assert answer == "Send me a command, for example /price copper. /help lists them all."


PHOTO = {"photo": [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]}
PDF = {"document": {"file_id": "d2", "file_unique_id": "u3", "file_name": "quote.pdf"}}
VOICE = {"voice": {"file_id": "v1", "file_unique_id": "u4", "duration": 3}}
STICKER = {
    "sticker": {
        "file_id": "s1",
        "file_unique_id": "u5",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
}


async def send_attachment(bot: RunningBot, user: FakeUser, attachment: dict[str, Any]) -> Turn:
    """`user` sends a photo, file, voice message or sticker (no text) in their private chat."""
    chat = bot.api.private_chat(user)
    before = {m.message_id for m in bot.api.sent_to(chat.id)}
    payload = {
        "message_id": 10_000 + len(before),
        "date": int(NOW.timestamp()),
        "chat": chat.as_json(),
        "from": user.as_json(),
        **attachment,
    }
    await bot.answered(bot.api.queue_update("message", payload))
    return Turn([m for m in bot.api.sent_to(chat.id) if m.message_id not in before])


@pytest.mark.parametrize("attachment", [PHOTO, VOICE, STICKER])
async def test_a_photo_voice_message_or_sticker_gets_one_line_saying_what_the_bot_reads(
    telegram_bot: RunningBot, buyer: FakeUser, stranger: FakeUser, attachment: dict[str, Any]
) -> None:
    answer = one_line_answer(await send_attachment(telegram_bot, buyer, attachment))
    assert answer.startswith("I read commands and CSV or XLSX files, not photos")
    refused = await send_attachment(telegram_bot, stranger, attachment)
    assert "Your Telegram user id is" in refused.text


async def test_a_file_that_is_not_a_spreadsheet_gets_one_line_saying_what_is_imported(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    answer = one_line_answer(await send_attachment(telegram_bot, buyer, PDF))
    assert answer.startswith("I import CSV and XLSX files only")


async def test_the_bot_shows_what_it_is_doing_while_it_works(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    await telegram_bot.say(buyer, "/price copper")
    await telegram_bot.say(buyer, "/price")
    actions = [c.params["action"] for c in telegram_bot.api.calls_to("sendChatAction")]
    assert actions == ["upload_photo", "typing"]


async def test_every_command_is_logged_with_user_and_latency(
    telegram_bot: RunningBot, buyer: FakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="bot.telegram.handlers")
    await telegram_bot.say(buyer, "/price copper")
    await telegram_bot.say(buyer, "/alerts lots")
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.telegram.handlers"]
    assert len(lines) == 2
    assert lines[0].startswith("user=2002 chat=2002 command=/price copper answered in ")
    assert lines[0].endswith(" ms") and lines[1].startswith("user=2002 chat=2002 command=/alerts")


async def test_the_command_menu_is_set_for_private_chats_groups_and_admins(
    telegram_bot: RunningBot, admin: FakeUser
) -> None:
    menus = telegram_bot.api.commands
    private = [c["command"] for c in menus["all_private_chats"]]
    assert private == [
        "start",
        "help",
        "price",
        "forecast",
        "budget",
        "stock",
        "vendors",
        "alerts",
        "subscribe",
        "unsubscribe",
        "watch",
        "watches",
        "unwatch",
        "digest",
        "quiet",
        "use",
        "receive",
        "count",
        "moves",
        "order",
        "buy",
        "approve",
        "reject",
        "orders",
        "cancel",
        "report",
        "quote",
        "export",
    ]
    assert [c["command"] for c in menus["all_group_chats"]] == private[1:]
    for_admin = [c["command"] for c in menus[f"chat:{admin.id}"]]
    assert [c for c in for_admin if c not in private] == [
        "whatsapp",
        "approvals",
        "material",
        "invite",
        "users",
        "prices",
        "status",
    ]
    assert menus["all_private_chats"][2]["description"].startswith("Latest prices with")
