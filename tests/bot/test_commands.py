"""The chat commands through the shared command layer, over fake core repositories."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.chat.commands.prices import parse_moment
from bot.chat.registry import COMMANDS, execute, parse
from bot.chat.request import Caller
from bot.formatting import Reply, esc, pct, split_message, stock_line, vendor_report
from bot.rendering import Renderer
from core.adapters.prophet_model import ProphetEngine
from core.inventory import assess_stock
from core.models import Alert, AlertType, Channel, Role, Severity
from core.services import Services
from core.vendors import rank_quotes
from tests.conftest import png_size
from tests.fake_telegram.html import parse_html, telegram_length
from tests.fakes import (
    COPPER,
    NOW,
    FakeAlertRepo,
    FakeInventoryRepo,
    FakePriceRepo,
    FakeVendorRepo,
    daily_prices,
    flat_run,
    make_services,
    quote,
    random_walk,
    stock_item,
)

ADMIN = Caller(user_id=1, role=Role.ADMIN, chat_id=1)


@pytest.fixture
def services() -> Services:
    closes = [9000.0 + 10 * i for i in range(40)]
    return make_services(
        prices=FakePriceRepo(daily_prices("copper", closes) + daily_prices("steel", [500.0, 510])),
        inventory=FakeInventoryRepo(
            [stock_item("copper", on_hand=1000), stock_item("aluminium", on_hand=50)]
        ),
        vendors=FakeVendorRepo([quote("Acme <Metals>"), quote("Beta", price=9500)]),
        alerts=FakeAlertRepo(
            [
                Alert(
                    AlertType.PRICE_DROP,
                    Severity.CRITICAL,
                    "copper",
                    f"Copper fell {i}%",
                    NOW - timedelta(hours=i),
                    "drop:copper",
                )
                for i in range(1, 16)
            ]
        ),
        forecast_engine=ProphetEngine(fit=flat_run),
    )


async def ask(services: Services, line: str, caller: Caller = ADMIN) -> Reply:
    name, args = parse(line)
    return await execute(name, args, caller, services, Renderer())


async def test_price_lists_every_material_with_buttons(services: Services) -> None:
    reply = await ask(services, "/price")
    assert "Copper</b>: 9,390 USD/t · 1d +0.1% · 7d +0.8%" in reply.text
    assert "Aluminium</b>: no price yet" in reply.text
    assert [b.command for b in reply.choices] == [
        "/price copper",
        "/price aluminium",
        "/price steel",
    ]
    assert reply.refresh == "/price"


async def test_price_of_one_material_comes_with_a_phone_sized_chart(services: Services) -> None:
    reply = await ask(services, "/price Copper")
    assert "9,390 USD/t" in reply.text and "30 days: low 9,090 · high 9,390" in reply.text
    assert reply.chart is not None and png_size(reply.chart) == (800, 500)
    assert reply.refresh == "/price copper"


async def test_unknown_material_gets_one_line_with_the_known_ones(services: Services) -> None:
    reply = await ask(services, "/price unobtainium")
    assert reply.text.count("\n") == 0
    assert "Unknown material 'unobtainium'" in reply.text
    assert "copper, aluminium, steel" in reply.text


async def test_user_text_is_escaped_in_html_replies(services: Services) -> None:
    reply = await ask(services, "/price <b>x</b>")
    assert "&lt;b&gt;x&lt;/b&gt;" in reply.text and "<b>x" not in reply.text


async def test_vendor_names_are_escaped_and_the_pick_explained(services: Services) -> None:
    reply = await ask(services, "/vendors copper")
    assert "Acme &lt;Metals&gt;" in reply.text
    assert "Best pick</b>: Acme &lt;Metals&gt; scores" in reply.text
    assert reply.chart is not None and png_size(reply.chart) == (800, 500)


async def test_commands_needing_a_material_offer_buttons_when_it_is_missing(
    services: Services,
) -> None:
    for command in ("/vendors", "/forecast", "/budget"):
        reply = await ask(services, command)
        assert "Which material?" in reply.text
        assert [b.label for b in reply.choices] == ["Copper", "Aluminium", "Steel rebar"]


async def test_stock_flags_low_materials_first(services: Services) -> None:
    reply = await ask(services, "/stock")
    assert reply.text.index("Aluminium") < reply.text.index("Copper")
    assert "1 of 2 needs ordering" in reply.text and "CRITICAL" in reply.text
    assert reply.chart is not None


async def test_stock_of_a_material_without_a_record_says_so(services: Services) -> None:
    assert (await ask(services, "/stock steel")).text == "No stock is recorded for Steel rebar."


async def test_alerts_default_to_the_last_ten_newest_first(services: Services) -> None:
    reply = await ask(services, "/alerts")
    assert "Last 10 alerts" in reply.text
    assert reply.text.index("fell 1%") < reply.text.index("fell 2%")
    assert "fell 11%" not in reply.text


@pytest.mark.parametrize("bad", ["0", "101", "-3", "2.5"])
async def test_alerts_with_a_malformed_count_say_what_is_expected(
    services: Services, bad: str
) -> None:
    reply = await ask(services, f"/alerts {bad}")
    assert reply.text == (
        f"N must be a whole number from 1 to 100, got '{bad}'. Example: /alerts 20"
    )


async def test_alerts_for_a_material_and_for_nonsense(services: Services) -> None:
    assert "Last 10 alerts for Copper" in (await ask(services, "/alerts cu")).text
    assert "No alerts for Steel rebar yet" in (await ask(services, "/alerts steel")).text
    nonsense = (await ask(services, "/alerts lots")).text
    assert "'lots' is neither a number of alerts (1 to 100) nor a material" in nonsense


async def test_forecast_shows_range_advice_and_track_record_with_a_chart(
    services: Services,
) -> None:
    first = await ask(services, "/forecast copper")
    assert first.text.splitlines()[3] == (
        "Model: the last price (naive forecast), because its record is being built: its past "
        "forecasts are being fitted in the background, so ask again in a few minutes for its own "
        "forecast and track record."
    )
    assert first.text.splitlines()[4] == "Track record: being built."
    assert services.forecasts is not None
    await services.forecasts.settle()
    reply = await ask(services, "/forecast copper")
    lines = reply.text.splitlines()
    assert lines[0] == "<b>Copper</b>: 7-day forecast"
    assert lines[1].startswith("9,390 USD/t on 24 Nov → expected 9,390 by 1 Dec (95%: ")
    assert lines[2].startswith("<b>MONITOR</b>: Expected +0.0% by 1 Dec")
    assert lines[3].startswith("Model: the last price (naive forecast), because the model has")
    assert lines[4].startswith("Track record: last ")
    assert reply.chart is not None and png_size(reply.chart) == (800, 500)
    assert reply.refresh == "/forecast copper"


async def test_forecast_without_enough_history_says_what_it_needs(services: Services) -> None:
    reply = await ask(services, "/forecast aluminum")
    assert reply.text.startswith("Not enough price history for Aluminium to forecast yet")


@pytest.fixture
def stocked() -> Services:
    """Copper with 200 days of prices and 100 t on hand used 10 t a day; steel with no stock."""
    return make_services(
        prices=FakePriceRepo(daily_prices("copper", list(random_walk(200) * 10))),
        inventory=FakeInventoryRepo(
            [stock_item("copper", on_hand=100), stock_item("aluminium", on_hand=50)]
        ),
        forecast_engine=ProphetEngine(fit=flat_run),
    )


async def test_budget_prices_the_planned_use_with_its_range_and_a_chart(
    stocked: Services,
) -> None:
    services = stocked
    reply = await ask(services, "/budget cu 90")
    lines = reply.text.splitlines()
    assert lines[0] == (
        "<b>Next 90 days of copper</b>: 800 t to buy, expected 5.28 M USD, "
        "95% range 4.42-6.30 M USD."
    )
    assert lines[1] == "Planned use: 10 t a day for 90 days = 900 t, less 100 t on hand."
    assert lines[2].startswith("<i>Priced at the last price, 6,599 USD/t on 24 Nov")
    assert lines[2].endswith("calibrated on 109 past periods.</i>")
    assert reply.chart is not None and png_size(reply.chart) == (800, 500)
    assert reply.refresh == "/budget copper 90"
    default = await ask(services, "/budget copper")
    assert default.text.startswith("<b>Next 30 days of copper</b>: 200 t to buy")


async def test_budget_that_stock_covers_says_nothing_to_buy(stocked: Services) -> None:
    reply = await ask(stocked, "/budget copper 5")
    assert reply.text.startswith(
        "<b>Next 5 days of copper</b>: nothing to buy: 100 t on hand cover the planned 50 t."
    )
    assert reply.chart is None


@pytest.mark.parametrize("days", ["0", "91", "2.5", "-1"])
async def test_budget_with_a_bad_period_says_what_fits(stocked: Services, days: str) -> None:
    reply = await ask(stocked, f"/budget copper {days}")
    assert reply.text == (
        f"DAYS must be a whole number from 1 to 90, got '{days}'. Example: /budget copper 90"
    )


async def test_budget_of_a_material_without_stock_or_prices_says_why(stocked: Services) -> None:
    assert (await ask(stocked, "/budget steel")).text == "No stock is recorded for Steel rebar."
    assert (await ask(stocked, "/budget aluminium")).text.startswith(
        "Not enough price history for Aluminium to budget yet"
    )


async def test_unknown_command_suggests_the_closest(services: Services) -> None:
    assert "Did you mean /price?" in (await ask(services, "/prise")).text


async def test_help_lists_every_command_with_an_example(services: Services) -> None:
    reply = await ask(services, "/help")
    for usage in (
        "/price [MATERIAL]",
        "/forecast MATERIAL",
        "/stock",
        "/vendors MATERIAL",
        "/alerts",
        "/subscribe",
        "/unsubscribe",
    ):
        assert usage in reply.text
    assert reply.text.count("e.g.") >= 9
    assert "takes no arguments" in (await ask(services, "/help me")).text


def test_parse_strips_the_bot_name_and_lowercases_the_command() -> None:
    assert parse("/Price@ProcureBot Copper") == ("price", ("Copper",))


def test_long_text_is_split_at_line_breaks_under_the_limit() -> None:
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(200))
    pieces = split_message(text, limit=1000)
    assert all(len(p) < 1000 for p in pieces)
    assert "\n".join(pieces) == text
    assert all(len(p) < 100 for p in split_message("y" * 250, limit=100))


STRANGER = Caller(user_id=99, role=None, chat_id=99)
BUYER_IN_TELEGRAM = Caller(2, Role.BUYER, 2, channel=Channel.TELEGRAM)


@pytest.mark.parametrize("line", ["/price", "/price copper", "/help", "/nonsense", "/start"])
async def test_someone_without_access_gets_a_refusal_with_their_id(
    services: Services, line: str
) -> None:
    reply = await ask(services, line, STRANGER)
    assert "Your Telegram user id is <code>99</code>" in reply.text
    assert reply.chart is None and not reply.choices and reply.refresh is None
    assert "Copper" not in reply.text


async def test_an_invite_from_the_console_is_a_code_to_send_with_start(
    services: Services,
) -> None:
    reply = await ask(services, "/invite")
    assert "Invite code</b> (works once, until 1 Dec 12:00 UTC)" in reply.text
    code = reply.text.split("/start ")[-1]
    welcome = await ask(services, f"/start {code}", STRANGER)
    assert "the invite worked and you have access now" in welcome.text
    assert await services.access.role_of(99) is Role.BUYER


async def test_an_invite_with_the_bot_name_is_a_deep_link(services: Services) -> None:
    reply = await execute("invite", (), ADMIN, services, Renderer(), bot_username="ProcureBot")
    assert "https://t.me/ProcureBot?start=" in reply.text


async def test_subscriptions_need_a_chat(services: Services) -> None:
    assert (await ask(services, "/subscribe")).text.startswith("Alerts go to Telegram chats")
    assert (await ask(services, "/subscribe", BUYER_IN_TELEGRAM)).text.startswith("Subscribed.")
    [subscription] = await services.subscriptions.active()
    assert (subscription.channel, subscription.address) == (Channel.TELEGRAM, "2")


async def test_users_lists_the_settings_and_the_grants(services: Services) -> None:
    await ask(services, "/users add 55")
    text = (await ask(services, "/users")).text
    assert "Admins (ADMIN_USER_IDS): <code>1</code>" in text
    assert "<code>55</code>: buyer since 24 Nov by 1" in text


def test_only_the_chart_commands_show_a_photo_being_sent() -> None:
    drawn = {name for name, c in COMMANDS.items() if c.draws_chart(("copper",))}
    assert drawn == {"price", "forecast", "budget", "stock", "vendors", "report"}
    assert not COMMANDS["price"].draws_chart(()) and COMMANDS["stock"].draws_chart(())


DAY = datetime(2026, 11, 24, tzinfo=UTC)


@pytest.mark.parametrize(
    ("words", "at", "span"),
    [
        (("2026-11-24",), datetime(2026, 11, 24, tzinfo=UTC), timedelta(days=1)),
        (("2026-11-24T14:05",), datetime(2026, 11, 24, 14, 5, tzinfo=UTC), timedelta(minutes=1)),
        (
            ("2026-11-24", "14:05:17"),
            datetime(2026, 11, 24, 14, 5, 17, tzinfo=UTC),
            timedelta(0, 1),
        ),
        (("2026-11-24T15:05+01:00",), datetime(2026, 11, 24, 14, 5, tzinfo=UTC), timedelta(0, 60)),
    ],
)
def test_a_time_an_admin_types_is_as_precise_as_typed(
    words: tuple[str, ...], at: datetime, span: timedelta
) -> None:
    assert parse_moment(words) == (at, span)


async def test_subscribing_tells_the_new_chat_what_needs_attention_now() -> None:
    closes = [9000.0 + 10 * i for i in range(40)]
    services = make_services(
        prices=FakePriceRepo(daily_prices("copper", closes)),
        inventory=FakeInventoryRepo(
            [stock_item("copper", on_hand=150), stock_item("aluminium", on_hand=5000)]
        ),
        forecast_engine=ProphetEngine(fit=flat_run),
    )
    assert services.forecasts is not None
    await services.forecasts.retrain(services.catalog.get("copper"))
    chat = Caller(user_id=2, role=Role.BUYER, chat_id=2, channel=Channel.TELEGRAM)
    reply = await ask(services, "/subscribe", chat)
    assert reply.text.startswith("Subscribed.")
    attention = reply.text.split("<b>Needs attention now</b>\n", 1)[1].splitlines()
    assert attention == [
        "🟠 Copper stock: 150 t, LOW: at or below the reorder point, order now · /stock copper",
        "🛒 Copper: BUY NOW · /forecast copper says why",
    ]
    again = await ask(services, "/subscribe", chat)
    assert again.text == "This chat gets alerts already. /unsubscribe stops them."
    calm = make_services(inventory=FakeInventoryRepo([stock_item("aluminium", on_hand=5000)]))
    other = Caller(user_id=2, role=Role.BUYER, chat_id=3, channel=Channel.TELEGRAM)
    assert (await ask(calm, "/subscribe", other)).text.endswith(
        "Nothing needs attention right now: no stock is low and no advice says BUY NOW."
    )


def test_a_split_never_falls_inside_a_tag_or_an_entity() -> None:
    line = " ".join(f"<b>{esc('Acme & Söhne <Metals>')}</b> 🔴 {i}" for i in range(60))
    text = f"<i>{line}</i>\n<b>Stock</b>\n" + "\n".join(
        f"<code>{i}</code> &amp; 🔴" for i in range(90)
    )
    for limit in (97, 100, 256, 1000):
        pieces = split_message(text, limit)
        for piece in pieces:
            parse_html(piece)  # raises where Telegram would refuse the piece
            assert telegram_length(piece) < limit
        # Nothing lost: the text a user reads is the same, split only where it was cut.
        assert "".join(parse_html(p) for p in pieces).replace("\n", "") == parse_html(text).replace(
            "\n", ""
        )


@pytest.mark.parametrize(
    "line",
    ["/price {}", "/alerts {}", "/help {}", "/forecast {}", "/{}"],
)
async def test_a_reply_echoes_at_most_40_characters_of_what_was_typed(
    services: Services, line: str
) -> None:
    typed = "copperish" * 100
    reply = await ask(services, line.format(typed))
    assert typed[:40] + "..." in reply.text and typed[:41] not in reply.text
    assert len(reply.text) < 400


def test_numbers_read_as_people_write_them() -> None:
    assert pct(-0.04) == "+0.0%" and pct(-0.05) == "-0.1%" and pct(9769.04) == "+9,769.0%"
    status = assess_stock(
        COPPER, stock_item(on_hand=10, daily_consumption=10, lead_time_days=1, minimum=0), []
    )
    assert "→ 1 day of cover (lead time 1 day)" in stock_line(status)
    ranking = rank_quotes(COPPER, [quote("Quick", delivery_days=1)], NOW.date())
    assert "Quick</b>: 9,000 USD/t · 1 day · ★4.0" in vendor_report(ranking)
    assert "the fastest delivery (1 day)" in ranking.why
