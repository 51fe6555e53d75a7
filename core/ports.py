"""The small interfaces the domain needs from the outside world; adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Protocol

from core.models import (
    Alert,
    Channel,
    InventoryItem,
    Invite,
    Material,
    PricePoint,
    Role,
    SendResult,
    Subscription,
    User,
    VendorQuote,
)


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


class PriceRepo(Protocol):
    async def add(self, points: Sequence[PricePoint]) -> int:
        """Stores the points not stored yet; returns how many were new."""
        ...

    async def latest(self, material: str) -> PricePoint | None: ...

    async def at_or_before(self, material: str, at: datetime) -> PricePoint | None: ...

    async def history(self, material: str, since: datetime) -> list[PricePoint]:
        """Points at or after `since`, oldest first."""
        ...


class InventoryRepo(Protocol):
    async def all(self) -> list[InventoryItem]: ...

    async def consumption(self, material: str, since: date) -> list[float]:
        """Daily quantities consumed since `since`, oldest first."""
        ...


class VendorRepo(Protocol):
    async def quotes(self, material: str) -> list[VendorQuote]: ...


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
