"""A chat's own alerts end to end: the real bot (PTB over HTTP against the fake Bot API, the
real SQLite file, a CSV price feed) with a fake clock. Watches fire into the chat that set
them and no other; digests come at the local time once a day; quiet hours hold alerts and
release them as one message; all of it survives a restart."""

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.rendering import Renderer
from core.models import Alert, AlertType, DeliveryStatus, Severity
from tests.bot.telegram import RunningBot, running_bot
from tests.conftest import png_size
from tests.fake_telegram import FakeBotApi, FakeUser
from tests.fakes import COPPER_DROP, NOW, FakeClock

OTHER_BUYER = 4004


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
        telegram_api,
        database,
        chart_renderer,
        price_source=f"csv:{feed}",
        allowed_user_ids={buyer.id, OTHER_BUYER},
    ) as running:
        yield running


def append(feed: Path, at: datetime, material: str, price: float) -> None:
    with feed.open("a", encoding="utf-8") as file:
        file.write(f"{at.isoformat(timespec='seconds')},{material},{price}\n")


async def copper(bot: RunningBot) -> float:
    summary = await bot.services.prices.summary(bot.services.catalog.get("copper"))
    assert summary.latest is not None
    return summary.latest.price


async def poll(bot: RunningBot, feed: Path, price: float, minutes: int = 5) -> None:
    """A new copper row in the feed, then the bot's price job and its delivery."""
    bot.clock.advance(minutes=minutes)
    append(feed, bot.clock.now(), "copper", price)
    await bot.alerting.jobs.poll_prices()
    await bot.deliver()


def level_alerts(bot: RunningBot, chat_id: int) -> list[str]:
    return [m.reads for m in bot.api.sent_to(chat_id) if "PRICE_LEVEL" in m.reads]


async def test_a_feed_row_crossing_a_watch_alerts_that_chat_and_no_other_subscriber(
    bot: RunningBot, feed: Path, buyer: FakeUser, admin: FakeUser
) -> None:
    for user in (buyer, admin):
        assert (await bot.say(user, "/subscribe")).text.startswith("Subscribed.")
    now = await copper(bot)
    level = round(now * 0.99)
    turn = await bot.say(buyer, f"/watch copper below {level}")
    assert turn.text.startswith(f"👀 Watch #1 set: Copper below {level:,} USD/t.")
    assert turn.last.labels == ["Remove", "All watches"]

    await poll(bot, feed, now * 0.995)  # still above
    await poll(bot, feed, now * 0.985)  # crosses: -1.5%, too small for a price alert
    await poll(bot, feed, now * 0.98)  # stays below: nothing more
    [alert] = [m for m in bot.api.sent_to(buyer.id) if "PRICE_LEVEL" in m.reads]
    assert alert.reads.startswith("🟠 WARNING · PRICE_LEVEL\nCopper fell below")
    assert alert.labels == ["Copper chart", "Remove watch #1"]
    assert level_alerts(bot, admin.id) == []
    assert [m.reads for m in bot.api.sent_to(admin.id)][-1].startswith("Subscribed.")

    listing = await bot.say(buyer, "/watches")
    assert "#1 Copper below" in listing.text and "fired " in listing.text
    assert "arms again once back above" in listing.text
    assert f"Copper fell below {level:,}" in (await bot.say(buyer, "/alerts")).text
    assert "PRICE_LEVEL" not in (await bot.say(admin, "/alerts")).text

    chart = await bot.press(buyer, alert, "Copper chart")
    assert chart.last.photo is not None and png_size(chart.last.photo) == (800, 500)
    removed = await bot.press(buyer, alert, "Remove watch #1")
    assert removed.text.startswith("Removed watch #1: Copper below")
    again = await bot.press(buyer, alert, "Remove watch #1")  # tapped twice
    assert "There is no watch #1 in this chat" in again.text
    undone = await bot.press(buyer, removed.last, "Undo")
    assert undone.text.startswith("Back again: #1 Copper below")


async def test_bad_watch_input_gets_one_line_naming_what_works(
    bot: RunningBot, buyer: FakeUser
) -> None:
    answers = {
        "/watch unobtainium below 5": "Unknown material 'unobtainium'.",
        "/watch copper below -5": "'-5' is not a price above zero",
        "/watch copper below 0": "'0' is not a price above zero",
        "/watch copper move 0": "'0' is not a move in percent",
        "/watch copper below 9000 for 0d": "'0d' is not a time to last",
        "/watch copper near 9000": "Say above, below or move after the material.",
        "/unwatch 12": "There is no watch #12 in this chat: it has none",
        "/digest 25:00": "'25:00' is not a time of day: use HH:MM",
        "/digest 07:00 Europe/Berln": "Unknown time zone 'Europe/Berln'. Did you mean",
        "/quiet 22:00": "'22:00' is not a span of hours: use HH:MM-HH:MM",
    }
    for line, start in answers.items():
        turn = await bot.say(buyer, line)
        assert len(turn.messages) == 1 and turn.text.startswith(start), (line, turn.text)
        assert "\n" not in turn.text and "Traceback" not in turn.text


async def test_in_a_group_any_member_adds_a_watch_but_only_its_author_or_an_admin_removes_it(
    bot: RunningBot, buyer: FakeUser, admin: FakeUser
) -> None:
    group = bot.api.group(-4242, "Purchasing team")
    colleague = bot.api.user(OTHER_BUYER, "Cleo")
    assert "Watch #1 set" in (await bot.say(buyer, "/watch zinc above 9999", group)).text
    assert "Watch #2 set" in (await bot.say(colleague, "/watch nickel move 4", group)).text
    refused = await bot.say(colleague, "/unwatch 1", group)
    assert "set by someone else: only they or an admin may remove it" in refused.text
    mine = await bot.say(colleague, "/unwatch all", group)
    assert mine.text.startswith("Removed watch #2") and "1 set by others stay" in mine.text
    assert "Removed watch #1" in (await bot.say(admin, "/unwatch 1", group)).text
    refused = await bot.say(buyer, "/digest 07:30", group)
    assert refused.text == "Only admins change a group's digest; ask one of them."


async def test_the_digest_comes_at_its_local_time_once_a_day_even_across_a_restart(
    telegram_api: FakeBotApi,
    database: Path,
    chart_renderer: Renderer,
    feed: Path,
    buyer: FakeUser,
) -> None:
    clock = FakeClock(datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
    async with running_bot(telegram_api, database, chart_renderer, clock=clock) as bot:
        turn = await bot.say(buyer, "/digest 07:30 Europe/Berlin")
        assert "The next one comes Tue 24 Nov 07:30 Europe/Berlin (06:30 UTC)" in turn.text
        clock.advance(minutes=89)
        await bot.alerting.jobs.chat_messages()
        assert (await bot.deliver()).attempted == 0
        clock.advance(minutes=1)  # 06:30 UTC
        await bot.alerting.jobs.chat_messages()
        assert (await bot.deliver()).sent == 1
    digest = [m for m in telegram_api.sent_to(buyer.id) if m.reads.startswith("Daily digest")]
    assert len(digest) == 1
    assert digest[0].reads.splitlines()[0] == "Daily digest, Tue 24 Nov 07:30 (Europe/Berlin)"
    assert "Stock to order" in digest[0].reads and "• Copper: " in digest[0].reads
    assert digest[0].labels == ["Prices", "Stock", "Alerts"]
    chart = telegram_api.sent_to(buyer.id)[-1]
    assert chart.photo is not None and png_size(chart.photo) == (800, 500)

    async with running_bot(telegram_api, database, chart_renderer, clock=clock) as restarted:
        await restarted.alerting.jobs.chat_messages()  # the same minute again, after a restart
        assert (await restarted.deliver()).attempted == 0
        clock.advance(days=1)
        await restarted.alerting.jobs.chat_messages()
        assert (await restarted.deliver()).sent == 1
        now = await restarted.say(buyer, "/digest")
        assert now.last.photo is not None
        assert "Next digest: Thu 26 Nov 07:30 Europe/Berlin (06:30 UTC)." in now.text
    days = [m for m in telegram_api.sent_to(buyer.id) if m.reads.startswith("Daily digest")]
    assert len(days) == 3  # two booked, one asked for


async def test_quiet_hours_hold_warnings_across_a_restart_and_release_them_as_one_message(
    telegram_api: FakeBotApi,
    database: Path,
    chart_renderer: Renderer,
    buyer: FakeUser,
    admin: FakeUser,
) -> None:
    clock = FakeClock(NOW.replace(hour=21, minute=30))  # 22:30 in Berlin
    async with running_bot(telegram_api, database, chart_renderer, clock=clock) as bot:
        for user in (buyer, admin):
            await bot.say(user, "/subscribe")
        quiet = await bot.say(buyer, "/quiet 22:00-07:00 Europe/Berlin")
        assert "They are on now, until Wed 25 Nov 07:00 Europe/Berlin (06:00 UTC)" in quiet.text
        monitor = bot.alerting.jobs.monitor
        await monitor.raise_alert(replace(COPPER_DROP, created_at=clock.now()))
        clock.advance(hours=1)
        critical = Alert(
            AlertType.LOW_INVENTORY,
            Severity.CRITICAL,
            "aluminium",
            "Aluminium stock is down to 3 t.",
            clock.now(),
            "LOW_INVENTORY:aluminium",
        )
        await monitor.raise_alert(critical)
        await monitor.raise_alert(
            replace(COPPER_DROP, message="Nickel rose 7%", dedup_key="x", created_at=clock.now())
        )
        await bot.deliver()
        texts = [m.reads for m in telegram_api.sent_to(buyer.id)]
        assert any("CRITICAL" in t for t in texts) and not any("Copper fell" in t for t in texts)
        assert sum("WARNING" in m.reads for m in telegram_api.sent_to(admin.id)) == 2
        held = await bot.say(buyer, "/alerts")
        assert "1 held for quiet hours" in held.text

    clock.current = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
    async with running_bot(telegram_api, database, chart_renderer, clock=clock) as bot:
        await bot.alerting.jobs.chat_messages()
        assert (await bot.deliver()).sent == 1
        [released] = [
            m for m in telegram_api.sent_to(buyer.id) if m.reads.startswith("Held during")
        ]
        lines = released.reads.splitlines()
        assert lines[0] == "Held during quiet hours (22:00-07:00 Europe/Berlin): 2 alerts"
        assert "Copper fell 6.2%" in lines[1] and "Nickel rose 7%" in lines[2]
        deliveries = await bot.alerting.outbox.deliveries()
        assert {d.status for d in deliveries} == {DeliveryStatus.SENT}
        assert "sent to 2 of 2" in (await bot.say(buyer, "/alerts")).text
        await bot.alerting.jobs.chat_messages()
        assert (await bot.deliver()).attempted == 0


async def test_watches_outlive_a_restart(
    telegram_api: FakeBotApi,
    database: Path,
    chart_renderer: Renderer,
    feed: Path,
    buyer: FakeUser,
) -> None:
    source, clock = f"csv:{feed}", FakeClock()
    async with running_bot(
        telegram_api, database, chart_renderer, clock=clock, price_source=source
    ) as bot:
        now = await copper(bot)
        await bot.say(buyer, f"/watch copper above {round(now * 1.01)}")
        await poll(bot, feed, now * 1.02)
        assert len(level_alerts(bot, buyer.id)) == 1
    async with running_bot(
        telegram_api, database, chart_renderer, clock=clock, price_source=source
    ) as bot:
        await bot.alerting.jobs.poll_prices()  # the same price: checked before the restart
        await poll(bot, feed, now * 1.03)
        assert len(level_alerts(bot, buyer.id)) == 1
        await poll(bot, feed, now * 0.99)  # back below, by more than 0.5%: armed again
        await poll(bot, feed, now * 1.02)
        assert len(level_alerts(bot, buyer.id)) == 2
        listing = (await bot.say(buyer, "/watches")).text
        assert "#1 Copper above" in listing and "arms again once back below" in listing


async def test_a_group_that_becomes_a_supergroup_keeps_its_watches_digest_and_quiet_hours(
    bot: RunningBot, admin: FakeUser
) -> None:
    group = bot.api.group(-4242, "Purchasing team")
    await bot.say(admin, "/watch zinc above 9999", group)
    await bot.say(admin, "/digest 07:30 Europe/Berlin", group)
    await bot.say(admin, "/quiet 22:00-07:00 Europe/Berlin", group)
    supergroup = bot.api.migrate(group, admin)
    await bot.answered(bot.api.last_update_id)
    listing = await bot.say(admin, "/watches", supergroup)
    assert "#1 Zinc above 9,999 USD/t" in listing.text
    assert "Next digest: " in (await bot.say(admin, "/digest", supergroup)).text
    assert (await bot.say(admin, "/quiet", supergroup)).text.startswith("🌙 Quiet hours 22:00")
