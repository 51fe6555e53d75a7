"""kill -9 of the real bot process (`procurebot run`) while Telegram is down, and right after
delivery: every alert reaches every subscribed chat exactly once.

The bot reads prices from a CSV file every 2 seconds (PRICE_SOURCE=csv:..., PRICE_UPDATE_SECONDS=2)
and talks to the fake Bot API over HTTP; the test watches the same SQLite file.
1. Telegram is down: sendMessage answers 502 at once, or (to one chat) hangs 3 s and then
   answers 503. A 25% copper drop is appended to the feed; once every delivery of that alert
   has been tried and the slow one is in flight, the bot is killed with SIGKILL.
2. Telegram is healthy again; the bot restarts, recovers the delivery left in flight and
   retries the others; as soon as the database says every delivery was sent, it is killed
   with SIGKILL again ("right after delivery").
3. The bot restarts; a further drop is appended and delivered (so the restarted bot has run
   its delivery worker); then it is stopped with SIGTERM.
Every (alert, chat) delivery in the database is sent, and each chat holds each of its alerts
exactly once: none lost across the outage, none repeated after either kill. (The stock alerts
the demo data raises at start go through the same outage and count the same way.)
"""

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.bootstrap import open_database
from bot.settings import load_settings
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.alerts import SqlAlertRepo
from core.adapters.db.repos.outbox import SqlOutbox
from core.adapters.db.repos.prices import SqlPriceRepo
from core.adapters.db.repos.subscriptions import SqlSubscriptionRepo
from core.models import Alert, AlertType, Channel, Delivery, DeliveryStatus, Subscription
from tests.bot.process import kill, start_bot_process, stop, until
from tests.fake_telegram import Failure, FakeBotApi

USERS = [5001, 5002, 5003, 5004]
GROUP = -5100
SLOW_CHAT = USERS[0]


async def prepare(database: Path, feed: Path) -> float:
    """The demo database with every chat subscribed; returns copper's latest price."""
    feed.write_text("timestamp,material,price\n")
    settings = load_settings(_env_file=None, database_path=database)
    async with open_database(settings) as db:
        now = datetime.now(UTC)
        for chat in [*USERS, GROUP]:
            await SqlSubscriptionRepo(db).add(Subscription(Channel.TELEGRAM, str(chat), now))
        latest = await SqlPriceRepo(db).latest("copper")
    assert latest is not None
    return latest.price


def append_price(feed: Path, price: float) -> None:
    at = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")
    with feed.open("a") as file:
        file.write(f"{at},copper,{price:.1f}\n")


async def outbox_state(database: Path) -> tuple[list[Alert], list[Delivery]]:
    db = await Database.open(sqlite_url(database))
    try:
        return await SqlAlertRepo(db).recent(100), await SqlOutbox(db).deliveries()
    finally:
        await db.close()


def drops(alerts: list[Alert]) -> list[Alert]:
    return sorted((a for a in alerts if a.type is AlertType.PRICE_DROP), key=lambda a: a.id or 0)


async def test_kill_9_during_a_telegram_outage_and_right_after_delivery(
    tmp_path: Path, telegram_api: FakeBotApi
) -> None:
    api = telegram_api
    for user_id in USERS:
        api.user(user_id, f"Buyer {user_id}")
    api.group(GROUP, "Purchasing")
    database, feed, log = tmp_path / "var" / "bot.db", tmp_path / "prices.csv", tmp_path / "log"
    latest = await prepare(database, feed)
    settings = {
        "DATABASE_PATH": str(database),
        "PRICE_SOURCE": f"csv:{feed}",
        "PRICE_UPDATE_SECONDS": "2",
        "LOG_LEVEL": "INFO",
    }

    # 1. Telegram is down; the bot is killed with deliveries waiting and one in flight.
    slow_then_503 = dataclasses.replace(Failure.server_error(503), delay=3.0)
    api.fail("sendMessage", slow_then_503, times=1000, chat_id=SLOW_CHAT)
    api.fail("sendMessage", Failure.server_error(502), times=1000)
    first = await start_bot_process(api, tmp_path, log, settings)
    append_price(feed, latest * 0.75)

    async def tried_everywhere_and_one_in_flight() -> bool:
        alerts, deliveries = await outbox_state(database)
        if not drops(alerts):
            return False
        mine = [d for d in deliveries if d.alert_id == drops(alerts)[0].id]
        in_flight = [d.address for d in mine if d.status is DeliveryStatus.SENDING]
        return in_flight == [str(SLOW_CHAT)] and all(d.attempts >= 1 for d in mine)

    await until(tried_everywhere_and_one_in_flight, "every delivery tried, one in flight")
    await kill(first)
    _, deliveries = await outbox_state(database)
    assert not any(d.status is DeliveryStatus.SENT for d in deliveries)
    assert api.messages_from_bot() == []

    # 2. Telegram is back: every delivery goes out; the bot is killed as soon as they have.
    api.heal()
    second = await start_bot_process(api, tmp_path, log, settings)

    async def all_sent() -> bool:
        _, deliveries = await outbox_state(database)
        return bool(deliveries) and all(d.status is DeliveryStatus.SENT for d in deliveries)

    await until(all_sent, "every delivery sent after the outage")
    await kill(second)

    # 3. A restart sends nothing again; a further drop shows its delivery worker has run.
    third = await start_bot_process(api, tmp_path, log, settings)
    append_price(feed, latest * 0.6)

    async def second_drop_sent() -> bool:
        alerts, deliveries = await outbox_state(database)
        later = drops(alerts)[1:]
        mine = [d for d in deliveries if later and d.alert_id == later[0].id]
        return bool(mine) and all(d.status is DeliveryStatus.SENT for d in mine)

    await until(second_drop_sent, "the second drop delivered")
    assert await stop(third) == 0

    alerts, deliveries = await outbox_state(database)
    assert len(drops(alerts)) == 2
    assert {d.status for d in deliveries} == {DeliveryStatus.SENT}
    messages = {a.id: a.message for a in alerts}
    expected = Counter((int(d.address), messages[d.alert_id]) for d in deliveries)
    arrived = Counter(
        (m.chat.id, text)
        for m in api.messages_from_bot()
        for text in messages.values()
        if text in m.reads
    )
    assert arrived == expected  # every delivery arrived, and each exactly once
    assert set(expected.values()) == {1}
    assert {chat for chat, _ in expected} == {*USERS, GROUP}
    output = log.read_text(encoding="utf-8")
    assert "Deliveries in flight when the bot last stopped: " in output
    assert "Traceback" not in output
