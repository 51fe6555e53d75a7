"""Booking each Telegram update once.

Telegram hands an update out again when the bot did not confirm it (it died in between), and
people tap a button twice. A command that changes data runs in one unit of work with the update
recorded as handled (`handled_updates`, keyed by the update id, and the callback query id of a
button): an update handled before books nothing and gets the answer it got the first time.
A second tap is a new update; what it would do again is refused by the action's own state (a
pending action answered already, a move undone already)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from core.ports import Clock, UnitOfWork

log = logging.getLogger(__name__)

# Telegram keeps an update for 24 hours at most, so two days covers any redelivery; and older
# ones must be forgotten: after a week without updates, Telegram may start its ids afresh.
REMEMBERED = timedelta(days=2)


@dataclass(frozen=True)
class UpdateRef:
    """The Telegram update being handled: its id, and the callback query id of a button."""

    update_id: int
    callback_query_id: str | None = None


class ExactlyOnce:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = unit_of_work
        self._clock = clock

    async def answered(self, update: UpdateRef | None) -> str | None:
        """The answer an update got if it was handled before (to skip slow work before
        `run`, such as downloading a file)."""
        if update is None:
            return None
        uow = self._uow()  # a read: no unit of work needed
        return await uow.handled.reply(update.update_id)

    async def run(self, update: UpdateRef | None, action: Callable[[], Awaitable[str]]) -> str:
        """Runs `action` (which returns the answer, as text) in one unit of work with the
        update recorded; for an update handled before, returns the first answer instead. An
        action that raises stores nothing, the update included."""
        async with self._uow() as uow:
            if update is None:
                return await action()
            now = self._clock.now()
            if not await uow.handled.claim(update.update_id, update.callback_query_id, now):
                log.info("Update %s was handled before: answering as then", update.update_id)
                return await uow.handled.reply(update.update_id) or ""
            await uow.handled.prune(now - REMEMBERED)
            answer = await action()
            await uow.handled.record(update.update_id, answer)
            return answer
