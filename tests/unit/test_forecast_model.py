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
    average_price_range,
    backtest,
    combine,
    interval_score,
    lowest_score_multiplier,
    money_saved_pct,
    naive_backtest,
    origin_rows,
    period_coverage,
    recommend,
    schedule_step,
    similar_rows,
    summarize,
    training_windows,
    weighted_quantile,
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


def storms_and_calm(rows: int = 3000, seed: int = 21) -> pd.Series:
    """Trading-day prices whose volatility wanders between calm spells and storms and drifts
    back (a GARCH(1,1) with fat-tailed shocks), as metal prices do."""
    rng = np.random.default_rng(seed)
    variance, long_run = 0.012**2, 0.012**2
    moves = np.empty(rows)
    for i in range(rows):
        moves[i] = np.sqrt(variance) * rng.standard_t(5) / np.sqrt(5 / 3)
        variance = long_run * 0.02 + 0.90 * variance + 0.08 * moves[i] ** 2
    days = pd.bdate_range("2014-01-01", periods=rows)
    return pd.Series(1000 * np.exp(np.cumsum(moves)), index=days)


def test_the_range_holds_in_calm_weeks_and_in_storms_alike() -> None:
    series = storms_and_calm()
    now = summarize(naive_backtest(series, 5, 400))
    before = summarize(naive_backtest(series, 5, 400, ForecastConfig.previous()))
    for coverage in (now.coverage, now.calm_coverage, now.volatile_coverage):
        assert 0.915 <= coverage <= 0.985
    # Recent volatility alone over-warns after storms and under-warns in calm spells.
    assert (
        now.volatile_coverage - now.calm_coverage < before.volatile_coverage - before.calm_coverage
    )
    assert now.interval_score_pct < before.interval_score_pct


def test_a_quarter_ahead_the_range_still_holds() -> None:
    summary = summarize(naive_backtest(storms_and_calm(), 63, 300))
    assert 0.90 <= summary.coverage <= 0.99


def test_a_budgets_range_holds_the_average_price_over_the_period() -> None:
    series = storms_and_calm()
    for rows in (21, 63):
        assert 0.90 <= period_coverage(series, rows, 300) <= 0.99


def test_a_budgets_range_is_narrower_than_the_price_range_at_the_periods_end() -> None:
    series = storms_and_calm()
    average = average_price_range(series, 21)
    end = combine(series, flat_run(series, 21, ForecastConfig()), [])
    last = series.iloc[-1]
    assert average.lower < 1 < average.upper
    assert end.lower[-1] / last < average.lower and average.upper < end.upper[-1] / last
    assert average.calibrated_on > 500  # half the past periods: those most like today
    assert min(average.outcomes) < average.lower and average.upper < max(average.outcomes)


def test_interval_score_is_the_width_plus_forty_times_the_miss() -> None:
    lower, upper = np.array([90.0, 90, 90]), np.array([110.0, 110, 110])
    actual = np.array([100.0, 112, 85])
    assert interval_score(lower, upper, actual).tolist() == pytest.approx(
        [20, 20 + 40 * 2, 20 + 40 * 5]
    )


def test_the_weighted_quantile_leans_on_the_heavy_rows() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0])
    assert weighted_quantile(values, np.ones(4), 0.5) == 2.0
    assert weighted_quantile(values, np.array([1.0, 1, 1, 7]), 0.5) == 4.0


def test_the_multiplier_is_the_one_with_the_lowest_past_interval_score() -> None:
    rng = np.random.default_rng(8)
    scores = rng.standard_t(4, size=40)
    weights = rng.uniform(0.5, 2.0, size=40)  # the volatility of each past row

    def past_score(multiplier: float) -> float:
        miss = np.maximum(np.abs(scores) - multiplier, 0.0)
        return float(np.sum(weights * (2 * multiplier + 40 * miss)))

    best = lowest_score_multiplier(scores, weights, 0.95)
    others = np.r_[np.abs(scores), np.linspace(0.0, 2 * np.abs(scores).max(), 2001)]
    assert past_score(best) <= min(past_score(q) for q in others) + 1e-9
    # No finite-sample inflation: with 40 rows it would pick a wider multiplier, scoring worse.
    inflated = weighted_quantile(np.abs(scores), weights, 0.95 * (1 + 1 / 40))
    assert inflated > best and past_score(inflated) > past_score(best)


def test_after_a_sudden_storm_the_range_still_widens_further_ahead() -> None:
    series = random_walk(1500, seed=4)
    rng = np.random.default_rng(5)
    series.iloc[-10:] = series.iloc[-11] * np.exp(np.cumsum(rng.normal(0, 0.06, 10)))
    forecast = combine(series, flat_run(series, 7, ForecastConfig()), [])
    widths = [hi - lo for lo, hi in zip(forecast.lower, forecast.upper, strict=True)]
    # Day 1 is scaled by the recent volatility alone, later days by the calmer blend.
    assert widths == sorted(widths)


def test_ranges_are_calibrated_on_the_weeks_most_like_this_one() -> None:
    regimes = np.array([0.01, 0.05, 0.011, 0.04, 0.009, np.nan] * 50)
    rows = similar_rows(regimes, 0.0105, 0.5)
    assert len(rows) == 150 and set(regimes[rows]) == {0.01, 0.011, 0.009}
    assert len(similar_rows(regimes, 0.0105, 1.0)) == 300
    assert len(similar_rows(regimes[:240], 0.0105, 0.5)) == 240  # too few rows to split


def test_the_summary_scores_the_range_in_calm_and_volatile_thirds() -> None:
    frame = pd.DataFrame(
        {
            "actual": [100.0, 100, 100, 120, 100, 100],
            "yhat": [100.0] * 6,
            "yhat_lower": [95.0] * 6,
            "yhat_upper": [105.0] * 6,
            "naive": [100.0] * 6,
            "recommendation": [MONITOR] * 6,
            "method": ["naive"] * 6,
            "next_price": [100.0] * 6,
            "path_error": [1.0] * 6,
            "path_error_naive": [1.0] * 6,
            "regime": [0.01, 0.011, 0.02, 0.021, 0.03, 0.031],
        }
    )
    summary = summarize(frame)
    assert summary.calm_coverage == 1.0
    assert summary.volatile_coverage == 1.0
    assert summary.coverage == pytest.approx(5 / 6)
    assert summary.interval_score_pct == pytest.approx((6 * 10 + 40 * 15) / 6)
