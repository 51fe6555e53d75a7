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
class PriceBreak:
    """A lower unit price from an order quantity on (in the material's unit)."""

    quantity: float
    price: float


@dataclass(frozen=True)
class VendorQuote:
    """A vendor's offer for one material. `pack_size` is the multiple the vendor sells in,
    `breaks` its lower prices for larger orders, `quoted_at` when the quote was recorded (a
    newer quote from the same vendor supersedes it)."""

    vendor: str
    material: str
    price: float
    currency: str
    rating: float
    delivery_days: int
    min_order_qty: float | None = None
    valid_until: date | None = None
    pack_size: float | None = None
    breaks: tuple[PriceBreak, ...] = ()
    quoted_at: datetime | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.rating <= 5:
            raise ValueError(f"rating must be between 0 and 5, got {self.rating}")
        if self.price <= 0 or self.delivery_days < 0:
            raise ValueError("price must be positive and delivery days not negative")


class AlertType(StrEnum):
    """What a message in the outbox is: an alert, or one of the other messages that go through
    the same pending -> sent machinery (`is_alert` False: /alerts does not list them)."""

    PRICE_DROP = "PRICE_DROP"
    PRICE_INCREASE = "PRICE_INCREASE"
    LOW_INVENTORY = "LOW_INVENTORY"
    BUY_SIGNAL = "BUY_SIGNAL"
    PRICE_LEVEL = "PRICE_LEVEL"  # a chat's watch saw the price cross its level
    DIGEST = "DIGEST"  # a chat's daily summary
    HELD_ALERTS = "HELD_ALERTS"  # the alerts a chat's quiet hours held, released as one
    PO_OVERDUE = "PO_OVERDUE"  # a purchase order past its expected day without a full receipt
    PURCHASE = "PURCHASE"  # a purchase request to decide on, or its outcome, for one chat

    @property
    def is_alert(self) -> bool:
        return self not in (AlertType.DIGEST, AlertType.HELD_ALERTS, AlertType.PURCHASE)


class Severity(StrEnum):
    CRITICAL = "CRITICAL"
    WARNING = "WARNING"
    INFO = "INFO"


SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


@dataclass(frozen=True)
class AlertFacts:
    """An alert's parts as short texts, for channels that fill a template (WhatsApp):
    e.g. "Copper", "-6.2% in 24 h", "8,412 USD/t", "Forecast: WAIT"."""

    material: str
    change: str
    price: str
    advice: str


@dataclass(frozen=True)
class Action:
    """A follow-up a message offers its reader: in Telegram, a button that runs `command`."""

    label: str
    command: str


@dataclass(frozen=True)
class Alert:
    """Something a buyer should act on; `dedup_key` names the condition for the cool-down.

    `magnitude` is the size of the condition where it has one (the percent move of a price
    alert), so that the cool-down can tell a clearly larger move; `facts` are the parts a
    template needs. `chat` is the one Telegram chat the message is for (a watch's alert, a
    digest), None for an alert to every subscriber; `actions` are the buttons it comes with.
    """

    type: AlertType
    severity: Severity
    material: str | None
    message: str
    created_at: datetime
    dedup_key: str
    id: int | None = None
    magnitude: float | None = None
    facts: AlertFacts | None = None
    chat: str | None = None
    actions: tuple[Action, ...] = ()


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
    supergroup: the notifier sent the message on to the new chat id, and the status is how that
    went; the recipient's address is `moved_to` from now on.
    """

    status: SendStatus
    detail: str = ""
    retry_after: float | None = None
    disable: bool = False
    moved_to: str | None = None


class Role(StrEnum):
    """What a user may do (core/access.py): viewers read, buyers also record moves, quotes
    and files, approvers also approve purchases, admins also manage users and materials."""

    VIEWER = "viewer"
    BUYER = "buyer"
    APPROVER = "approver"
    ADMIN = "admin"


@dataclass(frozen=True)
class User:
    """A Telegram user granted access."""

    user_id: int
    role: Role
    added_at: datetime
    added_by: int | None = None
    name: str | None = None


class Advice(StrEnum):
    """A recommendation's verdict for one material."""

    BUY_NOW = "BUY NOW"
    WAIT = "WAIT"
    MONITOR = "MONITOR"


@dataclass(frozen=True)
class CurrentAdvice:
    """The current recommendation for one material, as the forecasting service gives it."""

    material: str
    advice: Advice
    reason: str = ""
    expected_change_pct: float | None = None


class DeliveryStatus(StrEnum):
    """Where one delivery of one alert to one recipient stands.

    PENDING (waiting, possibly until `next_attempt_at`) -> SENDING (claimed: a send is in
    flight) -> SENT, or back to PENDING after a transient failure, or FAILED for good.
    HELD: waiting for the end of the chat's quiet hours (`next_attempt_at`), when the alerts
    held for that chat go out together (core/quiet_hours.py).
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"


@dataclass(frozen=True)
class Delivery:
    """One alert to one recipient, as stored in the outbox."""

    id: int
    alert_id: int
    channel: Channel
    address: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    detail: str = ""


@dataclass(frozen=True)
class DeliverySummary:
    """How the deliveries of one alert went: counts by status and the failure reasons."""

    total: int = 0
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    failures: tuple[tuple[str, int], ...] = ()
    held: int = 0  # of `waiting`: held for the chat's quiet hours


@dataclass(frozen=True)
class Recipient:
    """One address of one channel that gets an alert; `hold_until` (the end of its quiet
    hours) holds the delivery until then."""

    channel: Channel
    address: str
    hold_until: datetime | None = None


@dataclass(frozen=True)
class FeedRow:
    """One price as a feed gave it, not checked yet.

    `material` is the feed's name for it, `price` whatever the feed sent, `at` a time (or the
    feed's text for it; None means "as of this poll"), `key` a stable name for where in the
    feed it came from ("line 12", "copper at rates.XCU"), for the log. `problem` is set when
    the feed could not even split the row into those parts.
    """

    material: str
    price: object
    at: datetime | str | None
    key: str
    problem: str | None = None


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
