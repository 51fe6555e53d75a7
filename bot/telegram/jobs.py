"""Puts the alert jobs on PTB's JobQueue (APScheduler).

Each job runs at most once at a time (the core jobs skip a turn while still running), and
missed turns are coalesced into one. An exception in a job goes to the
application's error handler (PTB's Job.run passes it to `process_error`) and the schedule goes
on: the next turn runs as usual.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.ext import CallbackContext, Job

from bot.metrics import Metrics
from bot.settings import Settings
from bot.telegram.context import App
from core.forecasting import ForecastService
from core.health import HealthLog
from core.jobs import AlertJobs, single_flight

# Delivery is cheap to poll (one indexed query) and sets how soon an alert leaves.
DELIVERY_INTERVAL_SECONDS = 2.0
# How often the digests due are booked and what quiet hours held is released: a digest comes
# within this of its minute.
CHAT_MESSAGES_INTERVAL_SECONDS = 30.0
# How often requests waiting for approval are checked for a reminder, and open orders for being
# overdue: a reminder comes within this of its hour.
PURCHASES_INTERVAL_SECONDS = 60.0
# A job never overlaps itself: each core job skips a turn while its last one still runs
# (core.jobs.single_flight, logged at DEBUG). APScheduler may start a second instance for
# that: with max_instances=1 it would log a WARNING for every turn of a normal 40-second
# broadcast instead. Missed turns are coalesced into one.
JOB_OPTIONS = {"max_instances": 2, "coalesce": True}


JobCallback = Callable[[CallbackContext[Any, Any, Any, Any]], Coroutine[Any, Any, None]]


def _callback(
    job: Callable[[], Awaitable[Any]], record: Callable[[Any], None] | None = None
) -> JobCallback:
    """A JobQueue callback running `job`; `record` gets what a turn that ran returned."""

    async def callback(context: CallbackContext[Any, Any, Any, Any]) -> None:
        outcome = await job()
        if record is not None and outcome is not None:
            record(outcome)

    callback.__name__ = getattr(job, "__name__", "job")
    return callback


def _delivery_callback(jobs: AlertJobs, metrics: Metrics | None) -> JobCallback:
    async def deliver(context: CallbackContext[Any, Any, Any, Any]) -> None:
        # When the bot is told to stop, the application stops running first and then waits
        # for the jobs: the worker then starts no new send and records the ones in flight.
        application = context.application
        report = await jobs.deliver(keep_going=lambda: application.running)
        if metrics is not None and report is not None:
            metrics.delivered(report)

    return deliver


def register_jobs(
    application: App,
    jobs: AlertJobs,
    settings: Settings,
    metrics: Metrics | None = None,
) -> list[Job[Any]]:
    """Schedules the price poll (then price and buy alerts and the chats' watches), the stock
    check, the chats' digests and quiet hours, the purchasing check (reminders, PO_OVERDUE)
    and the delivery worker; returns the jobs. What they do is counted in `metrics`."""
    queue = application.job_queue
    if queue is None:
        raise RuntimeError("The job queue is missing: install python-telegram-bot[job-queue].")
    every = settings.price_update_seconds

    def polled(outcome: Any) -> None:
        if metrics is not None:
            result, alerts = outcome
            metrics.polled(result)
            metrics.raised(alerts)

    raised = metrics.raised if metrics is not None else None
    return [
        queue.run_repeating(
            _callback(jobs.poll_prices, polled),
            every,
            first=1,
            name="poll prices",
            job_kwargs=JOB_OPTIONS,
        ),
        queue.run_repeating(
            _callback(jobs.check_stock, raised),
            every,
            first=3,
            name="check stock",
            job_kwargs=JOB_OPTIONS,
        ),
        queue.run_repeating(
            _delivery_callback(jobs, metrics),
            DELIVERY_INTERVAL_SECONDS,
            first=2,
            name="deliver alerts",
            job_kwargs=JOB_OPTIONS,
        ),
        queue.run_repeating(
            _callback(jobs.chat_messages),
            CHAT_MESSAGES_INTERVAL_SECONDS,
            first=5,
            name="digests and quiet hours",
            job_kwargs=JOB_OPTIONS,
        ),
        queue.run_repeating(
            _callback(jobs.check_purchases, raised),
            PURCHASES_INTERVAL_SECONDS,
            first=7,
            name="check purchases",
            job_kwargs=JOB_OPTIONS,
        ),
    ]


# The first retrain waits a minute after start, so a restart does not compete with the bot's
# first answers; until then /forecast shows what is stored (or, for a material with nothing
# stored, the naive forecast at once while its record is built in the background).
FIRST_RETRAIN_SECONDS = 60.0


def register_forecast_jobs(
    application: App,
    forecasts: ForecastService,
    settings: Settings,
    then: Callable[[], Awaitable[object]] | None = None,
    health: HealthLog | None = None,
    metrics: Metrics | None = None,
) -> Job[Any]:
    """Schedules retraining every material's forecast every FORECAST_RETRAIN_SECONDS, then
    `then` (the buy-signal check, whose alerts are counted); how long it took goes to `health`
    (for `procurebot status`) and `metrics`."""
    queue = application.job_queue
    if queue is None:
        raise RuntimeError("The job queue is missing: install python-telegram-bot[job-queue].")

    @single_flight
    async def retrain_forecasts() -> None:
        started = time.perf_counter()
        made = await forecasts.retrain_all()
        seconds = time.perf_counter() - started
        if health is not None:
            await health.retrained(seconds, len(made))
        if metrics is not None:
            metrics.retrain_seconds.observe(seconds)
        if then is not None:
            alerts = await then()
            if metrics is not None and isinstance(alerts, list):
                metrics.raised(alerts)

    every = settings.forecast_retrain_seconds
    return queue.run_repeating(
        _callback(retrain_forecasts),
        every,
        first=min(FIRST_RETRAIN_SECONDS, every),
        name="retrain forecasts",
        job_kwargs=JOB_OPTIONS,
    )
