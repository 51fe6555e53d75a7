"""The forecasting method: honest one-week forecasts around Prophet.

Prophet is refitted at every retrain (core/adapters/prophet_model.py), but its output is never
published as it is. A fit becomes a `ModelRun` (its path in log prices), and each run offers a
few candidate changes from the last observed price: naive (no change), Prophet's trend change
shrunk by a factor from `trend_grid` (and its seasonal change by one from `season_grid` where the
data has a weekly cycle), Prophet's own level, and a drift. Which candidate is used is decided on
the model's own past runs, scored only against prices already seen:

- a candidate other than naive must beat naive on the past runs' mean error over the whole path
  with a paired z of at least `z_select` (standard error x sqrt 2, as weekly windows overlap), and
  one that moves the forecast at the horizon must also have beaten naive at the horizon itself;
- with fewer than `min_runs` past runs, the forecast is naive.

The 95% interval is split conformal on volatility-standardised errors (error / (daily
volatility x sqrt(step))): for naive, every step-ahead change of the last `calibration_rows` rows;
for a Prophet candidate, its own past errors. The daily volatility blends recent and long-run
volatility (`volatility`), because recent volatility alone (an EWMA) stays high after a shock and
low through a calm spell while the next weeks drift back toward the long run: ranges were too
wide in storms and too narrow in calm weeks. The multiplier is the one with the lowest
interval score on the past rows whose realised volatility was most like today's
(`similar_rows`): the volatility-weighted 95% quantile of their standardised errors
(`lowest_score_multiplier`). On metal prices
at one week this nearly always means the naive forecast with a calibrated range: measured on 17
years of LME copper, aluminium, nickel and steel, nothing else beat it (docs/forecasting.md).

Every function here is pure (numpy and pandas only); `backtest` takes the fitting function, so
the Prophet fits can run in a process pool.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

Vector = npt.NDArray[np.float64]

BUY_NOW, WAIT, MONITOR = "BUY NOW", "WAIT", "MONITOR"
MIN_FIT_ROWS = 10
MAX_HORIZON = 63  # rows: a quarter of trading days, for budgets
REGIME_ROWS = 20  # realised volatility of the rows before an origin sorts it calm or volatile
MIN_GROUPED_ROWS = 250  # fewer rows than a year's are too few to split by regime


@dataclass(frozen=True)
class ForecastConfig:
    """The method's settings; the defaults are the ones measured in README "Forecasts"."""

    window_days: int = 365
    weekly: bool | None = None  # None: weekly seasonality only for calendar-daily data
    yearly: bool = False
    changepoint_prior_scale: float = 0.05
    trend_grid: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    season_grid: tuple[float, ...] = (0.0, 0.5, 1.0)
    use_level: bool = True
    use_drift: bool = True
    calib_days: int = 1095
    min_runs: int = 52
    z_select: float = 2.0
    vol_halflife: float = 20.0  # the EWMA of recent volatility, alone for the first steps
    # The daily variance of later steps, a weighted sum (weights adding up to 1) of EWMAs of
    # squared daily changes, (half-life, weight), and of their means over the last rows,
    # (rows, weight).
    recent_mix: tuple[tuple[float, float], ...] = ((60.0, 0.55),)
    long_run_mix: tuple[tuple[int, float], ...] = ((250, 0.35), (1500, 0.10))
    ewma_steps: int = 1  # steps ahead that use the EWMA alone (best a day ahead)
    calibration_rows: int = 1250
    weighted: bool = True  # the multiplier with the lowest past interval score
    # Calibrate on this share of the rows whose realised volatility was nearest today's
    # (group-conditional, "Mondrian", conformal); 1.0 calibrates on all of them.
    similar_share: float = 0.5
    coverage: float = 0.95
    threshold: float = 0.02

    @classmethod
    def previous(cls) -> ForecastConfig:
        """The interval method before the regime fix (EWMA alone, plain conformal quantile of
        the last 750 rows), kept to compare against."""
        return cls(
            recent_mix=((20.0, 1.0),),
            long_run_mix=(),
            ewma_steps=0,
            calibration_rows=750,
            weighted=False,
            similar_share=1.0,
        )

    @property
    def history_rows(self) -> int:
        """Rows of history the range can use: the calibration rows and the long run before them."""
        return self.calibration_rows + max((rows for rows, _ in self.long_run_mix), default=0)

    def weekly_on(self, calendar: bool) -> bool:
        return calendar if self.weekly is None else self.weekly

    def seasonal(self, calendar: bool) -> bool:
        return self.weekly_on(calendar) or self.yearly


@dataclass(frozen=True)
class ModelRun:
    """What one Prophet fit said, in log prices, at `origin` (the last day it saw).

    `yhat` and `trend` have horizon + 1 entries; entry 0 is the origin itself. Stored, runs
    calibrate later retrains.
    """

    origin: pd.Timestamp
    horizon: int
    log_last: float
    yhat: tuple[float, ...]
    trend: tuple[float, ...]
    drift: float
    fit_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin.date().isoformat(),
            "horizon": self.horizon,
            "log_last": self.log_last,
            "yhat": list(self.yhat),
            "trend": list(self.trend),
            "drift": self.drift,
            "fit_seconds": self.fit_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelRun:
        return cls(
            pd.Timestamp(data["origin"]),
            int(data["horizon"]),
            float(data["log_last"]),
            tuple(float(v) for v in data["yhat"]),
            tuple(float(v) for v in data["trend"]),
            float(data["drift"]),
            float(data.get("fit_seconds", 0.0)),
        )


@dataclass(frozen=True)
class ModelForecast:
    """Steps 1..horizon after the last day, the 95% interval, and what was chosen and why."""

    dates: tuple[pd.Timestamp, ...]
    yhat: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    last_price: float
    last_date: pd.Timestamp
    method: str
    reason: str
    recommendation: str
    calibration_runs: int
    past_errors: dict[str, float] = field(default_factory=dict)


def clean_history(history: pd.Series) -> pd.Series:
    """Sorted, one positive finite price per day (the last one wins)."""
    values = np.asarray(history, dtype=float)
    series = pd.Series(values, index=pd.DatetimeIndex(history.index)).sort_index()
    series = series[np.isfinite(series.to_numpy()) & (series.to_numpy() > 0)]
    kept: pd.Series = series[~series.index.duplicated(keep="last")]
    return kept


def is_calendar_daily(index: pd.DatetimeIndex) -> bool:
    """True when at least 10% of the rows fall on weekends: prices for every calendar day."""
    return len(index) > 0 and float(np.mean(index.dayofweek >= 5)) >= 0.10


def schedule_step(index: pd.DatetimeIndex) -> int:
    """Rows per week: 7 for calendar-daily data, 5 for trading days."""
    return 7 if is_calendar_daily(index) else 5


def future_dates(last: pd.Timestamp, horizon: int, calendar: bool) -> pd.DatetimeIndex:
    return pd.date_range(last, periods=horizon + 1, freq="D" if calendar else "B")[1:]


def _squared_changes(log_prices: Vector) -> pd.Series:
    return pd.Series(np.r_[np.nan, np.diff(log_prices)] ** 2)


def _filled(variance: pd.Series, squared: pd.Series) -> Vector:
    fallback = float(squared.mean()) if squared.notna().any() else 1e-4
    filled = variance.bfill().fillna(fallback if math.isfinite(fallback) else 1e-4)
    result: Vector = np.maximum(filled.to_numpy(dtype=float), 1e-12)
    return result


def ewma_variance(log_prices: Vector, halflife: float) -> Vector:
    """Daily variance at each row: an EWMA of squared daily changes up to and including it."""
    squared = _squared_changes(log_prices)
    return _filled(squared.ewm(halflife=halflife, min_periods=5).mean(), squared)


def long_run_variance(log_prices: Vector, rows: int) -> Vector:
    """Daily variance at each row: the mean squared daily change of the last `rows` rows."""
    squared = _squared_changes(log_prices)
    return _filled(squared.rolling(rows, min_periods=min(rows, REGIME_ROWS)).mean(), squared)


def ewma_sigma(log_prices: Vector, halflife: float) -> Vector:
    """Recent daily volatility at each row, from the changes up to and including it."""
    result: Vector = np.sqrt(ewma_variance(log_prices, halflife))
    return result


def volatility(log_prices: Vector, config: ForecastConfig) -> Vector:
    """The daily volatility expected over the days after each row (no look-ahead): recent
    volatility (EWMAs) blended with the long-run level it drifts back to."""
    variance = np.zeros(len(log_prices))
    for halflife, weight in config.recent_mix:
        variance = variance + weight * ewma_variance(log_prices, halflife)
    for rows, weight in config.long_run_mix:
        variance = variance + weight * long_run_variance(log_prices, rows)
    result: Vector = np.sqrt(variance)
    return result


def step_volatility(log_prices: Vector, horizon: int, config: ForecastConfig) -> Vector:
    """Daily volatility per row (rows x steps): the EWMA alone for the first `ewma_steps`
    steps, the blend after them."""
    recent = ewma_sigma(log_prices, config.vol_halflife)
    blended = volatility(log_prices, config)
    return np.stack(
        [recent if k <= config.ewma_steps else blended for k in range(1, horizon + 1)], 1
    )


def weighted_quantile(values: Vector, weights: Vector, level: float) -> float:
    """The smallest value whose share of the weight at or below it reaches `level`."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, level * cumulative[-1]))
    return float(values[order][min(index, len(values) - 1)])


def lowest_score_multiplier(scores: Vector, weights: Vector, coverage: float) -> float:
    """The multiplier q whose ranges +- q x volatility had the lowest past interval score:
    the sum over past rows of weight x (2 q + 2 / (1 - coverage) x max(|score| - q, 0)), the
    weight being the row's volatility (a wide miss costs more when prices move more). That sum
    is convex in q and turns upward where the weight of the scores at or below q reaches
    `coverage` of the whole: the weighted `coverage` quantile of |scores|. It uses only the
    past rows it is given, and has no finite-sample inflation of the level, which would buy a
    coverage guarantee with a wider range than the past's best."""
    return weighted_quantile(np.abs(scores), weights, coverage)


def similar_rows(regimes: Vector, now: float, share: float) -> npt.NDArray[np.intp]:
    """The rows (indices) whose realised volatility was nearest `now`'s, `share` of them;
    every row when `share` is 1, `now` is unknown or there are fewer than MIN_GROUPED_ROWS (a
    Prophet candidate's weekly runs, a short history)."""
    everything = np.arange(len(regimes))
    if share >= 1.0 or len(regimes) < MIN_GROUPED_ROWS or not (math.isfinite(now) and now > 0):
        return everything
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = np.abs(np.log(regimes) - math.log(now))
    distance[~np.isfinite(distance)] = np.inf
    count = int(len(regimes) * share)
    return np.sort(np.argsort(distance, kind="stable")[:count])


def range_multipliers(
    scores: Vector,
    sigma: Vector,
    config: ForecastConfig,
    regimes: Vector | None = None,
    now: float = math.nan,
) -> Vector:
    """Per step (column), the multiplier of volatility x sqrt(step) that the 95% range uses,
    from the rows whose realised volatility (`regimes`) was most like `now`'s
    (`config.similar_share`): the one with the lowest past interval score on them when
    `config.weighted` (`lowest_score_multiplier`), else the finite-sample conformal quantile of
    |scores| (the range before the regime fix). NaN for a step without scores."""
    if regimes is not None:
        rows = similar_rows(regimes, now, config.similar_share)
        scores, sigma = scores[rows], sigma[rows]
    multipliers = []
    for k in range(scores.shape[1]):
        known = np.isfinite(scores[:, k])
        count = int(known.sum())
        if not count:
            multipliers.append(np.nan)
            continue
        if config.weighted:
            multipliers.append(
                lowest_score_multiplier(scores[known, k], sigma[known, k], config.coverage)
            )
        else:
            level = min(1.0, config.coverage * (1 + 1 / count))
            multipliers.append(float(np.quantile(np.abs(scores[known, k]), level)))
    return np.array(multipliers)


def _paired_z(base: Vector, candidates: Vector, overlap: float) -> Vector:
    """z of the mean loss reduction of each row of `candidates` (C x n) against `base` (n);
    the standard error is inflated by sqrt(overlap) because the h-step windows of runs a week
    apart overlap (at least 2; about h / rows-per-week for long horizons)."""
    gain = base[None, :] - candidates
    error = gain.std(axis=1, ddof=1) / np.sqrt(gain.shape[1]) * np.sqrt(overlap)
    mean = gain.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z: Vector = np.where(error > 0, mean / error, np.where(mean > 0, np.inf, 0.0))
    return z


def candidates(
    runs: Sequence[ModelRun], config: ForecastConfig, seasonal: bool
) -> tuple[list[str], Vector]:
    """The names of the candidate log-change paths (steps 1..h) a run offers, naive first, and
    the paths of each of `runs` (candidates x runs x steps)."""
    yhat = np.array([run.yhat for run in runs], dtype=float)
    trend = np.array([run.trend for run in runs], dtype=float)
    log_last = np.array([run.log_last for run in runs], dtype=float)[:, None]
    drift = np.array([run.drift for run in runs], dtype=float)[:, None]
    steps = np.arange(1, yhat.shape[1], dtype=float)[None, :]
    trend_change = trend[:, 1:] - trend[:, :1]
    season_change = (yhat[:, 1:] - trend[:, 1:]) - (yhat[:, :1] - trend[:, :1])
    names, paths = ["naive"], [np.zeros_like(trend_change)]
    for a in config.trend_grid:
        for b in config.season_grid if seasonal else (0.0,):
            if a == 0 and b == 0:
                continue
            names.append(
                f"Prophet change (trend x{a:g}, weekly cycle x{b:g})"
                if seasonal
                else f"Prophet change x{a:g}"
            )
            paths.append(a * trend_change + b * season_change)
    if config.use_level:
        names.append("Prophet level")
        paths.append(yhat[:, 1:] - log_last)
    if config.use_drift:
        names.append("drift")
        paths.append(drift * steps)
    return names, np.stack(paths)


def recommend(last: float, yhat: float, lower: float, upper: float, threshold: float) -> str:
    """BUY NOW for an expected rise of at least `threshold` with the whole interval above
    today's price; WAIT for a fall as large with the whole interval below; else MONITOR."""
    change = yhat / last - 1
    if change >= threshold and lower > last:
        return BUY_NOW
    if change <= -threshold and upper < last:
        return WAIT
    return MONITOR


def combine(
    history: pd.Series,
    run: ModelRun,
    past_runs: Sequence[ModelRun],
    config: ForecastConfig = ForecastConfig(),
) -> ModelForecast:
    """Turns a fresh run into a calibrated forecast, judged on the past runs resolved in
    `history` (a past run whose target lies beyond the last day is ignored, so nothing after
    `history` can leak in)."""
    series = clean_history(history)
    h = run.horizon
    calendar = is_calendar_daily(pd.DatetimeIndex(series.index))
    step = 7 if calendar else 5
    log_prices = np.log(series.to_numpy(dtype=float))
    n = len(log_prices)
    sigma = step_volatility(log_prices, h, config)
    root_steps = np.sqrt(np.arange(1, h + 1))
    overlap = max(2.0, h / step)
    seasonal = config.seasonal(calendar)
    names, options = candidates([run], config, seasonal)

    cutoff = series.index[-1] - pd.Timedelta(days=config.calib_days)
    newest_first = sorted(past_runs, key=lambda r: r.origin, reverse=True)
    origins = pd.DatetimeIndex([r.origin for r in newest_first])
    positions = pd.DatetimeIndex(series.index).get_indexer(origins)
    used: list[tuple[int, ModelRun]] = []
    for row, past in zip(positions.tolist(), newest_first, strict=True):
        if row < 0 or past.horizon != h or past.origin < cutoff or row + h > n - 1:
            continue
        if used and used[-1][0] - row < step:  # thin to one run a week
            continue
        used.append((row, past))

    chosen, errors, past_errors = 0, None, {}
    if len(used) >= config.min_runs:
        rows = np.array([row for row, _ in used])
        actual = np.stack([log_prices[rows + k] - log_prices[rows] for k in range(1, h + 1)], 1)
        paths = candidates([r for _, r in used], config, seasonal)[1]
        errors = actual[None] - paths
        losses = np.abs(errors).mean(axis=2)
        mean_loss = losses.mean(axis=1)
        past_errors = {name: float(v) for name, v in zip(names, mean_loss, strict=True)}
        keeps_end = np.abs(paths[:, :, -1]).max(axis=1) < 1e-9
        end_z = _paired_z(np.abs(errors[0, :, -1]), np.abs(errors[:, :, -1]), overlap)
        admissible = keeps_end | (end_z >= config.z_select)
        best = int(np.argmin(np.where(admissible, mean_loss, np.inf)))
        if best == 0:
            reason = f"no candidate beat the naive forecast on {len(used)} past forecasts"
        else:
            z = float(_paired_z(losses[0], losses[best][None], overlap)[0])
            if z >= config.z_select:
                chosen = best
                reason = (
                    f"it beat the naive forecast on {len(used)} past forecasts "
                    f"(error {100 * mean_loss[best]:.2f}% against {100 * mean_loss[0]:.2f}%, "
                    f"z={z:.1f})"
                )
            else:
                reason = (
                    f"the best alternative ({names[best]}) was not clearly better than the naive "
                    f"forecast on {len(used)} past forecasts (z={z:.1f} < {config.z_select:g})"
                )
    else:
        reason = (
            f"the model has {len(used)} past forecasts to be judged on and needs "
            f"{config.min_runs} before its own forecast is trusted"
        )
    change = options[chosen, 0]

    if chosen == 0:
        rows = np.arange(max(1, n - config.calibration_rows), n - h)
        changes = np.stack([log_prices[rows + k] - log_prices[rows] for k in range(1, h + 1)], 1)
    else:
        assert errors is not None
        rows = np.array([row for row, _ in used])
        changes = errors[chosen]
    if len(rows):
        scores = changes / (sigma[rows] * root_steps[None, :])
        regime = realised_volatility(log_prices)
        quantile = range_multipliers(scores, sigma[rows], config, regime[rows], regime[-1])
    else:
        quantile = np.full(h, np.nan)
    if not np.all(np.isfinite(quantile)):  # too little data for conformal: Gaussian
        quantile = np.full(h, 1.96)
    # Never narrower further ahead: each step's multiplier is estimated on its own, and the
    # first day is scaled by the recent volatility alone (above the blend after a storm).
    half = np.maximum.accumulate(quantile * sigma[-1] * root_steps)
    last = float(series.iloc[-1])
    yhat, lower, upper = (last * np.exp(change + d) for d in (0.0, -half, half))
    return ModelForecast(
        tuple(future_dates(series.index[-1], h, calendar)),
        tuple(float(v) for v in yhat),
        tuple(float(v) for v in lower),
        tuple(float(v) for v in upper),
        last,
        series.index[-1],
        names[chosen],
        reason,
        recommend(last, float(yhat[-1]), float(lower[-1]), float(upper[-1]), config.threshold),
        len(used),
        past_errors,
    )


FitRun = Callable[[pd.Series, int, ForecastConfig], ModelRun]


def naive_run(history: pd.Series, horizon: int, config: ForecastConfig) -> ModelRun:
    """A run that foresees no change: what a fit offers when it offers nothing but naive.
    Forecasts from it are the naive forecast with its calibrated range, without a fit."""
    series = clean_history(history)
    last = float(np.log(series.iloc[-1]))
    flat = tuple([last] * (horizon + 1))
    return ModelRun(pd.Timestamp(series.index[-1]), horizon, last, flat, flat, 0.0)


def origin_rows(n: int, horizon: int, count: int, step: int) -> list[int]:
    """`count` origin rows `step` apart, the last leaving room for the target and for the next
    week's purchase (the money simulation), none in the first 30 rows."""
    last = n - 1 - max(horizon, step)
    return [row for row in (last - step * k for k in range(count - 1, -1, -1)) if row >= 30]


def training_windows(
    history: pd.Series, rows: Iterable[int], config: ForecastConfig
) -> list[pd.Series]:
    """The history each origin row's fit may see: the window up to and including that row."""
    series = clean_history(history)
    window = pd.Timedelta(days=config.window_days)
    windows = []
    for row in rows:
        seen = series.iloc[: row + 1]
        windows.append(seen[seen.index > seen.index[-1] - window])
    return windows


def replay(
    history: pd.Series,
    runs: Sequence[ModelRun],
    rows: Sequence[int],
    config: ForecastConfig = ForecastConfig(),
    first: int = 0,
) -> list[ModelForecast]:
    """The forecasts a retrain would have made at each origin row from `first` on, each from
    the history up to its origin and the runs of earlier origins (`runs[j]` was fitted at
    `rows[j]`; both in time order)."""
    series = clean_history(history)
    return [
        combine(series.iloc[: rows[j] + 1], runs[j], runs[:j], config)
        for j in range(first, len(rows))
    ]


def backtest(
    history: pd.Series,
    runs: Sequence[ModelRun],
    rows: Sequence[int],
    scored: int,
    config: ForecastConfig = ForecastConfig(),
) -> pd.DataFrame:
    """Rolling-origin evaluation of exactly what a retrain does, from the runs fitted at
    `rows`: the last `scored` origins are forecast (the earlier ones only calibrate), each from
    the history up to its origin and the runs of earlier origins.

    Columns: origin, target, actual, yhat, yhat_lower, yhat_upper, naive, recommendation, then
    method, next_price (the price a week later, for the money simulation), the errors and
    coverage over the whole path, and the realised volatility before the origin (`regime`).
    """
    series = clean_history(history)
    prices = series.to_numpy(dtype=float)
    regime = realised_volatility(np.log(prices))
    step = schedule_step(pd.DatetimeIndex(series.index))
    first = max(0, len(rows) - scored)
    records = []
    for row, forecast in zip(rows[first:], replay(series, runs, rows, config, first), strict=True):
        h = len(forecast.yhat)
        path = prices[row + 1 : row + h + 1]
        inside = (path >= np.array(forecast.lower)) & (path <= np.array(forecast.upper))
        records.append(
            {
                "origin": series.index[row].date(),
                "target": series.index[row + h].date(),
                "actual": prices[row + h],
                "yhat": forecast.yhat[-1],
                "yhat_lower": forecast.lower[-1],
                "yhat_upper": forecast.upper[-1],
                "naive": prices[row],
                "recommendation": forecast.recommendation,
                "method": forecast.method,
                "next_price": prices[min(row + step, len(prices) - 1)],
                "path_error": float(np.mean(np.abs(path - np.array(forecast.yhat)))),
                "path_error_naive": float(np.mean(np.abs(path - prices[row]))),
                "path_coverage": float(np.mean(inside)),
                "regime": regime[row],
            }
        )
    return pd.DataFrame.from_records(records)


def realised_volatility(log_prices: Vector, rows: int = REGIME_ROWS) -> Vector:
    """At each row, the standard deviation of the `rows` daily changes up to and including it:
    what sorts an origin into calm or volatile weeks."""
    changes = pd.Series(np.r_[np.nan, np.diff(log_prices)])
    result: Vector = changes.rolling(rows).std().to_numpy(dtype=float)
    return result


def interval_score(lower: Vector, upper: Vector, actual: Vector, coverage: float = 0.95) -> Vector:
    """The interval score of central ranges: width plus 2 / (1 - coverage) (40 for 95%) times
    the distance by which the actual falls outside. Lower is better; it rewards a narrow range
    only as long as the range still holds the actual."""
    penalty = 2.0 / (1.0 - coverage)
    outside = np.maximum(lower - actual, 0.0) + np.maximum(actual - upper, 0.0)
    result: Vector = (upper - lower) + penalty * outside
    return result


def money_saved_pct(frame: pd.DataFrame) -> float:
    """% of spend saved by a buyer who needs one unit a week (one per origin) and follows the
    advice, against one who buys on schedule: BUY NOW also buys next week's unit now; WAIT
    buys this week's unit a week later (never later than that)."""
    prices = frame["naive"].to_numpy(dtype=float)
    later = frame["next_price"].to_numpy(dtype=float)
    advice = frame["recommendation"].to_numpy()
    weeks = len(frame)
    baseline, spend = float(prices.sum()), 0.0
    bought = [False] * (weeks + 1)
    deferred = False
    for week in range(weeks):
        if deferred:
            spend += prices[week]
            deferred = False
        if not bought[week]:
            if advice[week] == WAIT:
                deferred = True
            else:
                spend += prices[week]
            bought[week] = True
        if advice[week] == BUY_NOW and week + 1 < weeks and not bought[week + 1]:
            spend += prices[week]
            bought[week + 1] = True
    if deferred:
        spend += later[weeks - 1]
    if not baseline:
        return 0.0
    return round(100.0 * (baseline - spend) / baseline, 6) + 0.0  # no "-0.00%" from rounding


@dataclass(frozen=True)
class BacktestSummary:
    """Accuracy, calibration, signals and money of one backtest."""

    origins: int
    mae: float
    naive_mae: float
    coverage: float
    buy_share: float
    buy_hit: float | None
    wait_share: float
    wait_hit: float | None
    money_saved_pct: float
    path_ratio: float
    methods: dict[str, float]
    calm_coverage: float  # in the third of origins with the calmest 20 rows before them
    volatile_coverage: float  # in the third with the most volatile
    interval_score_pct: float  # mean interval score of the 95% range, in % of the origin price

    @property
    def mae_ratio(self) -> float:
        return self.mae / self.naive_mae if self.naive_mae else 1.0


def summarize(frame: pd.DataFrame) -> BacktestSummary:
    error = (frame["actual"] - frame["yhat"]).abs()
    naive_error = (frame["actual"] - frame["naive"]).abs()
    rose, fell = frame["actual"] > frame["naive"], frame["actual"] < frame["naive"]
    buy, wait = frame["recommendation"] == BUY_NOW, frame["recommendation"] == WAIT
    inside = (frame["actual"] >= frame["yhat_lower"]) & (frame["actual"] <= frame["yhat_upper"])
    methods = frame["method"].value_counts(normalize=True)
    calm, volatile = regime_thirds(frame["regime"].to_numpy(dtype=float))
    scores = interval_score(
        frame["yhat_lower"].to_numpy(dtype=float),
        frame["yhat_upper"].to_numpy(dtype=float),
        frame["actual"].to_numpy(dtype=float),
    )
    return BacktestSummary(
        origins=len(frame),
        mae=float(error.mean()),
        naive_mae=float(naive_error.mean()),
        coverage=float(inside.mean()),
        buy_share=float(buy.mean()),
        buy_hit=float(rose[buy].mean()) if buy.any() else None,
        wait_share=float(wait.mean()),
        wait_hit=float(fell[wait].mean()) if wait.any() else None,
        money_saved_pct=money_saved_pct(frame),
        path_ratio=float(frame["path_error"].mean() / frame["path_error_naive"].mean()),
        methods={str(k): float(v) for k, v in methods.items()},
        calm_coverage=float(inside[calm].mean()) if calm.any() else math.nan,
        volatile_coverage=float(inside[volatile].mean()) if volatile.any() else math.nan,
        interval_score_pct=float(np.mean(100 * scores / frame["naive"].to_numpy(dtype=float))),
    )


def regime_thirds(regime: Vector) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Which origins are in the calmest third and which in the most volatile third."""
    known = np.isfinite(regime)
    if not known.any():
        return known, known
    low, high = np.quantile(regime[known], [1 / 3, 2 / 3])
    return known & (regime <= low), known & (regime > high)


@dataclass(frozen=True)
class PeriodRange:
    """What the average price over the next `rows` rows may be, as ratios to the last price:
    the 95% range, and the sizes of the moves of the past periods it was calibrated on (log
    ratios, rescaled to today's volatility)."""

    rows: int
    lower: float
    upper: float
    moves: tuple[float, ...]

    @property
    def calibrated_on(self) -> int:
        return len(self.moves)

    @property
    def outcomes(self) -> tuple[float, ...]:
        """The ratios those moves give, up and down alike as the range takes them (the past's
        drift is no forecast): the cost distribution a budget shows."""
        return tuple(sorted(math.exp(sign * move) for move in self.moves for sign in (-1, 1)))


def average_price_range(
    history: pd.Series, rows: int, config: ForecastConfig = ForecastConfig()
) -> PeriodRange:
    """The calibrated 95% range of the average price over the next `rows` rows (a quantity
    bought in equal parts over a period), around the last price: split conformal, as the
    forecast's range, on how the average of each past period of `rows` rows in the last
    `calibration_rows` compared with the price before it, standardised by the volatility then
    x the square root of the steps an average spans ((rows + 1)(2 rows + 1) / 6 rows)."""
    series = clean_history(history)
    prices = series.to_numpy(dtype=float)
    log_prices = np.log(prices)
    n = len(prices)
    if rows <= config.ewma_steps:
        sigma = ewma_sigma(log_prices, config.vol_halflife)
    else:
        sigma = volatility(log_prices, config)
    spread = math.sqrt((rows + 1) * (2 * rows + 1) / (6 * rows))
    origins = np.arange(max(1, n - config.calibration_rows), n - rows)
    now = float(sigma[-1]) * spread
    regime = realised_volatility(log_prices)
    if len(origins) < MIN_FIT_ROWS:  # too little history to calibrate on: Gaussian
        return PeriodRange(rows, math.exp(-1.96 * now), math.exp(1.96 * now), ())
    totals = np.r_[0.0, np.cumsum(prices)]
    average = (totals[origins + rows + 1] - totals[origins + 1]) / rows
    z = np.log(average / prices[origins]) / (sigma[origins] * spread)
    similar = similar_rows(regime[origins], float(regime[-1]), config.similar_share)
    z, weights = z[similar], sigma[origins][similar]
    multiplier = float(range_multipliers(z[:, None], weights[:, None], config)[0])
    return PeriodRange(
        rows,
        math.exp(-multiplier * now),
        math.exp(multiplier * now),
        tuple(float(v) for v in np.sort(np.abs(z) * now)),
    )


def naive_backtest(
    history: pd.Series, horizon: int, scored: int, config: ForecastConfig = ForecastConfig()
) -> pd.DataFrame:
    """`backtest` of the naive forecast and its range at `scored` weekly origins, with no fit:
    what every retrain gives wherever the model has not earned its own forecast (on LME
    prices, everywhere), so its ranges can be checked in seconds rather than fits."""
    series = clean_history(history)
    rows = origin_rows(len(series), horizon, scored, schedule_step(pd.DatetimeIndex(series.index)))
    runs = [naive_run(window, horizon, config) for window in training_windows(series, rows, config)]
    return backtest(series, runs, rows, scored, config)


def period_coverage(
    history: pd.Series, rows: int, scored: int, config: ForecastConfig = ForecastConfig()
) -> float:
    """How often the 95% range of the average price over `rows` rows (a budget's) held the
    actual average, at `scored` weekly origins, each from the history up to it."""
    series = clean_history(history)
    prices = series.to_numpy(dtype=float)
    step = schedule_step(pd.DatetimeIndex(series.index))
    held = []
    for row in origin_rows(len(series), rows, scored, step):
        period = average_price_range(series.iloc[: row + 1], rows, config)
        ratio = float(np.mean(prices[row + 1 : row + rows + 1])) / prices[row]
        held.append(period.lower <= ratio <= period.upper)
    return float(np.mean(held)) if held else math.nan
