"""The composition root: builds the real adapters from the settings and hands them to core."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from bot.settings import Settings, SettingsError
from core.access import AccessPolicy, InviteService
from core.adapters.csv_feed import CsvPriceFeed
from core.adapters.db.engine import Database
from core.adapters.db.repos.access import SqlInviteRepo, SqlUserRepo
from core.adapters.db.repos.alerts import SqlAlertRepo
from core.adapters.db.repos.forecasts import SqlForecastRepo
from core.adapters.db.repos.outbox import SqlOutbox, SqlStateStore
from core.adapters.db.repos.prices import SqlMaterialRepo, SqlPriceRepo
from core.adapters.db.repos.stock import SqlInventoryRepo
from core.adapters.db.repos.subscriptions import SqlSubscriptionRepo
from core.adapters.db.repos.vendors import SqlVendorRepo
from core.adapters.db.unit_of_work import SqlUnitOfWork
from core.adapters.http_feed import HttpPriceFeed
from core.adapters.import_workers import ImportWorkers
from core.adapters.prophet_model import ProphetEngine
from core.adapters.simulated_feed import SimulatedPriceFeed
from core.adapters.spreadsheets import SpreadsheetFiles
from core.adapters.twilio_whatsapp import TwilioWhatsAppNotifier
from core.alert_rules import AlertPolicy
from core.alerts import AlertService
from core.delivery import DeliveryWorker
from core.feeds import PricePoller
from core.forecasting import ForecastService
from core.inventory import InventoryService
from core.jobs import AlertJobs
from core.materials import MaterialCatalog
from core.models import Channel
from core.monitoring import AlertMonitor
from core.ports import AdviceSource, Clock, ForecastEngine, Notifier, PriceFeed, SystemClock
from core.prices import PriceService
from core.recipients import RecipientDirectory
from core.services import Services
from core.services.imports import ImportService
from core.services.materials import MaterialService
from core.services.once import ExactlyOnce
from core.services.quotes import QuoteService
from core.services.stock import StockLedger
from core.subscriptions import SubscriptionService
from core.vendors import VendorService
from data import demo

log = logging.getLogger(__name__)


def whatsapp_ready(settings: Settings) -> bool:
    """WhatsApp alerts go out only with credentials and a sender."""
    return settings.whatsapp_enabled and settings.twilio_whatsapp_from is not None


async def build_services(
    db: Database,
    settings: Settings,
    clock: Clock,
    engine: ForecastEngine | None = None,
    import_workers: ImportWorkers | None = None,
) -> Services:
    """The core services over the database; with a forecast `engine`, forecasting too; with
    `import_workers`, files are read and checked in that worker process (else in a thread)."""
    catalog = MaterialCatalog(await SqlMaterialRepo(db).all())
    outbox = SqlOutbox(db)
    users = SqlUserRepo(db)
    access = AccessPolicy(
        settings.admin_user_ids,
        settings.allowed_user_ids,
        users,
        clock,
        viewer_ids=settings.viewer_user_ids,
        approver_ids=settings.approver_user_ids,
    )
    prices = SqlPriceRepo(db)
    inventory = InventoryService(catalog, SqlInventoryRepo(db), clock)
    recipients = RecipientDirectory(
        SqlSubscriptionRepo(db),
        clock,
        settings.whatsapp_recipients,
        whatsapp_ready(settings),
        queue=outbox,
    )

    def unit_of_work() -> SqlUnitOfWork:
        return SqlUnitOfWork(db)

    # Raises the LOW_INVENTORY alert a stock move calls for, in the move's unit of work.
    stock_alerts = AlertMonitor(
        catalog,
        prices,
        inventory,
        outbox,
        recipients,
        SqlStateStore(db),
        clock,
        alert_policy(settings),
    )
    materials = MaterialService(catalog, unit_of_work, clock)
    forecasts = None
    if engine is not None:
        forecasts = ForecastService(
            catalog,
            prices,
            SqlForecastRepo(db),
            engine,
            inventory,
            clock,
            settings.forecast_horizon_days,
            settings.buy_threshold_pct,
            # Two missed turns of the schedule make a forecast stale.
            max_age=timedelta(seconds=2 * settings.forecast_retrain_seconds),
        )
    return Services(
        catalog=catalog,
        clock=clock,
        prices=PriceService(catalog, prices),
        inventory=inventory,
        vendors=VendorService(SqlVendorRepo(db), clock),
        alerts=AlertService(SqlAlertRepo(db), outbox),
        access=access,
        invites=InviteService(SqlInviteRepo(db), access, users, clock),
        subscriptions=SubscriptionService(SqlSubscriptionRepo(db), clock, outbox),
        recipients=recipients,
        ledger=StockLedger(catalog, unit_of_work, inventory, clock, stock_alerts),
        quotes=QuoteService(catalog, unit_of_work, clock),
        materials=materials,
        imports=ImportService(
            catalog,
            unit_of_work,
            clock,
            SpreadsheetFiles(),
            materials,
            inventory,
            stock_alerts,
            **({"off_loop": import_workers.run} if import_workers else {}),
        ),
        once=ExactlyOnce(unit_of_work, clock),
        forecasts=forecasts,
    )


def alert_policy(settings: Settings) -> AlertPolicy:
    return AlertPolicy(settings.price_alert_pct, timedelta(minutes=settings.alert_cooldown_minutes))


def check_alert_settings(settings: Settings) -> None:
    """Raises SettingsError, naming the missing setting, when the alert settings cannot work
    together; `procurebot run` checks this before it connects to Telegram."""
    if settings.whatsapp_enabled and settings.twilio_whatsapp_from is None:
        raise SettingsError(
            "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are set but TWILIO_WHATSAPP_FROM is not: "
            "set the WhatsApp sender as whatsapp:+E164, e.g. whatsapp:+14155238886."
        )
    if settings.price_source.kind == "http" and not settings.price_http_paths:
        raise SettingsError(
            "PRICE_SOURCE is an http: feed but PRICE_HTTP_PATHS is empty: say where each "
            "price sits in the JSON, e.g. PRICE_HTTP_PATHS=copper=rates.XCU,aluminium=rates.ALU"
        )


def build_feed(
    settings: Settings, db: Database, catalog: MaterialCatalog, clock: Clock
) -> PriceFeed:
    """The price feed PRICE_SOURCE names (its settings checked by check_alert_settings)."""
    source = settings.price_source
    if source.kind == "csv":
        return CsvPriceFeed(source.location, SqlStateStore(db))
    if source.kind == "http":
        return HttpPriceFeed(
            source.location, settings.price_http_paths, settings.price_http_headers
        )
    return SimulatedPriceFeed(catalog, SqlPriceRepo(db), clock, random.Random())


@dataclass
class Alerting:
    """The alert machinery: the jobs to schedule, the outbox they share, and what to close at
    shutdown."""

    jobs: AlertJobs
    outbox: SqlOutbox
    notifiers: dict[Channel, Notifier]
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def aclose(self) -> None:
        for close in self.closers:
            await close()


def build_alerting(
    db: Database,
    settings: Settings,
    services: Services,
    telegram: Notifier | None = None,
    advice: AdviceSource | None = None,
    delivery_concurrency: Mapping[Channel, int] | None = None,
) -> Alerting:
    """Feeds, rules, outbox and delivery worker over the database. `telegram` is the Telegram
    application's notifier (without it, Telegram deliveries wait in the outbox); `advice` is
    the forecasting service's current recommendations (without it, no BUY_SIGNAL)."""
    check_alert_settings(settings)
    clock, catalog = services.clock, services.catalog
    outbox, state = SqlOutbox(db), SqlStateStore(db)
    feed = build_feed(settings, db, catalog, clock)
    notifiers: dict[Channel, Notifier] = {}
    closers: list[Callable[[], Awaitable[None]]] = []
    if isinstance(feed, HttpPriceFeed):
        closers.append(feed.aclose)
    if telegram is not None:
        notifiers[Channel.TELEGRAM] = telegram
    if whatsapp_ready(settings):
        assert settings.twilio_account_sid and settings.twilio_auth_token
        assert settings.twilio_whatsapp_from
        whatsapp = TwilioWhatsAppNotifier(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_whatsapp_from,
            settings.twilio_base_url,
            settings.twilio_content_sid,
        )
        notifiers[Channel.WHATSAPP] = whatsapp
        closers.append(whatsapp.aclose)
    policy = alert_policy(settings)
    monitor = AlertMonitor(
        catalog,
        SqlPriceRepo(db),
        services.inventory,
        outbox,
        services.recipients,
        state,
        clock,
        policy,
        advice,
    )
    poller = PricePoller(feed, catalog, SqlPriceRepo(db), clock)
    worker = DeliveryWorker(
        outbox, notifiers, services.recipients, clock, concurrency=delivery_concurrency
    )
    return Alerting(AlertJobs(poller, monitor, worker), outbox, notifiers, closers)


@asynccontextmanager
async def open_database(
    settings: Settings, clock: Clock | None = None, seed_demo: bool = True
) -> AsyncIterator[Database]:
    """Opens the database, seeding the demo data on first start (with `seed_demo`)."""
    clock = clock or SystemClock()
    db = await Database.open(settings.database)
    try:
        if seed_demo and await demo.is_empty(db):
            result = await demo.seed(db, clock.now().date())
            log.info("First start: %s", result.describe(db.describe()))
        yield db
    finally:
        await db.close()


@asynccontextmanager
async def open_services(
    settings: Settings, clock: Clock | None = None, seed_demo: bool = True
) -> AsyncIterator[Services]:
    """Opens the database (seeding demo data on first start, with `seed_demo`) and the
    Prophet worker processes (started on first use), and yields the services."""
    clock = clock or SystemClock()
    engine = ProphetEngine.in_processes()
    workers = ImportWorkers()
    try:
        async with open_database(settings, clock, seed_demo) as db:
            yield await build_services(db, settings, clock, engine, workers)
    finally:
        engine.close()
        workers.close()
