"""The composition root: builds the real adapters from the settings and hands them to core."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.settings import Settings
from core.access import AccessPolicy, InviteService
from core.adapters.sqlite import Database
from core.adapters.sqlite_repos import (
    SqliteAlertRepo,
    SqliteInventoryRepo,
    SqliteInviteRepo,
    SqliteMaterialRepo,
    SqlitePriceRepo,
    SqliteSubscriptionRepo,
    SqliteUserRepo,
    SqliteVendorRepo,
)
from core.alerts import AlertService
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from core.ports import Clock, SystemClock
from core.prices import PriceService
from core.services import Services
from core.subscriptions import SubscriptionService
from core.vendors import VendorService
from data import demo

log = logging.getLogger(__name__)


async def build_services(db: Database, settings: Settings, clock: Clock) -> Services:
    catalog = MaterialCatalog(await SqliteMaterialRepo(db).all())
    users = SqliteUserRepo(db)
    access = AccessPolicy(settings.admin_user_ids, settings.allowed_user_ids, users, clock)
    return Services(
        catalog=catalog,
        clock=clock,
        prices=PriceService(catalog, SqlitePriceRepo(db)),
        inventory=InventoryService(catalog, SqliteInventoryRepo(db), clock),
        vendors=VendorService(SqliteVendorRepo(db), clock),
        alerts=AlertService(SqliteAlertRepo(db)),
        access=access,
        invites=InviteService(SqliteInviteRepo(db), access, users, clock),
        subscriptions=SubscriptionService(SqliteSubscriptionRepo(db), clock),
    )


@asynccontextmanager
async def open_services(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Services]:
    """Opens the database (seeding demo data on first start) and yields the services."""
    clock = clock or SystemClock()
    db = await Database.open(settings.database_path)
    try:
        if await demo.is_empty(db):
            result = await demo.seed(db, clock.now().date())
            log.info("First start: %s", result.describe(settings.database_path))
        yield await build_services(db, settings, clock)
    finally:
        await db.close()
