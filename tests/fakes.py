"""Hand-written fakes of the core ports, and small builders for test data."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from core.access import AccessPolicy, InviteService
from core.adapters.spreadsheets import SpreadsheetFiles
from core.alert_rules import AlertPolicy
from core.alerts import AlertService
from core.budget import BudgetService
from core.digests import DigestService
from core.domain.actors import Source
from core.domain.digests import DigestSchedule
from core.domain.imports import ImportRecord
from core.domain.local_time import QuietHours
from core.domain.pending import PendingAction, PendingKind, PendingState
from core.domain.purchasing import Inbound
from core.domain.quotes import vendor_key
from core.domain.stock import MoveKind, NewMove, StockMove, on_hand
from core.domain.watches import Watch, WatchRule
from core.forecast_model import ModelRun, naive_run
from core.forecasting import Forecast, ForecastService
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from core.models import (
    Alert,
    AlertFacts,
    AlertType,
    Channel,
    CurrentAdvice,
    Delivery,
    DeliveryStatus,
    DeliverySummary,
    FeedRow,
    InventoryItem,
    Invite,
    Material,
    PricePoint,
    Recipient,
    Role,
    SendResult,
    SendStatus,
    Severity,
    Subscription,
    User,
    VendorQuote,
)
from core.monitoring import AlertMonitor
from core.ports import FeedBatch, ForecastEngine
from core.price_guard import PriceGuard
from core.prices import PriceService
from core.quiet_hours import QuietHoursService
from core.recipients import RecipientDirectory
from core.services import Services
from core.services.imports import ImportService
from core.services.materials import MaterialService
from core.services.once import ExactlyOnce
from core.services.quotes import QuoteService
from core.services.stock import StockLedger
from core.subscriptions import SubscriptionService
from core.vendors import VendorService
from core.watches import WatchService

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

COPPER = Material("copper", "Copper", aliases=("cu",))
ALUMINIUM = Material("aluminium", "Aluminium", aliases=("aluminum", "alu"))
STEEL = Material("steel", "Steel rebar", aliases=("rebar",))
MATERIALS = (COPPER, ALUMINIUM, STEEL)


class FakeClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class FakePriceRepo:
    def __init__(self, points: Sequence[PricePoint] = ()) -> None:
        self.points: list[PricePoint] = []
        self._keys: set[tuple[str, datetime, str]] = set()
        self._added = 0
        for point in points:
            self._store(point)

    def _store(self, point: PricePoint) -> bool:
        key = (point.material, point.at, point.source)
        if key in self._keys:
            return False
        self._keys.add(key)
        self.points.append(point)
        return True

    async def add(self, points: Sequence[PricePoint]) -> int:
        return sum(self._store(p) for p in points)

    def _of(self, material: str) -> list[PricePoint]:
        return sorted((p for p in self.points if p.material == material), key=lambda p: p.at)

    async def latest(self, material: str) -> PricePoint | None:
        points = self._of(material)
        return points[-1] if points else None

    async def at_or_before(self, material: str, at: datetime) -> PricePoint | None:
        earlier = [p for p in self._of(material) if p.at <= at]
        return earlier[-1] if earlier else None

    async def history(self, material: str, since: datetime) -> list[PricePoint]:
        return [p for p in self._of(material) if p.at >= since]

    async def daily_closes(self, material: str, since: date) -> list[tuple[date, float]]:
        closes = {p.at.date(): p.price for p in self._of(material) if p.at.date() >= since}
        return sorted(closes.items())

    async def delete(self, material: str, at: datetime) -> int:
        gone = [p for p in self.points if (p.material, p.at) == (material, at)]
        for point in gone:
            self.points.remove(point)
            self._keys.discard((point.material, point.at, point.source))
        return len(gone)

    async def latest_of(self, materials: Sequence[str]) -> dict[str, PricePoint]:
        found = {m: await self.latest(m) for m in materials}
        return {m: p for m, p in found.items() if p is not None}

    async def at_or_before_of(self, moments: Mapping[str, datetime]) -> dict[str, PricePoint]:
        found = {m: await self.at_or_before(m, at) for m, at in moments.items()}
        return {m: p for m, p in found.items() if p is not None}

    async def times(self, material: str, start: datetime, end: datetime) -> set[datetime]:
        return {p.at for p in self._of(material) if start <= p.at <= end}


class FakeInventoryRepo:
    """InventoryRepo and StockMoveRepo over one list of moves, as the SQL ledger: each item's
    `on_hand` is its opening balance, counted before any move; `consumption` gives each
    material's recorded daily use for the days up to yesterday (oldest first)."""

    def __init__(
        self,
        items: Sequence[InventoryItem] = (),
        consumption: dict[str, list[float]] | None = None,
        clock: FakeClock | None = None,
    ) -> None:
        self.items = list(items)
        self.daily_use = consumption or {}
        self.moves: list[StockMove] = []
        self._clock = clock or FakeClock()

    async def all(self) -> list[InventoryItem]:
        return [replace(i, on_hand=self._on_hand(i)) for i in self.items]

    async def item(self, material: str) -> InventoryItem | None:
        return next((i for i in await self.all() if i.material == material), None)

    def _on_hand(self, item: InventoryItem) -> float:
        opening = StockMove(
            item.material,
            MoveKind.COUNT,
            item.on_hand,
            datetime.min.replace(tzinfo=UTC),
            Source.IMPORT,
            id=0,
        )
        return on_hand([opening, *self._effective(item.material)])

    def _effective(self, material: str | None = None) -> list[StockMove]:
        undone = {m.undoes for m in self.moves if m.undoes is not None}
        return [
            replace(m, undone_by=None)
            for m in self.moves
            if m.undoes is None and m.id not in undone and material in (None, m.material)
        ]

    async def consumption(self, material: str, since: date) -> list[tuple[date, float]]:
        today = self._clock.now().date()
        legacy = self.daily_use.get(material, [])
        days: dict[date, float] = {
            today - timedelta(days=len(legacy) - i): q for i, q in enumerate(legacy)
        }
        for move in self._effective(material):
            if move.kind is MoveKind.USE:
                day = move.at.date()
                days[day] = days.get(day, 0.0) + move.quantity
        return sorted((d, q) for d, q in days.items() if d >= since)

    async def upsert(self, item: InventoryItem) -> None:
        kept = [i for i in self.items if i.material != item.material]
        old = next((i for i in self.items if i.material == item.material), None)
        self.items = [*kept, replace(item, on_hand=old.on_hand if old else 0.0)]

    # StockMoveRepo
    async def add(self, move: NewMove) -> StockMove | None:
        if move.undoes is not None and any(m.undoes == move.undoes for m in self.moves):
            return None
        stored = StockMove(
            **{f.name: getattr(move, f.name) for f in fields(move)}, id=len(self.moves) + 1
        )
        self.moves.append(stored)
        return stored

    async def add_many(self, moves: Sequence[NewMove]) -> int:
        for move in moves:
            await self.add(move)
        return len(moves)

    def _with_undone_by(self, move: StockMove) -> StockMove:
        by = next((m.id for m in self.moves if m.undoes == move.id), None)
        return replace(move, undone_by=by)

    async def get(self, move_id: int) -> StockMove | None:
        found = next((m for m in self.moves if m.id == move_id), None)
        return None if found is None else self._with_undone_by(found)

    async def recent(self, limit: int, material: str | None = None) -> list[StockMove]:
        chosen = [self._with_undone_by(m) for m in self.moves if material in (None, m.material)]
        return sorted(chosen, key=lambda m: (m.at, m.id), reverse=True)[:limit]

    async def effective(self, material: str | None = None) -> list[StockMove]:
        return sorted(self._effective(material), key=lambda m: (m.at, m.id))


class FakeInboundOrders:
    """Open purchase orders: quantity due per material and day."""

    def __init__(self, due: Sequence[tuple[str, date, float]] = ()) -> None:
        self.due = list(due)

    async def inbound(self, material: str, until: date) -> float:
        return sum(q for key, day, q in self.due if key == material and day <= until)

    async def arrivals(self, material: str) -> list[Inbound]:
        return sorted(
            (Inbound(q, day) for key, day, q in self.due if key == material), key=lambda i: i.due
        )


class FakeVendorRepo:
    """QuoteRepo in memory: each vendor's newest quote is its quote."""

    def __init__(self, quotes: Sequence[VendorQuote] = ()) -> None:
        self.quotes_stored = list(quotes)

    async def quotes(self, material: str) -> list[VendorQuote]:
        newest: dict[str, VendorQuote] = {}
        for q in self.quotes_stored:
            if q.material == material:
                newest[vendor_key(q.vendor)] = q
        return sorted(newest.values(), key=lambda q: q.vendor)

    async def history(self, material: str | None = None) -> list[VendorQuote]:
        return [q for q in self.quotes_stored if material in (None, q.material)]

    async def add(
        self,
        quotes: Sequence[VendorQuote],
        user_id: int | None,
        user_name: str | None,
        source: str,
        import_id: int | None = None,
    ) -> None:
        self.quotes_stored += quotes


class FakeMaterialRepo:
    def __init__(self, materials: Sequence[Material] = ()) -> None:
        self.materials = list(materials)

    async def all(self) -> list[Material]:
        return list(self.materials)

    async def upsert(self, material: Material) -> None:
        for index, known in enumerate(self.materials):
            if known.key == material.key:
                self.materials[index] = material
                return
        self.materials.append(material)


class FakePendingActionRepo:
    def __init__(self) -> None:
        self.actions: dict[int, PendingAction] = {}

    async def add(self, action: PendingAction) -> PendingAction:
        stored = replace(action, id=len(self.actions) + 1)
        self.actions[stored.id] = stored
        return stored

    async def get(self, action_id: int) -> PendingAction | None:
        return self.actions.get(action_id)

    async def waiting(
        self, kind: PendingKind, user_id: int, chat_id: int, now: datetime
    ) -> PendingAction | None:
        found = [
            a
            for a in self.actions.values()
            if a.kind is kind
            and a.user_id == user_id
            and a.chat_id == chat_id
            and a.state is PendingState.PENDING
            and not a.expired(now)
        ]
        return max(found, key=lambda a: a.id, default=None)

    async def settle(self, action_id: int, state: PendingState, now: datetime) -> bool:
        action = self.actions.get(action_id)
        if action is None or action.state is not PendingState.PENDING or action.expired(now):
            return False
        self.actions[action_id] = replace(action, state=state)
        return True


class FakeHandledUpdateRepo:
    def __init__(self) -> None:
        self.handled: dict[int, tuple[str | None, datetime, str | None]] = {}

    async def claim(self, update_id: int, callback_query_id: str | None, at: datetime) -> bool:
        if update_id in self.handled or (
            callback_query_id is not None
            and any(q == callback_query_id for q, _, _ in self.handled.values())
        ):
            return False
        self.handled[update_id] = (callback_query_id, at, None)
        return True

    async def reply(self, update_id: int) -> str | None:
        return self.handled[update_id][2] if update_id in self.handled else None

    async def record(self, update_id: int, reply: str) -> None:
        query, at, _ = self.handled[update_id]
        self.handled[update_id] = (query, at, reply)

    async def prune(self, before: datetime) -> int:
        old = [u for u, (_, at, _) in self.handled.items() if at < before]
        for update_id in old:
            del self.handled[update_id]
        return len(old)


class FakeImportRepo:
    def __init__(self) -> None:
        self.records: list[ImportRecord] = []

    async def find(self, digest: str) -> ImportRecord | None:
        return next((r for r in self.records if r.digest == digest), None)

    async def add(self, record: ImportRecord) -> ImportRecord:
        stored = replace(record, id=len(self.records) + 1)
        self.records.append(stored)
        return stored


class FakeUnitOfWork:
    """The unit of work over the fakes (new ones for those not given): what the block changed
    is put back when it raises. Blocks entered inside an open one join it; calling it gives
    itself, as the factory core services take."""

    def __init__(
        self,
        *,
        prices: FakePriceRepo | None = None,
        inventory: FakeInventoryRepo | None = None,
        vendors: FakeVendorRepo | None = None,
        outbox: FakeOutbox | None = None,
        state: FakeStateStore | None = None,
    ) -> None:
        self.materials = FakeMaterialRepo(MATERIALS)
        self.prices = prices or FakePriceRepo()
        self.inventory = inventory or FakeInventoryRepo()
        self.stock = self.inventory  # one ledger: the stock moves and what they add up to
        self.vendors = vendors or FakeVendorRepo()
        self.outbox = self.held = outbox or FakeOutbox()
        self.state = state or FakeStateStore()
        self.pending = FakePendingActionRepo()
        self.handled = FakeHandledUpdateRepo()
        self.imports = FakeImportRepo()
        self.watches = FakeWatchRepo()
        self.digests = FakeDigestRepo()
        self.quiet_hours = FakeQuietHoursRepo()
        self._repos: list[object] = [
            self.materials,
            self.prices,
            self.inventory,
            self.vendors,
            self.outbox,
            self.state,
            self.pending,
            self.handled,
            self.imports,
            self.watches,
            self.digests,
            self.quiet_hours,
        ]
        self._depth = 0
        self._saved: list[dict[str, object]] = []
        self.commits = 0

    def __call__(self) -> FakeUnitOfWork:
        return self

    async def __aenter__(self) -> FakeUnitOfWork:
        if self._depth == 0:
            self._saved = [
                {
                    key: value if isinstance(value, FakeClock) else copy.deepcopy(value)
                    for key, value in vars(repo).items()
                }
                for repo in self._repos
            ]
        self._depth += 1
        return self

    async def __aexit__(self, kind: object, error: object, traceback: object) -> None:
        self._depth -= 1
        if self._depth:
            return
        if error is not None:
            for repo, state in zip(self._repos, self._saved, strict=True):
                vars(repo).clear()
                vars(repo).update(state)
        else:
            self.commits += 1


def _listed(alert: Alert, material: str | None, chat: str | None) -> bool:
    """Whether /alerts in `chat` lists the alert (as the SQL alert repository decides)."""
    return (
        alert.type.is_alert
        and alert.chat in (None, chat)
        and (material is None or alert.material == material)
    )


class FakeAlertRepo:
    def __init__(self, alerts: Sequence[Alert] = ()) -> None:
        self.alerts = list(alerts)

    async def recent(
        self, limit: int, material: str | None = None, chat: str | None = None
    ) -> list[Alert]:
        chosen = [a for a in self.alerts if _listed(a, material, chat)]
        return sorted(chosen, key=lambda a: a.created_at, reverse=True)[:limit]


class FakeOutbox:
    """AlertOutbox, DeliveryQueue and DeliveryLog in memory, with the same state machine as
    the SQLite outbox."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.deliveries: dict[int, Delivery] = {}
        self.claimed_by: dict[int, str] = {}
        self.carried_by: dict[int, int] = {}  # held delivery id -> the alert id carrying it

    # AlertOutbox
    async def record(self, alert: Alert, recipients: Sequence[Recipient]) -> Alert:
        stored = replace(alert, id=len(self.alerts) + 1)
        self.alerts.append(stored)
        for r in dict.fromkeys(recipients):
            delivery_id = len(self.deliveries) + 1
            self.deliveries[delivery_id] = Delivery(
                delivery_id,
                stored.id or 0,
                r.channel,
                r.address,
                DeliveryStatus.HELD if r.hold_until else DeliveryStatus.PENDING,
                0,
                r.hold_until or alert.created_at,
            )
        return stored

    async def last_alert(self, dedup_key: str) -> Alert | None:
        heard = {
            d.alert_id for d in self.deliveries.values() if d.status is not DeliveryStatus.FAILED
        }
        same = [a for a in self.alerts if a.dedup_key == dedup_key and a.id in heard]
        return max(same, key=lambda a: (a.created_at, a.id or 0)) if same else None

    async def recent(
        self, limit: int, material: str | None = None, chat: str | None = None
    ) -> list[Alert]:
        """AlertRepo too, so that /alerts sees what was recorded."""
        chosen = [a for a in self.alerts if _listed(a, material, chat)]
        return sorted(chosen, key=lambda a: (a.created_at, a.id or 0), reverse=True)[:limit]

    # DeliveryQueue
    async def recover(self, owner: str) -> int:
        stale = [
            d
            for d in self.deliveries.values()
            if d.status is DeliveryStatus.SENDING and self.claimed_by.get(d.id) != owner
        ]
        for d in stale:
            self._set(d.id, status=DeliveryStatus.PENDING)
        return len(stale)

    async def due(
        self, channel: Channel, now: datetime, limit: int, skip: Sequence[int] = ()
    ) -> list[tuple[Delivery, Alert]]:
        due = sorted(
            (
                d
                for d in self.deliveries.values()
                if d.status is DeliveryStatus.PENDING
                and d.channel is channel
                and d.next_attempt_at <= now
                and d.id not in skip
            ),
            key=lambda d: (d.next_attempt_at, d.id),
        )
        return [(d, self.alerts[d.alert_id - 1]) for d in due[:limit]]

    async def claim(self, delivery_id: int, owner: str, now: datetime) -> Delivery | None:
        d = self.deliveries[delivery_id]
        if d.status is not DeliveryStatus.PENDING:
            return None
        self._set(delivery_id, status=DeliveryStatus.SENDING, attempts=d.attempts + 1)
        self.claimed_by[delivery_id] = owner
        return self.deliveries[delivery_id]

    async def mark_sent(self, delivery_id: int, now: datetime) -> None:
        self._finish(delivery_id, status=DeliveryStatus.SENT, detail="")

    async def mark_retry(self, delivery_id: int, at: datetime, detail: str) -> None:
        self._finish(delivery_id, status=DeliveryStatus.PENDING, next_attempt_at=at, detail=detail)

    async def mark_failed(self, delivery_id: int, detail: str) -> None:
        self._finish(delivery_id, status=DeliveryStatus.FAILED, detail=detail)

    def _taken(self, delivery: Delivery, address: str) -> bool:
        return any(
            (o.alert_id, o.channel, o.address) == (delivery.alert_id, delivery.channel, address)
            for o in self.deliveries.values()
        )

    async def readdress(self, delivery_id: int, new_address: str) -> None:
        if not self._taken(self.deliveries[delivery_id], new_address):
            self._set(delivery_id, address=new_address)

    async def redirect(self, channel: Channel, old: str, new: str) -> int:
        followed = 0
        for d in list(self.deliveries.values()):
            if (d.channel, d.address) != (channel, old) or d.status not in WAITING:
                continue
            if self._taken(d, new):
                self._set(d.id, status=DeliveryStatus.FAILED, detail=f"moved to {new}")
            else:
                self._set(d.id, address=new)
                followed += 1
        return followed

    async def cancel(self, channel: Channel, address: str, reason: str) -> int:
        pending = [
            d
            for d in self.deliveries.values()
            if (d.channel, d.address) == (channel, address) and d.status in WAITING
        ]
        for d in pending:
            self._set(d.id, status=DeliveryStatus.FAILED, detail=reason)
        return len(pending)

    # DeliveryLog
    async def summaries(self, alert_ids: Sequence[int]) -> dict[int, DeliverySummary]:
        result = {}
        for alert_id in alert_ids:
            mine = [d for d in self.deliveries.values() if d.alert_id == alert_id]
            if not mine:
                continue
            status = Counter(d.status for d in mine)
            reasons = Counter(d.detail for d in mine if d.status is DeliveryStatus.FAILED)
            result[alert_id] = DeliverySummary(
                len(mine),
                status[DeliveryStatus.SENT],
                status[DeliveryStatus.FAILED],
                status[DeliveryStatus.PENDING]
                + status[DeliveryStatus.SENDING]
                + status[DeliveryStatus.HELD],
                tuple(reasons.most_common()),
                status[DeliveryStatus.HELD],
            )
        return result

    # HeldDeliveries
    async def held_due(self, now: datetime) -> list[tuple[Delivery, Alert]]:
        due = sorted(
            (
                d
                for d in self.deliveries.values()
                if d.status is DeliveryStatus.HELD
                and d.id not in self.carried_by
                and d.next_attempt_at <= now
            ),
            key=lambda d: (d.channel, d.address, self.alerts[d.alert_id - 1].created_at, d.id),
        )
        return [(d, self.alerts[d.alert_id - 1]) for d in due]

    def _uncarried_held(self, delivery_ids: Sequence[int]) -> list[int]:
        return [
            i
            for i in delivery_ids
            if self.deliveries[i].status is DeliveryStatus.HELD and i not in self.carried_by
        ]

    async def carry(self, delivery_ids: Sequence[int], carrier_alert_id: int) -> int:
        ids = self._uncarried_held(delivery_ids)
        for i in ids:
            self.carried_by[i] = carrier_alert_id
        return len(ids)

    async def release(self, delivery_ids: Sequence[int], at: datetime) -> int:
        ids = self._uncarried_held(delivery_ids)
        for i in ids:
            self._set(i, status=DeliveryStatus.PENDING, next_attempt_at=at)
        return len(ids)

    async def hold_until(self, channel: Channel, address: str, at: datetime) -> int:
        ids = self._uncarried_held(
            [d.id for d in self.deliveries.values() if (d.channel, d.address) == (channel, address)]
        )
        for i in ids:
            self._set(i, next_attempt_at=at)
        return len(ids)

    def _set(self, delivery_id: int, **changes: object) -> None:
        self.deliveries[delivery_id] = replace(self.deliveries[delivery_id], **changes)  # type: ignore[arg-type]

    def _finish(self, delivery_id: int, **changes: object) -> None:
        finishing = self.deliveries[delivery_id]
        if finishing.status is not DeliveryStatus.SENDING:
            return
        self._set(delivery_id, **changes)
        if changes["status"] is DeliveryStatus.PENDING:
            return
        for carried, carrier in self.carried_by.items():
            member = self.deliveries[carried]
            if carrier == finishing.alert_id and member.status is DeliveryStatus.HELD:
                self._set(carried, status=changes["status"], detail=changes.get("detail", ""))

    def by_status(self, status: DeliveryStatus) -> list[Delivery]:
        return [d for d in self.deliveries.values() if d.status is status]


WAITING = (DeliveryStatus.PENDING, DeliveryStatus.HELD)


class FakeStateStore:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


@dataclass
class FakeNotifier:
    """Records every send; answers from a script of results per address (SENT when the script
    is empty). `gate`, when set, holds every send until it is opened."""

    channel: Channel = Channel.TELEGRAM
    script: dict[str, list[SendResult]] = field(default_factory=dict)
    sent: list[tuple[str, Alert]] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    gate: asyncio.Event | None = None
    in_flight: int = 0
    most_in_flight: int = 0

    async def send(self, address: str, alert: Alert) -> SendResult:
        self.attempts.append(address)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            else:
                await asyncio.sleep(0)
            results = self.script.get(address)
            result = results.pop(0) if results else SendResult(SendStatus.SENT)
            if result.status is SendStatus.SENT:
                self.sent.append((address, alert))
            return result
        finally:
            self.in_flight -= 1


class FakeFeed:
    """A feed answering a script of batches (rows) or errors, one per fetch."""

    name = "fake"

    def __init__(self, *answers: list[FeedRow] | Exception) -> None:
        self.answers = list(answers)
        self.confirmed = 0

    async def fetch(self) -> FeedBatch:
        answer = self.answers.pop(0) if self.answers else []
        if isinstance(answer, Exception):
            raise answer

        async def confirm() -> None:
            self.confirmed += 1

        return FeedBatch(answer, confirm)


class FakeAdviceSource:
    def __init__(self, advice: Mapping[str, CurrentAdvice] | None = None) -> None:
        self.advice = dict(advice or {})

    async def current(self) -> Mapping[str, CurrentAdvice]:
        return dict(self.advice)


class FakeUserRepo:
    def __init__(self) -> None:
        self.users: dict[int, User] = {}

    async def get(self, user_id: int) -> User | None:
        return self.users.get(user_id)

    async def all(self) -> list[User]:
        return list(self.users.values())

    async def grant(
        self,
        user_id: int,
        role: Role,
        added_by: int | None,
        at: datetime,
        name: str | None = None,
    ) -> None:
        known = self.users.get(user_id)
        if name is None and known is not None:
            name = known.name
        self.users[user_id] = User(user_id, role, at, added_by, name)

    async def revoke(self, user_id: int) -> bool:
        return self.users.pop(user_id, None) is not None


class FakeInviteRepo:
    def __init__(self) -> None:
        self.invites: dict[str, Invite] = {}

    async def add(self, invite: Invite) -> None:
        self.invites[invite.code_hash] = invite

    async def get(self, code_hash: str) -> Invite | None:
        return self.invites.get(code_hash)

    async def claim(self, code_hash: str, user_id: int, at: datetime) -> bool:
        invite = self.invites.get(code_hash)
        if invite is None or invite.used_at is not None:
            return False
        self.invites[code_hash] = replace(invite, used_by=user_id, used_at=at)
        return True


class FakeSubscriptionRepo:
    def __init__(self) -> None:
        self.subscriptions: dict[tuple[Channel, str], Subscription] = {}

    async def add(self, subscription: Subscription) -> bool:
        key = (subscription.channel, subscription.address)
        existing = self.subscriptions.get(key)
        if existing is not None and existing.active:
            return False
        self.subscriptions[key] = subscription
        return True

    async def remove(self, channel: Channel, address: str) -> bool:
        return self.subscriptions.pop((channel, address), None) is not None

    async def get(self, channel: Channel, address: str) -> Subscription | None:
        return self.subscriptions.get((channel, address))

    async def all(self, channel: Channel | None = None) -> list[Subscription]:
        return [s for s in self.subscriptions.values() if channel in (None, s.channel)]

    async def move(self, channel: Channel, old: str, new: str) -> None:
        subscription = self.subscriptions.pop((channel, old), None)
        if subscription is not None:
            self.subscriptions[(channel, new)] = replace(subscription, address=new)

    async def disable(self, channel: Channel, address: str, reason: str) -> None:
        key = (channel, address)
        if key in self.subscriptions:
            self.subscriptions[key] = replace(self.subscriptions[key], disabled_reason=reason)


class FakeWatchRepo:
    """WatchRepo in memory, with the SQL repository's rules (one live watch per condition)."""

    def __init__(self) -> None:
        self.watches: dict[int, Watch] = {}
        self.removed: dict[int, tuple[datetime, int]] = {}  # id -> (when, by whom)
        self.versions = 0

    def _live(self) -> list[Watch]:
        return [w for i, w in sorted(self.watches.items()) if i not in self.removed]

    async def add(
        self,
        chat: str,
        rule: WatchRule,
        by: int,
        at: datetime,
        expires_at: datetime | None,
        armed: bool,
    ) -> Watch | None:
        if any(w.chat == chat and w.rule.same_condition(rule) for w in self._live()):
            return None
        watch = Watch(len(self.watches) + 1, chat, rule, by, at, expires_at, armed)
        self.watches[watch.id] = watch
        self.versions += 1
        return watch

    async def get(self, watch_id: int) -> Watch | None:
        return next((w for w in self._live() if w.id == watch_id), None)

    async def of_chat(self, chat: str) -> list[Watch]:
        return [w for w in self._live() if w.chat == chat]

    async def live(self, now: datetime) -> list[Watch]:
        return [w for w in self._live() if w.live(now)]

    async def remove(self, watch_ids: Sequence[int], by: int, at: datetime) -> int:
        ids = [w.id for w in self._live() if w.id in watch_ids]
        for i in ids:
            self.removed[i] = (at, by)
        self.versions += bool(ids)
        return len(ids)

    async def restore(self, watch_id: int, chat: str, removed_by: int | None) -> list[Watch]:
        removal = self.removed.get(watch_id)
        if removal is None or self.watches[watch_id].chat != chat:
            return []
        if removed_by is not None and removal[1] != removed_by:
            return []
        restored = []
        for i, when in sorted(self.removed.items()):
            watch = self.watches[i]
            if when != removal or watch.chat != chat:
                continue
            if any(w.chat == chat and w.rule.same_condition(watch.rule) for w in self._live()):
                continue
            del self.removed[i]
            restored.append(watch)
        self.versions += bool(restored)
        return restored

    async def record(self, watch: Watch) -> bool:
        if watch.id in self.removed or watch.id not in self.watches:
            return False
        self.watches[watch.id] = watch
        return True

    async def rearm(self, watch_ids: Sequence[int]) -> int:
        ids = [w.id for w in self._live() if w.id in watch_ids]
        for i in ids:
            self.watches[i] = replace(self.watches[i], armed=True)
        return len(ids)

    async def move_chat(self, old: str, new: str) -> int:
        moved = [w for w in self.watches.values() if w.chat == old]
        for w in moved:
            self.watches[w.id] = replace(w, chat=new)
        self.versions += bool(moved)
        return len(moved)

    async def version(self) -> str | None:
        return str(self.versions) if self.versions else None


class FakeDigestRepo:
    def __init__(self) -> None:
        self.schedules: dict[str, DigestSchedule] = {}
        self.days: dict[tuple[str, date], int | None] = {}

    async def get(self, chat: str) -> DigestSchedule | None:
        return self.schedules.get(chat)

    async def set(self, schedule: DigestSchedule) -> None:
        self.schedules[schedule.chat] = schedule

    async def remove(self, chat: str) -> bool:
        return self.schedules.pop(chat, None) is not None

    async def due(self, now: datetime) -> list[DigestSchedule]:
        return sorted(
            (s for s in self.schedules.values() if s.next_at <= now), key=lambda s: s.next_at
        )

    async def book(self, chat: str, day: date, at: datetime) -> bool:
        if (chat, day) in self.days:
            return False
        self.days[(chat, day)] = None
        return True

    async def booked(self, chat: str, day: date, alert_id: int) -> None:
        self.days[(chat, day)] = alert_id

    async def reschedule(self, chat: str, next_at: datetime) -> None:
        if chat in self.schedules:
            self.schedules[chat] = replace(self.schedules[chat], next_at=next_at)

    async def move_chat(self, old: str, new: str) -> None:
        if old in self.schedules and new not in self.schedules:
            self.schedules[new] = replace(self.schedules.pop(old), chat=new)
        for chat, day in list(self.days):
            if chat == old and (new, day) not in self.days:
                self.days[(new, day)] = self.days.pop((old, day))


class FakeQuietHoursRepo:
    def __init__(self) -> None:
        self.hours: dict[str, QuietHours] = {}

    async def get(self, chat: str) -> QuietHours | None:
        return self.hours.get(chat)

    async def all(self) -> dict[str, QuietHours]:
        return dict(self.hours)

    async def set(self, chat: str, hours: QuietHours, by: int | None, at: datetime) -> None:
        self.hours[chat] = hours

    async def remove(self, chat: str) -> bool:
        return self.hours.pop(chat, None) is not None

    async def move_chat(self, old: str, new: str) -> None:
        if old in self.hours and new not in self.hours:
            self.hours[new] = self.hours.pop(old)


def daily_prices(
    material: str, closes: Sequence[float], end: datetime = NOW, source: str = "test"
) -> list[PricePoint]:
    """One price a day, the last one at `end`."""
    start = end - timedelta(days=len(closes) - 1)
    return [
        PricePoint(material, start + timedelta(days=i), price, source)
        for i, price in enumerate(closes)
    ]


def stock_item(material: str = "copper", **changes: object) -> InventoryItem:
    item = InventoryItem(material, 400.0, "t", 10.0, 100.0, 20, NOW)
    return replace(item, **changes)  # type: ignore[arg-type]


def quote(vendor: str, material: str = "copper", **changes: object) -> VendorQuote:
    base = VendorQuote(
        vendor, material, 9000.0, "USD", 4.0, 10, 5.0, date(2026, 12, 31), quoted_at=NOW
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def make_services(
    prices: FakePriceRepo | None = None,
    inventory: FakeInventoryRepo | None = None,
    vendors: FakeVendorRepo | None = None,
    alerts: FakeAlertRepo | None = None,
    users: FakeUserRepo | None = None,
    clock: FakeClock | None = None,
    admins: frozenset[int] = frozenset({1}),
    allowed: frozenset[int] = frozenset({2}),
    outbox: FakeOutbox | None = None,
    subscriptions: FakeSubscriptionRepo | None = None,
    whatsapp_numbers: Sequence[str] = (),
    whatsapp_enabled: bool = True,
    invites: FakeInviteRepo | None = None,
    forecast_engine: ForecastEngine | None = None,
    state: FakeStateStore | None = None,
    uow: FakeUnitOfWork | None = None,
    inbound: FakeInboundOrders | None = None,
    viewers: frozenset[int] = frozenset(),
    approvers: frozenset[int] = frozenset(),
) -> Services:
    """The core services over fakes, as the composition root builds them over SQLite. With an
    `outbox`, /alerts reads the alerts recorded there with their deliveries (and a stock move's
    LOW_INVENTORY alert is recorded there). Pass `uow` to look at what the writes stored (its
    repositories are the ones given here, or its own)."""
    catalog = MaterialCatalog(MATERIALS)
    clock = clock or FakeClock()
    users = users or FakeUserRepo()
    subscriptions = subscriptions or FakeSubscriptionRepo()
    access = AccessPolicy(admins, allowed, users, clock, viewers, approvers)
    prices = prices or FakePriceRepo()
    outbox = outbox or (uow.outbox if uow is not None else None)
    inventory = inventory or (uow.inventory if uow is not None else FakeInventoryRepo())
    inventory._clock = clock
    vendors = vendors or (uow.vendors if uow is not None else FakeVendorRepo())
    stock_outbox = outbox or FakeOutbox()
    uow = uow or FakeUnitOfWork(
        prices=prices, inventory=inventory, vendors=vendors, outbox=stock_outbox
    )
    stock = InventoryService(catalog, inventory, clock)
    price_service = PriceService(catalog, prices)
    alert_repo = alerts or outbox or FakeAlertRepo()
    recipients = RecipientDirectory(
        subscriptions, clock, whatsapp_numbers, whatsapp_enabled, queue=outbox
    )
    stock_alerts = AlertMonitor(
        catalog, prices, stock, stock_outbox, recipients, FakeStateStore(), clock, AlertPolicy()
    )
    materials = MaterialService(catalog, uow, clock)
    forecasts = budgets = None
    if forecast_engine is not None:
        forecasts = ForecastService(
            catalog, prices, FakeForecastRepo(), forecast_engine, stock, clock, 7, 2.0
        )
        budgets = BudgetService(prices, stock, inbound or FakeInboundOrders(), clock)
    return Services(
        catalog=catalog,
        clock=clock,
        prices=price_service,
        inventory=stock,
        vendors=VendorService(vendors, clock),
        alerts=AlertService(alert_repo, outbox),
        access=access,
        invites=InviteService(invites or FakeInviteRepo(), access, users, clock),
        subscriptions=SubscriptionService(subscriptions, clock, outbox),
        recipients=recipients,
        ledger=StockLedger(catalog, uow, stock, clock, stock_alerts),
        quotes=QuoteService(catalog, uow, clock),
        materials=materials,
        imports=ImportService(
            catalog, uow, clock, SpreadsheetFiles(), materials, stock, stock_alerts
        ),
        once=ExactlyOnce(uow, clock),
        forecasts=forecasts,
        price_guard=PriceGuard(
            catalog, prices, state or FakeStateStore(), clock, outbox=outbox, access=access
        ),
        watches=WatchService(catalog, uow, uow.watches, prices, clock),
        digests=DigestService(
            uow, uow.digests, price_service, stock, alert_repo, clock, advice=forecasts
        ),
        quiet_hours=QuietHoursService(uow, uow.quiet_hours, uow.outbox, clock),
        budgets=budgets,
    )


class FakeForecastRepo:
    def __init__(self) -> None:
        self.saved: dict[tuple[str, int, date], tuple[ModelRun, Forecast, bool]] = {}

    async def save(self, run: ModelRun, forecast: Forecast, backfilled: bool) -> None:
        key = (forecast.material, run.horizon, forecast.last_day)
        self.saved[key] = (run, forecast, backfilled)

    def _of(self, material: str, horizon: int) -> list[tuple[ModelRun, Forecast, bool]]:
        keys = sorted(k for k in self.saved if k[:2] == (material, horizon))
        return [self.saved[k] for k in keys]

    async def runs(self, material: str, horizon: int) -> list[ModelRun]:
        return [run for run, _, _ in self._of(material, horizon)]

    async def latest(self, material: str, horizon: int) -> Forecast | None:
        live = [f for _, f, backfilled in self._of(material, horizon) if not backfilled]
        return live[-1] if live else None

    async def checks(self, material: str, horizon: int) -> list[tuple[date, float, float, float]]:
        return [
            (f.last_day, f.yhat[-1], f.lower[-1], f.upper[-1])
            for _, f, _ in self._of(material, horizon)
        ]


flat_run = naive_run  # a stand-in for a Prophet fit that foresees no change


def random_walk(days: int, seed: int = 7, volatility: float = 0.012) -> pd.Series:
    """Calendar-daily prices around 1,000 moving like metals do (fat tails, no structure)."""
    rng = np.random.default_rng(seed)
    moves = rng.standard_t(4, size=days) * volatility / np.sqrt(2)
    return pd.Series(
        1000 * np.exp(np.cumsum(moves)),
        index=pd.date_range(NOW.date() - timedelta(days=days - 1), periods=days, freq="D"),
    )


COPPER_DROP = Alert(
    AlertType.PRICE_DROP,
    Severity.WARNING,
    "copper",
    "Copper fell 6.2% in 24 h to 8,412 USD/t (14:05 UTC). Forecast: WAIT.",
    NOW,
    "PRICE_DROP:copper",
    magnitude=-6.2,
    facts=AlertFacts("Copper", "-6.2% in 24 h", "8,412 USD/t", "Forecast: WAIT"),
)
