"""Stock cover, safety stock and reorder points.

On hand comes from the stock ledger (core/domain/stock.py). Daily use is the recorded use per
day once it spans at least `MIN_HISTORY_DAYS` days, otherwise the configured figure; the status
says which. Reorder point = daily use x lead time + safety stock. Safety stock comes from how
much daily use varies, z x sd(daily use) x sqrt(lead time) at a 95% service level (z = 1.65),
with that recorded history; otherwise it is the configured minimum. Stock at or below the
reorder point is low (order now); at or below the larger of safety stock and minimum it is
critical (the line may stop before a new delivery arrives). What open purchase orders bring
(`inbound`, each on its due day) is shown beside it, with the days of cover counting it; it
does not change the level, which is about the stock on hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from core.domain.purchasing import Inbound, days_until
from core.domain.stock import MIN_USE_DAYS, USE_HISTORY_DAYS, Usage, daily_series, usage
from core.errors import UserError
from core.materials import MaterialCatalog
from core.models import InventoryItem, Material
from core.ports import Clock, InboundOrders, InventoryRepo

SERVICE_LEVEL_Z = 1.65
MIN_HISTORY_DAYS = MIN_USE_DAYS
HISTORY_DAYS = USE_HISTORY_DAYS


class StockLevel(StrEnum):
    CRITICAL = "critical"
    REORDER = "reorder"
    OK = "ok"


@dataclass(frozen=True)
class StockStatus:
    """Where one material's stock stands against its reorder point."""

    material: Material
    item: InventoryItem
    days_of_cover: float | None
    safety_stock: float
    safety_stock_basis: str
    reorder_point: float
    level: StockLevel
    usage: Usage
    # what open purchase orders still bring, soonest first, and the days of cover counting it
    inbound: tuple[Inbound, ...] = ()
    cover_with_inbound: float | None = None

    @property
    def inbound_quantity(self) -> float:
        return sum(i.quantity for i in self.inbound)

    @property
    def is_low(self) -> bool:
        return self.level is not StockLevel.OK

    @property
    def daily_use(self) -> float:
        return self.usage.daily


def assess_stock(
    material: Material,
    item: InventoryItem,
    daily_use: Sequence[float],
    inbound: Sequence[Inbound] = (),
    today: date | None = None,
) -> StockStatus:
    """Days of cover, safety stock, reorder point and level for one inventory record, with
    `daily_use` the recorded use of each day (zero-filled, oldest first); with the open
    orders' `inbound` (as of `today`), the days of cover counting them too."""
    use = usage(daily_use, item.daily_consumption)
    if use.spread is not None:
        safety = SERVICE_LEVEL_Z * use.spread * math.sqrt(item.lead_time_days)
        basis = f"use variability over {use.days} days"
    else:
        safety = item.minimum
        basis = "configured minimum"
    reorder_point = use.daily * item.lead_time_days + safety
    cover = max(item.on_hand, 0.0) / use.daily if use.daily > 0 else None
    if item.on_hand <= max(safety, item.minimum):
        level = StockLevel.CRITICAL
    elif item.on_hand <= reorder_point:
        level = StockLevel.REORDER
    else:
        level = StockLevel.OK
    with_inbound = None
    if inbound and today is not None:
        with_inbound = days_until(0.0, max(item.on_hand, 0.0), use.daily, inbound, today)
    return StockStatus(
        material,
        item,
        cover,
        safety,
        basis,
        reorder_point,
        level,
        use,
        tuple(inbound),
        with_inbound,
    )


_LEVEL_ORDER = {StockLevel.CRITICAL: 0, StockLevel.REORDER: 1, StockLevel.OK: 2}


def _urgency(status: StockStatus) -> tuple[int, float]:
    """Lowest level first, then the fewest days of cover (0 first; not being used last)."""
    cover = math.inf if status.days_of_cover is None else status.days_of_cover
    return _LEVEL_ORDER[status.level], cover


class InventoryService:
    """Answers "how long will our stock last, and what must be ordered?"."""

    def __init__(
        self,
        catalog: MaterialCatalog,
        inventory: InventoryRepo,
        clock: Clock,
        orders: InboundOrders | None = None,
    ) -> None:
        self._catalog = catalog
        self._inventory = inventory
        self._clock = clock
        self._orders = orders  # what open purchase orders bring (None: none are recorded)

    async def statuses(self) -> list[StockStatus]:
        """Every stocked material, the most urgent first."""
        statuses = [await self._assess(item) for item in await self._inventory.all()]
        return sorted(statuses, key=_urgency)

    async def status(self, material: Material) -> StockStatus:
        item = await self._inventory.item(material.key)
        if item is None:
            raise UserError(f"No stock is recorded for {material.name}.")
        return await self._assess(item)

    async def _assess(self, item: InventoryItem) -> StockStatus:
        today = self._clock.now().date()
        recorded = await self._inventory.consumption(item.material, today - timedelta(HISTORY_DAYS))
        inbound = await self._orders.arrivals(item.material) if self._orders else []
        return assess_stock(
            self._catalog.get(item.material),
            item,
            daily_series(recorded, today),
            inbound,
            today,
        )
