"""Real Prophet fits: structure is found, nothing is printed, the pool works, SQLite keeps it."""

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.bootstrap import build_services, open_database
from bot.settings import load_settings
from core.adapters.db.repos.forecasts import SqlForecastRepo
from core.adapters.processes import worker_pool
from core.adapters.prophet_model import ProphetEngine, prophet_run
from core.forecast_model import (
    ForecastConfig,
    backtest,
    origin_rows,
    summarize,
    training_windows,
)
from tests.fakes import COPPER, FakeClock, random_walk

WEEKLY = ForecastConfig(min_runs=20)


def weekly_cycle(days: int = 330) -> pd.Series:
    """A random walk (1% a day) with a +/-3% weekly cycle, one price every calendar day."""
    rng = np.random.default_rng(1)
    t = np.arange(days)
    logs = np.log(1000) + np.cumsum(rng.normal(0, 0.01, days)) + 0.03 * np.sin(2 * np.pi * t / 7)
    return pd.Series(np.exp(logs), index=pd.date_range("2025-01-01", periods=days, freq="D"))


def test_prophet_finds_a_weekly_cycle_and_beats_naive() -> None:
    series = weekly_cycle()
    rows = origin_rows(len(series), 7, 40, 7)
    windows = training_windows(series, rows, WEEKLY)
    with worker_pool(2, ["core.adapters.prophet_model"]) as pool:
        runs = list(pool.map(prophet_run, windows, [7] * len(rows), [WEEKLY] * len(rows)))
    summary = summarize(backtest(series, runs, rows, 20, WEEKLY))
    assert summary.path_ratio < 0.8  # over the week ahead, clearly better than naive
    assert summary.mae_ratio <= 1.0  # and never worse at the horizon
    assert summary.methods.get("naive", 0.0) < 0.5


def test_fitting_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    run = prophet_run(random_walk(200), 7, ForecastConfig())
    assert len(run.yhat) == 8
    captured = capfd.readouterr()
    assert captured.out == ""
    assert "cmdstanpy" not in captured.err and "Chain" not in captured.err
    assert "plotly" not in captured.err


async def test_retraining_runs_in_worker_processes() -> None:
    engine = ProphetEngine.in_processes(2)
    try:
        series = random_walk(400)
        run, forecast = await engine.retrain(series, [], 7, ForecastConfig())
        assert run.origin == series.index[-1] and run.fit_seconds > 0
        assert forecast.method == "naive" and len(forecast.yhat) == 7
        runs = await engine.fit(
            training_windows(series, [100, 200], ForecastConfig()), 7, ForecastConfig()
        )
        assert [r.origin for r in runs] == [series.index[100], series.index[200]]
    finally:
        engine.close()


async def test_forecasts_are_stored_with_settings_window_time_and_accuracy(
    tmp_path: Path,
) -> None:
    settings = load_settings(_env_file=None, database_path=tmp_path / "forecasts.db")
    clock = FakeClock()
    engine = ProphetEngine.in_processes(2)
    try:
        async with open_database(settings, clock) as db:
            services = await build_services(db, settings, clock, engine)
            assert services.forecasts is not None
            first = await services.forecasts.outlook(COPPER)  # at once, nothing stored yet
            assert first.forecast.provisional
            assert await SqlForecastRepo(db).latest("copper", 7) is None
            await services.forecasts.settle()  # the record, built in the background
            outlook = await services.forecasts.outlook(COPPER)
            stored = await SqlForecastRepo(db).latest("copper", 7)
            assert stored == outlook.forecast and not stored.provisional
            assert stored.last_day == date(2026, 11, 23)
            assert stored.made_at == clock.now()
            assert stored.training_start < stored.training_end == date(2026, 11, 23)
            assert stored.settings["training_days"] == 365
            assert stored.accuracy is not None and stored.accuracy.forecasts >= 15
            assert len(await SqlForecastRepo(db).runs("copper", 7)) >= 16
            clock.advance(hours=1)
            again = await services.forecasts.outlook(COPPER)
            assert again.forecast.made_at == stored.made_at  # read, not refitted
    finally:
        engine.close()
