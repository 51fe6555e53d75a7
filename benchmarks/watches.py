"""10,000 chats' price watches on 100 materials, checked after every price poll.

(a) The check itself: the watches held in memory (core.domain.watches.WatchBook) against one
    new price for each of the 100 materials, as after a poll of a feed that has them all. Each
    poll moves every price by a random step (0.2% standard deviation), so some level watches
    cross and fire, some re-arm, and some move watches fire.
(b) The whole job on a real SQLite file (core.watches.WatchMonitor.check, as the price job runs
    it): read the latest prices (one query) and each move window's earlier prices (one query
    per window length), check, and record what changed: re-arms in one transaction, and each
    alert with its one delivery in its own. The first check also loads the 10,000 watches.

The mix: 40% `below`, 40% `above` (levels within SPREAD% of the price), 20% `move` (2 to 6%,
windows of 1 to 7 days), in 1,000 chats; 8 days of hourly prices before the first poll.

    .venv/bin/python benchmarks/watches.py [--watches 10000] [--materials 100] [--polls 50]
                                           [--database-url postgresql://...]

Target: (a) <= 50 ms a poll for 10,000 watches.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bot.bootstrap import unit_of_work  # noqa: E402
from core.adapters.db.engine import Database, sqlite_url  # noqa: E402
from core.adapters.db.repos.outbox import SqlStateStore  # noqa: E402
from core.adapters.db.repos.prices import SqlMaterialRepo, SqlPriceRepo  # noqa: E402
from core.adapters.db.repos.watches import SqlWatchRepo  # noqa: E402
from core.adapters.db.schema import watches as watch_table  # noqa: E402
from core.domain.watches import Direction, Watch, WatchBook, WatchKind, WatchRule  # noqa: E402
from core.materials import MaterialCatalog  # noqa: E402
from core.models import Material, PricePoint  # noqa: E402
from core.watches import WatchMonitor  # noqa: E402

COOLDOWN = timedelta(hours=6)
START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HISTORY_HOURS = 8 * 24
STEP_PCT = 0.2
CHATS = 1000


class Clock:
    def __init__(self) -> None:
        self.current = START

    def now(self) -> datetime:
        return self.current


def chat_of(n: int, count: int) -> str:
    """Watch n's chat: CHATS chats, each with consecutive watches (on different materials)."""
    return str(n // max(1, count // CHATS))


def materials(count: int) -> list[Material]:
    return [Material(f"m{n:03d}", f"Metal {n}") for n in range(count)]


def rules(
    count: int, prices: dict[str, float], spread: float, rng: random.Random
) -> list[WatchRule]:
    keys = list(prices)
    made = []
    for n in range(count):
        key = keys[n % len(keys)]
        roll = rng.random()
        if roll < 0.8:
            kind = WatchKind.BELOW if roll < 0.4 else WatchKind.ABOVE
            level = prices[key] * (1 + rng.uniform(-spread, spread) / 100)
            made.append(WatchRule(key, kind, round(level, 2)))
        else:
            direction = rng.choice(list(Direction))
            made.append(
                WatchRule(
                    key, WatchKind.MOVE, rng.choice([2, 3, 4, 5, 6]), direction, rng.randint(1, 7)
                )
            )
    return made


def walk(prices: dict[str, float], rng: random.Random) -> dict[str, float]:
    return {k: round(p * (1 + rng.gauss(0, STEP_PCT / 100)), 2) for k, p in prices.items()}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def in_memory(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    catalog = materials(args.materials)
    prices = {m.key: 1000.0 * (1 + m_index) for m_index, m in enumerate(catalog)}
    before = {
        m.key: {
            d: PricePoint(m.key, START - timedelta(days=d), prices[m.key], "b") for d in range(1, 8)
        }
        for m in catalog
    }
    book = WatchBook(
        Watch(
            n + 1,
            chat_of(n, args.watches),
            rule,
            1,
            START,
            armed=rule.armed_at(prices[rule.material]),
        )
        for n, rule in enumerate(rules(args.watches, prices, args.spread, rng))
    )
    times, fired, rearmed = [], [], []
    now = START
    for _ in range(args.polls):
        now += timedelta(minutes=5)
        prices = walk(prices, rng)
        started = time.perf_counter()
        triggers = []
        for material in catalog:
            point = PricePoint(material.key, now, prices[material.key], "feed")
            triggers += book.check(material, point, before[material.key], now, COOLDOWN)
        for trigger in triggers:
            book.put(trigger.watch)
        times.append((time.perf_counter() - started) * 1000)
        fired.append(sum(t.alert is not None for t in triggers))
        rearmed.append(sum(t.alert is None for t in triggers))
    print(
        f"(a) the check in memory: {len(book):,} live watches, {args.materials} materials, "
        f"{args.polls} polls"
    )
    print(
        f"    per poll: median {statistics.median(times):.1f} ms, p95 "
        f"{percentile(times, 0.95):.1f} ms, max {max(times):.1f} ms (target <= 50 ms)"
    )
    print(
        f"    fired per poll: median {statistics.median(fired):.0f}, "
        f"re-armed per poll: median {statistics.median(rearmed):.0f}"
    )


async def seed(
    db: Database, catalog: list[Material], count: int, spread: float
) -> dict[str, float]:
    rng = random.Random(11)
    for material in catalog:
        await SqlMaterialRepo(db).upsert(material)
    prices = {m.key: 1000.0 * (1 + n) for n, m in enumerate(catalog)}
    points = []
    history = dict(prices)
    for hour in range(HISTORY_HOURS, 0, -1):
        history = walk(history, rng)
        at = START - timedelta(hours=hour)
        points += [PricePoint(k, at, p, "history") for k, p in history.items()]
    await SqlPriceRepo(db).add(points)
    prices = history
    rows = [
        {
            "chat": chat_of(n, count),
            "material": rule.material,
            "kind": rule.kind.value,
            "threshold": rule.threshold,
            "direction": rule.direction.value,
            "days": rule.days,
            "once": False,
            "armed": rule.armed_at(prices[rule.material]),
            "created_by": 1,
            "created_at": START,
        }
        for n, rule in enumerate(rules(count, prices, spread, rng))
    ]
    async with db.transaction() as tx:
        for start in range(0, len(rows), 1000):
            await tx.execute(
                db.insert(watch_table).values(rows[start : start + 1000]).on_conflict_do_nothing()
            )
    return prices


async def on_database(args: argparse.Namespace, url: str) -> None:
    db = await Database.open(url)
    try:
        catalog = materials(args.materials)
        prices = await seed(db, catalog, args.watches, args.spread)
        stored = await db.scalar(sa.select(sa.func.count()).select_from(watch_table))
        clock = Clock()
        monitor = WatchMonitor(
            MaterialCatalog(catalog),
            unit_of_work(db),
            SqlWatchRepo(db),
            SqlPriceRepo(db),
            SqlStateStore(db),
            clock,
            COOLDOWN,
        )
        rng = random.Random(13)

        async def poll(moving: bool) -> tuple[float, int]:
            nonlocal prices
            clock.current += timedelta(minutes=5)
            if moving:
                prices = walk(prices, rng)
            await SqlPriceRepo(db).add(
                [PricePoint(k, clock.current, p, "feed") for k, p in prices.items()]
            )
            started = time.perf_counter()
            raised = await monitor.check()
            return (time.perf_counter() - started) * 1000, len(raised)

        first, _ = await poll(moving=False)
        flat = [(await poll(moving=False))[0] for _ in range(10)]
        moving = [await poll(moving=True) for _ in range(args.polls)]
        times = [t for t, _ in moving]
        alerts = [n for _, n in moving]
        print(
            f"(b) the price job's watch check on {db.backend}: {stored:,} watches, "
            f"{args.polls} polls"
        )
        print(f"    first check, loading every watch: {first:.0f} ms")
        print(
            f"    a poll where nothing fires (the reads and the bookkeeping): median "
            f"{statistics.median(flat):.1f} ms"
        )
        print(
            f"    a poll with prices moving: median {statistics.median(times):.1f} ms, p95 "
            f"{percentile(times, 0.95):.1f} ms, max {max(times):.1f} ms; alerts recorded per "
            f"poll: median {statistics.median(alerts):.0f}, max {max(alerts)}"
        )
        per_alert = (statistics.median(times) - statistics.median(flat)) / max(
            1.0, statistics.median(alerts)
        )
        print(
            f"    so each alert recorded (its watch, the alert, its delivery): ~{per_alert:.1f} ms"
        )
    finally:
        await db.close()


async def main(args: argparse.Namespace) -> None:
    print(
        f"procurebot watches: {os.cpu_count()} CPUs, levels within {args.spread}% of the price, "
        f"price steps {STEP_PCT}% per poll"
    )
    in_memory(args)
    if args.database_url:
        await on_database(args, args.database_url)
        return
    with tempfile.TemporaryDirectory(prefix="procurebot-watches-") as folder:
        await on_database(args, sqlite_url(Path(folder) / "bench.db"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watches", type=int, default=10_000)
    parser.add_argument("--materials", type=int, default=100)
    parser.add_argument("--polls", type=int, default=50)
    parser.add_argument(
        "--spread", type=float, default=20.0, help="levels within this %% of the price"
    )
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    asyncio.run(main(parser.parse_args()))
