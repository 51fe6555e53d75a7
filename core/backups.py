"""Daily backups on the leader, keeping the last few (BACKUP_DIR, BACKUP_KEEP)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from core.health import BackupState, HealthLog
from core.ports import Clock

log = logging.getLogger(__name__)

DAILY = timedelta(hours=24)
# The job looks every hour; a backup a few minutes short of a day old is old enough.
SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class MadeBackup:
    file: str
    size: int
    description: str


class BackupMaker(Protocol):
    async def make(self) -> MadeBackup:
        """Writes a consistent backup of the database while it stays in use."""
        ...

    async def prune(self, keep: int) -> list[str]:
        """Removes all but the newest `keep` backups; returns the removed ones."""
        ...


class BackupService:
    """Makes a backup when the last good one is a day old (or failed), then keeps the last
    `keep`."""

    def __init__(self, maker: BackupMaker, health: HealthLog, clock: Clock, keep: int) -> None:
        self._maker = maker
        self._health = health
        self._clock = clock
        self._keep = keep

    async def run_if_due(self) -> BackupState | None:
        last = await self._health.backup()
        if last is not None and last.error is None and self._clock.now() - last.at < DAILY - SLACK:
            return None
        return await self.run()

    async def run(self) -> BackupState:
        now = self._clock.now()
        try:
            made = await self._maker.make()
            removed = await self._maker.prune(self._keep)
        except Exception as error:  # recorded for `procurebot status`, tried again in an hour
            log.exception("Daily backup failed")
            state = BackupState(now, error=str(error) or type(error).__name__)
        else:
            log.info(
                "Daily backup: %s%s",
                made.description,
                f"; removed {len(removed)} older than the last {self._keep}" if removed else "",
            )
            state = BackupState(now, made.file, made.size)
        await self._health.backed_up(state)
        return state
