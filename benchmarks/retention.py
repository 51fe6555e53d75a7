"""Retention on a year of 5-minute polls for 100 materials (about 10.5 million prices).

Builds a SQLite database the way the bot would have filled it (prices, each day's close), then
runs retention as the daily job does (PRICE_RETENTION_DAYS=90) while a stand-in for the bot
writes a price every 100 ms, and prints:

- the database's size before and after (the file, after SQLite gave the freed pages back);
- how long retention took, in how many batches, and the longest single hold of the database;
- how long the bot's own writes waited meanwhile (the worst is what a chat would feel);
- /price latency before and after (the command as the bot runs it, median and worst of 30),
  and reading the 30 days a /price chart draws.

    .venv/bin/python benchmarks/retention.py [--materials 100] [--days 365] [--keep FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.bootstrap import build_services
from bot.commands import Caller, Renderer, execute
from bot.settings import load_settings
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.outbox import SqlStateStore
from core.adapters.db.repos.prices import SqlPriceRepo
from core.adapters.db.repos.retention import SqlRetentionStore
from core.health import HealthLog
from core.models import PricePoint, Role
from core.retention import Batch, RetentionService
from tests.fakes import FakeClock

POLL = timedelta(minutes=5)
KEEP_DAYS = 90
TIMES = "%Y-%m-%dT%H:%M:%SZ"
ADMIN = Caller(1, Role.ADMIN, 1)


def fill(path: Path, materials: int, days: int, end: datetime) -> int:
    """Writes the polls and daily closes straight through sqlite3 (fast); returns the rows."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous = OFF")
    rng = random.Random(13)
    start = end - timedelta(days=days)
    steps = int((end - start) / POLL)
    total = 0
    with connection:
        for n in range(materials):
            key = f"m{n:03d}"
            connection.execute(
                "INSERT INTO materials (key, name, unit, currency, aliases, position) "
                "VALUES (?, ?, 't', 'USD', '[]', ?)",
                (key, f"Material {n:03d}", n),
            )
    for n in range(materials):
        key = f"m{n:03d}"
        price = 1000.0 + 100 * n
        rows, closes = [], {}
        for step in range(steps):
            at = start + step * POLL
            price *= math.exp(rng.gauss(0, 0.0008))
            stamp = at.strftime(TIMES)
            rows.append((key, stamp, round(price, 2), "feed"))
            closes[at.date().isoformat()] = (stamp, round(price, 2))
        with connection:
            connection.executemany(
                "INSERT INTO prices (material, at, price, source) VALUES (?, ?, ?, ?)", rows
            )
            connection.executemany(
                "INSERT INTO daily_closes (material, day, at, price) VALUES (?, ?, ?, ?)",
                [(key, day, at, price) for day, (at, price) in closes.items()],
            )
        total += len(rows)
        print(f"\r  filled {n + 1}/{materials} materials ({total:,} prices)", end="", flush=True)
    print()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return total


def spread(seconds: list[float]) -> str:
    ordered = sorted(seconds)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    return (
        f"{len(ordered):,}: median {at(0.5):.1f} ms, p95 {at(0.95):.1f} ms, p99 {at(0.99):.1f} "
        f"ms, worst {ordered[-1] * 1000:.1f} ms"
    )


class Recording:
    """The retention store, noting how long each batch held the database."""

    def __init__(self, store: SqlRetentionStore) -> None:
        self._store = store
        self.holds: list[float] = []

    async def materials(self) -> list[str]:
        return await self._store.materials()

    async def first_price_day(self, material: str) -> date | None:
        return await self._store.first_price_day(material)

    async def settle(self) -> None:
        await self._store.settle()

    async def thin_prices(self, material: str, first: date, end: date) -> Batch:
        return self._note(await self._store.thin_prices(material, first, end))

    async def remove_sent_deliveries(self, before: datetime, shown: int, limit: int) -> Batch:
        return self._note(await self._store.remove_sent_deliveries(before, shown, limit))

    async def reclaim_space(self, pages: int) -> Batch:
        return self._note(await self._store.reclaim_space(pages))

    def _note(self, batch: Batch) -> Batch:
        self.holds.append(batch.held)
        return batch


def file_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def price_latency(db: Database, now: datetime, material: str) -> tuple[float, float, float]:
    """/price (median, worst) over 30 runs, and the median read of one material's 30 days."""
    services = await build_services(db, load_settings(_env_file=None), FakeClock(now))
    await execute("price", (), ADMIN, services, Renderer())  # warm the caches
    overview = []
    for _ in range(30):
        started = time.perf_counter()
        await execute("price", (), ADMIN, services, Renderer())
        overview.append(time.perf_counter() - started)
    history = []
    for _ in range(30):
        started = time.perf_counter()
        await services.prices.history(services.catalog.resolve(material), 30)
        history.append(time.perf_counter() - started)
    return statistics.median(overview), max(overview), statistics.median(history)


async def measure(path: Path, now: datetime) -> None:
    db = await Database.open(sqlite_url(path))
    try:
        store = SqlRetentionStore(db)
        before_size, before_file = await store.size(), file_size(path)
        before = await price_latency(db, now, "m000")
        print(f"before: database {before_size / 1e6:,.0f} MB (file {before_file / 1e6:,.0f} MB)")
        print(
            f"  /price: median {before[0] * 1000:.1f} ms, worst {before[1] * 1000:.1f} ms; "
            f"30 days of one material: {before[2] * 1000:.1f} ms"
        )

        waits: list[float] = []
        stop = asyncio.Event()
        moment = [now]

        async def bot_writes() -> None:
            repo = SqlPriceRepo(db)
            while not stop.is_set():
                moment[0] += timedelta(seconds=1)
                started = time.perf_counter()
                await repo.add([PricePoint("m000", moment[0], 1000.0, "bot")])
                waits.append(time.perf_counter() - started)
                await asyncio.sleep(0.1)

        # The same writes with nothing else going on: this machine's own noise, to compare with.
        writer = asyncio.create_task(bot_writes())
        await asyncio.sleep(10)
        stop.set()
        await writer
        alone, waits, stop = waits, [], asyncio.Event()

        clock = FakeClock(now)
        state = SqlStateStore(db)
        recording = Recording(store)
        service = RetentionService(
            recording, state, HealthLog(state, clock), clock, KEEP_DAYS, shown_alerts=100
        )
        writer = asyncio.create_task(bot_writes())
        report = await service.run()
        stop.set()
        await writer

        after_size = await store.size()
        after = await price_latency(db, now, "m000")
    finally:
        await db.close()
    after_file = file_size(path)
    print(
        f"retention: {report.prices_removed:,} polls removed, {report.pages_freed:,} pages "
        f"freed, in {report.seconds:.1f} s over {report.batches:,} batches; longest hold "
        f"{report.longest_hold * 1000:.1f} ms ("
        + ", ".join(f"{step} {hold * 1000:.1f} ms" for step, hold in report.holds.items())
        + ")"
    )
    print(f"  holds: {spread(recording.holds)}")
    print(f"  the bot's writes meanwhile: {spread(waits)}")
    print(f"  the same writes with retention not running: {spread(alone)}")
    print(f"after: database {after_size / 1e6:,.0f} MB (file {after_file / 1e6:,.0f} MB)")
    print(
        f"  /price: median {after[0] * 1000:.1f} ms, worst {after[1] * 1000:.1f} ms; "
        f"30 days of one material: {after[2] * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--materials", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", type=Path, help="build the database here (and keep it)")
    args = parser.parse_args()
    now = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="procurebot-retention-") as directory:
        path = args.keep or Path(directory) / "retention.db"

        async def create() -> None:
            await (await Database.open(sqlite_url(path))).close()

        asyncio.run(create())
        print(
            f"{args.days} days of {POLL.seconds // 60}-minute polls for {args.materials} "
            f"materials into {path}"
        )
        started = time.perf_counter()
        rows = fill(path, args.materials, args.days, now)
        print(f"  {rows:,} prices in {time.perf_counter() - started:.0f} s")
        asyncio.run(measure(path, now))


if __name__ == "__main__":
    main()
