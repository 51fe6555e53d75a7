"""Replies as Telegram HTML: short, phone-sized, every dynamic value escaped."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from core.access import Members
from core.alerts import AlertRecord
from core.budget import Budget
from core.domain.digests import ITEM
from core.forecasting import Forecast, Outlook
from core.inventory import StockLevel, StockStatus
from core.models import Alert, AlertType, DeliverySummary, Material, Severity
from core.price_guard import CONFIRMATIONS, HeldPrices
from core.prices import PriceSummary
from core.recipients import WhatsAppNumber
from core.vendors import DELIVERY_WEIGHT, PRICE_WEIGHT, RATING_WEIGHT, VendorRanking
from core.wording import percent, plural

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024


@dataclass(frozen=True)
class Button:
    """An inline button that runs a command, e.g. Button("Copper", "/price copper")."""

    label: str
    command: str


@dataclass(frozen=True)
class Reply:
    """What a command answers: HTML text, an optional PNG chart, buttons offering choices, the
    command that refreshes it, and a file to send (its name and content). `ask_reply` asks
    the reader to answer it with a reply (Telegram opens one for them), instead of buttons."""

    text: str
    chart: bytes | None = None
    chart_name: str = "chart"
    choices: tuple[Button, ...] = field(default_factory=tuple)
    refresh: str | None = None
    document: tuple[str, bytes] | None = None
    ask_reply: bool = False

    def to_json(self) -> str:
        """The answer as stored for a Telegram update handed out again (text and buttons:
        commands that change data answer no chart or file)."""
        return json.dumps(
            {
                "text": self.text,
                "choices": [[b.label, b.command] for b in self.choices],
                "refresh": self.refresh,
                "ask_reply": self.ask_reply,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Reply:
        data = json.loads(text)
        return cls(
            data["text"],
            choices=tuple(Button(label, command) for label, command in data["choices"]),
            refresh=data["refresh"],
            ask_reply=bool(data.get("ask_reply", False)),
        )


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def amount(value: float) -> str:
    """A price or quantity: thousands separated, decimals only where they matter."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def money_scale(value: float) -> tuple[float, str]:
    """The divisor and prefix that make `value` short: millions as M, thousands as k."""
    if abs(value) >= 1e6:
        return 1e6, "M "
    if abs(value) >= 1e4:
        return 1e3, "k "
    return 1.0, ""


def money_range(expected: float, lower: float, upper: float, currency: str) -> tuple[str, str]:
    """'5.02 M USD' and '4.61-5.47 M USD': the range in the expected amount's scale."""
    divisor, prefix = money_scale(expected)
    digits = 2 if divisor == 1e6 else 0

    def shown(value: float) -> str:
        return f"{value / divisor:,.{digits}f}"

    unit = f"{prefix}{currency}"
    return f"{shown(expected)} {unit}", f"{shown(lower)}-{shown(upper)} {unit}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else percent(value)


def moment(at: datetime) -> str:
    return f"{short_date(at)} {at:%H:%M} UTC"


def short_date(day: date) -> str:
    return f"{day.day} {day:%b}"


def plain(text: str) -> str:
    """The HTML reply as terminal text."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


# A tag, an entity, or one character of text: the units a message may be split between.
_HTML_UNIT = re.compile(r"<[^<>]*>|&#?\w+;|.", re.DOTALL)
_TAG_NAME = re.compile(r"^<(/?)\s*([a-zA-Z][\w-]*)")


def _size(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), of the HTML as sent."""
    return len(text.encode("utf-16-le")) // 2


def _after(stack: tuple[tuple[str, str], ...], html_text: str) -> tuple[tuple[str, str], ...]:
    """The tags still open after `html_text`, each as (name, its opening tag)."""
    opened = list(stack)
    for tag in re.findall(r"<[^<>]*>", html_text):
        match = _TAG_NAME.match(tag)
        if match is None:
            continue
        closing, name = match.groups()
        if not closing:
            opened.append((name.lower(), tag))
        elif opened and opened[-1][0] == name.lower():
            opened.pop()
    return tuple(opened)


def _close(stack: tuple[tuple[str, str], ...]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _reopen(stack: tuple[tuple[str, str], ...]) -> str:
    return "".join(tag for _, tag in stack)


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Splits HTML text into pieces under `limit` characters: at line breaks where it can,
    never inside a tag or an entity. A tag open where the text is split is closed at the end
    of one piece and opened again at the start of the next, so each piece is valid HTML."""
    pieces: list[str] = []
    stack: tuple[tuple[str, str], ...] = ()
    current = ""
    fresh = True  # nothing but reopened tags in `current` yet

    def flush() -> None:
        nonlocal current, fresh
        pieces.append(current + _close(stack))
        current, fresh = _reopen(stack), True

    for line in text.split("\n"):
        joined = line if fresh else f"{current}\n{line}"
        after = _after(stack, line)
        if not fresh and _size(joined) + _size(_close(after)) >= limit:
            flush()
        if fresh:
            joined = current + line
        if _size(joined) + _size(_close(after)) < limit:
            current, stack, fresh = joined, after, False
            continue
        for unit in _HTML_UNIT.findall(line):  # a line too long for one message
            unit_after = _after(stack, unit)
            if not fresh and _size(current + unit) + _size(_close(unit_after)) >= limit:
                flush()
            current, stack, fresh = current + unit, unit_after, False
    if not fresh or not pieces:
        pieces.append(current + _close(stack))
    return pieces


def price_overview(summaries: Sequence[PriceSummary]) -> str:
    lines = ["<b>Prices</b> (change over 1 day · 7 days)"]
    for s in summaries:
        name = f"<b>{esc(s.material.name)}</b>"
        if s.latest is None:
            lines.append(f"{name}: no price yet")
            continue
        lines.append(
            f"{name}: {amount(s.latest.price)} {esc(s.material.price_unit)} · "
            f"1d {pct(s.change_1d_pct)} · 7d {pct(s.change_7d_pct)}"
        )
    stamps = [s.latest.at for s in summaries if s.latest]
    if stamps:
        lines.append(f"<i>Latest price {moment(max(stamps))}</i>")
    return "\n".join(lines)


def price_detail(summary: PriceSummary, low: float, high: float, days: int) -> str:
    material = summary.material
    if summary.latest is None:
        return f"No price for {esc(material.name)} yet."
    unit = esc(material.price_unit)
    return (
        f"<b>{esc(material.name)}</b>: {amount(summary.latest.price)} {unit} "
        f"({moment(summary.latest.at)})\n"
        f"1 day: {pct(summary.change_1d_pct)} · 7 days: {pct(summary.change_7d_pct)}\n"
        f"{days} days: low {amount(low)} · high {amount(high)} {unit}"
    )


_LEVEL_MARK = {StockLevel.CRITICAL: "🔴", StockLevel.REORDER: "🟠", StockLevel.OK: "🟢"}


def _advice(status: StockStatus) -> str:
    if status.level is StockLevel.CRITICAL:
        floor = "safety stock" if status.safety_stock > status.item.minimum else "minimum"
        return f"CRITICAL: at or below the {floor}, order now"
    if status.level is StockLevel.REORDER:
        return "LOW: at or below the reorder point, order now"
    return "ok"


def cover_text(status: StockStatus) -> str:
    """'34 days of cover', or 'not being used'."""
    if status.days_of_cover is None:
        return "not being used"
    return f"{plural(status.days_of_cover, 'day')} of cover"


def stock_line(status: StockStatus) -> str:
    item, unit = status.item, esc(status.item.unit)
    basis = (
        f"recorded over {status.usage.days} days" if status.usage.recorded else "configured figure"
    )
    return (
        f"{_LEVEL_MARK[status.level]} <b>{esc(status.material.name)}</b>: "
        f"{amount(item.on_hand)} {unit} on hand, uses {amount(status.daily_use)} {unit}/day "
        f"({basis}) → {cover_text(status)} (lead time {plural(item.lead_time_days, 'day')})\n"
        f"    reorder at {amount(status.reorder_point)} {unit} "
        f"(safety stock {amount(status.safety_stock)} {unit}) · minimum "
        f"{amount(item.minimum)} {unit} · {_advice(status)}"
    ) + _inbound_line(status)


def _inbound_line(status: StockStatus) -> str:
    """'on its way: +100 t due 3 Dec → 45 days of cover with it', or nothing."""
    if not status.inbound:
        return ""
    unit = esc(status.item.unit)
    arrivals = ", ".join(
        f"+{amount(i.quantity)} {unit} due {short_date(i.due)}" for i in status.inbound
    )
    cover = ""
    them = "it" if len(status.inbound) == 1 else "them"
    with_inbound, without = status.cover_with_inbound, status.days_of_cover
    if with_inbound is not None and without is not None and with_inbound <= without + 1e-9:
        cover = f" ⚠️ the stock runs out before {them} {'arrives' if them == 'it' else 'arrive'}"
    elif with_inbound is not None:
        cover = f" → {plural(with_inbound, 'day')} of cover with {them}"
    return f"\n    on its way: {arrivals}{cover}"


def stock_report(statuses: Sequence[StockStatus]) -> str:
    if not statuses:
        return "No stock is recorded yet."
    low = sum(1 for s in statuses if s.is_low)
    head = (
        f"{low} of {len(statuses)} {'needs' if low == 1 else 'need'} ordering" if low else "all ok"
    )
    head = f"<b>Stock</b>: {head}"
    return "\n".join([head, *(stock_line(s) for s in statuses)])


def attention_report(low: Sequence[StockStatus], buy: Sequence[Material]) -> str:
    """What needs attention now, for a chat that just subscribed: stock at or below its
    reorder point, and the materials whose advice is BUY NOW."""
    if not low and not buy:
        return "Nothing needs attention right now: no stock is low and no advice says BUY NOW."
    lines = ["<b>Needs attention now</b>"]
    for status in low:
        item, unit = status.item, esc(status.item.unit)
        lines.append(
            f"{_LEVEL_MARK[status.level]} {esc(status.material.name)} stock: "
            f"{amount(item.on_hand)} {unit}, {_advice(status)} · /stock {esc(status.material.key)}"
        )
    for material in buy:
        lines.append(f"🛒 {esc(material.name)}: BUY NOW · /forecast {esc(material.key)} says why")
    return "\n".join(lines)


def vendor_report(ranking: VendorRanking) -> str:
    material = ranking.material
    if not ranking.ranked:
        return esc(ranking.why)
    lines = [
        f"<b>{esc(material.name)} vendors</b> (score: {PRICE_WEIGHT:.0f}% price, "
        f"{DELIVERY_WEIGHT:.0f}% delivery, {RATING_WEIGHT:.0f}% rating)"
    ]
    for place, ranked in enumerate(ranking.ranked, start=1):
        q = ranked.quote
        details = [
            f"{amount(q.price)} {esc(q.currency)}/{esc(material.unit)}",
            plural(q.delivery_days, "day"),
            f"★{q.rating:.1f}",
        ]
        if q.min_order_qty is not None:
            details.append(f"min {amount(q.min_order_qty)} {esc(material.unit)}")
        if ranked.score is not None:
            details.append(f"score {ranked.score:.0f}")
        if ranked.expired and q.valid_until is not None:
            details.append(f"EXPIRED {short_date(q.valid_until)}")
        elif q.valid_until is not None:
            details.append(f"valid to {short_date(q.valid_until)}")
        if not ranked.comparable:
            details.append(f"not compared: quoted in {esc(q.currency)}")
        lines.append(f"{place}. <b>{esc(q.vendor)}</b>: " + " · ".join(details))
    label = "Best pick" if ranking.best else "No pick"
    lines.append(f"<b>{label}</b>: {esc(ranking.why)}")
    return "\n".join(lines)


def held_prices_line(held: HeldPrices) -> str:
    """'3 prices at 980,000 USD/t since 24 Nov 12:05 UTC, +9,769.0% from 9,912'."""
    count = len(held.points)
    line = (
        f"{plural(count, 'price')} at {amount(held.level)} {esc(held.material.price_unit)} "
        f"since {moment(held.points[0].at)}"
    )
    if held.jump_pct is not None and held.reference is not None:
        line += f", {percent(held.jump_pct)} from {amount(held.reference)}"
    return line


def held_report(held: Sequence[HeldPrices], max_jump_pct: float) -> str:
    """/prices: the feed prices held as implausible, with what an admin can do."""
    rule = f"more than {max_jump_pct:g}% from the last accepted price"
    if not held:
        return f"No feed prices are held. A price {rule} would be held here until confirmed."
    lines = [f"<b>Held feed prices</b> ({rule}), not shown or alerted:"]
    for h in held:
        key = esc(h.material.key)
        lines.append(
            f"<b>{esc(h.material.name)}</b>: {held_prices_line(h)}. "
            f"/prices accept {key} or /prices drop {key}"
        )
    lines.append(
        f"<i>Accepted by themselves when {CONFIRMATIONS} more prices confirm the level.</i>"
    )
    return "\n".join(lines)


FAILURE_REASON_LIMIT = 60


def delivery_line(summary: DeliverySummary) -> str:
    """'sent to 3 of 4; 1 failed: blocked', or where it stands."""
    if summary.total == 0:
        return "no recipients were subscribed"
    parts = [f"sent to {summary.sent} of {summary.total}"]
    if summary.failed:
        reasons = [
            (reason or "failed")[:FAILURE_REASON_LIMIT] + (f" ({count})" if count > 1 else "")
            for reason, count in summary.failures
        ]
        parts.append(f"{summary.failed} failed: {', '.join(reasons)}")
    if summary.held:
        parts.append(f"{summary.held} held for quiet hours")
    if summary.waiting - summary.held:
        parts.append(f"{summary.waiting - summary.held} still being sent")
    return "; ".join(parts)


def alert_report(records: Sequence[AlertRecord | Alert], material: Material | None) -> str:
    scope = f" for {esc(material.name)}" if material else ""
    if not records:
        return (
            f"No alerts{scope} yet. Alerts come when a price moves sharply, stock runs low or "
            "the forecast says buy now."
        )
    lines = [f"<b>Last {plural(len(records), 'alert')}{scope}</b>, newest first"]
    for record in records:
        a, delivery = (
            (record.alert, record.delivery) if isinstance(record, AlertRecord) else (record, None)
        )
        lines.append(
            f"{moment(a.created_at)} · <b>{esc(a.severity)}</b> {esc(a.type)}\n    {esc(a.message)}"
        )
        if delivery is not None:
            lines.append(f"    <i>{esc(delivery_line(delivery))}</i>")
    return "\n".join(lines)


def whatsapp_report(numbers: Sequence[WhatsAppNumber], enabled: bool) -> str:
    lines = ["<b>WhatsApp alert recipients</b>"]
    if not enabled:
        lines.append(
            "<i>WhatsApp is off: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
            "TWILIO_WHATSAPP_FROM to send.</i>"
        )
    if not numbers:
        lines.append("None yet. Add one: /whatsapp add +4915112345678")
    for n in numbers:
        origin = "from settings" if n.from_settings else "added"
        if not n.from_settings and n.added_by is not None:
            origin += f" by {n.added_by}"
        state = f" · <b>off</b>: {esc(n.disabled_reason)}" if n.disabled_reason else ""
        lines.append(f"{esc(n.number)} · {origin}{state}")
    return "\n".join(lines)


def user_report(members: Members) -> str:
    def ids(values: Sequence[int]) -> str:
        return ", ".join(f"<code>{v}</code>" for v in values) or "none"

    lines = [
        "<b>Who has access</b>",
        f"Admins (ADMIN_USER_IDS): {ids(members.admins)}",
        f"Buyers (ALLOWED_USER_IDS): {ids(members.allowed)}",
    ]
    if members.approvers:
        lines.append(f"Approvers (APPROVER_USER_IDS): {ids(members.approvers)}")
    if members.viewers:
        lines.append(f"Viewers (VIEWER_USER_IDS): {ids(members.viewers)}")
    lines.append(f"Granted here ({len(members.granted)}):")
    for user in members.granted:
        name = f" {esc(user.name)}" if user.name else ""
        by = f" by {user.added_by}" if user.added_by is not None else ""
        lines.append(
            f"<code>{user.user_id}</code>{name}: {esc(user.role)} since "
            f"{short_date(user.added_at)}{by}"
        )
    if not members.granted:
        lines.append("none yet: /invite makes a link, /users add ID lets someone in")
    lines.append(
        "<i>/users role ID ROLE changes a role (viewer, buyer, approver, admin); "
        "/users revoke ID takes access back.</i>"
    )
    return "\n".join(lines)


# Escaping can grow text up to 5 times (& -> &amp;); this keeps any alert in one message.
ALERT_TEXT_LIMIT = 700
_SEVERITY_MARK = {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}


def alert_message(alert: Alert) -> str:
    """One alert as a chat message: severity, type, what happened, when."""
    message = alert.message
    if len(message) > ALERT_TEXT_LIMIT:
        message = message[: ALERT_TEXT_LIMIT - 1] + "…"
    return (
        f"{_SEVERITY_MARK.get(alert.severity, '')} <b>{esc(alert.severity)}</b> · "
        f"{esc(alert.type)}\n{esc(message)}\n<i>{moment(alert.created_at)}</i>"
    )


def summary_message(text: str) -> str:
    """A digest or the alerts quiet hours held (plain text: a title, headings, and items
    starting with a bullet) as chat HTML: the title and headings bold."""
    lines = []
    for line in text.split("\n"):
        lines.append(esc(line) if line.startswith(ITEM) else f"<b>{esc(line)}</b>")
    return "\n".join(lines)


def purchase_message(text: str) -> str:
    """A purchasing message (a request to decide on, its outcome): its title line bold."""
    title, _, body = text.partition("\n")
    return f"🛒 <b>{esc(title)}</b>\n{esc(body)}" if body else esc(title)


def alert_follow_up(alert: Alert, material: Material | None) -> Button | None:
    """The command a reader of the alert most likely wants next."""
    if material is None:
        return None
    if alert.type is AlertType.LOW_INVENTORY:
        return Button(f"{material.name} stock", f"/stock {material.key}")
    if alert.type is AlertType.PO_OVERDUE:
        return Button("Open orders", "/orders")
    if alert.type is AlertType.BUY_SIGNAL:
        return Button(f"{material.name} vendors", f"/vendors {material.key}")
    return Button(f"{material.name} price", f"/price {material.key}")


def _method(forecast: Forecast) -> str:
    if forecast.method == "naive":
        return "the last price (naive forecast)"
    return esc(forecast.method)


def forecast_report(outlook: Outlook) -> str:
    """/forecast: expected price and range, the advice and why, and how far to trust it."""
    forecast, material = outlook.forecast, outlook.material
    unit = esc(material.price_unit)
    target = forecast.days[-1]
    accuracy = forecast.accuracy
    track = (
        ("Track record: being built." if forecast.provisional else "Track record: none yet.")
        if accuracy is None
        else f"Track record: last {plural(accuracy.forecasts, 'forecast')}: typical error "
        f"{accuracy.mae_pct:.1f}% (naive {accuracy.naive_mae_pct:.1f}%); the 95% range held "
        f"{accuracy.coverage_pct:.0f}% of the time."
    )
    return "\n".join(
        [
            f"<b>{esc(material.name)}</b>: {forecast.horizon}-day forecast",
            f"{amount(forecast.last_price)} {unit} on {short_date(forecast.last_day)} → "
            f"expected {amount(forecast.yhat[-1])} by {short_date(target)} "
            f"(95%: {amount(forecast.lower[-1])} to {amount(forecast.upper[-1])})",
            f"<b>{esc(outlook.recommendation.advice)}</b>: {esc(outlook.recommendation.reason)}",
            f"Model: {_method(forecast)}, because {esc(forecast.reason)}.",
            track,
            f"<i>Made {moment(forecast.made_at)} from prices up to "
            f"{short_date(forecast.training_end)}.</i>",
        ]
    )


def budget_report(budget: Budget) -> str:
    """/budget: what the planned use over the period costs, with its 95% range, in one
    sentence a manager reads, then how it was reckoned."""
    material = budget.material
    unit = esc(material.unit)
    head = f"<b>Next {budget.days} days of {esc(material.name.lower())}</b>"
    stock = f"{amount(budget.on_hand)} {unit} on hand"
    if budget.inbound:
        stock += f" and {amount(budget.inbound)} {unit} on open orders"
    use = (
        f"Planned use: {amount(budget.daily_use)} {unit} a day for {budget.days} days = "
        f"{amount(budget.planned_use)} {unit}, less {stock}."
    )
    if budget.period is None:
        planned = f"{amount(budget.planned_use)} {unit}"
        return f"{head}: nothing to buy: {stock} cover the planned {planned}.\n{use}"
    expected, spread = money_range(budget.expected, budget.lower, budget.upper, material.currency)
    basis = (
        f"Priced at the last price, {amount(budget.price)} {esc(material.price_unit)} on "
        f"{short_date(budget.price_day)}, bought in equal parts over the period; the range is "
        f"that of the average price over {budget.period.rows} days of prices"
    )
    if budget.period.calibrated_on:
        basis += f", calibrated on {budget.period.calibrated_on:,} past periods."
    else:
        basis += " (too little history to calibrate: a normal range)."
    return "\n".join(
        [
            f"{head}: {amount(budget.to_buy)} {unit} to buy, expected {expected}, "
            f"95% range {spread}.",
            use,
            f"<i>{basis}</i>",
        ]
    )
