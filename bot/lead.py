"""The bot's side of leader election (core/adapters/db/leader.py): nothing that polls Telegram
or runs a job starts before this instance leads, and an instance that loses the lead stops.

A standby waits in `take` (inside PTB's post_init, so Telegram has been reached and the token
checked, but no update is polled and no job scheduled). A leader that loses the lead stops as
after SIGTERM (no new send starts; the ones in flight are answered and recorded) and the
process exits with status 1, so that systemd starts it again, as a standby. If the stop has not
ended the process after LOST_LEAD_GRACE_SECONDS (a database that does not answer can hold a
commit for minutes), it exits at once: a leader cut off must not go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from contextlib import AsyncExitStack
from typing import Any

from telegram.ext import Application

from core.adapters.db.leader import Leadership, LeadershipLost

log = logging.getLogger(__name__)

LOST_LEAD_GRACE_SECONDS = 30.0


class Lead:
    """Holds this instance's lead for the bot's lifetime."""

    def __init__(self, leadership: Leadership) -> None:
        self._leadership = leadership
        self._taking: asyncio.Task[None] | None = None
        self._lost: str | None = None

    async def take(
        self, application: Application[Any, Any, Any, Any, Any, Any], stack: AsyncExitStack
    ) -> None:
        """Returns once this instance leads (a standby waits here); from then on, watches the
        lead. The lead is given up when `stack` closes, after whatever is pushed onto it later."""
        stack.push_async_callback(self._leadership.release)
        self._taking = asyncio.ensure_future(self._leadership.acquire())
        await self._taking
        watch = asyncio.create_task(self._watch(application))
        stack.push_async_callback(_cancel, watch)

    async def stop_waiting(self) -> None:
        """Stops a standby's wait (the bot was told to stop before it led)."""
        if self._taking is not None:
            await _cancel(self._taking)

    def raise_if_lost(self) -> None:
        """Raises LeadershipLost when the bot stopped because it lost the lead."""
        if self._lost is not None:
            raise LeadershipLost(self._lost)

    async def _watch(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        try:
            reason = await self._leadership.lost()
        except Exception as error:  # a lead that cannot be checked is not held
            log.exception("Checking the lead failed")
            reason = f"checking it failed ({type(error).__name__})"
        self._lost = reason
        log.error(
            "Lost the lead: %s. Stopping, so that a standby takes over; started again, this "
            "instance stands by.",
            reason,
        )
        application.stop_running()
        asyncio.get_running_loop().call_later(LOST_LEAD_GRACE_SECONDS, _exit_now)


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancels a task that may still be running and waits for it to end."""
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _exit_now() -> None:
    log.critical("Still stopping %g s after losing the lead: exiting now", LOST_LEAD_GRACE_SECONDS)
    os._exit(1)
