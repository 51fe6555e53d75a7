"""Is the bot healthy? What `/status` and `procurebot status` say, read from the database alone.

Each running `procurebot run` writes a heartbeat row every HEARTBEAT_SECONDS (its role, process
id, host, version and start time); the jobs keep what they last did in the job state (the price
feed's polls, the last retrain and how long it took, the last backup and retention run). From
those, the outbox and the stored forecasts, `HealthService.report` builds a `Health`: the facts,
and the problems that make `procurebot status` exit 1:

- the bot is not running (no instance has beaten within HEARTBEAT_STALE);
- the price feed has failed FEED_DOWN_POLLS polls or more in a row;
- the oldest pending delivery has waited longer than OUTBOX_LATE;
- forecasts have not been retrained for two turns of the schedule;
- the last daily backup failed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from core.feeds import PollResult
from core.forecasting import Accuracy
from core.materials import MaterialCatalog
from core.models import Channel
from core.ports import Clock, ForecastRepo, StateStore
from core.recipients import RecipientDirectory

HEARTBEAT_SECONDS = 30.0
HEARTBEAT_STALE = timedelta(seconds=3 * HEARTBEAT_SECONDS)  # three beats missed
FEED_DOWN_POLLS = 3
OUTBOX_LATE = timedelta(minutes=10)
RETRAIN_TURNS = 2
# The scheduled retrain starts this long after the bot (bot/jobs.py FIRST_RETRAIN_SECONDS).
FIRST_RETRAIN = timedelta(seconds=60)

FEED_KEY = "health.feed"
RETRAIN_KEY = "health.retrain"
BACKUP_KEY = "health.backup"
RETENTION_KEY = "health.retention"


class InstanceRole(StrEnum):
    LEADER = "leader"
    STANDBY = "standby"


@dataclass(frozen=True)
class Instance:
    """One `procurebot run` process, as its last heartbeat described it."""

    id: str
    role: InstanceRole
    pid: int
    host: str
    version: str
    started_at: datetime
    beat_at: datetime
    stopped_at: datetime | None = None

    def alive(self, now: datetime) -> bool:
        return self.stopped_at is None and now - self.beat_at <= HEARTBEAT_STALE


class InstanceRegistry(Protocol):
    """Where running processes leave their heartbeat."""

    async def beat(self, instance: Instance) -> None:
        """Stores the instance's row as it is now (and forgets rows long dead)."""
        ...

    async def stopped(self, instance_id: str, at: datetime) -> None: ...

    async def all(self) -> list[Instance]:
        """Every instance known, the most recent heartbeat first."""
        ...


@dataclass(frozen=True)
class OutboxState:
    """Deliveries waiting (pending or in flight), since when the oldest waits, and how many
    of the last 24 hours' alerts' deliveries failed."""

    pending: int
    oldest_pending: datetime | None
    failed_24h: int


class OutboxStats(Protocol):
    async def outbox_state(self, now: datetime) -> OutboxState: ...


# --- what the jobs leave in the job state ---------------------------------------------------


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True)
class FeedState:
    """The price feed as the poll job last saw it."""

    feed: str
    last_poll: datetime
    last_good: datetime | None = None
    down_since: datetime | None = None
    failed_polls: int = 0  # in a row
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "feed": self.feed,
                "last_poll": self.last_poll.isoformat(),
                "last_good": self.last_good.isoformat() if self.last_good else None,
                "down_since": self.down_since.isoformat() if self.down_since else None,
                "failed_polls": self.failed_polls,
                "error": self.error,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> FeedState:
        data = json.loads(text)
        return cls(
            data["feed"],
            datetime.fromisoformat(data["last_poll"]),
            _time(data.get("last_good")),
            _time(data.get("down_since")),
            int(data.get("failed_polls", 0)),
            data.get("error"),
        )


@dataclass(frozen=True)
class RetrainState:
    """The last scheduled retrain: when it ended, how long it took, how many it made."""

    at: datetime
    seconds: float
    materials: int  # forecasts made

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "at": self.at.isoformat()})

    @classmethod
    def from_json(cls, text: str) -> RetrainState:
        data = json.loads(text)
        return cls(
            datetime.fromisoformat(data["at"]), float(data["seconds"]), int(data["materials"])
        )


@dataclass(frozen=True)
class BackupState:
    """The last daily backup: when, where and how big, or why it failed."""

    at: datetime
    file: str | None = None
    size: int | None = None
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "at": self.at.isoformat()})

    @classmethod
    def from_json(cls, text: str) -> BackupState:
        data = json.loads(text)
        return cls(datetime.fromisoformat(data["at"]), data["file"], data["size"], data["error"])


@dataclass(frozen=True)
class RetentionState:
    """The last retention run: when, what it removed, how long and the longest hold."""

    at: datetime
    prices_removed: int
    deliveries_removed: int
    seconds: float
    longest_hold: float

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "at": self.at.isoformat()})

    @classmethod
    def from_json(cls, text: str) -> RetentionState:
        data = json.loads(text)
        return cls(
            datetime.fromisoformat(data["at"]),
            int(data["prices_removed"]),
            int(data["deliveries_removed"]),
            float(data["seconds"]),
            float(data["longest_hold"]),
        )


def poll_failed(result: PollResult) -> bool:
    """A poll failed when the feed could not be read or refused every row it gave (the same
    rule that makes core/feeds.py log the feed as down)."""
    return result.error is not None or (bool(result.refused) and not result.accepted)


class HealthLog:
    """What the jobs did, kept in the job state so that any process can read it."""

    def __init__(self, state: StateStore, clock: Clock) -> None:
        self._state = state
        self._clock = clock

    async def polled(self, feed: str, result: PollResult) -> FeedState:
        """Records one poll of the price feed; returns the feed's state after it."""
        now = self._clock.now()
        before = await self.feed()
        if before is not None and before.feed != feed:
            before = None  # another feed now: its past is not this one's
        if poll_failed(result):
            error = result.error or "every row was refused"
            state = FeedState(
                feed,
                now,
                before.last_good if before else None,
                before.down_since if before and before.down_since else now,
                (before.failed_polls if before else 0) + 1,
                error,
            )
        else:
            state = FeedState(feed, now, now)
        await self._state.set(FEED_KEY, state.to_json())
        return state

    async def retrained(self, seconds: float, materials: int) -> RetrainState:
        state = RetrainState(self._clock.now(), seconds, materials)
        await self._state.set(RETRAIN_KEY, state.to_json())
        return state

    async def backed_up(self, state: BackupState) -> None:
        await self._state.set(BACKUP_KEY, state.to_json())

    async def retained(self, state: RetentionState) -> None:
        await self._state.set(RETENTION_KEY, state.to_json())

    async def feed(self) -> FeedState | None:
        text = await self._state.get(FEED_KEY)
        return None if text is None else FeedState.from_json(text)

    async def retrain(self) -> RetrainState | None:
        text = await self._state.get(RETRAIN_KEY)
        return None if text is None else RetrainState.from_json(text)

    async def backup(self) -> BackupState | None:
        text = await self._state.get(BACKUP_KEY)
        return None if text is None else BackupState.from_json(text)

    async def retention(self) -> RetentionState | None:
        text = await self._state.get(RETENTION_KEY)
        return None if text is None else RetentionState.from_json(text)


# --- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """How often the jobs run (from the settings): what "late" means."""

    poll_every: timedelta
    retrain_every: timedelta


@dataclass(frozen=True)
class Health:
    """Everything `/status` shows, and the problems found in it."""

    now: datetime
    backend: str  # "SQLite" or "PostgreSQL"
    database: str  # the database, as it may be shown (no password)
    instances: tuple[Instance, ...]  # running ones, the leader first
    last_seen: Instance | None  # the newest heartbeat, when none is running
    feed: FeedState | None
    retrain: RetrainState | None
    outbox: OutboxState
    telegram_chats: int
    whatsapp_numbers: int | None  # None: WhatsApp is not set up
    accuracy: tuple[tuple[str, Accuracy | None], ...]  # per material key
    backup: BackupState | None = None
    retention: RetentionState | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def leader(self) -> Instance | None:
        return next((i for i in self.instances if i.role is InstanceRole.LEADER), None)


def clock_time(moment: datetime, now: datetime) -> str:
    """'14:05 UTC' today, '24 Nov 14:05 UTC' on another day."""
    if moment.date() == now.date():
        return f"{moment:%H:%M} UTC"
    return f"{moment.day} {moment:%b %H:%M} UTC"


def duration(delta: timedelta) -> str:
    """'45 s', '12 min', '3 h 5 min', '2 d 4 h'."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def find_problems(
    now: datetime,
    instances: Sequence[Instance],
    last_seen: Instance | None,
    feed: FeedState | None,
    retrain: RetrainState | None,
    outbox: OutboxState,
    backup: BackupState | None,
    schedule: Schedule,
) -> list[str]:
    """The problems that make the bot unhealthy, one sentence each."""
    problems = []
    leader = next((i for i in instances if i.role is InstanceRole.LEADER), None)
    if leader is None:
        problems.append(_not_running(now, instances, last_seen))
    if feed is not None and feed.failed_polls >= FEED_DOWN_POLLS:
        since = clock_time(feed.down_since or feed.last_poll, now)
        problems.append(
            f"the price feed {feed.feed} is down since {since} ({feed.failed_polls} failed "
            f"polls in a row): {feed.error}"
        )
    if outbox.oldest_pending is not None and now - outbox.oldest_pending > OUTBOX_LATE:
        problems.append(
            f"the oldest pending delivery has waited {duration(now - outbox.oldest_pending)} "
            f"(since {clock_time(outbox.oldest_pending, now)}; more than "
            f"{duration(OUTBOX_LATE)} means alerts are not going out)"
        )
    late = RETRAIN_TURNS * schedule.retrain_every
    if retrain is not None and now - retrain.at > late:
        problems.append(
            f"forecasts were last retrained {duration(now - retrain.at)} ago "
            f"({clock_time(retrain.at, now)}), more than two turns of the "
            f"{duration(schedule.retrain_every)} schedule"
        )
    elif retrain is None and leader is not None and now - leader.started_at > late + FIRST_RETRAIN:
        problems.append(
            f"forecasts have not been retrained since the bot started "
            f"{duration(now - leader.started_at)} ago (the schedule is every "
            f"{duration(schedule.retrain_every)})"
        )
    if backup is not None and backup.error is not None:
        when = clock_time(backup.at, now)
        problems.append(f"the last daily backup failed ({when}): {backup.error}")
    return problems


def _not_running(now: datetime, instances: Sequence[Instance], last_seen: Instance | None) -> str:
    if instances:  # standbys only: the leader died and none has taken over yet
        return "no instance leads: only standbys are running (a takeover is due)"
    if last_seen is None:
        return "the bot is not running (no procurebot run has ever written a heartbeat)"
    where = f"{last_seen.host}, pid {last_seen.pid}"
    if last_seen.stopped_at is not None:
        return (
            f"the bot is not running (it stopped at {clock_time(last_seen.stopped_at, now)} "
            f"on {where})"
        )
    return (
        f"the bot is not running (its last heartbeat was {clock_time(last_seen.beat_at, now)}, "
        f"{duration(now - last_seen.beat_at)} ago, from {where})"
    )


class HealthService:
    """Builds the health report from the database."""

    def __init__(
        self,
        backend: str,
        database: str,
        registry: InstanceRegistry,
        log: HealthLog,
        outbox: OutboxStats,
        recipients: RecipientDirectory,
        forecasts: ForecastRepo,
        catalog: MaterialCatalog,
        clock: Clock,
        schedule: Schedule,
        horizon: int,
    ) -> None:
        self._backend = backend
        self._database = database
        self._registry = registry
        self._log = log
        self._outbox = outbox
        self._recipients = recipients
        self._forecasts = forecasts
        self._catalog = catalog
        self._clock = clock
        self._schedule = schedule
        self._horizon = horizon

    async def report(self) -> Health:
        now = self._clock.now()
        known = await self._registry.all()
        running = sorted(
            (i for i in known if i.alive(now)),
            key=lambda i: (i.role is not InstanceRole.LEADER, i.started_at),
        )
        last_seen = None if running else (known[0] if known else None)
        feed, retrain = await self._log.feed(), await self._log.retrain()
        backup, retention = await self._log.backup(), await self._log.retention()
        outbox = await self._outbox.outbox_state(now)
        recipients = await self._recipients.for_alerts()
        chats = sum(1 for r in recipients if r.channel is Channel.TELEGRAM)
        numbers = sum(1 for r in recipients if r.channel is Channel.WHATSAPP)
        accuracy = []
        for material in self._catalog:
            forecast = await self._forecasts.latest(material.key, self._horizon)
            accuracy.append((material.key, forecast.accuracy if forecast else None))
        problems = find_problems(
            now, running, last_seen, feed, retrain, outbox, backup, self._schedule
        )
        return Health(
            now=now,
            backend=self._backend,
            database=self._database,
            instances=tuple(running),
            last_seen=last_seen,
            feed=feed,
            retrain=retrain,
            outbox=outbox,
            telegram_chats=chats,
            whatsapp_numbers=numbers if self._recipients.whatsapp_enabled else None,
            accuracy=tuple(accuracy),
            backup=backup,
            retention=retention,
            problems=tuple(problems),
        )


class Heartbeat:
    """This process's heartbeat: `beat` every HEARTBEAT_SECONDS, `lead` once it leads,
    `stop` when it stops cleanly."""

    def __init__(
        self,
        registry: InstanceRegistry,
        clock: Clock,
        instance_id: str,
        pid: int,
        host: str,
        version: str,
    ) -> None:
        self._registry = registry
        self._clock = clock
        self.instance = Instance(
            instance_id, InstanceRole.STANDBY, pid, host, version, clock.now(), clock.now()
        )

    async def beat(self) -> None:
        self.instance = replace(self.instance, beat_at=self._clock.now())
        await self._registry.beat(self.instance)

    async def lead(self) -> None:
        self.instance = replace(self.instance, role=InstanceRole.LEADER)
        await self.beat()

    async def stop(self) -> None:
        await self._registry.stopped(self.instance.id, self._clock.now())
