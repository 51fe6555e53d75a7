"""/order, /buy, /approvals, /approve, /reject, /orders, /cancel and /report: from a suggested
order to a purchase order and what the month's orders earned (core/services/purchasing.py),
with their argument parsing and their replies. /request N is the Request button under /order.
"""

from __future__ import annotations

import math
import re
from datetime import date

from bot import charts
from bot.chat.commands.quotes import words_of
from bot.chat.request import Caller, Command, Request
from bot.formatting import Button, Reply, amount, esc, moment, money_range, short_date
from core.access import Permission
from core.domain.purchasing import OPEN_ORDER_STATES, Purchase, PurchaseState, VendorOption
from core.domain.units import parse_number, parse_quantity, unit_symbol
from core.errors import UserError
from core.materials import MaterialCatalog
from core.models import Material, Severity
from core.services.purchasing import (
    CANCEL_WINDOW,
    REASON_WINDOW,
    CancelToConfirm,
    OrderBook,
    PurchasingService,
    Report,
    Requested,
    SuggestedOrder,
)
from core.wording import percent, plural, quoted

ORDER_USAGE = "/order MATERIAL"
BUY_USAGE = '/buy MATERIAL QTY [from "VENDOR"] [at PRICE]'
BUY_EXAMPLE = '/buy copper 100 t from "Nordic Copper AB"'
APPROVALS_USAGE = "/approvals here | off"
REJECT_USAGE = "/reject N REASON"
REPORT_USAGE = "/report [YYYY-MM]"
NOT_SET_UP = "Purchasing is not set up here."
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_STARTS_A_NUMBER = re.compile(r"^[-+]?[0-9.]")
_SEVERITY_MARK = {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠"}


def _service(request: Request) -> PurchasingService:
    service = request.services.purchasing
    if service is None:
        raise UserError(NOT_SET_UP)
    return service


def _number(request: Request, usage: str, *, then_text: bool = False) -> str:
    """The purchase a command names: its number (12, #12) or its order number; followed by
    nothing else unless the command takes text after it (`then_text`: a reason)."""
    if not request.args:
        raise UserError(f"Which purchase? Usage: {usage} (the number /orders shows).")
    if len(request.args) > 1 and not then_text:
        raise UserError(
            f"{usage.split()[0]} takes one purchase number, got "
            f"'{quoted(' '.join(request.args))}'. Usage: {usage}"
        )
    return request.args[0]


# --- /order ----------------------------------------------------------------------------------


async def order(request: Request) -> Reply:
    """/order MATERIAL: how much to order now, from whom, by when, and the risk of waiting."""
    service = _service(request)
    if not request.args:
        return Reply(
            f"Which material? Usage: {ORDER_USAGE}",
            choices=tuple(Button(m.name, f"/order {m.key}") for m in request.services.catalog),
        )
    material = request.material(ORDER_USAGE)
    suggested = await service.suggest(material, request.caller.actor())
    choices: tuple[Button, ...] = ()
    if suggested.offer is not None:
        choices = (Button("🛒 Request this order", f"/request {suggested.offer}"),)
    return Reply(order_report(suggested, service.policy.review_days), choices=choices)


def _option_line(option: VendorOption, material: Material) -> str:
    unit = esc(material.unit)
    late = " ⚠️ after the stock-out" if option.late else ""
    return (
        f"• {esc(option.vendor)}: {amount(option.quantity)} {unit} at "
        f"{amount(option.unit_price)} {esc(material.price_unit)} = "
        f"{amount(option.total)} {esc(material.currency)}, arrives "
        f"{short_date(option.arrival)}{late}"
    )


def order_report(suggested: SuggestedOrder, review_days: int) -> str:
    material, suggestion, position = suggested.material, suggested.suggestion, suggested.position
    unit, name = esc(material.unit), esc(material.name)
    basis = (
        f"Cover target {amount(suggestion.target)} {unit} = {amount(position.daily_use)} "
        f"{unit}/day x ({plural(position.lead_time_days, 'day')} lead time + {review_days} "
        f"to the next review) + {amount(position.safety_stock)} {unit} safety stock; on hand "
        f"{amount(suggestion.on_hand)} {unit}, on order {amount(suggestion.inbound)} {unit}."
    )
    market = []
    if suggested.market_price is not None:
        market.append(f"market {amount(suggested.market_price)} {esc(material.price_unit)}")
    if suggested.advice is not None:
        market.append(f"advice {esc(suggested.advice.advice)}")
    market_line = [_sentence(" · ".join(market))] if market else []
    left_out = [f"Left out: {esc('; '.join(suggestion.left_out))}"] if suggestion.left_out else []
    if suggestion.nothing_to_order:
        out = (
            "It is not being used."
            if suggestion.stock_out is None
            else f"At this use it lasts until {short_date(suggestion.stock_out)}."
        )
        return "\n".join(
            [f"<b>{name}</b>: nothing to order now.", basis, out, *market_line, *left_out]
        )
    pick = suggestion.pick
    if pick is None:
        return "\n".join(
            [
                f"<b>{name}</b>: {amount(suggestion.needed)} {unit} should be ordered, but there "
                f"is no valid {esc(material.currency)} quote: record one with /quote.",
                basis,
                *left_out,
            ]
        )
    lines = [
        f"<b>Order {name} now</b>: {amount(pick.quantity)} {unit} from {esc(pick.vendor)}",
        f"{amount(pick.unit_price)} {esc(material.price_unit)} = "
        f"<b>{amount(pick.total)} {esc(material.currency)}</b>",
    ]
    dates = []
    if pick.order_by is not None:
        dates.append(f"order by {short_date(pick.order_by)}")
    dates.append(f"arrives {short_date(pick.arrival)} ({plural(pick.delivery_days, 'day')})")
    if suggestion.stock_out is not None:
        dates.append(f"stock runs out {short_date(suggestion.stock_out)}")
    lines.append(_sentence(" · ".join(dates)))
    if pick.late:
        lines.append("⚠️ No vendor can deliver before the stock runs out: this one is the soonest.")
    if pick.quantity > math.ceil(suggestion.needed - 1e-9):
        lines.append(
            f"({amount(suggestion.needed)} {unit} needed, rounded up to the vendor's terms.)"
        )
    lines.append(basis)
    risk = suggested.risk
    if risk is not None:
        _, span = money_range(risk.cost_now, risk.low, risk.high, material.currency)
        lines.append(
            f"Waiting {plural(risk.days, 'day')}: 95% range of this order's cost {esc(span)}; "
            f"chance it is cheaper: {risk.chance_cheaper:.0%}."
        )
    else:
        lines.append("Price risk of waiting: no forecast yet.")
    lines += market_line
    others = suggestion.options[1:]
    if others:
        lines.append("Other vendors:")
        lines += [_option_line(o, material) for o in others]
    lines += left_out
    return "\n".join(lines)


async def request_offer(request: Request) -> Reply:
    """/request N: the Request button under /order."""
    if len(request.args) != 1 or not request.args[0].isdigit():
        raise UserError("Usage: /request N (the Request button under /order).")
    requested = await _service(request).request_offer(request.caller.actor(), int(request.args[0]))
    return requested_reply(requested, request)


# --- /buy --------------------------------------------------------------------------------------


async def buy(request: Request) -> Reply:
    """/buy MATERIAL QTY [from "VENDOR"] [at PRICE]: a purchase request."""
    service = _service(request)
    material, quantity, vendor, price = parse_buy(request)
    requested = await service.request(request.caller.actor(), material, quantity, vendor, price)
    return requested_reply(requested, request)


def parse_buy(request: Request) -> tuple[Material, float, str | None, float | None]:
    words = words_of(" ".join(request.args))
    catalog = request.services.catalog
    at = next(
        (i for i, (w, quoted) in enumerate(words) if not quoted and _STARTS_A_NUMBER.match(w)),
        None,
    )
    if not words or at == 0:
        raise UserError(
            f"Which material? Usage: {BUY_USAGE}, e.g. {BUY_EXAMPLE}; materials: "
            f"{', '.join(catalog.keys)}."
        )
    if at is None:
        material = catalog.resolve(" ".join(w for w, _ in words))
        raise UserError(f"How much {material.name}? Usage: {BUY_USAGE}, e.g. {BUY_EXAMPLE}.")
    material = catalog.resolve(" ".join(w for w, _ in words[:at]))
    rest = words[at:]
    text = rest.pop(0)[0]
    if rest and not rest[0][1] and _is_unit(rest[0][0], material):
        text += " " + rest.pop(0)[0]
    quantity = parse_quantity(text, material.unit)
    vendor = price = None
    while rest:
        keyword = rest.pop(0)[0].lower()
        if keyword not in ("from", "at") or not rest:
            raise UserError(f"Usage: {BUY_USAGE}, e.g. {BUY_EXAMPLE}.")
        value = rest.pop(0)[0]
        if keyword == "from":
            vendor = value
        else:
            price = _price(value, material)
            if rest and rest[0][0].upper() in (material.currency, material.price_unit.upper()):
                rest.pop(0)
    return material, quantity, vendor, price


def _is_unit(word: str, material: Material) -> bool:
    return unit_symbol(word) is not None or word.lower() == material.unit.lower()


def _price(text: str, material: Material) -> float:
    try:
        return parse_number(text)
    except ValueError:
        raise UserError(
            f"'{text[:40]}' is not a price: write it in {material.currency} per {material.unit}, "
            "e.g. at 9,800."
        ) from None


def requested_reply(requested: Requested, request: Request) -> Reply:
    purchase = requested.purchase
    catalog = request.services.catalog
    what = _what(purchase, catalog)
    cost = (
        f"at {amount(purchase.unit_price)} {esc(purchase.currency)}/{esc(purchase.unit)} = "
        f"{amount(purchase.total)} {esc(purchase.currency)}"
    )
    limit = _service(request).policy.approval_limit
    cancel = (Button("✖️ Cancel", f"/cancel {purchase.id}"),)
    if not requested.needs_approval:
        return Reply(
            f"<b>Ordered: {esc(purchase.po_number)}</b>, {what} {cost}, within the approval "
            f"limit of {amount(limit)} {esc(purchase.currency)}. Expected "
            f"{_day(purchase.expected)}. When it comes: /receive {esc(purchase.material)} "
            f"{amount(purchase.quantity)} po {esc(purchase.po_number)}",
            choices=cancel,
        )
    if requested.told == 0:
        where = (
            "it needs an approver, but none could be told: an admin sends /approvals here in "
            "the managers' group, or gives someone the approver role (/users role ID approver)"
        )
    else:
        room = "the approval room" if requested.in_room else plural(requested.told, "approver")
        where = f"sent to {room} for a decision"
        if request.caller.channel is not None:
            where += "; you will be told it here"
    return Reply(
        f"<b>Purchase request #{purchase.id}</b>: {what} {cost}. Above the approval limit of "
        f"{amount(limit)} {esc(purchase.currency)}, so {where}.",
        choices=cancel,
    )


# --- /approvals, /approve, /reject, /cancel ----------------------------------------------------


async def approvals(request: Request) -> Reply:
    """/approvals here | off: the approval room (admins, in a group)."""
    service = _service(request)
    caller = request.caller
    action = request.args[0].lower() if len(request.args) == 1 else ""
    if action == "here":
        chat = caller.chat_id if caller.channel is not None else None
        await service.set_approval_room(caller.actor(), chat, caller.is_group)
        limit = f"{amount(service.policy.approval_limit)}"
        return Reply(
            "This group is the approval room now: purchase requests above the approval limit "
            f"({limit} in the material's currency) are posted here with Approve and Reject "
            "buttons, for approvers and admins. /approvals off sends them to each approver "
            "privately instead."
        )
    if action == "off":
        was = await service.close_approval_room(caller.actor())
        if was is None:
            return Reply("There was no approval room: requests go to each approver privately.")
        return Reply("No approval room any more: requests go to each approver privately.")
    room, changed = await service.approval_room()
    if room is None:
        now = "There is no approval room: requests go to each approver privately."
    elif caller.channel is not None and room == caller.chat_id:
        now = "This group is the approval room."
    else:
        now = f"The approval room is chat {room}."
    if changed is not None:
        now += f" (Last changed by {esc(changed)}.)"
    return Reply(f"{now} Usage: {APPROVALS_USAGE} (admins, in a group).")


async def approve(request: Request) -> Reply:
    """/approve N: approves a request (the Approve button)."""
    service = _service(request)
    purchase = await service.approve(request.caller.actor(), _number(request, "/approve N"))
    return Reply(
        f"✅ <b>Approved</b>: request #{purchase.id} is <b>{esc(purchase.po_number)}</b>, "
        f"{_what(purchase, request.services.catalog)}, {amount(purchase.total)} "
        f"{esc(purchase.currency)}, expected {_day(purchase.expected)}."
        + _told(purchase, request.caller)
    )


async def reject(request: Request) -> Reply:
    """/reject N REASON: rejects a request; without a reason (the Reject button), asks for it."""
    service = _service(request)
    ref = _number(request, REJECT_USAGE, then_text=True)
    caller = request.caller
    reason = " ".join(request.args[1:]).strip()
    catalog = request.services.catalog
    if not reason:
        purchase = await service.ask_reason(caller.actor(), ref)
        who = ""
        if caller.is_group:
            who = f'<a href="tg://user?id={caller.user_id}">{esc(caller.name or "You")}</a>, '
        minutes = REASON_WINDOW.seconds // 60
        return Reply(
            f"❌ {who}why reject request #{purchase.id} ({_what(purchase, catalog)})? "
            f"Reply to this message with the reason within {minutes} minutes, or send "
            f"/reject {purchase.id} REASON. Nothing is rejected until then.",
            ask_reply=True,
        )
    if len(reason) > 300:
        raise UserError("A reason has at most 300 characters.")
    purchase = await service.reject(caller.actor(), ref, reason)
    return Reply(
        f"❌ <b>Rejected</b>: request #{purchase.id} ({_what(purchase, catalog)}): "
        f"{esc(purchase.reason)}" + _told(purchase, caller)
    )


async def cancel(request: Request) -> Reply:
    """/cancel N [reason]: cancels a waiting request, or (once confirmed) an open order."""
    service = _service(request)
    ref = _number(request, "/cancel N [reason]", then_text=True)
    reason = " ".join(request.args[1:]).strip() or None
    if reason is not None and len(reason) > 300:
        raise UserError("A reason has at most 300 characters.")
    done = await service.cancel(request.caller.actor(), ref, reason)
    if isinstance(done, CancelToConfirm):
        order = done.purchase
        minutes = CANCEL_WINDOW.seconds // 60
        return Reply(
            f"Cancel <b>{esc(order.po_number)}</b> ({_what(order, request.services.catalog)}, "
            f"{amount(order.total)} {esc(order.currency)}, {amount(order.received)} of "
            f"{amount(order.quantity)} {esc(order.unit)} received)? Tell the vendor too. Nothing "
            f"changes unless you tap the button within {minutes} minutes.",
            choices=(Button("✖️ Cancel the order", f"/cancel_order {done.action_id}"),),
        )
    return cancelled_reply(done, request)


async def cancel_order(request: Request) -> Reply:
    """/cancel_order N: cancels the order a /cancel asked to confirm (its button)."""
    if len(request.args) != 1 or not request.args[0].isdigit():
        raise UserError("Usage: /cancel_order N (the button under /cancel's question).")
    done = await _service(request).confirm_cancel(request.caller.actor(), int(request.args[0]))
    return cancelled_reply(done, request)


def cancelled_reply(was: Purchase, request: Request) -> Reply:
    received = ""
    if was.received:
        received = f" What came stays received: {amount(was.received)} {esc(was.unit)}."
    return Reply(
        f"Cancelled: {esc(was.po_number or f'request #{was.id}')} "
        f"({_what(was, request.services.catalog)}).{received}" + _told(was, request.caller)
    )


def _told(purchase: Purchase, caller: Caller) -> str:
    if purchase.requested_by is None or purchase.requested_by == caller.user_id:
        return ""
    return f" {esc(purchase.requested_by_name)} is told."


# --- /orders -----------------------------------------------------------------------------------


async def orders(request: Request) -> Reply:
    """/orders [all]: open orders, overdue first, and the requests waiting for approval."""
    service = _service(request)
    if request.args and [a.lower() for a in request.args] != ["all"]:
        raise UserError("Usage: /orders [all] (all adds the closed ones).")
    include_closed = bool(request.args)
    book = await service.orders(include_closed)
    today = request.services.clock.now().date()
    refresh = "/orders all" if include_closed else "/orders"
    return Reply(
        orders_report(book, request.services.catalog, today, include_closed), refresh=refresh
    )


def orders_report(
    book: OrderBook, catalog: MaterialCatalog, today: date, include_closed: bool
) -> str:
    if not book.open and not book.waiting and not book.closed:
        closed = "" if include_closed else " and no requests waiting"
        return f"No open orders{closed}. /order MATERIAL suggests one."
    lines = []
    if book.open:
        lines.append(f"<b>Open orders</b> ({len(book.open)}), overdue first")
    for line in book.open:
        purchase = line.purchase
        late = line.overdue
        if late is not None:
            mark = _SEVERITY_MARK.get(late.severity, "🟠")
            due = f"expected {_day(purchase.expected)}, <b>{plural(late.days_late, 'day')} late</b>"
            if late.severity is Severity.CRITICAL and late.stock_out is not None:
                due += f" (stock runs out {short_date(late.stock_out)})"
        else:
            mark = "🟢"
            due = f"expected {_day(purchase.expected)}"
        received = ""
        if purchase.received:
            received = (
                f" · {amount(purchase.received)} of {amount(purchase.quantity)} "
                f"{esc(purchase.unit)} received"
            )
        lines.append(
            f"{mark} <b>{esc(purchase.po_number)}</b> {_what(purchase, catalog)}, "
            f"{amount(purchase.total)} {esc(purchase.currency)} · {due}{received}"
        )
    if book.waiting:
        lines.append(f"<b>Waiting for approval</b> ({len(book.waiting)})")
        for purchase in book.waiting:
            lines.append(
                f"⏳ #{purchase.id} {_what(purchase, catalog)}, {amount(purchase.total)} "
                f"{esc(purchase.currency)} · asked by {esc(purchase.requested_by_name)} "
                f"{moment(purchase.requested_at)}"
            )
    if include_closed and book.closed:
        lines.append("<b>Closed</b>, newest first")
        lines += [_closed_line(p, catalog) for p in book.closed]
    return "\n".join(lines)


def _closed_line(purchase: Purchase, catalog: MaterialCatalog) -> str:
    label = esc(purchase.po_number or f"#{purchase.id}")
    what = _what(purchase, catalog)
    if purchase.state is PurchaseState.RECEIVED:
        when = short_date(purchase.received_at) if purchase.received_at else "-"
        return f"✔️ {label} {what}: received {when}"
    by = esc(purchase.closed_by_name or "someone")
    why = f": {esc(purchase.reason)}" if purchase.reason else ""
    return f"✖️ {label} {what}: {esc(purchase.state.label)} by {by}{why}"


# --- /report -----------------------------------------------------------------------------------


async def report(request: Request) -> Reply:
    """/report [YYYY-MM]: what the month's orders earned, with a chart."""
    service = _service(request)
    month = None
    if request.args:
        month = _month(request.args)
    made = await service.report(month)
    text = report_text(made)
    command = f"/report {made.month:%Y-%m}"
    if not made.lines:
        return Reply(text, refresh=command)
    chart = await request.render(charts.report_chart, made)
    return Reply(text, chart, f"report-{made.month:%Y-%m}", refresh=command)


def _month(args: tuple[str, ...]) -> date:
    match = _MONTH.match(args[0]) if len(args) == 1 else None
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
        raise UserError(
            f"'{quoted(' '.join(args))}' is not a month from 2000 on. Usage: {REPORT_USAGE}, "
            "e.g. /report 2026-11"
        )
    return date(int(match[1]), int(match[2]), 1)


def report_text(made: Report) -> str:
    month = f"{made.month:%B %Y}"
    if not made.lines:
        return f"<b>Purchasing, {month}</b>: no orders were placed. /order MATERIAL suggests one."
    lines = [f"<b>Purchasing, {month}</b>: orders placed, what they cost and earned"]
    for material, line in made.lines:
        currency, unit = esc(material.currency), esc(material.unit)
        lines.append(
            f"<b>{esc(material.name)}</b>: {plural(line.orders, 'order')}, "
            f"{amount(line.quantity)} {unit}, spend {amount(line.spend)} {currency}"
        )
        if line.market_average is not None and line.premium_pct is not None:
            lines.append(
                f"    paid {amount(line.average_paid)} {currency}/{unit} on average; the market "
                f"was {amount(line.market_average)} when ordering: "
                f"{_premium(line.premium_pct)}"
            )
        else:
            lines.append(
                f"    paid {amount(line.average_paid)} {currency}/{unit} on average; no market "
                "price was known when ordering"
            )
        against = f", {line.against} against it (WAIT)" if line.against else ""
        lines.append(
            f"    advice followed: {line.followed} of {plural(line.orders, 'order')} placed on "
            f"BUY NOW{against}"
        )
        if line.versus_schedule is not None and line.schedule_cost is not None:
            difference = line.versus_schedule
            side = "more" if difference > 0 else "less"
            share = difference / line.schedule_cost * 100 if line.schedule_cost else 0.0
            lines.append(
                f"    vs buying the same on a fixed schedule (every day's close, "
                f"{amount(line.schedule_price or 0)} on average): "
                f"{amount(abs(difference))} {currency} {side} ({percent(share)})"
            )
    totals: dict[str, float] = {}
    for material, line in made.lines:
        totals[material.currency] = totals.get(material.currency, 0.0) + line.spend
    spend = ", ".join(f"{amount(v)} {esc(c)}" for c, v in totals.items())
    lines.append(f"Total spend: {spend}.")
    return "\n".join(lines)


def _premium(pct: float) -> str:
    if abs(pct) < 0.05:
        return "no premium"
    return f"premium {percent(pct)}" if pct > 0 else f"{percent(pct)} below the market"


# --- shared --------------------------------------------------------------------------------------


def _what(purchase: Purchase, catalog: MaterialCatalog) -> str:
    known = catalog.owner_of(purchase.material)
    name = known.name if known is not None else purchase.material
    return (
        f"{amount(purchase.quantity)} {esc(purchase.unit)} {esc(name)} from {esc(purchase.vendor)}"
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _day(day: date | None) -> str:
    return "-" if day is None else short_date(day)


def order_line(purchase: Purchase) -> str:
    """What a receipt did to its order, for /receive's answer."""
    number = esc(purchase.po_number)
    unit = esc(purchase.unit)
    if purchase.state is PurchaseState.RECEIVED:
        return f"{number} is received in full ({amount(purchase.received)} {unit})."
    if purchase.state in OPEN_ORDER_STATES:
        return (
            f"{number}: {amount(purchase.received)} of {amount(purchase.quantity)} {unit} "
            f"received, {amount(purchase.outstanding)} {unit} still to come."
        )
    return f"{number} is {esc(purchase.state.label)}, {amount(purchase.received)} {unit} received."


COMMANDS: tuple[Command, ...] = (
    Command(
        "order",
        ORDER_USAGE,
        "/order copper",
        "how much to order now, from whom, by when, and the price risk of waiting; "
        "a Request button.",
        order,
        writes=True,
    ),
    Command(
        "buy",
        BUY_USAGE,
        BUY_EXAMPLE,
        "a purchase request, priced from the vendor's quote; above the approval limit it "
        "goes to the approvers.",
        buy,
        needs=Permission.RECORD,
        writes=True,
    ),
    Command(
        "approvals",
        APPROVALS_USAGE,
        "/approvals here",
        "make this group the approval room, or stop it being one (admins).",
        approvals,
        admin_only=True,
        writes=True,
    ),
    Command(
        "approve",
        "/approve N",
        "/approve 12",
        "approve a purchase request: it becomes a purchase order (approvers).",
        approve,
        needs=Permission.APPROVE,
        writes=True,
    ),
    Command(
        "reject",
        REJECT_USAGE,
        "/reject 12 wait for the March price",
        "reject a purchase request with a reason for the requester (approvers).",
        reject,
        needs=Permission.APPROVE,
        writes=True,
    ),
    Command(
        "orders",
        "/orders [all]",
        "/orders",
        "open purchase orders, overdue first, and requests waiting for approval.",
        orders,
    ),
    Command(
        "cancel",
        "/cancel N [reason]",
        "/cancel 12 bought elsewhere",
        "cancel a waiting request, or an open order after a confirmation (its requester or an "
        "admin).",
        cancel,
        needs=Permission.RECORD,
        writes=True,
    ),
    Command(
        "report",
        REPORT_USAGE,
        "/report 2026-11",
        "the month's spend, price paid vs market, advice followed, cost vs buying on a fixed "
        "schedule; chart.",
        report,
        draws_chart=lambda args: True,
    ),
    Command(
        "cancel_order",
        "/cancel_order N",
        "/cancel_order 41",
        "cancel the order /cancel asked to confirm.",
        cancel_order,
        needs=Permission.RECORD,
        writes=True,
        hidden=True,
    ),
    Command(
        "request",
        "/request N",
        "/request 41",
        "request the order /order suggested.",
        request_offer,
        needs=Permission.RECORD,
        writes=True,
        hidden=True,
    ),
)
