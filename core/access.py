"""Who may use the bot and what each may do: default deny; admins, approvers, buyers
(`ALLOWED_USER_IDS`) and viewers from the settings, plus users granted a role at run time (by an
admin, or by redeeming a one-time invite).

Roles and what they may do (`require`):

| role     | read | record moves, quotes, files | approve purchases | manage users, materials |
|----------|------|-----------------------------|-------------------|-------------------------|
| viewer   | yes  |                             |                   |                         |
| buyer    | yes  | yes                         |                   |                         |
| approver | yes  | yes                         | yes               |                         |
| admin    | yes  | yes                         | yes               | yes                     |
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from core.errors import UserError
from core.models import Invite, Role, User
from core.ports import Clock, InviteRepo, SystemClock, UserRepo

INVITE_LIFETIME = timedelta(days=7)
# Telegram deep links carry the start parameter: up to 64 of A-Z, a-z, 0-9, _ and -.
INVITE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Permission(Enum):
    """What an action needs; each role has the permissions of the roles below it."""

    READ = Role.VIEWER
    RECORD = Role.BUYER
    APPROVE = Role.APPROVER
    ADMIN = Role.ADMIN


_RANK = {Role.VIEWER: 0, Role.BUYER: 1, Role.APPROVER: 2, Role.ADMIN: 3}
_WHAT = {
    Permission.READ: "reading",
    Permission.RECORD: "recording stock moves, quotes and files",
    Permission.APPROVE: "approving purchases",
    Permission.ADMIN: "managing users and materials",
}


class NotAllowed(UserError):
    """The user's role does not allow the action; the message says which role would."""


def may(role: Role | None, permission: Permission) -> bool:
    return role is not None and _RANK[role] >= _RANK[permission.value]


def require(role: Role | None, permission: Permission, action: str | None = None) -> None:
    """Raises NotAllowed, saying why, unless `role` may do what `permission` covers;
    `action` names it ("/use") in the message."""
    if may(role, permission):
        return
    if role is None:
        raise NotAllowed("Only people with access may do that.")
    if permission is Permission.ADMIN:
        raise NotAllowed(f"Only admins may use {action}." if action else "Only admins may do that.")
    needed = {Permission.RECORD: "buyer", Permission.APPROVE: "approver"}.get(permission, "admin")
    doing = f"{action} ({_WHAT[permission]})" if action else _WHAT[permission].capitalize()
    raise NotAllowed(
        f"Your role is {role.value}, which may only read: {doing} needs the {needed} role or "
        "higher. Ask an admin to change it."
        if role is Role.VIEWER
        else f"Your role is {role.value}: {doing} needs the {needed} role or higher. "
        "Ask an admin to change it."
    )


def parse_role(text: str) -> Role:
    """A role by name ('Buyer' -> Role.BUYER); raises UserError listing the roles."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise UserError(f"'{text}' is not a role: use one of {roles}.") from None


class AccessPolicy:
    """Decides each user's role (None means no access at all) and manages run-time grants.

    ADMIN_USER_IDS are admins whatever else is said; a role granted at run time comes next
    (an admin may make a settings-listed buyer an approver); then APPROVER_USER_IDS,
    ALLOWED_USER_IDS (buyers) and VIEWER_USER_IDS."""

    def __init__(
        self,
        admin_ids: frozenset[int],
        allowed_ids: frozenset[int],
        users: UserRepo,
        clock: Clock | None = None,
        viewer_ids: frozenset[int] = frozenset(),
        approver_ids: frozenset[int] = frozenset(),
    ) -> None:
        self._admins = admin_ids
        self._allowed = allowed_ids
        self._viewers = viewer_ids
        self._approvers = approver_ids
        self._users = users
        self._clock = clock or SystemClock()

    async def role_of(self, user_id: int) -> Role | None:
        if user_id in self._admins:
            return Role.ADMIN
        granted = await self._users.get(user_id)
        if granted is not None:
            return granted.role
        return self._configured(user_id)

    def _configured(self, user_id: int) -> Role | None:
        if user_id in self._approvers:
            return Role.APPROVER
        if user_id in self._allowed:
            return Role.BUYER
        if user_id in self._viewers:
            return Role.VIEWER
        return None

    async def admin_ids(self) -> list[int]:
        """Every admin: from ADMIN_USER_IDS, and granted the role at run time."""
        granted = {u.user_id for u in await self._users.all() if u.role is Role.ADMIN}
        return sorted(self._admins | granted)

    async def members(self) -> Members:
        """Everyone with access: from the settings, and granted at run time."""
        return Members(
            admins=tuple(sorted(self._admins)),
            allowed=tuple(sorted(self._allowed)),
            granted=tuple(await self._users.all()),
            approvers=tuple(sorted(self._approvers)),
            viewers=tuple(sorted(self._viewers)),
        )

    async def grant(
        self, user_id: int, by: int | None, role: Role = Role.BUYER, name: str | None = None
    ) -> None:
        """Gives `user_id` access; refuses users who have it already."""
        if await self.role_of(user_id) is not None:
            raise UserError(
                f"User {user_id} has access already. /users role {user_id} ROLE changes it; "
                "/users lists everyone."
            )
        await self._users.grant(user_id, role, by, self._clock.now(), name)

    async def set_role(self, user_id: int, role: Role, by: int | None) -> Role | None:
        """Gives a user with access another role; returns the role they had. Users from
        ADMIN_USER_IDS are changed there."""
        if user_id in self._admins:
            raise UserError(
                f"User {user_id} is an admin from ADMIN_USER_IDS: change them there and restart."
            )
        before = await self.role_of(user_id)
        if before is None:
            raise UserError(
                f"User {user_id} has no access: /users add {user_id} {role.value} lets them in."
            )
        if before is not role:
            await self._users.grant(user_id, role, by, self._clock.now())
        return before

    async def revoke(self, user_id: int) -> None:
        """Takes back access granted at run time; settings-listed users are changed there."""
        if user_id in self._admins:
            raise UserError(
                f"User {user_id} is an admin from ADMIN_USER_IDS: remove them there and restart."
            )
        if not await self._users.revoke(user_id):
            for ids, setting in (
                (self._allowed, "ALLOWED_USER_IDS"),
                (self._approvers, "APPROVER_USER_IDS"),
                (self._viewers, "VIEWER_USER_IDS"),
            ):
                if user_id in ids:
                    raise UserError(
                        f"User {user_id} is allowed by {setting}: remove them there and restart."
                    )
            raise UserError(f"User {user_id} has no access to revoke. /users lists who has.")


@dataclass(frozen=True)
class Members:
    admins: tuple[int, ...]
    allowed: tuple[int, ...]
    granted: tuple[User, ...]
    approvers: tuple[int, ...] = ()
    viewers: tuple[int, ...] = ()


@dataclass(frozen=True)
class IssuedInvite:
    """A new invite: the code goes into the link and is never stored in clear."""

    code: str
    expires_at: datetime


@dataclass(frozen=True)
class Redemption:
    role: Role
    already_had_access: bool = False


class InvalidInvite(UserError):
    """An invite code that is unknown, used or expired."""


def _new_code() -> str:
    return secrets.token_urlsafe(16)


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class InviteService:
    """One-time invites, valid for `INVITE_LIFETIME`, created by admins and redeemed once."""

    def __init__(
        self,
        invites: InviteRepo,
        access: AccessPolicy,
        users: UserRepo,
        clock: Clock,
        new_code: Callable[[], str] = _new_code,
    ) -> None:
        self._invites = invites
        self._access = access
        self._users = users
        self._clock = clock
        self._new_code = new_code

    async def create(self, by: int, role: Role = Role.BUYER) -> IssuedInvite:
        now = self._clock.now()
        code = self._new_code()
        expires = now + INVITE_LIFETIME
        await self._invites.add(Invite(code_hash(code), role, by, now, expires))
        return IssuedInvite(code, expires)

    async def redeem(self, code: str, user_id: int, name: str | None = None) -> Redemption:
        """Grants the invite's role to `user_id` and uses the invite up; a user who has access
        already keeps the invite unused."""
        current = await self._access.role_of(user_id)
        if current is not None:
            return Redemption(current, already_had_access=True)
        if not INVITE_CODE.match(code):
            raise InvalidInvite("This invite link is not valid: ask an admin for a new one.")
        hashed = code_hash(code)
        invite = await self._invites.get(hashed)
        now = self._clock.now()
        if invite is None:
            raise InvalidInvite("This invite link is not valid: ask an admin for a new one.")
        if invite.used_at is not None:
            raise InvalidInvite(
                "This invite link has been used already: each link works once. "
                "Ask an admin for a new one."
            )
        if now >= invite.expires_at:
            raise InvalidInvite(
                f"This invite link expired on {invite.expires_at:%d %b %Y %H:%M} UTC: "
                "ask an admin for a new one."
            )
        if not await self._invites.claim(hashed, user_id, now):
            raise InvalidInvite(
                "This invite link has been used already: each link works once. "
                "Ask an admin for a new one."
            )
        await self._users.grant(user_id, invite.role, invite.created_by, now, name)
        return Redemption(invite.role)
