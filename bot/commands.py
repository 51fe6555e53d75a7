"""The chat commands, shared by Telegram and the console: parse arguments, call one core
service, format the reply. No SQL and no business rule here."""

from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot import charts
from bot.formatting import (
    Button,
    Reply,
    alert_report,
    amount,
    attention_report,
    budget_report,
    esc,
    forecast_report,
    held_prices_line,
    held_report,
    moment,
    price_detail,
    price_overview,
    stock_report,
    user_report,
    vendor_report,
    whatsapp_report,
)
from bot.rendering import Renderer
from core.access import InvalidInvite
from core.budget import DEFAULT_DAYS, MAX_DAYS
from core.errors import UnknownMaterial, UserError
from core.models import Advice, Channel, Material, Role
from core.services import Services
from core.subscriptions import SubscriptionService
from core.wording import quoted

__all__ = ["COMMANDS", "Caller", "Command", "Renderer", "Request", "execute", "parse"]

CHART_DAYS = 30
DEFAULT_ALERTS = 10
MAX_ALERTS = 100


@dataclass(frozen=True)
class Caller:
    """Who asks, from which chat; `role` None means no access. `channel` is where the chat
    lives (None for the console, which has no chat to send alerts to)."""

    user_id: int
    role: Role | None
    chat_id: int
    is_group: bool = False
    name: str | None = None
    channel: Channel | None = None


@dataclass(frozen=True)
class Request:
    args: tuple[str, ...]
    caller: Caller
    services: Services
    render: Renderer
    bot_username: str | None = None

    def material(self, usage: str, words: tuple[str, ...] | None = None) -> Material:
        """The material named by the arguments (or by `words` of them); a missing one is a
        usage error."""
        words = self.args if words is None else words
        if not words:
            raise UserError(
                f"Which material? Usage: {usage}, one of: {', '.join(self.services.catalog.keys)}."
            )
        return self.services.catalog.resolve(" ".join(words))

    def no_args(self, usage: str) -> None:
        if self.args:
            raise UserError(f"{usage} takes no arguments, got '{quoted(' '.join(self.args))}'.")


Handler = Callable[[Request], Awaitable[Reply]]


def _never(args: tuple[str, ...]) -> bool:
    return False


def _always(args: tuple[str, ...]) -> bool:
    return True


def _with_arguments(args: tuple[str, ...]) -> bool:
    return bool(args)


@dataclass(frozen=True)
class Command:
    """A chat command; `draws_chart` says, from the arguments, whether the answer has a chart
    (so Telegram can show "sending a photo" rather than "typing" meanwhile)."""

    name: str
    usage: str
    example: str
    summary: str
    handler: Handler
    admin_only: bool = False
    draws_chart: Callable[[tuple[str, ...]], bool] = _never


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
    _private_only(request, "/whatsapp")
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
        if command.admin_only and role is not Role.ADMIN:
            continue
        lines.append(
            f"{esc(command.usage)}: {esc(command.summary)} <i>e.g.</i> {esc(command.example)}"
        )
    lines.append(f"Materials: {esc(', '.join(request.services.catalog.keys))}")
    return "\n".join(lines)


def _private_only(request: Request, usage: str) -> None:
    if request.caller.is_group:
        raise UserError(
            f"Send {usage} to me in a private chat: what it shows is for admins, not for "
            "everyone in this group."
        )


async def invite(request: Request) -> Reply:
    """/invite: a one-time invite link, valid for 7 days (admins)."""
    request.no_args("/invite")
    _private_only(request, "/invite")
    issued = await request.services.invites.create(request.caller.user_id)
    until = moment(issued.expires_at)
    if request.bot_username:
        link = f"https://t.me/{request.bot_username}?start={issued.code}"
        return Reply(
            f"<b>Invite link</b> (works once, until {until}):\n{esc(link)}\n"
            "Send it to the person to let in: opening it gives them buyer access."
        )
    return Reply(
        f"<b>Invite code</b> (works once, until {until}): <code>{esc(issued.code)}</code>\n"
        f"The person to let in sends the bot: /start {esc(issued.code)}"
    )


# Telegram user ids are positive and fit in 52 bits (a double, as some clients hold them).
MAX_USER_ID = 2**53
_USER_ID = re.compile(r"^[0-9]{1,16}$")
USERS_USAGE = "Usage: /users, /users add ID or /users revoke ID (ID: a numeric Telegram user id)."


async def users(request: Request) -> Reply:
    """/users [add ID | revoke ID]: who has access; grant or revoke it (admins)."""
    _private_only(request, "/users")
    access = request.services.access
    if not request.args:
        return Reply(user_report(await access.members()))
    if len(request.args) != 2 or request.args[0].lower() not in ("add", "revoke"):
        raise UserError(f"{USERS_USAGE} Example: /users revoke 123456789")
    action, text = request.args[0].lower(), request.args[1]
    user_id = int(text) if _USER_ID.match(text) else 0
    if not 0 < user_id < MAX_USER_ID:
        raise UserError(
            f"The user id must be a Telegram user id (a whole number above 0), got "
            f"'{quoted(text)}'. Example: /users {action} 123456789"
        )
    if action == "add":
        await access.grant(user_id, by=request.caller.user_id)
        return Reply(f"User <code>{user_id}</code> has access now (as a buyer).")
    await access.revoke(user_id)
    return Reply(f"User <code>{user_id}</code> no longer has access.")


PRICES_USAGE = (
    "Usage: /prices, /prices accept MATERIAL, /prices drop MATERIAL or "
    "/prices delete MATERIAL TIME (TIME in UTC, e.g. 2026-11-24T14:05)"
)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLOCK = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?$")
_SECONDS = re.compile(r"^\d{1,2}:\d{2}:\d{2}")


def parse_moment(words: tuple[str, ...]) -> tuple[datetime, timedelta]:
    """A time an admin typed ('2026-11-24T14:05', '2026-11-24 14:05:17', '2026-11-24'; UTC
    unless it says otherwise) and how precise it is: a day, a minute or a second."""
    text = "T".join(words)
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"'{quoted(' '.join(words))}' is not a time: write it as 2026-11-24T14:05 (UTC)."
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    clock = text.partition("T")[2]
    if not clock:
        span = timedelta(days=1)
    elif _SECONDS.match(clock):
        span = timedelta(seconds=1)
    else:
        span = timedelta(minutes=1)
    return at.astimezone(UTC), span


def _split_time(words: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(material words, time words): the time is the last word, or the last two when they
    are a day and a clock time."""
    if len(words) >= 3 and _DAY.match(words[-2]) and _CLOCK.match(words[-1]):
        return words[:-2], words[-2:]
    return words[:-1], words[-1:]


async def prices(request: Request) -> Reply:
    """/prices [accept MATERIAL | drop MATERIAL | delete MATERIAL TIME]: feed prices held as
    implausible, accepted or dropped; a bad stored price removed (admins)."""
    _private_only(request, "/prices")
    guard = request.services.price_guard
    if guard is None:
        return Reply("Feed prices are not checked here, so none are held.")
    if not request.args:
        return Reply(held_report(await guard.all_held(), guard.max_jump_pct), refresh="/prices")
    action, rest = request.args[0].lower(), request.args[1:]
    if action in ("accept", "drop"):
        material = request.material(f"/prices {action} MATERIAL", rest)
        if action == "accept":
            held = await guard.accept(material)
            done = f"Accepted {len(held.points)} held {esc(material.name)} prices"
            then = f"/price {material.key} shows them now."
        else:
            held = await guard.drop(material)
            done = f"Dropped {len(held.points)} held {esc(material.name)} prices"
            then = "They will not be stored."
        if not held.points:
            return Reply(f"No {esc(material.name)} prices are held. /prices lists what is.")
        return Reply(f"{done} ({held_prices_line(held)}). {then}")
    if action == "delete":
        material_words, time_words = _split_time(rest)
        if not material_words:
            raise UserError(f"Which material and time? {PRICES_USAGE}")
        material = request.material("/prices delete MATERIAL TIME", material_words)
        at, span = parse_moment(time_words)
        point = await guard.delete(material, at, span)
        latest = (await request.services.prices.summary(material)).latest
        now = (
            f" It now shows {amount(latest.price)} {esc(material.price_unit)} "
            f"({moment(latest.at)})."
            if latest is not None
            else ""
        )
        return Reply(
            f"Deleted the {esc(material.name)} price of {amount(point.price)} "
            f"{esc(material.price_unit)} stored at {point.at:%Y-%m-%d %H:%M:%S} UTC.{now} "
            "Forecasts leave it out from their next retrain."
        )
    raise UserError(f"Unknown /prices action '{quoted(request.args[0])}'. {PRICES_USAGE}")


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
            draws_chart=_with_arguments,
        ),
        Command(
            "forecast",
            "/forecast MATERIAL",
            "/forecast aluminium",
            "7-day forecast, chart, BUY NOW / WAIT / MONITOR and the model's accuracy.",
            forecast,
            draws_chart=_with_arguments,
        ),
        Command(
            "budget",
            BUDGET_USAGE,
            "/budget copper 90",
            f"cost of the planned use over the next DAYS (default {DEFAULT_DAYS}, up to "
            f"{MAX_DAYS}), with its 95% range and a chart.",
            budget,
            draws_chart=_with_arguments,
        ),
        Command(
            "stock",
            "/stock [MATERIAL]",
            "/stock",
            "stock, daily use, days of cover and reorder point, low ones first.",
            stock,
            draws_chart=_always,
        ),
        Command(
            "vendors",
            "/vendors MATERIAL",
            "/vendors steel",
            "vendors ranked by price, delivery and rating, with the best pick.",
            vendors,
            draws_chart=_with_arguments,
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
        ),
        Command(
            "subscribe",
            "/subscribe",
            "/subscribe",
            "send alerts to this chat (a group: admins only).",
            subscribe,
        ),
        Command(
            "unsubscribe",
            "/unsubscribe",
            "/unsubscribe",
            "stop alerts to this chat (a group: admins only).",
            unsubscribe,
        ),
        Command(
            "invite",
            "/invite",
            "/invite",
            "a one-time invite link, valid for 7 days (admins).",
            invite,
            admin_only=True,
        ),
        Command(
            "users",
            "/users [add ID | revoke ID]",
            "/users revoke 123456789",
            "who has access; grant or revoke it (admins).",
            users,
            admin_only=True,
        ),
        Command(
            "prices",
            "/prices [accept MATERIAL | drop MATERIAL | delete MATERIAL TIME]",
            "/prices accept copper",
            "feed prices held as implausible: accept or drop them; delete a bad stored "
            "price (admins).",
            prices,
            admin_only=True,
        ),
    )
}

# Features with modules of their own (bot/chat/commands/) join the registry here, last: they
# build on the names above.
from bot.chat.commands import digests as _digests  # noqa: E402
from bot.chat.commands import status as _status  # noqa: E402
from bot.chat.commands import watches as _watches  # noqa: E402

COMMANDS.update(
    (c.name, c) for feature in (_watches, _digests, _status) for c in feature.commands()
)


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
) -> Reply:
    """Runs one command for `caller`; a UserError becomes a one-line answer. Someone without
    access gets a refusal with their user id and nothing else, whatever they send, except an
    invite code (`/start CODE`)."""
    command = COMMANDS.get(name)
    if caller.role is None and not (name == "start" and args):
        return Reply(refusal(caller.user_id))
    if command is None:
        return unknown_command(name)
    if command.admin_only and caller.role is not Role.ADMIN:
        return Reply(f"Only admins may use /{esc(name)}.")
    try:
        return await command.handler(Request(args, caller, services, render, bot_username))
    except UserError as error:
        return Reply(esc(str(error)))
