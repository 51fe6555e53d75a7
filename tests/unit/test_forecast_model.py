"""The forecasting method's pure parts, with stand-in fits instead of Prophet."""

import numpy as np
import pandas as pd
import pytest

from core.forecast_model import (
    BUY_NOW,
    MONITOR,
    WAIT,
    ForecastConfig,
    ModelRun,
    backtest,
    combine,
    money_saved_pct,
    origin_rows,
    recommend,
    schedule_step,
    summarize,
    training_windows,
)
from tests.fakes import flat_run, random_walk


def fit_all(series: pd.Series, rows: list[int], config: ForecastConfig, fit=flat_run):
    return [fit(w, 7, config) for w in training_windows(series, rows, config)]


def test_without_a_track_record_the_forecast_is_naive_with_a_range() -> None:
    series = random_walk(200)
    forecast = combine(series, flat_run(series, 7, ForecastConfig()), [])
    assert forecast.method == "naive"
    assert "needs 52" in forecast.reason
    assert all(y == pytest.approx(series.iloc[-1]) for y in forecast.yhat)
    assert all(
        lo < y < hi for lo, y, hi in zip(forecast.lower, forecast.yhat, forecast.upper, strict=True)
    )
    widths = [hi - lo for lo, hi in zip(forecast.lower, forecast.upper, strict=True)]
    assert widths == sorted(widths)  # further ahead, wider
    assert forecast.recommendation == MONITOR


def test_calibrated_interval_covers_about_95_percent_of_a_random_walk() -> None:
    series = random_walk(1500, seed=11)
    config = ForecastConfig()
    rows = origin_rows(len(series), 7, 190, schedule_step(pd.DatetimeIndex(series.index)))
    frame = backtest(series, fit_all(series, rows, config), rows, 190, config)
    assert 0.90 <= summarize(frame).coverage <= 0.99
    assert summarize(frame).mae_ratio == pytest.approx(1.0)


def drifting_run(history: pd.Series, horizon: int, config: ForecastConfig) -> ModelRun:
    """A stand-in fit that has learnt the series' steady trend."""
    logs = np.log(history.to_numpy(dtype=float))
    slope = float(np.polyfit(np.arange(len(logs)), logs, 1)[0])
    level = logs[-20:].mean() + slope * 9.5  # the trend line at the last day
    path = tuple(level + slope * k for k in range(horizon + 1))
    return ModelRun(pd.Timestamp(history.index[-1]), horizon, float(logs[-1]), path, path, slope)


def test_a_model_that_beats_naive_in_the_past_is_trusted_and_signals() -> None:
    days = pd.bdate_range("2022-01-03", periods=900)
    rng = np.random.default_rng(3)
    series = pd.Series(100 * np.exp(0.0035 * np.arange(900) + rng.normal(0, 0.006, 900)), days)
    config = ForecastConfig()
    rows = origin_rows(len(series), 7, 120, 5)
    frame = backtest(series, fit_all(series, rows, config, drifting_run), rows, 60, config)
    summary = summarize(frame)
    assert summary.mae_ratio < 0.5
    assert summary.methods.get("naive", 0) < 0.5
    assert summary.buy_share > 0.5 and summary.buy_hit == 1.0
    assert summary.money_saved_pct > 0


def test_no_forecast_sees_prices_after_its_origin() -> None:
    series = random_walk(700, seed=5)
    config = ForecastConfig(min_runs=5)
    rows = origin_rows(len(series), 7, 20, 7)
    before = backtest(series, fit_all(series, rows, config, drifting_run), rows, 12, config)
    changed = series.copy()
    cut = list(series.index).index(pd.Timestamp(before["origin"].iloc[5]))
    changed.iloc[cut + 1 :] *= 3.0
    after = backtest(changed, fit_all(changed, rows, config, drifting_run), rows, 12, config)
    columns = ["yhat", "yhat_lower", "yhat_upper", "recommendation"]
    pd.testing.assert_frame_equal(before[columns].iloc[:6], after[columns].iloc[:6])


@pytest.mark.parametrize(
    ("yhat", "lower", "upper", "expected"),
    [
        (103, 100.5, 106, BUY_NOW),
        (103, 99, 106, MONITOR),  # the range includes no change
        (97, 95, 99.5, WAIT),
        (101, 100.2, 102, MONITOR),  # too small a move
    ],
)
def test_signals_need_a_move_beyond_the_threshold_and_outside_the_range(
    yhat: float, lower: float, upper: float, expected: str
) -> None:
    assert recommend(100, yhat, lower, upper, threshold=0.02) == expected


def test_money_follows_the_advice_against_buying_on_schedule() -> None:
    frame = pd.DataFrame(
        {
            "naive": [10.0, 12, 11, 9],
            "next_price": [12.0, 11, 9, 8],
            "recommendation": [BUY_NOW, MONITOR, WAIT, MONITOR],
        }
    )
    # On schedule: 10 + 12 + 11 + 9 = 42. Following: two at 10, none, deferred, two at 9 = 38.
    assert money_saved_pct(frame) == pytest.approx(100 * 4 / 42)


def test_model_runs_survive_storage() -> None:
    run = drifting_run(random_walk(100), 7, ForecastConfig())
    assert ModelRun.from_dict(run.to_dict()) == run
