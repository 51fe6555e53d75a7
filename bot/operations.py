"""The running bot's own upkeep (issue 13): its heartbeat, the /metrics endpoint, and on the
leader the jobs that keep the health metrics current, back the database up daily and keep it
small (retention)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from contextlib import AsyncExitStack
from typing import Any

from telegram.ext import Application, CallbackContext

from bot import __version__
from bot.commands import MAX_ALERTS
from bot.jobs import JOB_OPTIONS
from bot.loop_monitor import LoopMonitor
from bot.metrics import Metrics, MetricsServer
from bot.settings import Settings
from core.adapters.db.backup import DirectoryBackups
from core.adapters.db.engine import Database, cause_of
from core.adapters.db.migrate import current_revision, head
from core.adapters.db.repos.health import SqlInstanceRegistry
from core.adapters.db.repos.outbox import SqlStateStore
from core.adapters.db.repos.retention import SqlRetentionStore
from core.backups import BackupService
from core.health import HEARTBEAT_SECONDS, HealthLog, Heartbeat
from core.ports import Clock
from core.retention import RetentionService
from core.services import Services

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]

HEALTH_METRICS_SECONDS = 15.0
LOOP_LAG_STEP = 0.1  # seconds between the loop-lag samples the metrics histogram gets
# The daily jobs look every hour whether a day has passed since they last ran (kept in the
# database, so that restarts neither skip nor repeat them); the first look comes a few minutes
# after start, when the bot's first answers are out of the way.
DAILY_CHECK_SECONDS = 3600.0
FIRST_BACKUP_CHECK_SECONDS = 300.0
FIRST_RETENTION_CHECK_SECONDS = 600.0


class Upkeep:
    """`start` before the lead is taken (a standby beats and serves its metrics too), `lead`
    once this instance leads."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self.metrics = Metrics(__version__)
        self._heartbeat: Heartbeat | None = None
        self._ready = asyncio.Event()  # the heartbeat may be written

    async def start(self, stack: AsyncExitStack) -> None:
        settings = self._settings
        if settings.metrics_port is not None:
            server = await asyncio.to_thread(
                MetricsServer.start, self.metrics, settings.metrics_host, settings.metrics_port
            )
            stack.callback(server.stop)
            monitor = LoopMonitor(LOOP_LAG_STEP, observe=self.metrics.loop_lag.observe)
            monitor.start()
            stack.push_async_callback(monitor.stop)
        db = await Database.open(settings.database, migrate=False)
        stack.push_async_callback(db.close)
        self._heartbeat = Heartbeat(
            SqlInstanceRegistry(db),
            self._clock,
            uuid.uuid4().hex,
            os.getpid(),
            socket.gethostname(),
            __version__,
        )
        # A standby beats while it waits (PostgreSQL, once the leader made the schema); on
        # SQLite a second process is refused, so it beats only once it leads.
        if db.backend == "postgresql" and await current_revision(db) == head():
            self._ready.set()
        beating = asyncio.create_task(self._beat(self._heartbeat), name="heartbeat")
        stack.push_async_callback(self._stop, beating)

    async def lead(self, application: AnyApplication, db: Database, services: Services) -> None:
        """This instance leads: the heartbeat says so; the upkeep jobs are scheduled."""
        self.metrics.leader.set(1)
        self._ready.set()
        if self._heartbeat is not None:
            try:
                await self._heartbeat.lead()
            except Exception as error:
                log.warning("Could not write the heartbeat: %s", cause_of(error))
        queue = application.job_queue
        assert queue is not None
        settings, clock = self._settings, self._clock
        health = HealthLog(SqlStateStore(db), clock)
        if settings.metrics_port is not None and services.health is not None:
            report = services.health.report

            async def update_health_metrics(context: CallbackContext[Any, Any, Any, Any]) -> None:
                self.metrics.observe_health(await report())

            queue.run_repeating(
                update_health_metrics,
                HEALTH_METRICS_SECONDS,
                first=1,
                name="update health metrics",
                job_kwargs=JOB_OPTIONS,
            )
        if settings.backup_dir is not None:
            backups = BackupService(
                DirectoryBackups(db, settings.backup_dir, clock),
                health,
                clock,
                settings.backup_keep,
            )

            async def daily_backup(context: CallbackContext[Any, Any, Any, Any]) -> None:
                await backups.run_if_due()

            queue.run_repeating(
                daily_backup,
                DAILY_CHECK_SECONDS,
                first=FIRST_BACKUP_CHECK_SECONDS,
                name="daily backup",
                job_kwargs=JOB_OPTIONS,
            )
        retention = RetentionService(
            SqlRetentionStore(db),
            SqlStateStore(db),
            health,
            clock,
            settings.price_retention_days,
            MAX_ALERTS,
        )

        async def daily_retention(context: CallbackContext[Any, Any, Any, Any]) -> None:
            await retention.run_if_due()

        queue.run_repeating(
            daily_retention,
            DAILY_CHECK_SECONDS,
            first=FIRST_RETENTION_CHECK_SECONDS,
            name="daily retention",
            job_kwargs=JOB_OPTIONS,
        )

    async def _beat(self, heartbeat: Heartbeat) -> None:
        failing = False
        while True:
            await self._ready.wait()
            try:
                await heartbeat.beat()
            except Exception as error:
                if not failing:
                    log.warning(
                        "Could not write the heartbeat (%s): `procurebot status` says the bot "
                        "is not running until it can",
                        cause_of(error),
                    )
                failing = True
            else:
                if failing:
                    log.info("The heartbeat is written again")
                failing = False
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _stop(self, beating: asyncio.Task[None]) -> None:
        """The heartbeat stops, and says the bot stopped cleanly."""
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)
        if self._heartbeat is not None and self._ready.is_set():
            try:
                await self._heartbeat.stop()
            except Exception as error:
                log.warning("Could not record the stop in the heartbeat: %s", cause_of(error))
