"""Puts the alert jobs on PTB's JobQueue (APScheduler).

Each job runs at most once at a time (the core jobs skip a turn while still running), and
missed turns are coalesced into one. An exception in a job goes to the
application's error handler (PTB's Job.run passes it to `process_error`) and the schedule goes
on: the next turn runs as usual.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.ext import Application, CallbackContext, Job

from bot.settings import Settings
from core.forecasting import ForecastService
from core.jobs import AlertJobs, single_flight

# Delivery is cheap to poll (one indexed query) and sets how soon an alert leaves.
DELIVERY_INTERVAL_SECONDS = 2.0
# A job never overlaps itself: each core job skips a turn while its last one still runs
# (core.jobs.single_flight, logged at DEBUG). APScheduler may start a second instance for
# that: with max_instances=1 it would log a WARNING for every turn of a normal 40-second
# broadcast instead. Missed turns are coalesced into one.
JOB_OPTIONS = {"max_instances": 2, "coalesce": True}

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


JobCallback = Callable[[CallbackContext[Any, Any, Any, Any]], Coroutine[Any, Any, None]]


def _callback(job: Callable[[], Awaitable[object]]) -> JobCallback:
    async def callback(context: CallbackContext[Any, Any, Any, Any]) -> None:
        await job()

    callback.__name__ = getattr(job, "__name__", "job")
    return callback


def _delivery_callback(jobs: AlertJobs) -> JobCallback:
    async def deliver(context: CallbackContext[Any, Any, Any, Any]) -> None:
        # When the bot is told to stop, the application stops running first and then waits
        # for the jobs: the worker then starts no new send and records the ones in flight.
        application = context.application
        await jobs.deliver(keep_going=lambda: application.running)

    return deliver


def register_jobs(
    application: AnyApplication, jobs: AlertJobs, settings: Settings
) -> list[Job[Any]]:
    """Schedules the price poll (then price and buy alerts), the stock check and the delivery
    worker; returns the jobs."""
    queue = application.job_queue
    if queue is None:
        raise RuntimeError("The job queue is missing: install python-telegram-bot[job-queue].")
    every = settings.price_update_seconds
    return [
        queue.run_repeating(
            _callback(jobs.poll_prices), every, first=1, name="poll prices", job_kwargs=JOB_OPTIONS
        ),
        queue.run_repeating(
            _callback(jobs.check_stock), every, first=3, name="check stock", job_kwargs=JOB_OPTIONS
        ),
        queue.run_repeating(
            _delivery_callback(jobs),
            DELIVERY_INTERVAL_SECONDS,
            first=2,
            name="deliver alerts",
            job_kwargs=JOB_OPTIONS,
        ),
    ]


# The first retrain waits a minute after start, so a restart does not compete with the bot's
# first answers; until then /forecast shows what is stored (or, for a material with nothing
# stored, the naive forecast at once while its record is built in the background).
FIRST_RETRAIN_SECONDS = 60.0


def register_forecast_jobs(
    application: AnyApplication,
    forecasts: ForecastService,
    settings: Settings,
    then: Callable[[], Awaitable[object]] | None = None,
) -> Job[Any]:
    """Schedules retraining every material's forecast every FORECAST_RETRAIN_SECONDS, then
    `then` (the buy-signal check)."""
    queue = application.job_queue
    if queue is None:
        raise RuntimeError("The job queue is missing: install python-telegram-bot[job-queue].")

    @single_flight
    async def retrain_forecasts() -> None:
        await forecasts.retrain_all()
        if then is not None:
            await then()

    every = settings.forecast_retrain_seconds
    return queue.run_repeating(
        _callback(retrain_forecasts),
        every,
        first=min(FIRST_RETRAIN_SECONDS, every),
        name="retrain forecasts",
        job_kwargs=JOB_OPTIONS,
    )
