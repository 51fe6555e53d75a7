"""Who may use the bot: users and one-time invites."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import invites, users
from core.models import Invite, Role, User

_USER = (users.c.user_id, users.c.role, users.c.added_at, users.c.added_by, users.c.name)
_INVITE = (
    invites.c.code_hash,
    invites.c.role,
    invites.c.created_by,
    invites.c.created_at,
    invites.c.expires_at,
    invites.c.used_by,
    invites.c.used_at,
)


def _user(row: sa.Row[Any]) -> User:
    return User(**{**row._mapping, "role": Role(row.role)})


class SqlUserRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: int) -> User | None:
        row = await self._db.fetchone(sa.select(*_USER).where(users.c.user_id == user_id))
        return None if row is None else _user(row)

    async def all(self) -> list[User]:
        rows = await self._db.fetchall(
            sa.select(*_USER).order_by(users.c.added_at, users.c.user_id)
        )
        return [_user(r) for r in rows]

    async def grant(
        self,
        user_id: int,
        role: Role,
        added_by: int | None,
        at: datetime,
        name: str | None = None,
    ) -> None:
        statement = self._db.insert(users).values(
            user_id=user_id, role=role.value, name=name, added_by=added_by, added_at=at
        )
        async with self._db.transaction() as tx:
            await tx.execute(
                statement.on_conflict_do_update(
                    index_elements=["user_id"],
                    set_={
                        "role": statement.excluded.role,
                        "name": sa.func.coalesce(statement.excluded.name, users.c.name),
                    },
                )
            )

    async def revoke(self, user_id: int) -> bool:
        async with self._db.transaction() as tx:
            result = await tx.execute(sa.delete(users).where(users.c.user_id == user_id))
            return result.rowcount > 0


class SqlInviteRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, invite: Invite) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                sa.insert(invites).values(
                    code_hash=invite.code_hash,
                    role=invite.role.value,
                    created_by=invite.created_by,
                    created_at=invite.created_at,
                    expires_at=invite.expires_at,
                )
            )

    async def get(self, code_hash: str) -> Invite | None:
        row = await self._db.fetchone(sa.select(*_INVITE).where(invites.c.code_hash == code_hash))
        return None if row is None else Invite(**{**row._mapping, "role": Role(row.role)})

    async def claim(self, code_hash: str, user_id: int, at: datetime) -> bool:
        async with self._db.transaction() as tx:
            result = await tx.execute(
                sa.update(invites)
                .where(invites.c.code_hash == code_hash, invites.c.used_at.is_(None))
                .values(used_by=user_id, used_at=at)
            )
            return result.rowcount > 0
