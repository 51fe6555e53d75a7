"""Hand-written fakes of the core ports, and small builders for test data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from core.access import AccessPolicy, InviteService
from core.alerts import AlertService
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from core.models import (
    Alert,
    Channel,
    InventoryItem,
    Invite,
    Material,
    PricePoint,
    Role,
    Subscription,
    User,
    VendorQuote,
)
from core.prices import PriceService
from core.services import Services
from core.subscriptions import SubscriptionService
from core.vendors import VendorService

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


class FakeInventoryRepo:
    def __init__(
        self,
        items: Sequence[InventoryItem] = (),
        consumption: dict[str, list[float]] | None = None,
    ) -> None:
        self.items = list(items)
        self.daily_use = consumption or {}

    async def all(self) -> list[InventoryItem]:
        return list(self.items)

    async def consumption(self, material: str, since: date) -> list[float]:
        return list(self.daily_use.get(material, []))


class FakeVendorRepo:
    def __init__(self, quotes: Sequence[VendorQuote] = ()) -> None:
        self.quotes_stored = list(quotes)

    async def quotes(self, material: str) -> list[VendorQuote]:
        return [q for q in self.quotes_stored if q.material == material]


class FakeAlertRepo:
    def __init__(self, alerts: Sequence[Alert] = ()) -> None:
        self.alerts = list(alerts)

    async def recent(self, limit: int, material: str | None = None) -> list[Alert]:
        chosen = [a for a in self.alerts if material is None or a.material == material]
        return sorted(chosen, key=lambda a: a.created_at, reverse=True)[:limit]


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
    base = VendorQuote(vendor, material, 9000.0, "USD", 4.0, 10, 5.0, date(2026, 12, 31))
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
    subscriptions: FakeSubscriptionRepo | None = None,
    invites: FakeInviteRepo | None = None,
) -> Services:
    """The core services over fakes, as the composition root builds them over SQLite."""
    catalog = MaterialCatalog(MATERIALS)
    clock = clock or FakeClock()
    users = users or FakeUserRepo()
    access = AccessPolicy(admins, allowed, users, clock)
    return Services(
        catalog=catalog,
        clock=clock,
        prices=PriceService(catalog, prices or FakePriceRepo()),
        inventory=InventoryService(catalog, inventory or FakeInventoryRepo(), clock),
        vendors=VendorService(vendors or FakeVendorRepo(), clock),
        alerts=AlertService(alerts or FakeAlertRepo()),
        access=access,
        invites=InviteService(invites or FakeInviteRepo(), access, users, clock),
        subscriptions=SubscriptionService(subscriptions or FakeSubscriptionRepo(), clock),
    )
