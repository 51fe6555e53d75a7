"""The bundle of core services a front end (Telegram or console) talks to."""

from __future__ import annotations

from dataclasses import dataclass

from core.access import AccessPolicy, InviteService
from core.alerts import AlertService
from core.forecasting import ForecastService
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from core.ports import Clock
from core.price_guard import PriceGuard
from core.prices import PriceService
from core.recipients import RecipientDirectory
from core.subscriptions import SubscriptionService
from core.vendors import VendorService


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
    forecasts: ForecastService | None = None  # None: forecasting is not set up
    price_guard: PriceGuard | None = None  # None: feed prices are not checked here
