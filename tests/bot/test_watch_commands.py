"""/watch, /watches, /unwatch, /digest and /quiet through the shared command layer, over fakes:
what a buyer may type, and the one line that answers a mistake."""

import pytest

from bot.chat.commands.watches import parse_watch
from bot.commands import Caller, Renderer, execute, parse
from bot.formatting import Reply
from core.domain.watches import Direction, WatchKind, WatchRule
from core.errors import UserError
from core.materials import MaterialCatalog
from core.models import Channel, Material, Role
from core.services import Services
from tests.conftest import png_size
from tests.fakes import MATERIALS, FakePriceRepo, daily_prices, make_services

CATALOG = MaterialCatalog((*MATERIALS, Material("nickel", "Nickel")))
BUYER = Caller(2, Role.BUYER, 2, channel=Channel.TELEGRAM)
CONSOLE = Caller(0, Role.ADMIN, 0)


@pytest.fixture
def services() -> Services:
    closes = [9000.0 + 10 * i for i in range(40)]
    return make_services(prices=FakePriceRepo(daily_prices("copper", closes)))


async def ask(services: Services, line: str, caller: Caller = BUYER) -> Reply:
    name, args = parse(line)
    return await execute(name, args, caller, services, Renderer())


@pytest.mark.parametrize(
    ("line", "rule", "lasts"),
    [
        ("copper below 9000", WatchRule("copper", WatchKind.BELOW, 9000), None),
        ("Cu ABOVE 9,500.50 once", WatchRule("copper", WatchKind.ABOVE, 9500.5, once=True), None),
        (
            "steel rebar above 600 for 7 days once",
            WatchRule("steel", WatchKind.ABOVE, 600, once=True),
            7,
        ),
        ("nickel move 3", WatchRule("nickel", WatchKind.MOVE, 3), None),
        (
            "nickel move +2.5% 3d for 10d",
            WatchRule("nickel", WatchKind.MOVE, 2.5, Direction.UP, 3),
            10,
        ),
        (
            "aluminum move -4 7 for 30",
            WatchRule("aluminium", WatchKind.MOVE, 4, Direction.DOWN, 7),
            30,
        ),
    ],
)
def test_watches_are_read_as_buyers_write_them(
    line: str, rule: WatchRule, lasts: int | None
) -> None:
    assert parse_watch(tuple(line.split()), CATALOG) == (rule, lasts)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "What should this chat watch? Usage: /watch MATERIAL above|below PRICE"),
        ("copper", "Say above, below or move after the material."),
        ("copper below", "At what price? e.g. /watch copper below 9000"),
        ("copper move", "How large a move, in percent? e.g. /watch copper move 3"),
        ("copper below 9000 please", "'please' is not part of a watch."),
        ("copper below 9.000,5", "'9.000,5' is not a price above zero"),
        (
            "copper move 101",
            "'101' is not a move in percent: give a number above 0 and at most 100",
        ),
        ("copper move 3 91", "'91' is not a window: give a whole number of days from 1 to 90."),
        ("copper below 9000 for", "For how long? Say for 7d (7 days), up to 365."),
        ("copper below 9000 for 366d", "'366d' is not a time to last"),
    ],
)
def test_a_watch_that_cannot_be_read_gets_one_line_naming_what_works(
    line: str, message: str
) -> None:
    with pytest.raises(UserError) as refused:
        parse_watch(tuple(line.split()), CATALOG)
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


async def test_a_chat_without_watches_is_told_how_to_set_one(services: Services) -> None:
    reply = await ask(services, "/watches")
    assert reply.text == (
        "This chat watches no prices yet. Set one: e.g. /watch copper below 9000, "
        "/watch nickel move 3."
    )


async def test_a_watch_set_beyond_its_level_says_it_waits_for_a_crossing(
    services: Services,
) -> None:
    reply = await ask(services, "/watch copper below 9500")
    assert "Copper is 9,390 USD/t now, below 9,500 already: the watch fires at the next" in (
        reply.text
    )
    reply = await ask(services, "/watch copper above 9500 for 3d")
    assert "Copper is 9,390 USD/t now, 1.2% below the level." in reply.text
    assert "It lasts until 27 Nov 12:00 UTC." in reply.text


async def test_the_console_without_a_chat_says_how_to_act_in_one_but_shows_a_digest(
    services: Services,
) -> None:
    for line in ("/watch copper below 9000", "/watches", "/unwatch 1", "/quiet", "/digest 07:00"):
        reply = await ask(services, line, CONSOLE)
        assert "start it with --chat CHAT_ID" in reply.text, line
    digest = await ask(services, "/digest", CONSOLE)
    assert digest.text.startswith("<b>Daily digest, Tue 24 Nov 12:00 (UTC)</b>")
    assert digest.chart is not None and png_size(digest.chart) == (800, 500)


async def test_quiet_hours_are_shown_set_and_turned_off(services: Services) -> None:
    assert (await ask(services, "/quiet")).text.startswith("No quiet hours:")
    reply = await ask(services, "/quiet 22:00 - 07:00 Europe/Berlin")
    assert reply.text.startswith("🌙 <b>Quiet hours 22:00-07:00 Europe/Berlin</b>")
    assert "They are off now and start at 22:00." in reply.text
    shown = await ask(services, "/quiet")
    assert shown.text == (
        "🌙 Quiet hours 22:00-07:00 Europe/Berlin. They are off now and start at 22:00."
    )
    assert (await ask(services, "/quiet off")).text.startswith("Quiet hours off")
    assert (await ask(services, "/quiet off")).text.startswith("This chat has no quiet hours")
    refused = await ask(services, "/quiet 22:00-07:00 Europe/Berlin tonight")
    assert refused.text.startswith("Too much after /quiet")


async def test_a_digest_is_set_moved_and_stopped(services: Services) -> None:
    reply = await ask(services, "/digest 7:30")
    assert reply.text.startswith("🗞 <b>Daily digest at 07:30 UTC</b>")
    assert "The next one comes Wed 25 Nov 07:30 UTC." in reply.text
    now = await ask(services, "/digest")
    assert "Next digest: Wed 25 Nov 07:30 UTC." in now.text
    assert (await ask(services, "/digest off")).text.startswith("Daily digest stopped.")
    assert (await ask(services, "/digest off")).text.startswith("This chat gets no daily digest")
