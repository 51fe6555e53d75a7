"""Answering a pending action: who may, and when."""

from __future__ import annotations

from datetime import datetime

from core.domain.actors import Person
from core.domain.pending import PendingAction, PendingKind, PendingState
from core.errors import UserError
from core.models import Role
from core.ports import PendingActionRepo


async def answerable(
    pending: PendingActionRepo,
    by: Person,
    action_id: int,
    kind: PendingKind | None,
    now: datetime,
) -> PendingAction:
    """The pending action `action_id` (of `kind`, if given) if `by` may answer it now: it
    waits still, has not expired, and is theirs (or they are an admin)."""
    action = await pending.get(action_id)
    if action is None or (kind is not None and action.kind is not kind):
        raise UserError(f"There is nothing waiting under number {action_id}.")
    if action.state is PendingState.DONE:
        raise UserError("That has been done already.")
    if action.state is PendingState.CANCELLED:
        raise UserError("That was cancelled; send it again if it is still wanted.")
    if action.expired(now):
        raise UserError(f"That waited too long and has expired: send {action.kind.again} again.")
    mine = by.user_id is not None and by.user_id == action.user_id
    if not (mine or by.role == Role.ADMIN):
        raise UserError(f"Only the person who {action.kind.by_whom} or an admin may answer that.")
    return action
