"""/users and /invite (admins, in a private chat): who has access, with which role."""

from __future__ import annotations

import re

from bot.chat.request import Command, Request
from bot.formatting import Reply, esc, moment, user_report
from core.access import parse_role
from core.errors import UserError
from core.models import Role
from core.wording import quoted

USERS_USAGE = (
    "Usage: /users, /users add ID [ROLE], /users role ID ROLE or /users revoke ID "
    "(ID: a numeric Telegram user id; ROLE: viewer, buyer, approver or admin)."
)
ROLE_MEANS = {
    Role.VIEWER: "viewer access (reading only)",
    Role.BUYER: "buyer access",
    Role.APPROVER: "approver access (a buyer who may approve purchases)",
    Role.ADMIN: "admin access",
}


async def invite(request: Request) -> Reply:
    """/invite [ROLE]: a one-time invite link, valid for 7 days (admins)."""
    request.private_only("/invite")
    if len(request.args) > 1:
        raise UserError("Usage: /invite [ROLE], ROLE one of viewer, buyer, approver, admin.")
    role = parse_role(request.args[0]) if request.args else Role.BUYER
    issued = await request.services.invites.create(request.caller.user_id, role)
    until = moment(issued.expires_at)
    if request.bot_username:
        link = f"https://t.me/{request.bot_username}?start={issued.code}"
        return Reply(
            f"<b>Invite link</b> (works once, until {until}):\n{esc(link)}\n"
            f"Send it to the person to let in: opening it gives them {ROLE_MEANS[role]}."
        )
    return Reply(
        f"<b>Invite code</b> (works once, until {until}): <code>{esc(issued.code)}</code>\n"
        f"The person to let in sends the bot: /start {esc(issued.code)} "
        f"({ROLE_MEANS[role]})"
    )


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


# Telegram user ids are positive and fit in 52 bits (a double, as some clients hold them).
MAX_USER_ID = 2**53
_USER_ID = re.compile(r"^[0-9]{1,16}$")


def _user_id(text: str, action: str) -> int:
    user_id = int(text) if _USER_ID.match(text) else 0
    if not 0 < user_id < MAX_USER_ID:
        raise UserError(
            f"The user id must be a Telegram user id (a whole number above 0), got "
            f"'{quoted(text)}'. Example: /users {action} 123456789"
        )
    return user_id


async def users(request: Request) -> Reply:
    """/users [add ID [ROLE] | role ID ROLE | revoke ID]: who has access; change it (admins)."""
    request.private_only("/users")
    access = request.services.access
    args = request.args
    if not args:
        return Reply(user_report(await access.members()))
    action = args[0].lower()
    by = request.caller.user_id
    if action == "add" and len(args) in (2, 3):
        user_id = _user_id(args[1], action)
        role = parse_role(args[2]) if len(args) == 3 else Role.BUYER
        await access.grant(user_id, by=by, role=role)
        return Reply(f"User <code>{user_id}</code> has {ROLE_MEANS[role]} now.")
    if action == "role" and len(args) == 3:
        user_id = _user_id(args[1], action)
        role = parse_role(args[2])
        before = await access.set_role(user_id, role, by)
        if before is role:
            return Reply(f"User <code>{user_id}</code> is {_a(role)} already.")
        assert before is not None
        return Reply(
            f"User <code>{user_id}</code> is {_a(role)} now (was {before.value}): "
            f"{ROLE_MEANS[role]}."
        )
    if action == "revoke" and len(args) == 2:
        user_id = _user_id(args[1], action)
        await access.revoke(user_id)
        remaining = await access.role_of(user_id)
        if remaining is not None:
            return Reply(
                f"User <code>{user_id}</code> keeps {ROLE_MEANS[remaining]} from the settings."
            )
        return Reply(f"User <code>{user_id}</code> no longer has access.")
    raise UserError(f"{USERS_USAGE} Example: /users role 123456789 approver")


COMMANDS: tuple[Command, ...] = (
    Command(
        "invite",
        "/invite [ROLE]",
        "/invite viewer",
        "a one-time invite link, valid for 7 days, for a role (default buyer; admins).",
        invite,
        admin_only=True,
    ),
    Command(
        "users",
        "/users [add ID [ROLE] | role ID ROLE | revoke ID]",
        "/users role 123456789 approver",
        "who has access, with which role; let people in, change roles, revoke (admins).",
        users,
        admin_only=True,
        writes=True,
    ),
)
