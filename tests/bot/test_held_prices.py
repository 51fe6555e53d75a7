"""A mistyped feed price end to end: the running bot over its SQLite file polls a CSV feed, holds
the price back from every buyer and tells the admins, who accept, drop or delete prices."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.rendering import Renderer
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.prices import SqlPriceRepo
from core.models import PricePoint
from tests.bot.telegram import RunningBot, running_bot
from tests.fake_telegram import FakeBotApi, FakeUser
from tests.fakes import NOW


@pytest.fixture
async def bot(
    telegram_api: FakeBotApi,
    database: Path,
    chart_renderer: Renderer,
    feed: Path,
    admin: FakeUser,
    buyer: FakeUser,
) -> AsyncIterator[RunningBot]:
    async with running_bot(
        telegram_api, database, chart_renderer, price_source=f"csv:{feed}"
    ) as running:
        yield running


async def copper_now(bot: RunningBot) -> PricePoint:
    summary = await bot.services.prices.summary(bot.services.catalog.get("copper"))
    assert summary.latest is not None
    return summary.latest


async def poll(bot: RunningBot, feed: Path, price: float, minutes: int = 0) -> None:
    bot.clock.advance(minutes=minutes)
    with feed.open("a", encoding="utf-8") as file:
        file.write(f"{bot.clock.now().isoformat()},copper,{price}\n")
    await bot.alerting.jobs.poll_prices()
    await bot.deliver()


async def test_a_mistyped_price_reaches_no_buyer_and_the_admins_decide(
    bot: RunningBot, feed: Path, database: Path, admin: FakeUser, buyer: FakeUser
) -> None:
    await bot.say(buyer, "/subscribe")
    real = await copper_now(bot)
    await poll(bot, feed, real.price * 100)

    assert [m for m in bot.api.sent_to(buyer.id) if "PRICE_INCREASE" in m.reads] == []
    assert "CRITICAL" not in (await bot.say(buyer, "/alerts")).text
    [note] = [m for m in bot.api.sent_to(admin.id) if "held as implausible" in m.reads]
    assert "INFO" in note.reads and "+9,900.0%" in note.reads
    assert f"{real.price:,.0f}" in (await bot.say(buyer, "/price copper")).text

    listed = (await bot.say(admin, "/prices")).text
    assert "Copper: 1 price at" in listed and "/prices accept copper" in listed
    accepted = (await bot.say(admin, "/prices accept copper")).text
    assert accepted.startswith("Accepted 1 held Copper prices")
    assert (await copper_now(bot)).price == real.price * 100

    # The admin takes it back out: the price and its daily close are gone from the database.
    at = f"{NOW:%Y-%m-%d %H:%M}"
    deleted = (await bot.say(admin, f"/prices delete copper {at}")).text
    assert deleted.startswith("Deleted the Copper price of")
    assert (await copper_now(bot)).price == real.price
    db = await Database.open(sqlite_url(database))
    try:
        assert await SqlPriceRepo(db).daily_closes("copper", NOW.date()) == []
    finally:
        await db.close()


async def test_the_next_three_polls_at_the_new_level_confirm_a_held_price(
    bot: RunningBot, feed: Path, admin: FakeUser
) -> None:
    real = await copper_now(bot)
    new_level = round(real.price * 1.8, 1)
    for minutes in (0, 5, 5):
        await poll(bot, feed, new_level, minutes)
        assert (await copper_now(bot)).price == real.price
    await poll(bot, feed, new_level + 10, 5)
    assert (await copper_now(bot)).price == new_level + 10
    assert "No feed prices are held" in (await bot.say(admin, "/prices")).text


async def test_held_prices_are_for_admins_in_private_chats(
    bot: RunningBot, admin: FakeUser, buyer: FakeUser
) -> None:
    assert (await bot.say(buyer, "/prices accept copper")).text == "Only admins may use /prices."
    group = bot.api.group(-100555, "Buyers")
    assert "private chat" in (await bot.say(admin, "/prices", chat=group)).text
    nothing = (await bot.say(admin, "/prices drop copper")).text
    assert nothing == "No Copper prices are held. /prices lists what is."
    bad_time = (await bot.say(admin, "/prices delete copper yesterday")).text
    assert bad_time == "'yesterday' is not a time: write it as 2026-11-24T14:05 (UTC)."
