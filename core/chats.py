"""What a chat keeps for itself (its watches, its digest, its quiet hours, being the approval
room) follows it to its new id when a Telegram group becomes a supergroup, as its subscription
does (core/recipients.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.domain.purchasing import APPROVAL_ROOM
from core.ports import UnitOfWork

log = logging.getLogger(__name__)


class ChatMoves:
    """Moves a chat's own settings to its new id, in one transaction."""

    def __init__(self, new_uow: Callable[[], UnitOfWork]) -> None:
        self._new_uow = new_uow

    async def __call__(self, old: str, new: str) -> None:
        async with self._new_uow() as uow:
            watches = await uow.watches.move_chat(old, new)
            await uow.digests.move_chat(old, new)
            await uow.quiet_hours.move_chat(old, new)
            if await uow.state.get(APPROVAL_ROOM) == old:
                await uow.state.set(APPROVAL_ROOM, new)
        if watches:
            log.info("Chat %s moved to %s with its %d watches", old, new, watches)
