"""`procurebot status` on both backends, with a fake clock: every line it prints, and the exit
status each problem gives (at the edge of each limit and just past it)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
import pytest

from bot.cli import _status
from bot.settings import Settings, load_settings
from core.adapters.db.engine import Database
from core.adapters.db.repos.forecasts import SqlForecastRepo
from core.adapters.db.repos.health import SqlInstanceRegistry
from core.adapters.db.repos.outbox import SqlOutbox, SqlStateStore
from core.adapters.db.repos.subscriptions import SqlSubscriptionRepo
from core.feeds import PollResult
from core.forecast_model import ForecastConfig
from core.forecasting import Accuracy, Forecast
from core.health import BackupState, HealthLog, Instance, InstanceRole, RetentionState
from core.models import Alert, AlertType, Channel, Recipient, Severity, Subscription
from data import demo
from tests.fakes import NOW, FakeClock, flat_run

RETRAIN_EVERY = timedelta(hours=1)


@dataclass
class World:
    db: Database
    settings: Settings
    clock: FakeClock

    @property
    def log(self) -> HealthLog:
        return HealthLog(SqlStateStore(self.db), self.clock)

    async def beat(
        self,
        role: InstanceRole = InstanceRole.LEADER,
        ago: timedelta = timedelta(seconds=10),
        up: timedelta = timedelta(hours=3),
        name: str = "a",
        pid: int = 4242,
        host: str = "factory-1",
    ) -> Instance:
        now = self.clock.now()
        instance = Instance(name, role, pid, host, "0.1.0", now - up, now - ago)
        await SqlInstanceRegistry(self.db).beat(instance)
        return instance

    async def poll(self, ago: timedelta, error: str | None = None) -> None:
        self.clock.advance(seconds=-ago.total_seconds())
        await self.log.polled("simulated", PollResult(error=error) if error else PollResult(5, 5))
        self.clock.advance(seconds=ago.total_seconds())

    async def retrain(self, ago: timedelta, seconds: float = 42.4) -> None:
        self.clock.advance(seconds=-ago.total_seconds())
        await self.log.retrained(seconds, 5)
        self.clock.advance(seconds=ago.total_seconds())

    async def alert(self, ago: timedelta, chats: int = 1) -> int:
        alert = Alert(
            AlertType.PRICE_DROP,
            Severity.WARNING,
            "copper",
            "Copper fell.",
            self.clock.now() - ago,
            f"drop:{ago}",
        )
        recipients = [Recipient(Channel.TELEGRAM, str(100 + n)) for n in range(chats)]
        stored = await SqlOutbox(self.db).record(alert, recipients)
        assert stored.id is not None
        return stored.id

    async def status(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
        code = await _status(self.settings, self.clock)
        return code, capsys.readouterr().out.splitlines()


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    db = await Database.open(database_url)
    await demo.seed(db, NOW.date())
    settings = load_settings(
        _env_file=None,
        database_url=database_url,
        forecast_retrain_seconds=int(RETRAIN_EVERY.total_seconds()),
    )
    try:
        yield World(db, settings, FakeClock(NOW))
    finally:
        await db.close()


async def healthy(world: World) -> None:
    await world.beat()
    await world.poll(timedelta(minutes=2))
    await world.retrain(timedelta(minutes=40))


async def test_a_database_no_bot_ever_ran_on_is_not_healthy(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = await world.status(capsys)
    assert code == 1
    assert lines[:2] == [
        "procurebot 0.1.0: 1 problem",
        "PROBLEM: the bot is not running (no procurebot run has ever written a heartbeat)",
    ]
    assert "Price feed: not polled yet" in lines
    assert "Forecasts: not retrained by the schedule yet" in lines


async def test_a_healthy_bot_shows_every_part_and_exits_0(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    db, clock = world.db, world.clock
    await healthy(world)
    postgres = db.backend == "postgresql"
    if postgres:
        await world.beat(InstanceRole.STANDBY, up=timedelta(minutes=5), name="b", host="factory-2")
    waiting = await world.alert(timedelta(minutes=3), chats=2)
    failed = await world.alert(timedelta(hours=5))
    [delivery] = await SqlOutbox(db).deliveries(failed)
    await SqlOutbox(db).claim(delivery.id, "worker", clock.now())
    await SqlOutbox(db).mark_failed(delivery.id, "blocked")
    assert waiting
    for chat in ("100", "101", "-500"):
        await SqlSubscriptionRepo(db).add(Subscription(Channel.TELEGRAM, chat, clock.now()))
    closes = pd.Series(
        [9000.0 + n for n in range(60)],
        index=pd.date_range(NOW.date() - timedelta(days=59), periods=60, freq="D"),
    )
    run = flat_run(closes, 7, ForecastConfig())
    forecast = Forecast(
        "copper",
        NOW,
        NOW.date(),
        9059.0,
        tuple(NOW.date() + timedelta(days=n) for n in range(1, 8)),
        (9059.0,) * 7,
        (8800.0,) * 7,
        (9300.0,) * 7,
        "naive",
        "no candidate beat naive",
        NOW.date() - timedelta(days=59),
        NOW.date(),
        {},
        Accuracy(60, 2.1, 2.0, 95.0),
    )
    await SqlForecastRepo(db).save(run, forecast, backfilled=False)
    await world.log.backed_up(
        BackupState(NOW - timedelta(hours=9), "/b/procurebot-1.sqlite", 12_345_678)
    )
    await world.log.retained(RetentionState(NOW - timedelta(hours=8), 1234, 5, 3.21, 0.0381))

    code, lines = await world.status(capsys)
    assert code == 0, lines
    backend = "PostgreSQL" if postgres else "SQLite"
    bots = (
        [
            "Leader: up since 09:00 UTC (3 h) on factory-1, pid 4242, version 0.1.0",
            "Standby: up since 11:55 UTC (5 min) on factory-2, pid 4242, version 0.1.0",
        ]
        if postgres
        else ["Bot: up since 09:00 UTC (3 h) on factory-1, pid 4242, version 0.1.0"]
    )
    assert lines == [
        "procurebot 0.1.0: healthy",
        f"Database: {backend}, {db.describe()}",
        *bots,
        "Price feed simulated: last good poll 11:58 UTC (2 min ago)",
        "Forecasts: retrained 11:20 UTC (40 min ago) in 42 s (5 forecasts made)",
        "Outbox: 2 pending, the oldest since 11:57 UTC (3 min); 1 failed in the last 24 h",
        "Alerts go to: 3 Telegram chats, WhatsApp off",
        "Forecast error / naive: copper 1.05, aluminium -, steel -, nickel -, zinc - "
        "(1.00: as good as no change)",
        "Last backup: 03:00 UTC, /b/procurebot-1.sqlite (12.3 MB)",
        "Retention: last run 04:00 UTC: 1,234 old polls and 5 sent deliveries removed in 3.2 s "
        "(longest hold 38 ms)",
    ]


async def test_a_heartbeat_three_beats_old_means_the_bot_is_not_running(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await healthy(world)
    await world.beat(ago=timedelta(seconds=90))
    assert (await world.status(capsys))[0] == 0
    await world.beat(ago=timedelta(seconds=91))
    code, lines = await world.status(capsys)
    assert code == 1
    assert lines[1] == (
        "PROBLEM: the bot is not running (its last heartbeat was 11:58 UTC, 1 min ago, "
        "from factory-1, pid 4242)"
    )


async def test_a_bot_that_stopped_cleanly_says_when(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await healthy(world)
    await SqlInstanceRegistry(world.db).stopped("a", NOW - timedelta(minutes=1))
    code, lines = await world.status(capsys)
    assert code == 1
    assert (
        lines[1]
        == "PROBLEM: the bot is not running (it stopped at 11:59 UTC on factory-1, pid 4242)"
    )


async def test_standbys_without_a_leader_are_a_problem(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await healthy(world)
    await world.beat(ago=timedelta(minutes=5))  # the leader died
    await world.beat(InstanceRole.STANDBY, name="b", host="factory-2")
    code, lines = await world.status(capsys)
    assert code == 1
    assert lines[1] == "PROBLEM: no instance leads: only standbys are running (a takeover is due)"
    assert lines[3].startswith("Standby: up since")


async def test_the_feed_is_a_problem_from_its_third_failed_poll_in_a_row(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await world.beat()
    await world.retrain(timedelta(minutes=40))
    await world.poll(timedelta(minutes=30), error="HTTP 503")
    await world.poll(timedelta(minutes=25), error="HTTP 503")
    await world.poll(timedelta(minutes=20))  # back: the count starts again
    await world.poll(timedelta(minutes=15), error="HTTP 503")
    await world.poll(timedelta(minutes=10), error="HTTP 503")
    code, lines = await world.status(capsys)
    assert code == 0
    assert (
        "Price feed simulated: down since 11:45 UTC (2 failed polls): HTTP 503; last good poll "
        "11:40 UTC (20 min ago)"
    ) in lines
    await world.poll(timedelta(minutes=5), error="timed out")
    code, lines = await world.status(capsys)
    assert code == 1
    assert lines[1] == (
        "PROBLEM: the price feed simulated is down since 11:45 UTC (3 failed polls in a row): "
        "timed out"
    )


async def test_a_delivery_pending_over_ten_minutes_is_a_problem(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await healthy(world)
    await world.alert(timedelta(minutes=10))
    assert (await world.status(capsys))[0] == 0
    await world.alert(timedelta(minutes=10, seconds=1))
    code, lines = await world.status(capsys)
    assert code == 1
    assert lines[1] == (
        "PROBLEM: the oldest pending delivery has waited 10 min (since 11:49 UTC; more than "
        "10 min means alerts are not going out)"
    )


async def test_no_retrain_for_two_turns_of_the_schedule_is_a_problem(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await world.beat()
    await world.poll(timedelta(minutes=1))
    await world.retrain(2 * RETRAIN_EVERY)
    assert (await world.status(capsys))[0] == 0
    await world.retrain(2 * RETRAIN_EVERY + timedelta(seconds=1))
    code, lines = await world.status(capsys)
    assert code == 1
    assert lines[1] == (
        "PROBLEM: forecasts were last retrained 2 h ago (09:59 UTC), more than two turns of "
        "the 1 h schedule"
    )


async def test_a_bot_up_two_turns_that_never_retrained_is_a_problem(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await world.poll(timedelta(minutes=1))
    await world.beat(up=2 * RETRAIN_EVERY + timedelta(seconds=60))
    assert (await world.status(capsys))[0] == 0  # the first retrain comes a minute after start
    await world.beat(up=2 * RETRAIN_EVERY + timedelta(seconds=61))
    code, lines = await world.status(capsys)
    assert code == 1
    assert lines[1] == (
        "PROBLEM: forecasts have not been retrained since the bot started 2 h 1 min ago "
        "(the schedule is every 1 h)"
    )


async def test_a_failed_backup_is_a_problem(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await healthy(world)
    await world.log.backed_up(BackupState(NOW - timedelta(hours=1), error="No space left"))
    code, lines = await world.status(capsys)
    assert code == 1
    assert lines[1] == "PROBLEM: the last daily backup failed (11:00 UTC): No space left"


async def test_every_problem_gets_its_own_line(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        await world.poll(timedelta(minutes=20), error="HTTP 500")
    await world.alert(timedelta(hours=1))
    code, lines = await world.status(capsys)
    assert code == 1
    assert lines[0] == "procurebot 0.1.0: 3 problems"
    assert [line.split(":")[0] for line in lines[1:5]] == ["PROBLEM"] * 3 + ["Database"]


async def test_a_database_at_an_older_schema_is_a_problem(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(_env_file=None, database_url="postgresql://x@127.0.0.1:1/none")
    code = await _status(settings, FakeClock())
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0] == "procurebot: 1 problem"
    assert lines[1].startswith(
        "PROBLEM: DATABASE_URL postgresql://x@127.0.0.1:1/none cannot be used"
    )
