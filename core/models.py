"""The procurement domain's records: plain, immutable values with their invariants."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


@dataclass(frozen=True)
class Material:
    """A tracked raw material; `key` is its stable lower-case identifier."""

    key: str
    name: str
    unit: str = "t"
    currency: str = "USD"
    aliases: tuple[str, ...] = ()

    @property
    def price_unit(self) -> str:
        return f"{self.currency}/{self.unit}"


@dataclass(frozen=True)
class PricePoint:
    """One observed price of a material at a moment, from a named source."""

    material: str
    at: datetime
    price: float
    source: str

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("price time must be timezone-aware")
        if not (math.isfinite(self.price) and self.price > 0):
            raise ValueError(f"price must be a positive number, got {self.price!r}")


@dataclass(frozen=True)
class InventoryItem:
    """Stock of one material and what drives its reordering."""

    material: str
    on_hand: float
    unit: str
    daily_consumption: float
    minimum: float
    lead_time_days: int
    updated_at: datetime


@dataclass(frozen=True)
class VendorQuote:
    """A vendor's offer for one material."""

    vendor: str
    material: str
    price: float
    currency: str
    rating: float
    delivery_days: int
    min_order_qty: float | None = None
    valid_until: date | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.rating <= 5:
            raise ValueError(f"rating must be between 0 and 5, got {self.rating}")
        if self.price <= 0 or self.delivery_days < 0:
            raise ValueError("price must be positive and delivery days not negative")


class AlertType(StrEnum):
    PRICE_DROP = "PRICE_DROP"
    PRICE_INCREASE = "PRICE_INCREASE"
    LOW_INVENTORY = "LOW_INVENTORY"
    BUY_SIGNAL = "BUY_SIGNAL"


class Severity(StrEnum):
    CRITICAL = "CRITICAL"
    WARNING = "WARNING"
    INFO = "INFO"


@dataclass(frozen=True)
class Alert:
    """Something a buyer should act on; `dedup_key` names the condition for the cool-down."""

    type: AlertType
    severity: Severity
    material: str | None
    message: str
    created_at: datetime
    dedup_key: str
    id: int | None = None


class Channel(StrEnum):
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"


@dataclass(frozen=True)
class Subscription:
    """Where alerts go: a Telegram chat id or a WhatsApp number in E.164.

    A subscription the channel refused for good (a chat that blocked the bot, an invalid number)
    is kept with the reason in `disabled_reason` and gets nothing more until re-subscribed.
    """

    channel: Channel
    address: str
    created_at: datetime
    added_by: int | None = None
    disabled_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.disabled_reason is None


class SendStatus(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class SendResult:
    """How one attempt to send a message to one recipient went.

    RETRY is a transient failure (rate limit, timeout, 5xx): try again later, after
    `retry_after` seconds where the service said so. FAILED is permanent, with the reason in
    `detail`; `disable` says the recipient can never be reached this way (it blocked the bot,
    the number is invalid or opted out). `moved_to` is set when a Telegram group became a
    supergroup: the message should go to the new chat id instead.
    """

    status: SendStatus
    detail: str = ""
    retry_after: float | None = None
    disable: bool = False
    moved_to: str | None = None


class Role(StrEnum):
    ADMIN = "admin"
    BUYER = "buyer"


@dataclass(frozen=True)
class User:
    """A Telegram user granted access."""

    user_id: int
    role: Role
    added_at: datetime
    added_by: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class Invite:
    """A one-time invitation to use the bot; only a hash of its code is kept."""

    code_hash: str
    role: Role
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    used_by: int | None = None
    used_at: datetime | None = None
