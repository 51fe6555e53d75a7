"""A chat's daily digest and the message that releases its held alerts: what they say.

Both are summaries: plain text, a title line, then headings and items (lines starting with
ITEM), so that every channel can show them (Telegram makes the headings bold).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from core.alert_rules import amount
from core.domain.local_time import DailyTime, QuietHours
from core.inventory import StockLevel, StockStatus
from core.models import Alert, CurrentAdvice
from core.prices import PriceSummary

ITEM = "• "
LINE_LIMIT = 160
MAX_ALERTS_LISTED = 20


@dataclass(frozen=True)
class DigestSchedule:
    """When a chat gets its digest: `daily` on its own clock, next at `next_at` (UTC)."""

    chat: str
    daily: DailyTime
    next_at: datetime
    set_by: int | None
    set_at: datetime


@dataclass(frozen=True)
class DigestFacts:
    """What a digest reports, gathered at one moment."""

    prices: Sequence[PriceSummary]
    stock: Sequence[StockStatus]
    advice: Mapping[str, CurrentAdvice]
    alerts: Sequence[Alert]  # the last 24 hours', newest first
    orders_due: Sequence[str] | None = None  # None: no purchasing yet, so no section


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _short(text: str, limit: int = LINE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def local_moment(at: datetime, zone: ZoneInfo, today: datetime | None = None) -> str:
    """'07:30' on the same local day as `today`, else '23 Nov 07:30'."""
    local = at.astimezone(zone)
    if today is not None and local.date() == today.astimezone(zone).date():
        return f"{local:%H:%M}"
    return f"{local.day} {local:%b %H:%M}"


def alert_line(alert: Alert, zone: ZoneInfo, now: datetime) -> str:
    return _short(
        f"{ITEM}{local_moment(alert.created_at, zone, now)} {alert.severity} {alert.type}: "
        f"{alert.message}"
    )


def digest_text(facts: DigestFacts, now: datetime, zone: ZoneInfo) -> str:
    """The digest as of `now`, with times on the chat's clock."""
    local = now.astimezone(zone)
    lines = [f"Daily digest, {local:%a} {local.day} {local:%b %H:%M} ({zone.key})"]
    lines.append("Prices (1 day · 7 days)")
    for summary in facts.prices:
        name = summary.material.name
        if summary.latest is None:
            lines.append(f"{ITEM}{name}: no price yet")
            continue
        lines.append(
            f"{ITEM}{name}: {amount(summary.latest.price)} {summary.material.price_unit} · "
            f"{_pct(summary.change_1d_pct)} · {_pct(summary.change_7d_pct)}"
        )
    low = [s for s in facts.stock if s.level is not StockLevel.OK]
    lines.append("Stock to order" if low else "Stock: nothing needs ordering")
    for status in low:
        item = status.item
        cover = (
            "not being used"
            if status.days_of_cover is None
            else f"{status.days_of_cover:.0f} days of cover"
        )
        level = "CRITICAL" if status.level is StockLevel.CRITICAL else "at its reorder point"
        lines.append(
            f"{ITEM}{status.material.name}: {amount(item.on_hand)} {item.unit}, {cover}, "
            f"{level} (reorder at {amount(status.reorder_point)} {item.unit})"
        )
    if facts.orders_due is not None:
        lines.append("Open orders due" if facts.orders_due else "Open orders due: none")
        lines += [_short(f"{ITEM}{order}") for order in facts.orders_due]
    if facts.advice:
        lines.append("Advice")
        for summary in facts.prices:
            advice = facts.advice.get(summary.material.key)
            if advice is not None:
                reason = f": {advice.reason}" if advice.reason else ""
                lines.append(_short(f"{ITEM}{summary.material.name} {advice.advice}{reason}"))
    alerts = list(facts.alerts)
    lines.append(f"Alerts, last 24 h: {len(alerts)}" if alerts else "Alerts, last 24 h: none")
    lines += [alert_line(a, zone, now) for a in alerts[:MAX_ALERTS_LISTED]]
    if len(alerts) > MAX_ALERTS_LISTED:
        lines.append(f"{ITEM}and {len(alerts) - MAX_ALERTS_LISTED} more: /alerts 50")
    return "\n".join(lines)


def held_text(alerts: Sequence[Alert], hours: QuietHours | None, now: datetime) -> str:
    """The one message that releases the alerts a chat's quiet hours held, oldest first."""
    zone = hours.zone if hours is not None else ZoneInfo("UTC")
    during = f" ({hours.describe()})" if hours is not None else ""
    count = "1 alert" if len(alerts) == 1 else f"{len(alerts)} alerts"
    lines = [f"Held during quiet hours{during}: {count}"]
    lines += [alert_line(a, zone, now) for a in alerts[:MAX_ALERTS_LISTED]]
    if len(alerts) > MAX_ALERTS_LISTED:
        lines.append(f"{ITEM}and {len(alerts) - MAX_ALERTS_LISTED} more: /alerts 50")
    return "\n".join(lines)
