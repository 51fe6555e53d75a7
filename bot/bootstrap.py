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
from core.adapters.db.migrate import current_revision, head
from core.adapters.db.repos.access import SqlInviteRepo, SqlUserRepo
from core.adapters.db.repos.alerts import SqlAlertRepo
from core.adapters.db.repos.digests import SqlDigestRepo, SqlQuietHoursRepo
from core.adapters.db.repos.forecasts import SqlForecastRepo
from core.adapters.db.repos.health import SqlInstanceRegistry, SqlOutboxStats
from core.adapters.db.repos.outbox import SqlOutbox, SqlStateStore
from core.adapters.db.repos.prices import SqlMaterialRepo, SqlPriceRepo
from core.adapters.db.repos.stock import SqlInventoryRepo
from core.adapters.db.repos.subscriptions import SqlSubscriptionRepo
from core.adapters.db.repos.vendors import SqlVendorRepo
from core.adapters.db.repos.watches import SqlWatchRepo
from core.adapters.db.unit_of_work import SqlUnitOfWork
from core.adapters.http_feed import HttpPriceFeed
from core.adapters.import_workers import ImportWorkers
from core.adapters.prophet_model import ProphetEngine
from core.adapters.simulated_feed import SimulatedPriceFeed
from core.adapters.spreadsheets import SpreadsheetFiles
from core.adapters.twilio_whatsapp import TwilioWhatsAppNotifier
from core.alert_rules import AlertPolicy
from core.alerts import AlertService
from core.budget import BudgetService
from core.chats import ChatMoves
from core.delivery import DeliveryWorker
from core.digests import DigestService
from core.errors import UnknownMaterial
from core.feeds import PricePoller
from core.forecast_model import ForecastConfig
from core.forecasting import ForecastService
from core.health import HealthLog, HealthService, Schedule
from core.inventory import InventoryService
from core.jobs import AlertJobs
from core.materials import MaterialCatalog
from core.models import Channel, CurrentAdvice
from core.monitoring import AlertMonitor
from core.ports import (
    AdviceSource,
    Clock,
    ForecastEngine,
    Notifier,
    PriceFeed,
    SystemClock,
)
from core.price_guard import PriceGuard
from core.prices import PriceService
from core.quiet_hours import QuietHoursService
from core.recipients import RecipientDirectory
from core.services import Services
from core.services.imports import ImportService
from core.services.materials import MaterialService
from core.services.once import ExactlyOnce
from core.services.open_orders import OpenOrders
from core.services.purchasing import PurchasingPolicy, PurchasingService
from core.services.purchasing_wiring import (
    ForecastOutlooks,
    InventoryFigures,
    OutboxNotices,
    RoleApprovers,
)
from core.services.quotes import QuoteService
from core.services.stock import StockLedger
from core.subscriptions import SubscriptionService
from core.vendors import VendorService
from core.watches import WatchMonitor, WatchService
from data import demo

log = logging.getLogger(__name__)


def whatsapp_ready(settings: Settings) -> bool:
    """WhatsApp alerts go out only with credentials and a sender."""
    return settings.whatsapp_enabled and settings.twilio_whatsapp_from is not None


def unit_of_work(db: Database) -> Callable[[], SqlUnitOfWork]:
    """What core services take to open a unit of work over the database."""
    return lambda: SqlUnitOfWork(db)


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
    new_uow = unit_of_work(db)
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
    open_orders = OpenOrders(catalog, new_uow, clock)
    inventory = InventoryService(catalog, SqlInventoryRepo(db), clock, open_orders)
    quiet_hours = QuietHoursService(new_uow, SqlQuietHoursRepo(db), outbox, clock)
    recipients = RecipientDirectory(
        SqlSubscriptionRepo(db),
        clock,
        settings.whatsapp_recipients,
        whatsapp_ready(settings),
        queue=outbox,
        chat_moved=ChatMoves(new_uow),
    )
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
        quiet=quiet_hours,
    )
    materials = MaterialService(catalog, new_uow, clock)
    forecasts = budgets = None
    if engine is not None:
        config = ForecastConfig(threshold=settings.buy_threshold_pct / 100)
        budgets = BudgetService(prices, inventory, open_orders, clock, config)
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
            config=config,
        )
    guard = PriceGuard(
        catalog,
        prices,
        SqlStateStore(db),
        clock,
        settings.price_max_jump_pct,
        outbox,
        access,
        note_interval=timedelta(minutes=settings.alert_cooldown_minutes),
    )
    price_service = PriceService(catalog, prices)
    purchasing = PurchasingService(
        catalog,
        new_uow,
        InventoryFigures(inventory),
        SqlVendorRepo(db),
        prices,
        ForecastOutlooks(SqlForecastRepo(db), settings.forecast_horizon_days),
        forecasts or NoAdvice(),
        RoleApprovers(access),
        OutboxNotices(outbox, clock),
        clock,
        purchasing_policy(settings),
    )
    return Services(
        catalog=catalog,
        clock=clock,
        prices=price_service,
        inventory=inventory,
        vendors=VendorService(SqlVendorRepo(db), clock),
        alerts=AlertService(SqlAlertRepo(db), outbox),
        access=access,
        invites=InviteService(SqlInviteRepo(db), access, users, clock),
        subscriptions=SubscriptionService(SqlSubscriptionRepo(db), clock, outbox),
        recipients=recipients,
        ledger=StockLedger(catalog, new_uow, inventory, clock, stock_alerts, open_orders),
        quotes=QuoteService(catalog, new_uow, clock),
        materials=materials,
        imports=ImportService(
            catalog,
            new_uow,
            clock,
            SpreadsheetFiles(),
            materials,
            inventory,
            stock_alerts,
            **({"off_loop": import_workers.run} if import_workers else {}),
        ),
        once=ExactlyOnce(new_uow, clock),
        forecasts=forecasts,
        price_guard=guard,
        health=build_health(db, settings, catalog, recipients, clock),
        watches=WatchService(catalog, new_uow, SqlWatchRepo(db), prices, clock),
        digests=DigestService(
            new_uow,
            SqlDigestRepo(db),
            price_service,
            inventory,
            SqlAlertRepo(db),
            clock,
            advice=forecasts,
            orders=open_orders,
        ),
        quiet_hours=quiet_hours,
        budgets=budgets,
        purchasing=purchasing,
    )


class NoAdvice:
    """AdviceSource where forecasting is not set up: no recommendation for any material."""

    async def current(self) -> Mapping[str, CurrentAdvice]:
        return {}


def purchasing_policy(settings: Settings) -> PurchasingPolicy:
    return PurchasingPolicy(
        approval_limit=settings.approval_limit,
        remind_after=timedelta(hours=settings.approval_remind_hours),
        review_days=settings.order_review_days,
    )


def alert_policy(settings: Settings) -> AlertPolicy:
    return AlertPolicy(settings.price_alert_pct, timedelta(minutes=settings.alert_cooldown_minutes))


def build_health(
    db: Database,
    settings: Settings,
    catalog: MaterialCatalog,
    recipients: RecipientDirectory,
    clock: Clock,
) -> HealthService:
    """The health report (/status, `procurebot status`) over the database."""
    return HealthService(
        {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[db.backend],
        db.describe(),
        SqlInstanceRegistry(db),
        HealthLog(SqlStateStore(db), clock),
        SqlOutboxStats(db),
        recipients,
        SqlForecastRepo(db),
        catalog,
        clock,
        Schedule(
            timedelta(seconds=settings.price_update_seconds),
            timedelta(seconds=settings.forecast_retrain_seconds),
        ),
        settings.forecast_horizon_days,
    )


def check_alert_settings(settings: Settings, catalog: MaterialCatalog | None = None) -> None:
    """Raises SettingsError, naming the missing setting, when the alert settings cannot work
    together; `procurebot run` checks this before it connects to Telegram. With the `catalog`,
    every material PRICE_HTTP_PATHS names must be one of it (check_feed_settings)."""
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
    if catalog is not None and settings.price_source.kind == "http":
        for name in settings.price_http_paths:
            try:
                catalog.resolve(name)
            except UnknownMaterial as error:
                raise SettingsError(f"Invalid setting PRICE_HTTP_PATHS: {error}") from None


async def check_feed_materials(settings: Settings, db: Database) -> None:
    """check_alert_settings with the materials the bot will have, so that a PRICE_HTTP_PATHS
    naming no material stops `procurebot run` before it contacts Telegram: the database's, or
    the demo's for a new database (the first start seeds them). A database whose schema the
    leader has yet to upgrade is checked once it has (build_alerting)."""
    revision = await current_revision(db)
    if revision == head():
        materials = await SqlMaterialRepo(db).all()
    elif revision is None and not await db.has_table("materials"):
        materials = demo.materials_of()
    else:
        return
    check_alert_settings(settings, MaterialCatalog(materials or demo.materials_of()))


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
    clock, catalog = services.clock, services.catalog
    check_alert_settings(settings, catalog)
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
        quiet=services.quiet_hours,
    )
    watches = WatchMonitor(
        catalog,
        unit_of_work(db),
        SqlWatchRepo(db),
        SqlPriceRepo(db),
        state,
        clock,
        policy.cooldown,
        services.quiet_hours,
    )
    poller = PricePoller(feed, catalog, SqlPriceRepo(db), clock, services.price_guard)
    worker = DeliveryWorker(
        outbox, notifiers, services.recipients, clock, concurrency=delivery_concurrency
    )
    if services.purchasing is not None:
        services.purchasing.alerts = monitor  # PO_OVERDUE, with the alerts' cool-down
    jobs = AlertJobs(
        poller,
        monitor,
        worker,
        HealthLog(state, clock),
        watches=watches,
        digests=services.digests,
        quiet_hours=services.quiet_hours,
        purchasing=services.purchasing,
    )
    return Alerting(jobs, outbox, notifiers, closers)


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
    engine = ProphetEngine.in_processes(cluster=settings.forecast_cluster)
    workers = ImportWorkers()
    try:
        async with open_database(settings, clock, seed_demo) as db:
            services = await build_services(db, settings, clock, engine, workers)
            try:
                yield services
            finally:
                assert services.forecasts is not None
                await services.forecasts.aclose()  # forecasts still being built in the background
    finally:
        engine.close()
        workers.close()
