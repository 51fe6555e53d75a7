"""The alert rules and the cool-down: pure functions of the facts and the time.

- PRICE_DROP / PRICE_INCREASE: a new price at least `price_alert_pct` away from the price 24 h
  before it (the last one at or before then): WARNING, CRITICAL at twice the threshold.
- LOW_INVENTORY: stock at or below the reorder point (WARNING), or at or below the safety stock
  or the minimum (CRITICAL), as core.inventory assesses it; not while open purchase orders
  arriving before the stock runs out bring it back above the reorder point
  (core.domain.purchasing.inbound_covers): the order is placed, nagging helps nobody.
- BUY_SIGNAL: a recommendation that turned BUY NOW (from anything else, or from unknown).

Cool-down: an alert for the same condition (`dedup_key`: type and material) is not raised again
within `cooldown` of the last one unless it got worse:
- a higher severity (WARNING -> CRITICAL), or
- for a price move, a move in the same direction at least half the threshold larger than the
  one alerted (threshold 5%: after "fell 6.2%", a fall of 8.7% or more is alerted again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.purchasing import StockPosition, inbound_covers
from core.inventory import StockLevel, StockStatus
from core.models import (
    SEVERITY_RANK,
    Advice,
    Alert,
    AlertFacts,
    AlertType,
    CurrentAdvice,
    Material,
    PricePoint,
    Severity,
)
from core.prices import pct_change
from core.wording import percent, plural

PRICE_WINDOW = timedelta(hours=24)
# A price compared with one more than this before it says "since <time>" instead of "in 24 h"
# (daily data over a weekend, a feed that was down).
WINDOW_SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class AlertPolicy:
    """The thresholds of the rules (PRICE_ALERT_PCT, ALERT_COOLDOWN_MINUTES)."""

    price_alert_pct: float = 5.0
    cooldown: timedelta = timedelta(minutes=360)

    @property
    def larger_move_pct(self) -> float:
        """How many points larger a move must be to be alerted again within the cool-down."""
        return self.price_alert_pct / 2


def amount(value: float) -> str:
    """A price or quantity: thousands separated, decimals only where they matter."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def when(at: datetime, now: datetime) -> str:
    """'14:05 UTC' today, '23 Nov 14:05 UTC' on another day."""
    if at.date() == now.date():
        return f"{at:%H:%M} UTC"
    return f"{at.day} {at:%b %H:%M} UTC"


def price_move_alert(
    material: Material,
    new: PricePoint,
    before: PricePoint,
    policy: AlertPolicy,
    now: datetime,
    advice: CurrentAdvice | None = None,
) -> Alert | None:
    """A PRICE_DROP or PRICE_INCREASE if `new` moved at least the threshold from `before`."""
    # Rounded so that a move shown as 10.0% is not 9.999999999999998% for the thresholds.
    change = round(pct_change(before.price, new.price), 6)
    if abs(change) < policy.price_alert_pct:
        return None
    falling = change < 0
    kind = AlertType.PRICE_DROP if falling else AlertType.PRICE_INCREASE
    critical = abs(change) >= 2 * policy.price_alert_pct
    span = (
        "in 24 h"
        if new.at - before.at <= PRICE_WINDOW + WINDOW_SLACK
        else f"since {when(before.at, now)}"
    )
    price = f"{amount(new.price)} {material.price_unit}"
    if advice is not None:
        todo = f"Forecast: {advice.advice}"
    elif falling:
        todo = f"Check quotes at the lower price: /vendors {material.key}"
    else:
        todo = f"Check cover before buying at this price: /stock {material.key}"
    verb = "fell" if falling else "rose"
    return Alert(
        type=kind,
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        material=material.key,
        message=(
            f"{material.name} {verb} {abs(change):,.1f}% {span} to {price} "
            f"({when(new.at, now)}). {todo}."
        ),
        created_at=now,
        dedup_key=f"{kind}:{material.key}",
        magnitude=round(change, 2),
        facts=AlertFacts(material.name, f"{percent(change)} {span}", price, todo),
    )


def stock_alert(
    status: StockStatus, now: datetime, price: PricePoint | None = None
) -> Alert | None:
    """A LOW_INVENTORY alert if the stock is at its reorder point or lower, and no open order
    arriving in time covers it."""
    if status.level is StockLevel.OK or covered_by_orders(status, now):
        return None
    material, item = status.material, status.item
    unit = item.unit
    critical = status.level is StockLevel.CRITICAL
    if critical:
        floor = "safety stock" if status.safety_stock > item.minimum else "minimum"
        limit = max(status.safety_stock, item.minimum)
        todo = "Order now: the line may stop before a new delivery arrives"
    else:
        floor, limit = "reorder point", status.reorder_point
        todo = f"Order now to be covered through the {item.lead_time_days}-day lead time"
    cover = (
        "not being used"
        if status.days_of_cover is None
        else f"{plural(status.days_of_cover, 'day')} of cover"
    )
    situation = f"{amount(item.on_hand)} {unit} on hand, {cover}"
    return Alert(
        type=AlertType.LOW_INVENTORY,
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        material=material.key,
        message=(
            f"{material.name} stock is down to {amount(item.on_hand)} {unit}, at or below its "
            f"{floor} of {amount(limit)} {unit}: {cover}, lead time "
            f"{plural(item.lead_time_days, 'day')} "
            f"({when(now, now)}). {todo}."
        ),
        created_at=now,
        dedup_key=f"{AlertType.LOW_INVENTORY}:{material.key}",
        magnitude=item.on_hand,
        facts=AlertFacts(
            material.name,
            situation,
            _price_text(material, price),
            todo,
        ),
    )


def covered_by_orders(status: StockStatus, now: datetime) -> bool:
    """Whether open orders arriving before the stock runs out bring it above its reorder
    point again."""
    if not status.inbound:
        return False
    position = StockPosition(
        on_hand=max(status.item.on_hand, 0.0),
        daily_use=status.daily_use,
        safety_stock=status.safety_stock,
        lead_time_days=status.item.lead_time_days,
    )
    return inbound_covers(position, status.inbound, now.date())


def _price_text(material: Material, price: PricePoint | None) -> str:
    return "n/a" if price is None else f"{amount(price.price)} {material.price_unit}"


def buy_signal_alert(
    material: Material,
    current: CurrentAdvice,
    previous: Advice | None,
    now: datetime,
    price: PricePoint | None = None,
) -> Alert | None:
    """A BUY_SIGNAL if the recommendation is BUY NOW and was not before."""
    if current.advice is not Advice.BUY_NOW or previous is Advice.BUY_NOW:
        return None
    expected = (
        ""
        if current.expected_change_pct is None
        else f", expecting {percent(current.expected_change_pct)}"
    )
    was = "" if previous is None else f" (was {previous})"
    at = "" if price is None else f" at {amount(price.price)} {material.price_unit}"
    reason = f" {current.reason.rstrip('.')}." if current.reason else ""
    todo = f"Compare quotes and order: /vendors {material.key}"
    return Alert(
        type=AlertType.BUY_SIGNAL,
        severity=Severity.WARNING,
        material=material.key,
        message=(
            f"{material.name}: the recommendation turned BUY NOW{was}{expected}{at} "
            f"({when(now, now)}).{reason} {todo}."
        ),
        created_at=now,
        dedup_key=f"{AlertType.BUY_SIGNAL}:{material.key}",
        magnitude=current.expected_change_pct,
        facts=AlertFacts(
            material.name,
            "n/a"
            if current.expected_change_pct is None
            else f"expected {percent(current.expected_change_pct)}",
            _price_text(material, price),
            f"BUY NOW. {todo}",
        ),
    )


def is_worse(candidate: Alert, last: Alert, policy: AlertPolicy) -> bool:
    """Whether `candidate` is a clearly worse state of the condition `last` alerted."""
    if SEVERITY_RANK[candidate.severity] > SEVERITY_RANK[last.severity]:
        return True
    if candidate.type in (AlertType.PRICE_DROP, AlertType.PRICE_INCREASE):
        if candidate.magnitude is None or last.magnitude is None:
            return False
        same_direction = (candidate.magnitude < 0) == (last.magnitude < 0)
        larger = abs(candidate.magnitude) >= abs(last.magnitude) + policy.larger_move_pct
        return same_direction and larger
    return False


def cooldown_allows(candidate: Alert, last: Alert | None, policy: AlertPolicy) -> bool:
    """Whether `candidate` may be raised, given the last alert of the same condition."""
    if last is None or candidate.created_at - last.created_at >= policy.cooldown:
        return True
    return is_worse(candidate, last, policy)
