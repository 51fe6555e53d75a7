"""The small interfaces the domain needs from the outside world; adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from core.domain.imports import Cell, ImportRecord, RawTable
from core.domain.pending import PendingAction, PendingKind, PendingState
from core.domain.purchasing import Inbound, Purchase
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
    from core.domain.digests import DigestSchedule
    from core.domain.local_time import QuietHours
    from core.domain.watches import Watch, WatchRule
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

    async def delete(self, material: str, at: datetime) -> int:
        """Removes the material's points stored at `at` (any source); returns how many."""
        ...

    async def latest_of(self, materials: Sequence[str]) -> dict[str, PricePoint]:
        """Each material's latest price, in one query (materials without one are missing)."""
        ...

    async def at_or_before_of(self, moments: Mapping[str, datetime]) -> dict[str, PricePoint]:
        """For each material, its last price at or before its moment, in one query."""
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


class InboundOrders(Protocol):
    """What open purchase orders will bring in (purchasing records them)."""

    async def inbound(self, material: str, until: date) -> float:
        """The quantity ordered and not yet received that arrives by `until`, in the
        material's unit."""
        ...

    async def arrivals(self, material: str) -> list[Inbound]:
        """What each open order of the material still brings and the day it is due (an
        overdue one: today), soonest first."""
        ...


class OrderReceipts(Protocol):
    """The purchase orders a receipt in the stock ledger may be booked against (purchasing
    keeps them). A receipt's reference names its order ('PO-2026-0001'); other references are
    the buyer's own and concern no order. Each method works in the unit of work open in its
    task, so the receipt and the order change together."""

    async def check_receipt(
        self, material: Material, quantity: float, reference: str | None
    ) -> str | None:
        """Raises UserError for a receipt no order can take (an unknown or closed order, or
        another material's); returns why it should be confirmed first (more than the order
        still brings), or None."""
        ...

    async def receipt_booked(self, move: StockMove) -> Purchase | None:
        """Counts a booked receipt on its order; returns the order as it is now (None: the
        receipt names no order)."""
        ...

    async def receipt_undone(self, move: StockMove) -> Purchase | None:
        """Takes an undone receipt off its order again; returns the order as it is now."""
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

    async def waiting(
        self, kind: PendingKind, user_id: int, chat_id: int, now: datetime
    ) -> PendingAction | None:
        """The newest action of `kind` that waits for `user_id` in `chat_id` and has not
        expired (a rejection's reason, asked for in that chat)."""
        ...

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
    async def recent(
        self, limit: int, material: str | None = None, chat: str | None = None
    ) -> list[Alert]:
        """The newest alerts first: those for every subscriber and those for `chat` only (a
        watch's); no other messages (digests)."""
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


class OrdersDue(Protocol):
    """Open purchase orders due soon, one line each, for a chat's digest. The hook the
    purchasing issue fills in; until it exists the digest has no orders section."""

    async def lines(self, chat: str, now: datetime) -> list[str]: ...


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
        """The newest alert raised for this condition that reached, or can still reach,
        someone: one whose deliveries all failed, or that had none, is left out."""
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


class HeldDeliveries(Protocol):
    """The deliveries a chat's quiet hours hold (status HELD), as core/quiet_hours.py releases
    them. Every method commits before returning, or joins the unit of work it is called in."""

    async def held_due(self, now: datetime) -> list[tuple[Delivery, Alert]]:
        """Held deliveries whose quiet hours are over and that no message carries yet, by
        address, oldest first."""
        ...

    async def carry(self, delivery_ids: Sequence[int], carrier_alert_id: int) -> int:
        """Marks held deliveries as carried by one message (the alert id of a HELD_ALERTS
        message): each ends as that message's delivery ends. Returns how many were still
        held and not carried (fewer: another process released them first)."""
        ...

    async def release(self, delivery_ids: Sequence[int], at: datetime) -> int:
        """Held deliveries that no message carries become pending, due at `at`."""
        ...

    async def hold_until(self, channel: Channel, address: str, at: datetime) -> int:
        """Moves the end of the hold of every held delivery to this address (quiet hours that
        changed or stopped)."""
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


class WatchRepo(Protocol):
    """The chats' price watches. A removed watch is kept (with who removed it and when) so that
    the removal can be undone; everything else here sees only watches not removed."""

    async def add(
        self,
        chat: str,
        rule: WatchRule,
        by: int,
        at: datetime,
        expires_at: datetime | None,
        armed: bool,
    ) -> Watch | None:
        """Stores a new watch; None when the chat has a watch for the same condition already
        (however many processes try at once)."""
        ...

    async def get(self, watch_id: int) -> Watch | None: ...

    async def of_chat(self, chat: str) -> list[Watch]:
        """The chat's watches, oldest first."""
        ...

    async def live(self, now: datetime) -> list[Watch]:
        """Every watch that checks prices: not finished (`once` and fired), not expired."""
        ...

    async def remove(self, watch_ids: Sequence[int], by: int, at: datetime) -> int: ...

    async def restore(self, watch_id: int, chat: str, removed_by: int | None) -> list[Watch]:
        """Brings back a removed watch of `chat` and those removed with it (same time, same
        person), if `removed_by` removed them (None: whoever did), except any whose condition
        the chat watches again; returns those restored."""
        ...

    async def record(self, watch: Watch) -> bool:
        """Saves what a price did to a watch (armed, last trigger); False when the watch was
        removed meanwhile."""
        ...

    async def rearm(self, watch_ids: Sequence[int]) -> int: ...

    async def move_chat(self, old: str, new: str) -> int:
        """The watches of a group that became a supergroup follow it."""
        ...

    async def version(self) -> str | None:
        """Changes whenever a watch is added, removed, restored or moved (not when a price
        arms or fires one), so that a process keeping them in memory knows to reload."""
        ...


class DigestRepo(Protocol):
    """The chats' daily digests, and the digests booked (one per chat and local day)."""

    async def get(self, chat: str) -> DigestSchedule | None: ...

    async def set(self, schedule: DigestSchedule) -> None: ...

    async def remove(self, chat: str) -> bool: ...

    async def due(self, now: datetime) -> list[DigestSchedule]: ...

    async def book(self, chat: str, day: date, at: datetime) -> bool:
        """Books the chat's digest of `day` (its local date); False when it was booked
        already."""
        ...

    async def booked(self, chat: str, day: date, alert_id: int) -> None:
        """Links a booked digest to the message that carries it."""
        ...

    async def reschedule(self, chat: str, next_at: datetime) -> None: ...

    async def move_chat(self, old: str, new: str) -> None: ...


class QuietHoursRepo(Protocol):
    async def get(self, chat: str) -> QuietHours | None: ...

    async def all(self) -> dict[str, QuietHours]:
        """Every chat's quiet hours, by chat."""
        ...

    async def set(self, chat: str, hours: QuietHours, by: int | None, at: datetime) -> None: ...

    async def remove(self, chat: str) -> bool: ...

    async def move_chat(self, old: str, new: str) -> None: ...


class UnitOfWork(Protocol):
    """One action's writes, through the repositories on it: committed together when the
    `async with` block ends normally, rolled back together when it raises (a receipt's stock
    move, the alert it raises and that alert's deliveries are one action). Services called
    inside the block write in the same unit of work."""

    # Read-only, so that a unit of work with more specific repositories (the SQL ones, the
    # fakes) is one.
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
    def held(self) -> HeldDeliveries: ...
    @property
    def state(self) -> StateStore: ...
    @property
    def watches(self) -> WatchRepo: ...
    @property
    def digests(self) -> DigestRepo: ...
    @property
    def quiet_hours(self) -> QuietHoursRepo: ...
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
