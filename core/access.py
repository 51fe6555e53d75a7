"""Who may use the bot: default deny, admins and allowed users from settings plus grants."""

from __future__ import annotations

from core.models import Role
from core.ports import UserRepo


class AccessPolicy:
    """Decides each user's role; None means no access at all."""

    def __init__(
        self, admin_ids: frozenset[int], allowed_ids: frozenset[int], users: UserRepo
    ) -> None:
        self._admins = admin_ids
        self._allowed = allowed_ids
        self._users = users

    async def role_of(self, user_id: int) -> Role | None:
        if user_id in self._admins:
            return Role.ADMIN
        granted = await self._users.get(user_id)
        if granted is not None:
            return granted.role
        return Role.BUYER if user_id in self._allowed else None
