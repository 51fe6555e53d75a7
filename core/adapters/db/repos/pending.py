"""Actions waiting for an answer, and the Telegram updates already handled."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import handled_updates, pending_actions
from core.domain.pending import PendingAction, PendingKind, PendingState


def _action(row: sa.Row[Any]) -> PendingAction:
    return PendingAction(
        kind=PendingKind(row.kind),
        payload=json.loads(row.payload),
        user_id=row.user_id,
        chat_id=row.chat_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        state=PendingState(row.state),
        id=row.id,
        data=row.data,
    )


class SqlPendingActionRepo:
    """Implements PendingActionRepo."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, action: PendingAction) -> PendingAction:
        async with self._db.transaction() as tx:
            new_id = (
                await tx.execute(
                    sa.insert(pending_actions)
                    .values(
                        kind=action.kind.value,
                        payload=json.dumps(action.payload, separators=(",", ":")),
                        user_id=action.user_id,
                        chat_id=action.chat_id,
                        created_at=action.created_at,
                        expires_at=action.expires_at,
                        state=action.state.value,
                        data=action.data,
                    )
                    .returning(pending_actions.c.id)
                )
            ).scalar_one()
        return PendingAction(**{**action.__dict__, "id": new_id})

    async def get(self, action_id: int) -> PendingAction | None:
        row = await self._db.fetchone(
            sa.select(pending_actions).where(pending_actions.c.id == action_id)
        )
        return None if row is None else _action(row)

    async def waiting(
        self, kind: PendingKind, user_id: int, chat_id: int, now: datetime
    ) -> PendingAction | None:
        row = await self._db.fetchone(
            sa.select(pending_actions)
            .where(
                pending_actions.c.kind == kind.value,
                pending_actions.c.user_id == user_id,
                pending_actions.c.chat_id == chat_id,
                pending_actions.c.state == PendingState.PENDING.value,
                pending_actions.c.expires_at > now,
            )
            .order_by(pending_actions.c.id.desc())
            .limit(1)
        )
        return None if row is None else _action(row)

    async def settle(self, action_id: int, state: PendingState, now: datetime) -> bool:
        async with self._db.transaction() as tx:
            result = await tx.execute(
                sa.update(pending_actions)
                .where(
                    pending_actions.c.id == action_id,
                    pending_actions.c.state == PendingState.PENDING.value,
                    pending_actions.c.expires_at > now,
                )
                .values(state=state.value)
            )
            return result.rowcount > 0


class SqlHandledUpdateRepo:
    """Implements HandledUpdateRepo."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, update_id: int, callback_query_id: str | None, at: datetime) -> bool:
        async with self._db.transaction() as tx:
            claimed = (
                await tx.execute(
                    self._db.insert(handled_updates)
                    .values(update_id=update_id, callback_query_id=callback_query_id, handled_at=at)
                    .on_conflict_do_nothing()
                    .returning(handled_updates.c.update_id)
                )
            ).first()
            return claimed is not None

    async def reply(self, update_id: int) -> str | None:
        reply: str | None = await self._db.scalar(
            sa.select(handled_updates.c.reply).where(handled_updates.c.update_id == update_id)
        )
        return reply

    async def record(self, update_id: int, reply: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                sa.update(handled_updates)
                .where(handled_updates.c.update_id == update_id)
                .values(reply=reply)
            )

    async def prune(self, before: datetime) -> int:
        async with self._db.transaction() as tx:
            result = await tx.execute(
                sa.delete(handled_updates).where(handled_updates.c.handled_at < before)
            )
            return result.rowcount
