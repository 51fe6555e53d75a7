"""How fast the real bot answers 50 buyers at once.

Starts the fake Bot API (tests/fake_telegram) on loopback and the real `procurebot run` process
against it, with a fresh demo database. Then 50 simulated users, all active at the same time,
each send a mix of text, write and chart commands with a few seconds' pause between them (about
10 commands a second in all, under Telegram's 30 messages a second that the bot's rate limiter
keeps to); at the end they all send one command in the same instant (a burst). Write commands
(/use, /receive) book a stock move each, with its LOW_INVENTORY check, in one transaction with
the Telegram update; they count as text answers and are also shown apart. Reply latency is
measured from the moment a user's message is queued at the fake Bot API to the moment the
bot's answer arrives there. The bot measures its own event loop's worst stall
(LOOP_MONITOR_FILE) and reports it when it stops.

    .venv/bin/python benchmarks/bot_latency.py                  # as configured for production
    .venv/bin/python benchmarks/bot_latency.py --no-chart-cache # every chart drawn afresh
    .venv/bin/python benchmarks/bot_latency.py --postgres       # on a throwaway PostgreSQL
    .venv/bin/python benchmarks/bot_latency.py --database-url postgresql://user@host/empty_db

Targets on a 2-core machine: text p95 <= 50 ms (writes included), chart p95 <= 400 ms, worst
stall <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.databases import (  # noqa: E402
    Unusable,
    add_database_options,
    benchmark_database,
    describe,
)
from tests.bot.process import start_bot_process  # noqa: E402
from tests.fake_telegram import FakeBotApi, FakeUser, Message  # noqa: E402

TOKEN = "123456789:AAE-benchmarkTokenNotReal_0123456789ab"
FIRST_USER = 10_000

TEXT = [
    "/price",
    "/alerts",
    "/alerts copper",
    "/help",
    "/forecast copper",
    "/vendors",
    "/price unobtainium",
    "/moves copper",
]
WRITE = [
    "/use copper 0.2",
    "/use steel 500 kg",
    "/receive copper 1 t po 4711",
    "/receive aluminium 0.3",
    "/use nickel 0.1 t for line 2",
]
CHART = [
    *(f"/price {m}" for m in ("copper", "aluminium", "steel", "nickel", "zinc")),
    *(f"/vendors {m}" for m in ("copper", "aluminium", "steel", "nickel", "zinc")),
    "/stock",
    "/stock aluminium",
]
CHART_SHARE = 0.4
WRITE_SHARE = 0.2  # of all commands; the rest are text reads


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"text": [], "chart": [], "write": []}
    )
    wrong: list[str] = field(default_factory=list)

    def add(self, kind: str, seconds: float, reply: Message) -> None:
        self.latencies[kind].append(seconds * 1000)
        if kind == "write":
            self.latencies["text"].append(seconds * 1000)
            if not (" used " in reply.reads or " received " in reply.reads):
                self.wrong.append(f"write not booked: {reply.reads[:80]!r}")
        if kind == "chart" and reply.photo is None:
            self.wrong.append(f"no chart: {reply.reads[:80]!r}")
        if reply.reads.startswith("Sorry"):
            self.wrong.append(f"apology or refusal: {reply.reads[:80]!r}")


class Replies:
    """Resolves the future of the user whose chat the bot just answered."""

    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future[tuple[Message, float]]] = {}

    def __call__(self, message: Message) -> None:
        future = self.waiting.pop(message.chat.id, None)
        if future is not None and not future.done():
            future.set_result((message, time.monotonic()))

    def expect(self, chat_id: int) -> asyncio.Future[tuple[Message, float]]:
        future = asyncio.get_running_loop().create_future()
        self.waiting[chat_id] = future
        return future


async def ask(
    api: FakeBotApi, replies: Replies, user: FakeUser, text: str
) -> tuple[Message, float]:
    answered = replies.expect(user.id)
    sent = api.send(user, text)
    assert sent.update_id is not None
    message, at = await asyncio.wait_for(answered, 60)
    return message, at - api.queued_at(sent.update_id)


def pick(rng: random.Random) -> tuple[str, str]:
    draw = rng.random()
    if draw < CHART_SHARE:
        return "chart", rng.choice(CHART)
    if draw < CHART_SHARE + WRITE_SHARE:
        return "write", rng.choice(WRITE)
    return "text", rng.choice(TEXT)


async def steady_user(
    api: FakeBotApi,
    replies: Replies,
    user: FakeUser,
    rng: random.Random,
    rounds: int,
    think: tuple[float, float],
    results: Results,
) -> None:
    await asyncio.sleep(rng.uniform(0, think[1]))  # everyone active at once, not in lockstep
    for _ in range(rounds):
        kind, text = pick(rng)
        reply, seconds = await ask(api, replies, user, text)
        results.add(kind, seconds, reply)
        await asyncio.sleep(rng.uniform(*think))


async def start_bot(
    api: FakeBotApi, work: Path, database_url: str, users: list[FakeUser], cache: bool
) -> asyncio.subprocess.Process:
    settings = {
        "DATABASE_URL": database_url,
        "ALLOWED_USER_IDS": ",".join(str(u.id) for u in users),
        "LOOP_MONITOR_FILE": str(work / "loop.json"),
        "LOG_LEVEL": "INFO",
        "CHART_CACHE_SIZE": "32" if cache else "0",
    }
    return await start_bot_process(api, work, work / "bot.log", settings)


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"{cuts[49]:7.0f} {cuts[94]:7.0f} {cuts[98]:7.0f} {max(values):7.0f}"


async def main(args: argparse.Namespace) -> int:
    try:
        return await measure(args)
    except Unusable as error:
        print(error, file=sys.stderr)
        return 2


async def measure(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="procurebot-bench-") as folder:
        work = Path(folder)
        async with (
            benchmark_database(args, work) as database_url,
            FakeBotApi.running(TOKEN) as api,
        ):
            database = await describe(database_url)
            load_before = os.getloadavg()[0]
            users = [api.user(FIRST_USER + i, f"Buyer {i}") for i in range(args.users)]
            replies = Replies()
            api.listeners.append(replies)
            process = await start_bot(api, work, database_url, users, cache=not args.no_chart_cache)
            try:
                steady = Results()
                started, steady_from = time.monotonic(), time.time()
                await asyncio.gather(
                    *(
                        steady_user(
                            api,
                            replies,
                            user,
                            random.Random(rng.random()),
                            args.rounds,
                            (args.think_min, args.think_max),
                            steady,
                        )
                        for user in users
                    )
                )
                elapsed = time.monotonic() - started
                burst_from = time.time()
                burst = Results()
                picks = [pick(rng) for _ in users]
                answers = await asyncio.gather(
                    *(
                        ask(api, replies, user, text)
                        for user, (_, text) in zip(users, picks, strict=True)
                    )
                )
                for (kind, _), (reply, seconds) in zip(picks, answers, strict=True):
                    burst.add(kind, seconds, reply)
            finally:
                process.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(process.wait(), 60)
            load_after = os.getloadavg()[0]
            loop = json.loads((work / "loop.json").read_text())
            if args.keep_log:
                Path(args.keep_log + ".loop.json").write_text(json.dumps(loop))
            log = (work / "bot.log").read_text(encoding="utf-8")
            if args.keep_log:
                Path(args.keep_log).write_text(log, encoding="utf-8")
        violations = len(api.violations)
        flood = sum(1 for c in api.calls if c.status == 429)

    commands = len(steady.latencies["text"]) + len(steady.latencies["chart"])
    print(
        f"procurebot bot_latency: {args.users} users, {commands} commands in {elapsed:.0f} s "
        f"({commands / elapsed:.1f}/s), think {args.think_min:g}-{args.think_max:g} s, "
        f"chart cache {'off' if args.no_chart_cache else 'on'}, {os.cpu_count()} CPUs"
    )
    print(
        f"database: {database}; load average (1 min) {load_before:.2f} at the start, "
        f"{load_after:.2f} at the end"
    )
    print(f"{'reply latency, ms':34} {'n':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}")
    for name, results in (("steady", steady), (f"burst ({args.users} at once)", burst)):
        for kind in ("text", "write", "chart"):
            values = results.latencies[kind]
            print(f"{name + ' ' + kind:34} {len(values):5} {percentiles(values)}")
    stalls = loop["stalls_over_50ms"]
    in_steady = [ms for at, ms in stalls if steady_from <= at < burst_from]
    in_burst = [ms for at, ms in stalls if at >= burst_from]
    print(
        f"event loop worst stall: {loop['worst_stall_ms']:.1f} ms; over 50 ms: "
        f"{len(in_steady)} while steady (worst {max(in_steady, default=0):.0f} ms), "
        f"{len(in_burst)} in the burst (worst {max(in_burst, default=0):.0f} ms), "
        f"of {loop['samples']} samples"
    )
    problems = steady.wrong + burst.wrong
    print(
        f"wrong answers: {len(problems)}, calls Telegram would refuse: {violations}, "
        f"429s: {flood}, bot exit code: {code}"
    )
    for problem in problems[:5]:
        print("  ", problem)
    if "Traceback" in log:
        print("the bot logged a traceback: see its log")
    return 0 if not problems and not violations and code == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10, help="commands per user")
    parser.add_argument("--think-min", type=float, default=3.0, help="seconds between commands")
    parser.add_argument("--think-max", type=float, default=7.0)
    parser.add_argument("--no-chart-cache", action="store_true", help="draw every chart")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-log", metavar="FILE", help="copy the bot's log here")
    add_database_options(parser)
    sys.exit(asyncio.run(main(parser.parse_args())))
