"""Forecasts as buyers see them: the advice rule, the track record, and the service."""

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta

import pandas as pd
import pytest

from core.adapters.prophet_model import ProphetEngine
from core.errors import UserError
from core.forecasting import (
    Accuracy,
    Forecast,
    ForecastService,
    measure_accuracy,
    recommend,
)
from core.inventory import InventoryService, assess_stock
from core.materials import MaterialCatalog
from core.models import Advice, PricePoint
from tests.fakes import (
    ALUMINIUM,
    COPPER,
    MATERIALS,
    NOW,
    FakeClock,
    FakeForecastRepo,
    FakeInventoryRepo,
    FakePriceRepo,
    flat_run,
    random_walk,
    stock_item,
)

TRUSTED = Accuracy(60, 1.9, 2.0, 95.0)


def forecast(change_pct: float, low_pct: float, high_pct: float, **changes: object) -> Forecast:
    last = 10_000.0
    days = tuple(date(2026, 11, 24) + timedelta(days=d) for d in range(1, 8))
    base = Forecast(
        material="copper",
        made_at=NOW,
        last_day=date(2026, 11, 24),
        last_price=last,
        days=days,
        yhat=(last,) * 6 + (last * (1 + change_pct / 100),),
        lower=(last,) * 6 + (last * (1 + low_pct / 100),),
        upper=(last,) * 6 + (last * (1 + high_pct / 100),),
        method="Prophet level",
        reason="it beat the naive forecast",
        training_start=date(2025, 11, 24),
        training_end=date(2026, 11, 24),
        settings={"training_days": 365},
        accuracy=TRUSTED,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def healthy_stock():
    return assess_stock(
        COPPER, stock_item(on_hand=900, daily_consumption=10, lead_time_days=14), []
    )


def test_a_rise_outside_the_range_is_buy_now_in_one_line() -> None:
    advice = recommend(forecast(3.1, 0.8, 5.4), healthy_stock(), 2.0)
    assert advice.advice is Advice.BUY_NOW
    assert advice.reason == (
        "Expected +3.1% by 1 Dec (95%: +0.8% to +5.4%): prices are likely to rise; "
        "stock covers 90 days against a 14-day lead time."
    )


def test_a_fall_outside_the_range_is_wait() -> None:
    assert recommend(forecast(-2.5, -4.0, -0.5), None, 2.0).advice is Advice.WAIT


def test_a_move_inside_the_forecasts_own_uncertainty_is_no_signal() -> None:
    advice = recommend(forecast(3.1, -1.0, 7.0), None, 2.0)
    assert advice.advice is Advice.MONITOR
    assert "the range includes no change, so no signal" in advice.reason


def test_a_small_move_is_monitor() -> None:
    advice = recommend(forecast(0.5, 0.1, 0.9), None, 2.0)
    assert advice.advice is Advice.MONITOR and "within the ±2%" in advice.reason


def test_a_model_that_did_worse_than_naive_never_signals() -> None:
    worse = forecast(3.1, 0.8, 5.4, accuracy=Accuracy(60, 2.4, 2.0, 95.0))
    assert recommend(worse, None, 2.0).advice is Advice.MONITOR
    unknown = forecast(3.1, 0.8, 5.4, accuracy=None)
    assert recommend(unknown, None, 2.0).advice is Advice.MONITOR


def test_low_stock_means_buy_now_whatever_the_price_and_says_so() -> None:
    low = assess_stock(COPPER, stock_item(on_hand=90, daily_consumption=10, lead_time_days=14), [])
    advice = recommend(forecast(-3.0, -5.0, -1.0), low, 2.0)
    assert advice.advice is Advice.BUY_NOW
    assert advice.reason.startswith(
        "Stock is below its minimum (90 t against 100 t): stock covers 9 days against a "
        "14-day lead time, so buy now whatever the price."
    )


@pytest.mark.parametrize(
    ("on_hand", "said"),
    [
        (300.0, "Stock is at its reorder point (300 t against 300 t): stock covers 30 days"),
        (250.0, "Stock is below its reorder point (250 t against 300 t): stock covers 25 days"),
        (100.0, "Stock is at its minimum (100 t against 100 t): stock covers 10 days"),
        (10.0, "Stock is below its minimum (10 t against 100 t): stock covers 1 day "),
    ],
)
def test_low_stock_advice_says_whether_it_is_at_or_below_which_limit(
    on_hand: float, said: str
) -> None:
    item = stock_item(on_hand=on_hand, daily_consumption=10, lead_time_days=20, minimum=100)
    advice = recommend(forecast(0.0, -1.0, 1.0), assess_stock(COPPER, item, []), 2.0)
    assert advice.advice is Advice.BUY_NOW and advice.reason.startswith(said)


def test_track_record_compares_past_forecasts_with_what_happened() -> None:
    days = pd.date_range("2026-11-01", periods=10, freq="D")
    closes = pd.Series([100.0, 100, 100, 110, 100, 100, 100, 100, 100, 100], index=days)
    checks = [
        (date(2026, 11, 1), 105.0, 95.0, 115.0),  # 3 days later: 110 (error 5%, naive 10%)
        (date(2026, 11, 2), 100.0, 99.0, 101.0),  # 3 days later: 100 (error 0%, naive 0%)
        (date(2026, 11, 9), 100.0, 90.0, 110.0),  # not known yet
    ]
    accuracy = measure_accuracy(closes, checks, horizon=3)
    assert accuracy == Accuracy(2, 2.5, 5.0, 100.0)
    assert measure_accuracy(closes, checks[2:], horizon=3) is None


def test_forecasts_survive_storage() -> None:
    original = forecast(1.0, -1.0, 3.0)
    assert Forecast.from_dict(original.to_dict()) == original


@pytest.fixture
def fitters() -> Iterator[ThreadPoolExecutor]:
    """The engine's own workers (the bot's are processes), apart from the event loop's threads."""
    with ThreadPoolExecutor(2) as pool:
        yield pool


def make_service(
    prices: FakePriceRepo,
    repo: FakeForecastRepo,
    fits: list[object],
    clock: FakeClock | None = None,
    release: threading.Event | None = None,
    executor: ThreadPoolExecutor | None = None,
    started: threading.Event | None = None,
):
    def counting_fit(history, horizon, config):
        if started is not None:
            started.set()
        if release is not None:
            release.wait(timeout=60)  # a fit takes as long as the test says
        fits.append(history.index[-1])
        return flat_run(history, horizon, config)

    clock = clock or FakeClock()
    inventory = InventoryService(
        MaterialCatalog(MATERIALS), FakeInventoryRepo([stock_item("copper")]), clock
    )
    return ForecastService(
        MaterialCatalog(MATERIALS),
        prices,
        repo,
        ProphetEngine(executor, fit=counting_fit),
        inventory,
        clock,
        horizon=7,
        threshold_pct=2.0,
    )


def daily_points(material: str, series: pd.Series) -> list[PricePoint]:
    days = pd.DatetimeIndex(series.index)
    return [
        PricePoint(material, NOW.replace(year=d.year, month=d.month, day=d.day), float(p), "test")
        for d, p in zip(days, series, strict=True)
    ]


async def test_a_first_forecast_answers_at_once_while_the_record_is_built_behind_it(
    fitters: ThreadPoolExecutor,
) -> None:
    prices = FakePriceRepo(daily_points("copper", random_walk(200)))
    repo, fits, release = FakeForecastRepo(), list[object](), threading.Event()
    service = make_service(prices, repo, fits, release=release, executor=fitters)

    first = await service.outlook(COPPER)  # while no fit can finish
    assert fits == [] and repo.saved == {}
    assert first.forecast.provisional and first.forecast.method == "naive"
    assert "record is being built" in first.forecast.reason
    assert first.forecast.accuracy is None
    last = first.forecast.last_price
    assert all(y == pytest.approx(last) for y in first.forecast.yhat)
    assert first.forecast.lower[-1] < last < first.forecast.upper[-1]
    assert first.recommendation.advice is Advice.MONITOR
    assert len(first.recent) == 60
    again = await service.outlook(COPPER)
    assert again.forecast.provisional and fits == []  # the same build, not a second one

    release.set()
    await service.settle()
    backfilled = sum(1 for _, _, b in repo.saved.values() if b)
    assert backfilled == len(fits) - 1 > 10  # weekly past origins, then today's retrain
    fits.clear()
    built = await service.outlook(COPPER)
    assert fits == []  # read from storage, not refitted
    assert not built.forecast.provisional
    assert built.forecast.accuracy is not None
    assert built.forecast.accuracy.forecasts == backfilled
    assert built.forecast.lower == first.forecast.lower  # the same calibrated range


async def test_a_forecast_older_than_its_schedule_allows_is_refitted_when_asked() -> None:
    prices = FakePriceRepo(daily_points("copper", random_walk(200)))
    fits: list[object] = []
    clock = FakeClock()
    service = make_service(prices, FakeForecastRepo(), fits, clock)
    await service.retrain(COPPER)
    first = await service.outlook(COPPER)
    fits.clear()
    clock.advance(hours=1)
    assert (await service.outlook(COPPER)).forecast == first.forecast and fits == []
    clock.advance(hours=2)
    refreshed = await service.outlook(COPPER)
    assert len(fits) == 1 and refreshed.forecast.made_at == clock.now()


async def test_a_stale_forecast_being_retrained_is_shown_rather_than_waited_for(
    fitters: ThreadPoolExecutor,
) -> None:
    prices = FakePriceRepo(daily_points("copper", random_walk(200)))
    fits: list[object] = []
    clock, release = FakeClock(), threading.Event()
    started = threading.Event()
    service = make_service(prices, FakeForecastRepo(), fits, clock, release, fitters, started)
    release.set()
    stale = await service.retrain(COPPER)
    release.clear()
    started.clear()
    clock.advance(hours=3)
    retraining = asyncio.create_task(service.retrain(COPPER))  # the schedule's turn, held up
    assert await asyncio.to_thread(started.wait, 30)  # its fit has begun
    shown = await service.outlook(COPPER)
    assert shown.forecast == stale and not retraining.done()
    release.set()
    fresh = await retraining
    assert fresh is not None and fresh.made_at == clock.now()


async def test_retraining_everything_skips_materials_without_history() -> None:
    prices = FakePriceRepo(daily_points("copper", random_walk(120)))
    service = make_service(prices, FakeForecastRepo(), [])
    forecasts = await service.retrain_all()
    assert [f.material for f in forecasts] == ["copper"]
    with pytest.raises(UserError, match="Not enough price history for Aluminium"):
        await service.outlook(ALUMINIUM)
    advice = await service.current()
    assert set(advice) == {"copper"} and advice["copper"].advice is Advice.MONITOR
