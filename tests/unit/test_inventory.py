import math

import pytest

from core.inventory import SERVICE_LEVEL_Z, InventoryService, StockLevel, assess_stock
from core.materials import MaterialCatalog
from tests.fakes import ALUMINIUM, COPPER, MATERIALS, FakeClock, FakeInventoryRepo, stock_item


def test_days_of_cover_is_stock_over_daily_use() -> None:
    status = assess_stock(COPPER, stock_item(on_hand=400, daily_consumption=10), [])
    assert status.days_of_cover == pytest.approx(40)


def test_without_consumption_history_safety_stock_is_the_configured_minimum() -> None:
    item = stock_item(daily_consumption=10, lead_time_days=20, minimum=100)
    status = assess_stock(COPPER, item, [10.0] * 5)
    assert status.safety_stock == 100
    assert status.safety_stock_basis == "configured minimum"
    assert status.reorder_point == pytest.approx(10 * 20 + 100)


def test_with_history_safety_stock_follows_the_variability_of_consumption() -> None:
    use = [8.0, 12.0] * 15  # sd = 2.03
    item = stock_item(daily_consumption=10, lead_time_days=16, minimum=50)
    status = assess_stock(COPPER, item, use)
    expected_safety = SERVICE_LEVEL_Z * 2.0340 * math.sqrt(16)
    assert status.safety_stock == pytest.approx(expected_safety, rel=1e-3)
    assert status.reorder_point == pytest.approx(160 + expected_safety, rel=1e-3)
    assert "30 days" in status.safety_stock_basis


@pytest.mark.parametrize(
    ("on_hand", "level"),
    [(500.0, StockLevel.OK), (300.0, StockLevel.REORDER), (100.0, StockLevel.CRITICAL)],
)
def test_stock_is_low_at_the_reorder_point_and_critical_at_the_minimum(
    on_hand: float, level: StockLevel
) -> None:
    item = stock_item(on_hand=on_hand, daily_consumption=10, lead_time_days=20, minimum=100)
    status = assess_stock(COPPER, item, [])
    assert status.level is level
    assert status.is_low is (level is not StockLevel.OK)


def test_unused_material_has_no_days_of_cover() -> None:
    status = assess_stock(COPPER, stock_item(daily_consumption=0), [])
    assert status.days_of_cover is None
    assert status.level is StockLevel.OK


async def test_statuses_list_the_most_urgent_first() -> None:
    repo = FakeInventoryRepo(
        [
            stock_item("copper", on_hand=1000),
            stock_item("aluminium", on_hand=50),
            stock_item("steel", on_hand=250),
        ]
    )
    statuses = await InventoryService(MaterialCatalog(MATERIALS), repo, FakeClock()).statuses()
    assert [s.material.key for s in statuses] == ["aluminium", "steel", "copper"]


async def test_status_of_one_material() -> None:
    repo = FakeInventoryRepo([stock_item("aluminium", on_hand=50)])
    service = InventoryService(MaterialCatalog(MATERIALS), repo, FakeClock())
    assert (await service.status(ALUMINIUM)).level is StockLevel.CRITICAL
    with pytest.raises(Exception, match="No stock is recorded for Copper"):
        await service.status(COPPER)


async def test_an_empty_stock_with_zero_days_of_cover_comes_first() -> None:
    items = [
        stock_item("copper", on_hand=50, daily_consumption=10),  # critical, 5 days
        stock_item("aluminium", on_hand=0, daily_consumption=10),  # critical, 0 days
        stock_item("steel", on_hand=0, daily_consumption=0),  # critical, not being used
    ]
    service = InventoryService(MaterialCatalog(MATERIALS), FakeInventoryRepo(items), FakeClock())
    ordered = await service.statuses()
    assert [s.material.key for s in ordered] == ["aluminium", "copper", "steel"]
    assert [s.days_of_cover for s in ordered] == [0.0, 5.0, None]
