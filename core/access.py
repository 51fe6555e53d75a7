"""Who may use the bot: default deny; admins and allowed users from the settings, plus users
granted at run time (by an admin, or by redeeming a one-time invite)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import UserError
from core.models import Invite, Role, User
from core.ports import Clock, InviteRepo, SystemClock, UserRepo

INVITE_LIFETIME = timedelta(days=7)
# Telegram deep links carry the start parameter: up to 64 of A-Z, a-z, 0-9, _ and -.
INVITE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class AccessPolicy:
    """Decides each user's role (None means no access at all) and manages run-time grants."""

    def __init__(
        self,
        admin_ids: frozenset[int],
        allowed_ids: frozenset[int],
        users: UserRepo,
        clock: Clock | None = None,
    ) -> None:
        self._admins = admin_ids
        self._allowed = allowed_ids
        self._users = users
        self._clock = clock or SystemClock()

    async def role_of(self, user_id: int) -> Role | None:
        if user_id in self._admins:
            return Role.ADMIN
        granted = await self._users.get(user_id)
        if granted is not None:
            return granted.role
        return Role.BUYER if user_id in self._allowed else None

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
        )

    async def grant(
        self, user_id: int, by: int | None, role: Role = Role.BUYER, name: str | None = None
    ) -> None:
        """Gives `user_id` access; refuses users who have it already."""
        if await self.role_of(user_id) is not None:
            raise UserError(f"User {user_id} has access already. /users lists everyone.")
        await self._users.grant(user_id, role, by, self._clock.now(), name)

    async def revoke(self, user_id: int) -> None:
        """Takes back access granted at run time; settings-listed users are changed there."""
        if user_id in self._admins:
            raise UserError(
                f"User {user_id} is an admin from ADMIN_USER_IDS: remove them there and restart."
            )
        if not await self._users.revoke(user_id):
            if user_id in self._allowed:
                raise UserError(
                    f"User {user_id} is allowed by ALLOWED_USER_IDS: remove them there and restart."
                )
            raise UserError(f"User {user_id} has no access to revoke. /users lists who has.")


@dataclass(frozen=True)
class Members:
    admins: tuple[int, ...]
    allowed: tuple[int, ...]
    granted: tuple[User, ...]


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
