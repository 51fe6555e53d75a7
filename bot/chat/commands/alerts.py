"""/alerts, /subscribe, /unsubscribe and /whatsapp: the alerts raised so far, and where new
ones go (Telegram chats, WhatsApp numbers)."""

from __future__ import annotations

from bot.chat.request import NUMBERISH, Command, Request
from bot.formatting import Reply, alert_report, attention_report, esc, whatsapp_report
from core.errors import UnknownMaterial, UserError
from core.models import Advice
from core.subscriptions import SubscriptionService
from core.wording import quoted

DEFAULT_ALERTS = 10
MAX_ALERTS = 100
WHATSAPP_USAGE = (
    "Usage: /whatsapp list, /whatsapp add +E164 or /whatsapp remove +E164, "
    "e.g. /whatsapp add +4915112345678"
)
NO_CHAT = (
    "Alerts go to Telegram chats: send /subscribe in the chat (private or group) that should "
    "get them."
)


async def alerts(request: Request) -> Reply:
    """/alerts [N | MATERIAL]: the last N alerts (default 10), newest first."""
    limit, material = DEFAULT_ALERTS, None
    if len(request.args) == 1 and NUMBERISH.match(request.args[0]):
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


COMMANDS: tuple[Command, ...] = (
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
)
