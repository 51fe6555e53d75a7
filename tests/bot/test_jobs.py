"""The alert jobs on PTB's JobQueue: scheduled once each, errors to the error handler."""

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from telegram.ext import Application, ApplicationBuilder, CallbackContext

from bot.cli import configure_logging
from bot.settings import load_settings
from bot.telegram.jobs import (
    CHAT_MESSAGES_INTERVAL_SECONDS,
    DELIVERY_INTERVAL_SECONDS,
    PURCHASES_INTERVAL_SECONDS,
    register_jobs,
)
from core.alert_rules import AlertPolicy
from core.delivery import DeliveryWorker
from core.feeds import PricePoller
from core.inventory import InventoryService
from core.jobs import AlertJobs
from core.materials import MaterialCatalog
from core.models import Alert
from core.monitoring import AlertMonitor
from core.recipients import RecipientDirectory
from tests.fakes import (
    MATERIALS,
    FakeClock,
    FakeFeed,
    FakeInventoryRepo,
    FakeOutbox,
    FakePriceRepo,
    FakeStateStore,
    FakeSubscriptionRepo,
)


def alert_jobs() -> AlertJobs:
    catalog, clock, prices = MaterialCatalog(MATERIALS), FakeClock(), FakePriceRepo()
    outbox = FakeOutbox()
    recipients = RecipientDirectory(FakeSubscriptionRepo(), clock)
    monitor = AlertMonitor(
        catalog,
        prices,
        InventoryService(catalog, FakeInventoryRepo(), clock),
        outbox,
        recipients,
        FakeStateStore(),
        clock,
        AlertPolicy(),
    )
    return AlertJobs(
        PricePoller(FakeFeed(), catalog, prices, clock),
        monitor,
        DeliveryWorker(outbox, {}, recipients, clock),
    )


def application() -> Application[Any, Any, Any, Any, Any, Any]:
    return ApplicationBuilder().token("123456:TEST").build()


def test_each_job_is_scheduled_once_and_never_overlaps_itself() -> None:
    app = application()
    settings = load_settings(price_update_seconds=120)
    jobs = register_jobs(app, alert_jobs(), settings)
    intervals = {job.name: job.job.trigger.interval for job in jobs}
    assert intervals == {
        "poll prices": timedelta(seconds=120),
        "check stock": timedelta(seconds=120),
        "deliver alerts": timedelta(seconds=DELIVERY_INTERVAL_SECONDS),
        "digests and quiet hours": timedelta(seconds=CHAT_MESSAGES_INTERVAL_SECONDS),
        "check purchases": timedelta(seconds=PURCHASES_INTERVAL_SECONDS),
    }
    assert all(job.job.coalesce for job in jobs)


async def test_a_turn_while_the_job_still_runs_does_nothing() -> None:
    app = application()
    jobs = alert_jobs()
    gate = asyncio.Event()
    runs = 0

    async def slow_stock_check() -> list[Alert]:
        nonlocal runs
        runs += 1
        await gate.wait()
        return []

    jobs.monitor.check_stock = slow_stock_check  # type: ignore[method-assign]
    stock = register_jobs(app, jobs, load_settings())[1]
    first = asyncio.create_task(stock.run(app))
    while runs == 0:
        await asyncio.sleep(0)
    await asyncio.wait_for(stock.run(app), 10)  # the next turn returns at once
    gate.set()
    await first
    assert runs == 1


# The application is not started here (that needs Telegram): PTB warns that the error
# handler's task is not awaited by it, which Job.run does itself.
@pytest.mark.filterwarnings("ignore:Tasks created via `Application.create_task`")
async def test_a_failing_job_reaches_the_error_handler_and_runs_again() -> None:
    app = application()
    errors: list[BaseException | None] = []

    async def on_error(update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
        errors.append(context.error)

    app.add_error_handler(on_error)
    jobs = alert_jobs()
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError(f"failure {calls}")

    jobs.poll_prices = broken
    poll = register_jobs(app, jobs, load_settings())[0]
    for _ in range(2):
        await poll.run(app)  # what APScheduler calls on each turn
    assert [str(e) for e in errors] == ["failure 1", "failure 2"]
    assert app.job_queue is not None
    assert app.job_queue.get_jobs_by_name("poll prices") == (poll,)  # still scheduled


def test_loggers_that_print_request_urls_or_headers_are_quiet() -> None:
    names = ("httpx", "httpcore", "twilio", "aiohttp")
    before = {name: logging.getLogger(name).level for name in names}
    try:
        configure_logging("DEBUG")
        assert all(logging.getLogger(name).level == logging.WARNING for name in names)
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)
