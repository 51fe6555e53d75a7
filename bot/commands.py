"""The chat commands, shared by Telegram and the console: parse arguments, call one core
service, format the reply. No SQL and no business rule here."""

from __future__ import annotations

import difflib
import re
from dataclasses import replace

from bot import charts
from bot.chat.commands import access as access_commands
from bot.chat.commands import (
    digests,
    files,
    materials,
    purchasing,
    quotes,
    status,
    stock_moves,
    watches,
)
from bot.chat.commands import prices as prices_commands
from bot.chat.request import Caller, Command, Handler, Request, always, with_arguments
from bot.formatting import (
    Button,
    Reply,
    alert_report,
    attention_report,
    budget_report,
    esc,
    forecast_report,
    price_detail,
    price_overview,
    stock_report,
    vendor_report,
    whatsapp_report,
)
from bot.rendering import Renderer
from core.access import InvalidInvite, NotAllowed, may, require
from core.budget import DEFAULT_DAYS, MAX_DAYS
from core.errors import UnknownMaterial, UserError
from core.models import Advice, Role
from core.services import Services
from core.services.once import UpdateRef
from core.subscriptions import SubscriptionService
from core.wording import quoted

__all__ = [
    "COMMANDS",
    "Caller",
    "Command",
    "Handler",
    "Renderer",
    "Request",
    "UpdateRef",
    "execute",
    "parse",
]

CHART_DAYS = 30
DEFAULT_ALERTS = 10
MAX_ALERTS = 100


def _material_buttons(services: Services, command: str) -> tuple[Button, ...]:
    return tuple(Button(m.name, f"{command} {m.key}") for m in services.catalog)


async def price(request: Request) -> Reply:
    """/price [MATERIAL]: every price with its change, or one material with a 30-day chart."""
    services = request.services
    if not request.args:
        overview = price_overview(await services.prices.summaries())
        return Reply(overview, choices=_material_buttons(services, "/price"), refresh="/price")
    material = request.material("/price MATERIAL")
    summary = await services.prices.summary(material)
    points = await services.prices.history(material, CHART_DAYS)
    if not points:
        return Reply(f"No price for {esc(material.name)} yet.")
    prices = [p.price for p in points]
    text = price_detail(summary, min(prices), max(prices), CHART_DAYS)
    chart = await request.render(charts.price_chart, material, points, CHART_DAYS)
    return Reply(text, chart, f"price-{material.key}", refresh=f"/price {material.key}")


async def forecast(request: Request) -> Reply:
    """/forecast MATERIAL: the forecast with its 95% range, chart, advice and track record."""
    if not request.args:
        return Reply(
            "Which material? Usage: /forecast MATERIAL",
            choices=_material_buttons(request.services, "/forecast"),
        )
    material = request.material("/forecast MATERIAL")
    forecasts = request.services.forecasts
    if forecasts is None:
        return Reply("Forecasting is not set up here; /price shows the trend.")
    outlook = await forecasts.outlook(material)
    chart = await request.render(charts.forecast_chart, material, outlook.recent, outlook.forecast)
    return Reply(
        forecast_report(outlook),
        chart,
        f"forecast-{material.key}",
        refresh=f"/forecast {material.key}",
    )


BUDGET_USAGE = "/budget MATERIAL [DAYS]"


async def budget(request: Request) -> Reply:
    """/budget MATERIAL [DAYS]: the cost of the planned use over the period, with its range."""
    if not request.args:
        return Reply(
            f"Which material? Usage: {BUDGET_USAGE}",
            choices=_material_buttons(request.services, "/budget"),
        )
    args, days = request.args, DEFAULT_DAYS
    if len(args) > 1 and _NUMBERISH.match(args[-1]):
        text = args[-1]
        if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
            raise UserError(
                f"DAYS must be a whole number from 1 to {MAX_DAYS}, got '{text}'. "
                "Example: /budget copper 90"
            )
        args, days = args[:-1], int(text)
    material = replace(request, args=args).material(BUDGET_USAGE)
    budgets = request.services.budgets
    if budgets is None:
        return Reply("Budgets are not set up here: they need the forecasting service.")
    planned = await budgets.plan(material, days)
    command = f"/budget {material.key} {days}"
    if not planned.outcomes:
        return Reply(budget_report(planned), refresh=command)
    chart = await request.render(charts.budget_chart, planned)
    return Reply(budget_report(planned), chart, f"budget-{material.key}-{days}", refresh=command)


async def stock(request: Request) -> Reply:
    """/stock [MATERIAL]: stock, daily use, days of cover and reorder point, low ones first."""
    inventory = request.services.inventory
    if request.args:
        material = request.material("/stock [MATERIAL]")
        statuses = [await inventory.status(material)]
        command = f"/stock {material.key}"
    else:
        statuses = await inventory.statuses()
        command = "/stock"
    if not statuses:
        return Reply(stock_report(statuses))
    today = request.services.clock.now().date()
    chart = await request.render(charts.stock_chart, statuses, today)
    return Reply(stock_report(statuses), chart, "stock", refresh=command)


async def vendors(request: Request) -> Reply:
    """/vendors MATERIAL: vendors ranked, the best pick and why."""
    services = request.services
    if not request.args:
        return Reply(
            "Which material? Usage: /vendors MATERIAL",
            choices=_material_buttons(services, "/vendors"),
        )
    material = request.material("/vendors MATERIAL")
    ranking = await services.vendors.ranking(material)
    if not any(r.comparable for r in ranking.ranked):
        return Reply(vendor_report(ranking))
    today = services.clock.now().date()
    chart = await request.render(charts.vendor_chart, ranking, today)
    return Reply(
        vendor_report(ranking), chart, f"vendors-{material.key}", refresh=f"/vendors {material.key}"
    )


_NUMBERISH = re.compile(r"^[+-]?\d+([.,]\d*)?$")


async def alerts(request: Request) -> Reply:
    """/alerts [N | MATERIAL]: the last N alerts (default 10), newest first."""
    limit, material = DEFAULT_ALERTS, None
    if len(request.args) == 1 and _NUMBERISH.match(request.args[0]):
        text = request.args[0]
        if not text.isdigit() or not 1 <= int(text) <= MAX_ALERTS:
            raise UserError(
                f"N must be a whole number from 1 to {MAX_ALERTS}, got '{quoted(text)}'. "
                "Example: /alerts 20"
            )
        limit = int(text)
    elif request.args:
        try:
            material = request.material("/alerts [N | MATERIAL]")
        except UnknownMaterial:
            raise UserError(
                f"'{quoted(' '.join(request.args))}' is neither a number of alerts "
                f"(1 to {MAX_ALERTS}) nor a material ({', '.join(request.services.catalog.keys)}). "
                "Examples: /alerts 20, /alerts copper"
            ) from None
    caller = request.caller
    chat = str(caller.chat_id) if caller.channel is not None else None
    history = await request.services.alerts.report(limit, material, chat)
    refresh = " ".join(("/alerts", *request.args))
    return Reply(alert_report(history, material), refresh=refresh)


WHATSAPP_USAGE = (
    "Usage: /whatsapp list, /whatsapp add +E164 or /whatsapp remove +E164, "
    "e.g. /whatsapp add +4915112345678"
)


async def whatsapp(request: Request) -> Reply:
    """/whatsapp list | add +E164 | remove +E164: the WhatsApp numbers that get alerts."""
    request.private_only("/whatsapp")
    directory = request.services.recipients
    action = request.args[0].lower() if request.args else "list"
    if action == "list":
        if len(request.args) > 1:
            raise UserError(f"/whatsapp list takes no number. {WHATSAPP_USAGE}")
        numbers = await directory.whatsapp()
        return Reply(whatsapp_report(numbers, directory.whatsapp_enabled), refresh="/whatsapp")
    if action not in ("add", "remove"):
        raise UserError(f"Unknown /whatsapp action '{quoted(request.args[0])}'. {WHATSAPP_USAGE}")
    if len(request.args) < 2:
        raise UserError(f"Which number? {WHATSAPP_USAGE}")
    number = "".join(request.args[1:])  # "+49 151 1234 5678" arrives as several words
    if action == "add":
        change = await directory.add_whatsapp(number, request.caller.user_id)
    else:
        change = await directory.remove_whatsapp(number)
    return Reply(esc(change.message))


async def subscribe(request: Request) -> Reply:
    """/subscribe: alerts for this chat (in a group: admins only)."""
    request.no_args("/subscribe")
    caller = request.caller
    if caller.channel is None:
        return Reply(NO_CHAT)
    SubscriptionService.check_may_manage(caller.role, caller.is_group)
    added = await request.services.subscriptions.subscribe(
        caller.channel, str(caller.chat_id), caller.user_id
    )
    where = "This group" if caller.is_group else "This chat"
    if not added:
        return Reply(f"{where} gets alerts already. /unsubscribe stops them.")
    services = request.services
    low = [s for s in await services.inventory.statuses() if s.is_low]
    advice = await services.forecasts.current() if services.forecasts is not None else {}
    buy = [services.catalog.get(k) for k, a in advice.items() if a.advice is Advice.BUY_NOW]
    return Reply(
        f"Subscribed. {where} will get alerts as they happen: sharp price moves, low stock and "
        "buy signals. /unsubscribe stops them; /alerts shows the history.\n\n"
        + attention_report(low, buy)
    )


async def unsubscribe(request: Request) -> Reply:
    """/unsubscribe: stop alerts for this chat (in a group: admins only)."""
    request.no_args("/unsubscribe")
    caller = request.caller
    if caller.channel is None:
        return Reply(NO_CHAT)
    SubscriptionService.check_may_manage(caller.role, caller.is_group)
    removed = await request.services.subscriptions.unsubscribe(caller.channel, str(caller.chat_id))
    where = "This group" if caller.is_group else "This chat"
    if not removed:
        return Reply(f"{where} gets no alerts. /subscribe starts them.")
    return Reply(f"Unsubscribed: {where.lower()} gets no more alerts. /subscribe restarts them.")


NO_CHAT = (
    "Alerts go to Telegram chats: send /subscribe in the chat (private or group) that should "
    "get them."
)


def refusal(user_id: int) -> str:
    """What someone without access reads: no data, just their id so an admin can add them."""
    return (
        "Sorry, this bot is private: it shows the factory's prices, stock and vendors only to "
        f"people an admin has let in. Your Telegram user id is <code>{user_id}</code>: send it "
        "to an admin, or open an invite link from one."
    )


def short_refusal(user_id: int) -> str:
    """The refusal in plain text short enough for a button's pop-up (200 characters)."""
    return (
        f"Sorry, this bot is private. Your Telegram user id is {user_id}: send it to an admin "
        "to be let in."
    )


async def start(request: Request) -> Reply:
    """/start [INVITE-CODE]: welcome and the commands; with an invite code, grants access."""
    caller, role = request.caller, request.caller.role
    intro = ""
    if request.args:
        try:
            redemption = await request.services.invites.redeem(
                request.args[0], caller.user_id, caller.name
            )
        except InvalidInvite as error:
            if role is None:
                return Reply(
                    f"{esc(error)} Your Telegram user id is <code>{caller.user_id}</code>."
                )
            raise
        role = redemption.role
        intro = (
            "You had access already; the invite link stays unused for someone else.\n\n"
            if redemption.already_had_access
            else "<b>Welcome aboard: the invite worked and you have access now.</b>\n\n"
        )
    return Reply(
        intro + "<b>Welcome to the Smart Procurement Bot.</b>\n"
        "Ask for raw-material prices, 7-day forecasts with a BUY NOW / WAIT / MONITOR "
        "recommendation, stock cover and vendor comparisons; get alerts when something needs "
        "action.\n\n" + _command_list(request, role)
    )


async def help_(request: Request) -> Reply:
    """/help: every command with an example."""
    request.no_args("/help")
    return Reply(_command_list(request, request.caller.role))


def _command_list(request: Request, role: Role | None) -> str:
    lines = ["<b>Commands</b>"]
    for command in COMMANDS.values():
        if command.hidden or not may(role, command.permission):
            continue
        lines.append(
            f"{esc(command.usage)}: {esc(command.summary)} <i>e.g.</i> {esc(command.example)}"
        )
    lines.append(f"Materials: {esc(', '.join(request.services.catalog.keys))}")
    return "\n".join(lines)


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("start", "/start", "/start", "welcome and the command list.", start),
        Command("help", "/help", "/help", "every command with an example.", help_),
        Command(
            "price",
            "/price [MATERIAL]",
            "/price copper",
            "latest prices with 1- and 7-day change; one material adds a 30-day chart.",
            price,
            draws_chart=with_arguments,
        ),
        Command(
            "forecast",
            "/forecast MATERIAL",
            "/forecast aluminium",
            "7-day forecast, chart, BUY NOW / WAIT / MONITOR and the model's accuracy.",
            forecast,
            draws_chart=with_arguments,
        ),
        Command(
            "budget",
            BUDGET_USAGE,
            "/budget copper 90",
            f"cost of the planned use over the next DAYS (default {DEFAULT_DAYS}, up to "
            f"{MAX_DAYS}), with its 95% range and a chart.",
            budget,
            draws_chart=with_arguments,
        ),
        Command(
            "stock",
            "/stock [MATERIAL]",
            "/stock",
            "stock, daily use, days of cover and reorder point, low ones first.",
            stock,
            draws_chart=always,
        ),
        Command(
            "vendors",
            "/vendors MATERIAL",
            "/vendors steel",
            "vendors ranked by price, delivery and rating, with the best pick.",
            vendors,
            draws_chart=with_arguments,
        ),
        Command(
            "alerts",
            "/alerts [N | MATERIAL]",
            "/alerts 20",
            "the last N alerts (default 10), newest first.",
            alerts,
        ),
        Command(
            "whatsapp",
            "/whatsapp list | add +E164 | remove +E164",
            "/whatsapp add +4915112345678",
            "the WhatsApp numbers that get alerts.",
            whatsapp,
            admin_only=True,
            writes=True,
        ),
        Command(
            "subscribe",
            "/subscribe",
            "/subscribe",
            "send alerts to this chat (a group: admins only).",
            subscribe,
            writes=True,
        ),
        Command(
            "unsubscribe",
            "/unsubscribe",
            "/unsubscribe",
            "stop alerts to this chat (a group: admins only).",
            unsubscribe,
            writes=True,
        ),
        *watches.COMMANDS,
        *digests.COMMANDS,
        *stock_moves.COMMANDS,
        *purchasing.COMMANDS,
        *quotes.COMMANDS,
        *materials.COMMANDS,
        *files.COMMANDS,
        *access_commands.COMMANDS,
        *prices_commands.COMMANDS,
        *status.COMMANDS,
    )
}


def parse(line: str) -> tuple[str, tuple[str, ...]]:
    """'/price@ProcureBot Copper' -> ('price', ('Copper',))."""
    words = line.strip().split()
    name = words[0].removeprefix("/").split("@", 1)[0].lower() if words else ""
    return name, tuple(words[1:])


def unknown_command(name: str) -> Reply:
    close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.6)
    hint = f" Did you mean /{close[0]}?" if close else ""
    return Reply(f"Unknown command /{esc(quoted(name))}.{hint} Send /help for the list.")


async def execute(
    name: str,
    args: tuple[str, ...],
    caller: Caller,
    services: Services,
    render: Renderer,
    bot_username: str | None = None,
    update: UpdateRef | None = None,
) -> Reply:
    """Runs one command for `caller`; a UserError becomes a one-line answer. Someone without
    access gets a refusal with their user id and nothing else, whatever they send, except an
    invite code (`/start CODE`). A command that changes data runs in one unit of work with
    the Telegram `update`, so that an update handed out again books nothing and gets the
    first answer again."""
    command = COMMANDS.get(name)
    if caller.role is None and not (name == "start" and args):
        return Reply(refusal(caller.user_id))
    if command is None:
        return unknown_command(name)
    try:
        if caller.role is not None:
            require(caller.role, command.permission, f"/{name}")
        request = Request(args, caller, services, render, bot_username, update)
        if not command.writes:
            return await command.handler(request)

        async def booked() -> str:
            return (await command.handler(request)).to_json()

        return Reply.from_json(await services.once.run(update, booked))
    except (UserError, NotAllowed) as error:
        return Reply(esc(str(error)))
