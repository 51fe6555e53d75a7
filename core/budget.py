"""Budgets: what the planned use of a material over the next days will cost, at worst.

Planned use = daily use x days, less the stock on hand and what open purchase orders bring in
by the end of the period (`InboundOrders`; until purchase orders exist, nothing). That quantity
is priced at the last price (no forecast has shown it beats the last price weeks ahead, see
docs/forecasting.md), bought in equal parts over the period, so its cost moves with the average
price over the period: `average_price_range` gives that average's calibrated 95% range and the
distribution the chart shows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pandas as pd

from core.errors import UserError
from core.forecast_model import ForecastConfig, PeriodRange, average_price_range, schedule_step
from core.forecasting import MIN_HISTORY_ROWS, daily_close_series, lookback
from core.inventory import InventoryService
from core.models import Material
from core.ports import Clock, InboundOrders, PriceRepo

DEFAULT_DAYS = 30
MAX_DAYS = 90


@dataclass(frozen=True)
class Budget:
    """The cost of buying what the next `days` days need, with its 95% range."""

    material: Material
    days: int
    daily_use: float
    on_hand: float
    inbound: float
    price: float
    price_day: date
    period: PeriodRange | None  # None when there is nothing to buy

    @property
    def planned_use(self) -> float:
        return self.daily_use * self.days

    @property
    def to_buy(self) -> float:
        return max(0.0, self.planned_use - self.on_hand - self.inbound)

    @property
    def expected(self) -> float:
        return self.to_buy * self.price

    @property
    def lower(self) -> float:
        return self.expected * (self.period.lower if self.period else 1.0)

    @property
    def upper(self) -> float:
        return self.expected * (self.period.upper if self.period else 1.0)

    @property
    def outcomes(self) -> tuple[float, ...]:
        """Costs the past periods' price moves would give today (the distribution)."""
        if self.period is None:
            return ()
        return tuple(self.expected * ratio for ratio in self.period.outcomes)


def budget_rows(days: int, index: pd.DatetimeIndex) -> int:
    """Price rows in `days` calendar days: all of them for daily prices, 5 of 7 for trading days."""
    return max(1, round(days * schedule_step(index) / 7))


class BudgetService:
    """Answers "what will next month's (or quarter's) copper cost us, at worst?"."""

    def __init__(
        self,
        prices: PriceRepo,
        inventory: InventoryService,
        inbound: InboundOrders,
        clock: Clock,
        config: ForecastConfig | None = None,
    ) -> None:
        self._prices = prices
        self._inventory = inventory
        self._inbound = inbound
        self._clock = clock
        self._config = config or ForecastConfig()

    async def plan(self, material: Material, days: int = DEFAULT_DAYS) -> Budget:
        if not 1 <= days <= MAX_DAYS:
            raise UserError(f"The period must be 1 to {MAX_DAYS} days, got {days}.")
        stock = await self._inventory.status(material)  # UserError when none is recorded
        item = stock.item
        if item.unit != material.unit:
            raise UserError(
                f"{material.name} stock is counted in {item.unit} but priced per "
                f"{material.unit}, so its cost cannot be budgeted."
            )
        today = self._clock.now().date()
        closes = await daily_close_series(
            self._prices, material.key, today - lookback(self._config)
        )
        if len(closes) < MIN_HISTORY_ROWS:
            raise UserError(
                f"Not enough price history for {material.name} to budget yet: it takes "
                f"{MIN_HISTORY_ROWS} days of prices. /price {material.key} shows what there is."
            )
        inbound = await self._inbound.inbound(material.key, today + timedelta(days=days))
        budget = Budget(
            material,
            days,
            item.daily_consumption,
            item.on_hand,
            inbound,
            float(closes.iloc[-1]),
            closes.index[-1].date(),
            None,
        )
        if budget.to_buy <= 0:
            return budget
        rows = budget_rows(days, pd.DatetimeIndex(closes.index))
        period = await asyncio.to_thread(average_price_range, closes, rows, self._config)
        return replace(budget, period=period)
