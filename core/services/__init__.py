"""The bundle of core services a front end (Telegram or console) talks to."""

from __future__ import annotations

from dataclasses import dataclass

from core.access import AccessPolicy, InviteService
from core.alerts import AlertService
from core.budget import BudgetService
from core.digests import DigestService
from core.forecasting import ForecastService
from core.health import HealthService
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from core.ports import Clock
from core.price_guard import PriceGuard
from core.prices import PriceService
from core.quiet_hours import QuietHoursService
from core.recipients import RecipientDirectory
from core.services.imports import ImportService
from core.services.materials import MaterialService
from core.services.once import ExactlyOnce
from core.services.purchasing import PurchasingService
from core.services.quotes import QuoteService
from core.services.stock import StockLedger
from core.subscriptions import SubscriptionService
from core.vendors import VendorService
from core.watches import WatchService


@dataclass(frozen=True)
class Services:
    catalog: MaterialCatalog
    clock: Clock
    prices: PriceService
    inventory: InventoryService
    vendors: VendorService
    alerts: AlertService
    access: AccessPolicy
    invites: InviteService
    subscriptions: SubscriptionService
    recipients: RecipientDirectory
    ledger: StockLedger
    quotes: QuoteService
    materials: MaterialService
    imports: ImportService
    once: ExactlyOnce
    forecasts: ForecastService | None = None  # None: forecasting is not set up
    price_guard: PriceGuard | None = None  # None: feed prices are not checked here
    health: HealthService | None = None  # None: no health report (tests with fakes)
    watches: WatchService | None = None  # None: chats cannot set their own alerts here
    digests: DigestService | None = None
    quiet_hours: QuietHoursService | None = None
    budgets: BudgetService | None = None  # None: no price ranges (forecasting is not set up)
    purchasing: PurchasingService | None = None  # None: no purchase requests and orders here
