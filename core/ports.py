"""The small interfaces the domain needs from the outside world; adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from core.domain.imports import Cell, ImportRecord, RawTable
from core.domain.pending import PendingAction, PendingState
from core.domain.stock import NewMove, StockMove
from core.forecast_model import ForecastConfig, ModelForecast, ModelRun
from core.models import (
    Alert,
    Channel,
    CurrentAdvice,
    Delivery,
    DeliverySummary,
    FeedRow,
    InventoryItem,
    Invite,
    Material,
    PricePoint,
    Recipient,
    Role,
    SendResult,
    Subscription,
    User,
    VendorQuote,
)

if TYPE_CHECKING:
    from core.forecasting import Forecast


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class MaterialRepo(Protocol):
    async def all(self) -> list[Material]: ...

    async def upsert(self, material: Material) -> None:
        """Adds the material at the end of the list, or changes it where it stands."""
        ...


class PriceRepo(Protocol):
    async def add(self, points: Sequence[PricePoint]) -> int:
        """Stores the points not stored yet; returns how many were new."""
        ...

    async def latest(self, material: str) -> PricePoint | None: ...

    async def at_or_before(self, material: str, at: datetime) -> PricePoint | None: ...

    async def history(self, material: str, since: datetime) -> list[PricePoint]:
        """Points at or after `since`, oldest first."""
        ...

    async def daily_closes(self, material: str, since: date) -> list[tuple[date, float]]:
        """The last price of each day (UTC) from `since` on, oldest first."""
        ...

    async def times(self, material: str, start: datetime, end: datetime) -> set[datetime]:
        """When the material has prices stored from `start` to `end` (inclusive), any source."""
        ...


class InventoryRepo(Protocol):
    async def all(self) -> list[InventoryItem]:
        """Each stocked material's configured figures, with on hand from the ledger."""
        ...

    async def item(self, material: str) -> InventoryItem | None:
        """One material's, as `all` gives them."""
        ...

    async def consumption(self, material: str, since: date) -> list[tuple[date, float]]:
        """The recorded use of each day since `since` that has any, oldest first."""
        ...

    async def upsert(self, item: InventoryItem) -> None:
        """Sets a material's configured figures (daily use, minimum, lead time); its on hand
        is the ledger's and is not changed here."""
        ...


class StockMoveRepo(Protocol):
    """The stock ledger: moves are only ever appended."""

    async def add(self, move: NewMove) -> StockMove | None:
        """Appends the move; None for an undo of a move that was undone already."""
        ...

    async def add_many(self, moves: Sequence[NewMove]) -> int:
        """Appends moves in bulk (an import); returns how many."""
        ...

    async def get(self, move_id: int) -> StockMove | None: ...

    async def recent(self, limit: int, material: str | None = None) -> list[StockMove]:
        """The newest moves first, undone ones and undos included."""
        ...

    async def effective(self, material: str | None = None) -> list[StockMove]:
        """The moves not undone (and not undos), oldest first."""
        ...


class VendorRepo(Protocol):
    async def quotes(self, material: str) -> list[VendorQuote]:
        """Each vendor's newest quote for the material."""
        ...


class QuoteRepo(VendorRepo, Protocol):
    async def add(
        self,
        quotes: Sequence[VendorQuote],
        user_id: int | None,
        user_name: str | None,
        source: str,
        import_id: int | None = None,
    ) -> None:
        """Records quotes (each with its `quoted_at`); older ones stay as history."""
        ...

    async def history(self, material: str | None = None) -> list[VendorQuote]:
        """Every quote recorded, oldest first."""
        ...


class PendingActionRepo(Protocol):
    async def add(self, action: PendingAction) -> PendingAction:
        """Stores the action; returns it with its id."""
        ...

    async def get(self, action_id: int) -> PendingAction | None: ...

    async def settle(self, action_id: int, state: PendingState, now: datetime) -> bool:
        """Moves a pending action that has not expired to `state`; False if it was not
        pending any more (answered already, or by someone else at the same moment)."""
        ...


class HandledUpdateRepo(Protocol):
    """Telegram updates whose changes are booked: a redelivered one is recognised."""

    async def claim(self, update_id: int, callback_query_id: str | None, at: datetime) -> bool:
        """Records the update as handled; False if it was handled before."""
        ...

    async def reply(self, update_id: int) -> str | None:
        """What was answered to the update the first time."""
        ...

    async def record(self, update_id: int, reply: str) -> None: ...

    async def prune(self, before: datetime) -> int:
        """Forgets updates handled before `before` (Telegram redelivers for a day at most)."""
        ...


class ImportRepo(Protocol):
    async def find(self, digest: str) -> ImportRecord | None:
        """The import of a file with these rows, if there was one."""
        ...

    async def add(self, record: ImportRecord) -> ImportRecord:
        """Stores the import; returns it with its id."""
        ...


class AlertRepo(Protocol):
    async def recent(self, limit: int, material: str | None = None) -> list[Alert]:
        """The newest alerts first."""
        ...


class UserRepo(Protocol):
    async def get(self, user_id: int) -> User | None: ...

    async def all(self) -> list[User]: ...

    async def grant(
        self,
        user_id: int,
        role: Role,
        added_by: int | None,
        at: datetime,
        name: str | None = None,
    ) -> None:
        """Grants `role` (or changes it); a `name` of None keeps the name known already."""
        ...

    async def revoke(self, user_id: int) -> bool: ...


class InviteRepo(Protocol):
    async def add(self, invite: Invite) -> None: ...

    async def get(self, code_hash: str) -> Invite | None: ...

    async def claim(self, code_hash: str, user_id: int, at: datetime) -> bool:
        """Marks the invite used by `user_id`; False if it was used already (atomically)."""
        ...


class SubscriptionRepo(Protocol):
    async def add(self, subscription: Subscription) -> bool:
        """Subscribes (re-enabling a disabled one); False if it was active already."""
        ...

    async def remove(self, channel: Channel, address: str) -> bool: ...

    async def get(self, channel: Channel, address: str) -> Subscription | None:
        """The subscription of this address, active or disabled."""
        ...

    async def all(self, channel: Channel | None = None) -> list[Subscription]:
        """Every subscription, active or disabled, oldest first."""
        ...

    async def move(self, channel: Channel, old: str, new: str) -> None:
        """Keeps a subscription under a new address (a group that became a supergroup)."""
        ...

    async def disable(self, channel: Channel, address: str, reason: str) -> None: ...


class Notifier(Protocol):
    """Sends one alert to one recipient of one channel, formatted for that channel; reports
    delivery failures in the result instead of raising."""

    channel: Channel

    async def send(self, address: str, alert: Alert) -> SendResult: ...


async def _nothing_to_confirm() -> None:
    return None


@dataclass(frozen=True)
class FeedBatch:
    """What one poll of a feed returned. `confirm` is awaited once the rows are stored, so a
    feed that reads incrementally (a growing CSV) moves past them only then: a crash before
    that rereads them, and the price repository ignores the duplicates."""

    rows: Sequence[FeedRow]
    confirm: Callable[[], Awaitable[None]] = field(default=_nothing_to_confirm)


class PriceFeed(Protocol):
    """A source of prices: simulated, a CSV file, an HTTP JSON API."""

    @property
    def name(self) -> str:
        """Names the feed in logs and as the stored prices' source; no secrets in it."""
        ...

    async def fetch(self) -> FeedBatch:
        """The rows not confirmed before; raises FeedError when the feed cannot be read."""
        ...


class AdviceSource(Protocol):
    """The current recommendation per material (the forecasting service)."""

    async def current(self) -> Mapping[str, CurrentAdvice]:
        """By material key; materials without a recommendation are missing."""
        ...


class StateStore(Protocol):
    """Small named values the jobs keep across restarts (a feed's read position, the last
    recommendation seen)."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class AlertOutbox(Protocol):
    """Where raised alerts go: stored with one pending delivery per recipient."""

    async def record(self, alert: Alert, recipients: Sequence[Recipient]) -> Alert:
        """Stores the alert and its deliveries in one transaction; returns it with its id."""
        ...

    async def last_alert(self, dedup_key: str) -> Alert | None:
        """The newest alert raised for this condition."""
        ...


class DeliveryQueue(Protocol):
    """The outbox as the delivery worker sees it. Every method commits before returning."""

    async def recover(self, owner: str) -> int:
        """Puts deliveries claimed by other (dead) workers back to pending; returns how many."""
        ...

    async def due(
        self, channel: Channel, now: datetime, limit: int, skip: Sequence[int] = ()
    ) -> list[tuple[Delivery, Alert]]:
        """Pending deliveries of `channel` whose time has come, oldest first."""
        ...

    async def claim(self, delivery_id: int, owner: str, now: datetime) -> Delivery | None:
        """Marks a pending delivery in flight and counts the attempt; returns it as it is now
        (its address may have changed since it was listed as due), or None if it was not
        pending any more."""
        ...

    async def mark_sent(self, delivery_id: int, now: datetime) -> None: ...

    async def mark_retry(self, delivery_id: int, at: datetime, detail: str) -> None:
        """Back to pending, due at `at`."""
        ...

    async def mark_failed(self, delivery_id: int, detail: str) -> None: ...

    async def readdress(self, delivery_id: int, new_address: str) -> None:
        """Records that this delivery went (or goes) to `new_address`: the channel sent it on to
        the recipient's new address (a group that became a supergroup). Kept as it is when its
        alert has a delivery to `new_address` already."""
        ...

    async def redirect(self, channel: Channel, old: str, new: str) -> int:
        """Sends the pending deliveries to `old` to `new` instead, each when it was due anyway
        (a group became a supergroup); returns how many follow. One whose alert goes to `new`
        already fails as a duplicate instead."""
        ...

    async def cancel(self, channel: Channel, address: str, reason: str) -> int:
        """Fails the pending deliveries to an address that can no longer get them; returns
        how many."""
        ...


class DeliveryLog(Protocol):
    async def summaries(self, alert_ids: Sequence[int]) -> dict[int, DeliverySummary]:
        """How delivery went, per alert id (alerts with no deliveries are missing)."""
        ...


class ForecastRepo(Protocol):
    """Stored model runs (they calibrate later retrains) and forecasts (with their checks)."""

    async def save(self, run: ModelRun, forecast: Forecast, backfilled: bool) -> None:
        """Stores a run and the forecast made from it, replacing any for the same origin."""
        ...

    async def runs(self, material: str, horizon: int) -> list[ModelRun]:
        """The material's stored runs for this horizon, oldest first."""
        ...

    async def latest(self, material: str, horizon: int) -> Forecast | None: ...

    async def checks(self, material: str, horizon: int) -> list[tuple[date, float, float, float]]:
        """Every stored forecast's origin day, price, lower and upper bound at the horizon."""
        ...


class UnitOfWork(Protocol):
    """One action's writes, through the repositories on it: committed together when the
    `async with` block ends normally, rolled back together when it raises (a receipt's stock
    move, the alert it raises and that alert's deliveries are one action). Services called
    inside the block write in the same unit of work."""

    @property
    def materials(self) -> MaterialRepo: ...

    @property
    def prices(self) -> PriceRepo: ...

    @property
    def inventory(self) -> InventoryRepo: ...

    @property
    def vendors(self) -> QuoteRepo: ...

    @property
    def outbox(self) -> AlertOutbox: ...

    @property
    def state(self) -> StateStore: ...

    @property
    def stock(self) -> StockMoveRepo: ...

    @property
    def pending(self) -> PendingActionRepo: ...

    @property
    def handled(self) -> HandledUpdateRepo: ...

    @property
    def imports(self) -> ImportRepo: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class Spreadsheets(Protocol):
    """Reads CSV and XLSX files into tables and writes XLSX files (plain functions: callers
    run them off the event loop)."""

    def read(self, file_name: str, data: bytes) -> list[RawTable]:
        """Raises UserError (one line, saying what works) for a file it cannot read."""
        ...

    def write(self, tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Cell]]]]) -> bytes:
        """An XLSX file with one sheet per (title, header, rows)."""
        ...


class ForecastEngine(Protocol):
    """Runs the forecasting method's heavy steps off the event loop."""

    async def fit(
        self, windows: Sequence[pd.Series], horizon: int, config: ForecastConfig
    ) -> list[ModelRun]:
        """One model run per training window, in order."""
        ...

    async def retrain(
        self, history: pd.Series, past: Sequence[ModelRun], horizon: int, config: ForecastConfig
    ) -> tuple[ModelRun, ModelForecast]:
        """A run on the latest training window and the calibrated forecast from it."""
        ...

    async def replay(
        self,
        history: pd.Series,
        runs: Sequence[ModelRun],
        rows: Sequence[int],
        config: ForecastConfig,
    ) -> list[ModelForecast]:
        """The forecasts the runs would have given at their origin rows (forecast_model.replay)."""
        ...
