"""/start and /help: the welcome, invite codes redeemed and the command list; and what someone
without access reads instead."""

from __future__ import annotations

from bot.chat.request import Command, Request
from bot.formatting import Reply, esc
from core.access import InvalidInvite, may
from core.models import Role


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
    for command in request.commands:
        if command.hidden or not may(role, command.permission):
            continue
        lines.append(
            f"{esc(command.usage)}: {esc(command.summary)} <i>e.g.</i> {esc(command.example)}"
        )
    lines.append(f"Materials: {esc(', '.join(request.services.catalog.keys))}")
    return "\n".join(lines)


COMMANDS: tuple[Command, ...] = (
    Command("start", "/start", "/start", "welcome and the command list.", start),
    Command("help", "/help", "/help", "every command with an example.", help_),
)
