"""Budgets: the planned use over a period, what buying it costs and its calibrated range."""

from datetime import timedelta

import pytest

from core.budget import BudgetService
from core.errors import UserError
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from tests.fakes import (
    COPPER,
    MATERIALS,
    NOW,
    STEEL,
    FakeClock,
    FakeInboundOrders,
    FakeInventoryRepo,
    FakePriceRepo,
    daily_prices,
    random_walk,
    stock_item,
)

TODAY = NOW.date()


def service(
    closes: list[float] | None = None,
    inbound: FakeInboundOrders | None = None,
    **stock: object,
) -> BudgetService:
    clock = FakeClock()
    prices = FakePriceRepo(daily_prices("copper", closes or list(random_walk(400))))
    item = stock_item("copper", **({"on_hand": 0.0, "daily_consumption": 12.0} | stock))
    inventory = InventoryService(MaterialCatalog(MATERIALS), FakeInventoryRepo([item]), clock)
    return BudgetService(prices, inventory, inbound or FakeInboundOrders(), clock)


async def test_the_planned_use_less_stock_and_open_orders_is_priced_with_a_range() -> None:
    inbound = FakeInboundOrders(
        [("copper", TODAY + timedelta(days=10), 40.0), ("copper", TODAY + timedelta(days=45), 99)]
    )
    budget = await service(inbound=inbound, on_hand=20.0).plan(COPPER, 30)
    assert budget.planned_use == 360
    assert budget.inbound == 40  # the order due after the period does not count
    assert budget.to_buy == 300
    assert budget.expected == pytest.approx(300 * budget.price)
    assert budget.lower < budget.expected < budget.upper
    assert budget.period is not None and budget.period.rows == 30  # prices every calendar day
    assert len(budget.outcomes) == 2 * budget.period.calibrated_on > 300  # up and down


async def test_a_quarter_is_less_certain_than_a_month() -> None:
    planner = service()
    month, quarter = await planner.plan(COPPER, 30), await planner.plan(COPPER, 90)
    assert quarter.upper / quarter.expected > month.upper / month.expected
    assert quarter.lower / quarter.expected < month.lower / month.expected


async def test_stock_that_covers_the_period_leaves_nothing_to_buy() -> None:
    budget = await service(on_hand=500.0).plan(COPPER, 30)
    assert budget.to_buy == 0 and budget.expected == 0
    assert budget.period is None and budget.outcomes == ()


async def test_what_cannot_be_budgeted_gets_one_clear_line() -> None:
    with pytest.raises(UserError, match="The period must be 1 to 90 days, got 91"):
        await service().plan(COPPER, 91)
    with pytest.raises(UserError, match="No stock is recorded for Steel rebar"):
        await service().plan(STEEL, 30)
    with pytest.raises(UserError, match="counted in kg but priced per t"):
        await service(unit="kg").plan(COPPER, 30)
    with pytest.raises(UserError, match="Not enough price history for Copper to budget yet"):
        await service(closes=[9000.0] * 20).plan(COPPER, 30)
