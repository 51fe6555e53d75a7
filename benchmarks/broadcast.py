"""One alert to 1,000 subscribed Telegram chats, at Telegram's 30 messages a second.

Runs the real `procurebot run` process (its own event loop and CPU, as in production) against
the fake Bot API (tests/fake_telegram) on loopback, which enforces Telegram's broadcast limit:
a 31st message within any one second is refused with 429 "retry after 1". The whole delivery
path is the product's: a copper drop appended to the CSV feed (PRICE_SOURCE=csv:..., polled
every 2 s) raises the alert, the outbox stores it with 1,000 deliveries in one transaction,
and the delivery worker sends them through the bot's TelegramNotifier behind its rate limiter,
recording each result in the database (a SQLite file by default; --postgres or
--database-url for PostgreSQL).

The fake runs in this process; it timestamps each message as it arrives. Printed: the time
from the first message to the last, the rate achieved as a share of 30/s, the 429s the bot
received, deliveries lost (a chat without the alert) and duplicated (a chat with it twice),
and the time from the line being appended to the first message.

    .venv/bin/python benchmarks/broadcast.py [--chats 1000]
    .venv/bin/python benchmarks/broadcast.py --postgres    # on a throwaway PostgreSQL server

Target: >= 90% of the limit, none lost, none duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from benchmarks.databases import (  # noqa: E402
    Unusable,
    add_database_options,
    benchmark_database,
    describe,
)
from bot.bootstrap import open_database  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from core.adapters.db.engine import Database  # noqa: E402
from core.adapters.db.repos.outbox import SqlOutbox  # noqa: E402
from core.adapters.db.repos.prices import SqlPriceRepo  # noqa: E402
from core.adapters.db.repos.subscriptions import SqlSubscriptionRepo  # noqa: E402
from core.adapters.db.schema import inventory  # noqa: E402
from core.models import Channel, DeliveryStatus, Subscription  # noqa: E402
from tests.bot.process import start_bot_process, stop  # noqa: E402
from tests.fake_telegram import FakeBotApi, Message  # noqa: E402

TOKEN = "123456789:AAE-broadcastBenchNotReal_0123456789ab"
FIRST_CHAT = 100_000
LIMIT = 30  # messages a second, Telegram's broadcast limit
ALERT_TEXT = "Copper fell"


async def prepare(database_url: str, feed: Path, chats: list[int]) -> float:
    """The demo database, every chat subscribed and stock ample (so that the only alert is
    the price drop); returns copper's latest price."""
    feed.write_text("timestamp,material,price\n")
    async with open_database(load_settings(_env_file=None, database_url=database_url)) as db:
        now = datetime.now(UTC)
        subscriptions = SqlSubscriptionRepo(db)
        for chat in chats:
            await subscriptions.add(Subscription(Channel.TELEGRAM, str(chat), now))
        async with db.transaction() as tx:
            await tx.execute(sa.update(inventory).values(on_hand=inventory.c.on_hand * 100))
        latest = await SqlPriceRepo(db).latest("copper")
    assert latest is not None
    return latest.price


async def delivery_statuses(db: Database) -> Counter[DeliveryStatus]:
    return Counter(d.status for d in await SqlOutbox(db).deliveries())


async def main(args: argparse.Namespace) -> int:
    try:
        return await measure(args)
    except Unusable as error:
        print(error, file=sys.stderr)
        return 2


async def measure(args: argparse.Namespace) -> int:
    chats = [FIRST_CHAT + n for n in range(args.chats)]
    arrivals: list[tuple[float, int]] = []

    def on_message(message: Message) -> None:
        if ALERT_TEXT in message.reads:
            arrivals.append((time.monotonic(), message.chat.id))

    with tempfile.TemporaryDirectory(prefix="procurebot-broadcast-") as folder:
        work = Path(folder)
        feed, log = work / "prices.csv", work / "bot.log"
        async with (
            benchmark_database(args, work) as database_url,
            FakeBotApi.running(TOKEN, flood_limit=LIMIT) as api,
        ):
            database = await describe(database_url)
            latest = await prepare(database_url, feed, chats)
            db = await Database.open(database_url, migrate=False)  # to watch the outbox
            try:
                load_before = os.getloadavg()[0]
                for chat in chats:
                    api.user(chat, f"Buyer {chat}")
                api.listeners.append(on_message)
                settings = {
                    "DATABASE_URL": database_url,
                    "PRICE_SOURCE": f"csv:{feed}",
                    "PRICE_UPDATE_SECONDS": "2",
                    "LOG_LEVEL": "INFO",
                }
                process = await start_bot_process(api, work, log, settings)
                try:
                    at = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")
                    with feed.open("a") as file:
                        file.write(f"{at},copper,{latest * 0.8:.1f}\n")
                    appended = time.monotonic()
                    deadline = appended + args.timeout
                    while len({chat for _, chat in arrivals}) < len(chats):
                        if time.monotonic() > deadline:
                            break
                        await asyncio.sleep(0.2)
                    # Until the database has recorded every result (nothing left in flight).
                    while (await delivery_statuses(db))[DeliveryStatus.SENT] < len(chats):
                        if time.monotonic() > deadline:
                            break
                        await asyncio.sleep(0.2)
                    await asyncio.sleep(args.settle)  # room for a late duplicate to show
                finally:
                    code = await stop(process, signal.SIGTERM)
                load_after = os.getloadavg()[0]
                statuses = await delivery_statuses(db)
            finally:
                await db.close()
            output = log.read_text(encoding="utf-8")
            if args.keep_log:
                Path(args.keep_log).write_text(output, encoding="utf-8")
        flood = sum(1 for c in api.calls if c.status == 429)
        sends = len(api.calls_to("sendMessage"))
        violations = len(api.violations)

    per_chat = Counter(chat for _, chat in arrivals)
    lost = sum(1 for chat in chats if per_chat[chat] == 0)
    duplicated = sum(n - 1 for n in per_chat.values() if n > 1)
    times = sorted(t for t, _ in arrivals)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    rate = (len(times) - 1) / span if len(times) > 1 else 0.0
    print(
        f"procurebot broadcast: 1 alert to {len(chats)} chats through a fake Bot API allowing "
        f"{LIMIT} messages/s, the real bot process, {os.cpu_count()} CPUs"
    )
    print(
        f"database: {database}; load average (1 min) {load_before:.2f} at the start, "
        f"{load_after:.2f} at the end"
    )
    print(f"first to last message:      {span:.1f} s")
    print(f"rate achieved:              {rate:.1f} messages/s = {rate / LIMIT:.1%} of {LIMIT}/s")
    print(f"429s received by the bot:   {flood} (of {sends} sendMessage calls)")
    print(f"deliveries lost:            {lost}")
    print(f"deliveries duplicated:      {duplicated}")
    print(f"append to first message:    {times[0] - appended:.1f} s" if times else "no message")
    print(
        f"outbox at the end: {dict(statuses)}; calls Telegram would refuse: {violations}; "
        f"bot exit code: {code}"
    )
    if "Traceback" in output:
        print("the bot logged a traceback: see its log (--keep-log FILE)")
    ok = rate >= 0.9 * LIMIT and not lost and not duplicated and not violations and code == 0
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after (s)")
    parser.add_argument("--settle", type=float, default=3.0, help="wait for late duplicates (s)")
    parser.add_argument("--keep-log", metavar="FILE", help="copy the bot's log here")
    add_database_options(parser)
    sys.exit(asyncio.run(main(parser.parse_args())))
