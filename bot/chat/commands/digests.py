"""/digest and /quiet: a chat's daily summary and its quiet hours (core/digests.py,
core/quiet_hours.py), with the price overview chart a digest comes with."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot import charts
from bot.chat.commands.watches import NOT_A_CHAT
from bot.chat.request import Command, Request
from bot.formatting import Button, Reply, esc, summary_message
from bot.rendering import Renderer
from core.digests import DigestService
from core.domain.local_time import (
    DailyTime,
    QuietHours,
    clock_text,
    find_zone,
    parse_clock,
    parse_quiet_hours,
)
from core.errors import UserError
from core.models import Channel, Role
from core.quiet_hours import QuietHoursService
from core.services import Services

DIGEST_USAGE = "/digest [HH:MM [TIMEZONE] | off]"
QUIET_USAGE = "/quiet HH:MM-HH:MM [TIMEZONE] | off"
CHART_DAYS = 30


async def overview_chart(services: Services, render: Renderer) -> bytes | None:
    """Every material's last 30 days on one chart (None while there are no prices)."""
    series = [(m, await services.prices.history(m, CHART_DAYS)) for m in services.catalog]
    if not any(points for _, points in series):
        return None
    return await render(charts.overview_chart, series, CHART_DAYS)


def on_clock(moment: datetime, zone: ZoneInfo) -> str:
    """'Wed 25 Nov 07:30 Europe/Berlin', plus the UTC time where the zone is not UTC."""
    local = moment.astimezone(zone)
    text = f"{local:%a} {local.day} {local:%b %H:%M} {zone.key}"
    if local.utcoffset() != ZoneInfo("UTC").utcoffset(moment):
        text += f" ({moment:%H:%M} UTC)"
    return text


def _chat(request: Request) -> str | None:
    caller = request.caller
    return str(caller.chat_id) if caller.channel is Channel.TELEGRAM else None


def _setting_chat(request: Request, what: str) -> str:
    """The chat whose setting the caller changes: in a group, only admins change it."""
    chat = _chat(request)
    if chat is None:
        raise UserError(NOT_A_CHAT)
    if request.caller.is_group and request.caller.role is not Role.ADMIN:
        raise UserError(f"Only admins change a group's {what}; ask one of them.")
    return chat


def _digests(request: Request) -> DigestService:
    if request.services.digests is None:
        raise UserError("Digests are not set up here.")
    return request.services.digests


def _quiet(request: Request) -> QuietHoursService:
    if request.services.quiet_hours is None:
        raise UserError("Quiet hours are not set up here.")
    return request.services.quiet_hours


async def digest(request: Request) -> Reply:
    """/digest [HH:MM [TIMEZONE] | off]: the digest now, or this chat's daily time for it."""
    service, args = _digests(request), request.args
    if not args:
        return await _digest_now(request, service)
    if args[0].lower() == "off":
        if len(args) > 1:
            raise UserError(f"/digest off takes nothing more. Usage: {DIGEST_USAGE}")
        chat = _setting_chat(request, "digest")
        if not await service.off(chat, request.caller.user_id):
            return Reply("This chat gets no daily digest. /digest 07:30 Europe/Berlin sets one.")
        return Reply("Daily digest stopped. /digest alone still shows it whenever you ask.")
    if len(args) > 2:
        raise UserError(
            f"Too much after /digest: '{' '.join(args)}'. Usage: {DIGEST_USAGE}, e.g. "
            "/digest 07:30 Europe/Berlin"
        )
    daily = DailyTime(parse_clock(args[0]), find_zone(args[1] if len(args) > 1 else None))
    chat = _setting_chat(request, "digest")
    schedule = await service.set(chat, daily, request.caller.user_id)
    return Reply(
        f"🗞 <b>Daily digest at {esc(daily.describe())}</b>: prices with their 1- and 7-day "
        "change, stock to order, each material's advice and the day's alerts, with a chart. "
        f"The next one comes {esc(on_clock(schedule.next_at, daily.zone))}.\n"
        "<i>/digest alone shows it now; /digest off stops it.</i>",
        choices=(Button("Digest now", "/digest"),),
    )


async def _digest_now(request: Request, service: DigestService) -> Reply:
    chat = _chat(request)
    schedule = await service.get(chat) if chat is not None else None
    quiet = None
    if schedule is None and chat is not None and request.services.quiet_hours is not None:
        quiet = await request.services.quiet_hours.get(chat)
    zone = schedule.daily.zone if schedule else quiet.zone if quiet else find_zone(None)
    text = summary_message(await service.write(chat or "", zone))
    if schedule is not None:
        text += f"\n<i>Next digest: {esc(on_clock(schedule.next_at, zone))}.</i>"
    elif chat is not None:
        text += "\n<i>No daily digest here yet: /digest 07:30 Europe/Berlin sets one.</i>"
    chart = await overview_chart(request.services, request.render)
    return Reply(text, chart, "digest", refresh="/digest")


async def quiet(request: Request) -> Reply:
    """/quiet HH:MM-HH:MM [TIMEZONE] | off: WARNING and INFO alerts wait during those hours."""
    service, args = _quiet(request), request.args
    if not args:
        chat = _chat(request)
        if chat is None:
            raise UserError(NOT_A_CHAT)
        hours = await service.get(chat)
        if hours is None:
            return Reply(
                "No quiet hours: every alert comes as it happens. Set them: "
                "/quiet 22:00-07:00 Europe/Berlin"
            )
        return Reply(f"🌙 Quiet hours {esc(hours.describe())}. {_now_or_next(hours, request)}.")
    if args[0].lower() == "off":
        if len(args) > 1:
            raise UserError(f"/quiet off takes nothing more. Usage: {QUIET_USAGE}")
        chat = _setting_chat(request, "quiet hours")
        if not await service.off(chat, request.caller.user_id):
            return Reply("This chat has no quiet hours: every alert comes as it happens.")
        return Reply("Quiet hours off: alerts come as they happen, and any they held come now.")
    span, rest = (f"{args[0]}-{args[2]}", args[3:]) if args[1:2] == ("-",) else (args[0], args[1:])
    if len(rest) > 1:
        raise UserError(
            f"Too much after /quiet: '{' '.join(args)}'. Usage: {QUIET_USAGE}, e.g. "
            "/quiet 22:00-07:00 Europe/Berlin"
        )
    hours = parse_quiet_hours(span, rest[0] if rest else None)
    chat = _setting_chat(request, "quiet hours")
    await service.set(chat, hours, request.caller.user_id)
    return Reply(
        f"🌙 <b>Quiet hours {esc(hours.describe())}</b>: WARNING and INFO alerts for this chat "
        f"wait until {clock_text(hours.ends)} and then come as one message; CRITICAL alerts "
        f"come at once. {_now_or_next(hours, request)}.\n<i>/quiet off ends them.</i>"
    )


def _now_or_next(hours: QuietHours, request: Request) -> str:
    now = request.services.clock.now()
    ends = hours.end_if_quiet(now)
    if ends is not None:
        return f"They are on now, until {esc(on_clock(ends, hours.zone))}"
    return f"They are off now and start at {clock_text(hours.starts)}"


COMMANDS: tuple[Command, ...] = (
    Command(
        "digest",
        DIGEST_USAGE,
        "/digest 07:30 Europe/Berlin",
        "a daily summary at that local time; alone: the digest now.",
        digest,
        draws_chart=lambda args: not args,
    ),
    Command(
        "quiet",
        QUIET_USAGE,
        "/quiet 22:00-07:00 Europe/Berlin",
        "WARNING and INFO alerts wait during those hours, then come as one message.",
        quiet,
        writes=True,
    ),
)
