from datetime import timedelta

import pytest

from core.materials import MaterialCatalog
from core.prices import PriceService, pct_change
from tests.fakes import COPPER, MATERIALS, NOW, FakePriceRepo, daily_prices


def service(repo: FakePriceRepo) -> PriceService:
    return PriceService(MaterialCatalog(MATERIALS), repo)


async def test_summary_reports_change_over_one_and_seven_days() -> None:
    closes = [100.0, 101, 102, 103, 104, 105, 110, 99]  # 8 days: 7 days ago = 100
    summary = await service(FakePriceRepo(daily_prices("copper", closes))).summary(COPPER)
    assert summary.latest is not None
    assert summary.latest.price == 99
    assert summary.change_1d_pct == pytest.approx(-10.0)
    assert summary.change_7d_pct == pytest.approx(-1.0)


async def test_change_is_unknown_without_an_old_enough_price() -> None:
    summary = await service(FakePriceRepo(daily_prices("copper", [100.0, 102]))).summary(COPPER)
    assert summary.change_1d_pct == pytest.approx(2.0)
    assert summary.change_7d_pct is None


async def test_material_without_prices_is_listed_with_no_price() -> None:
    summaries = await service(FakePriceRepo(daily_prices("copper", [1.0, 2.0]))).summaries()
    assert [s.material.key for s in summaries] == ["copper", "aluminium", "steel"]
    assert summaries[1].latest is None and summaries[1].change_1d_pct is None


async def test_the_overview_gives_each_material_what_its_own_summary_gives() -> None:
    repo = FakePriceRepo(
        daily_prices("copper", [100.0, 101, 102, 103, 104, 105, 110, 99])
        + daily_prices("aluminium", [50.0, 55], end=NOW - timedelta(hours=5))
    )
    prices = service(repo)
    assert await prices.summaries() == [await prices.summary(m) for m in MATERIALS]


async def test_history_covers_the_days_up_to_the_latest_price() -> None:
    repo = FakePriceRepo(daily_prices("copper", [float(p) for p in range(100, 160)]))
    history = await service(repo).history(COPPER, days=30)
    assert len(history) == 31
    assert history[0].at == NOW - timedelta(days=30)
    assert history[-1].at == NOW


def test_pct_change_is_relative_to_the_old_price() -> None:
    assert pct_change(200, 210) == pytest.approx(5.0)
