"""Prophet fits for the forecasting method, in worker processes.

One fit: Prophet on the log prices of the training window, `uncertainty_samples=0` (the method
calibrates its own interval), weekly seasonality only for calendar-daily data, no yearly one.
Trading-day data is fitted on "row time" (one row = one day) so the trend is per trading day,
matching a horizon counted in rows. Prophet and cmdstanpy are kept quiet: nothing at INFO.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

import numpy as np
import pandas as pd

from core.adapters.dask_cluster import ClusterUnreachable, DaskCluster
from core.adapters.processes import default_workers, worker_pool
from core.forecast_model import (
    MIN_FIT_ROWS,
    FitRun,
    ForecastConfig,
    ModelForecast,
    ModelRun,
    clean_history,
    combine,
    future_dates,
    is_calendar_daily,
    naive_run,
    replay,
)

# Prophet logs "Importing plotly failed" when imported: quiet before it is ever imported.
logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)


def quiet_prophet() -> None:
    """cmdstanpy installs its own INFO handler on first use: quiet it after that."""
    import cmdstanpy

    cmdstanpy.utils.get_logger()
    for name in ("cmdstanpy", "prophet"):
        logging.getLogger(name).setLevel(logging.WARNING)


def prophet_run(history: pd.Series, horizon: int, config: ForecastConfig) -> ModelRun:
    """Fits Prophet on the window's log prices and predicts `horizon` steps past its last day."""
    quiet_prophet()
    from prophet import Prophet

    started = time.perf_counter()
    series = clean_history(history)
    log_prices = np.log(series.to_numpy(dtype=float))
    origin = pd.Timestamp(series.index[-1])
    if len(log_prices) < MIN_FIT_ROWS:  # too short to fit: a flat run, judged naive
        return naive_run(series, horizon, config)
    calendar = is_calendar_daily(pd.DatetimeIndex(series.index))
    model = Prophet(
        uncertainty_samples=0,
        daily_seasonality=False,
        weekly_seasonality=config.weekly_on(calendar),
        yearly_seasonality=config.yearly,
        changepoint_prior_scale=config.changepoint_prior_scale,
    )
    if calendar or config.yearly:
        fit_days = pd.DatetimeIndex(series.index)
        ahead = pd.DatetimeIndex([origin]).append(future_dates(origin, horizon, calendar))
    else:
        fit_days = pd.Timestamp("2000-01-03") + pd.to_timedelta(np.arange(len(series)), unit="D")
        ahead = pd.date_range(fit_days[-1], periods=horizon + 1, freq="D")
    model.fit(pd.DataFrame({"ds": fit_days, "y": log_prices}))
    predicted = model.predict(pd.DataFrame({"ds": ahead}))
    return ModelRun(
        origin,
        horizon,
        float(log_prices[-1]),
        tuple(predicted["yhat"].to_numpy(dtype=float)),
        tuple(predicted["trend"].to_numpy(dtype=float)),
        float(np.mean(np.diff(log_prices))),
        time.perf_counter() - started,
    )


def retrain_task(
    fit: FitRun,
    history: pd.Series,
    past: Sequence[ModelRun],
    horizon: int,
    config: ForecastConfig,
) -> tuple[ModelRun, ModelForecast]:
    """One retrain, all in one worker: the fit on the latest window, then the calibration."""
    series = clean_history(history)
    window = series[series.index > series.index[-1] - pd.Timedelta(days=config.window_days)]
    run = fit(window, horizon, config)
    return run, combine(series, run, past, config)


class ProphetEngine:
    """The ForecastEngine: fits and calibrations run in `executor` (worker processes in the
    bot), or on a Dask `cluster` while it can be reached, so the event loop never waits on
    Prophet or on the calibration's numpy work."""

    def __init__(
        self,
        executor: Executor | None = None,
        fit: FitRun = prophet_run,
        cluster: DaskCluster | None = None,
    ) -> None:
        self._executor = executor
        self._fit = fit
        self._cluster = cluster

    @classmethod
    def in_processes(cls, workers: int | None = None, cluster: str | None = None) -> ProphetEngine:
        """Fits in a local pool of worker processes (started at the first fit); with a
        `cluster` address (tcp://HOST:PORT), on that Dask cluster, the pool standing in while
        the cluster cannot be reached."""
        pool = worker_pool(workers or default_workers(), ["core.adapters.prophet_model"])
        return cls(pool, cluster=DaskCluster(cluster) if cluster else None)

    async def _run(self, function: Callable[..., object], *args: object) -> object:
        if self._cluster is not None:
            with contextlib.suppress(ClusterUnreachable):
                return await self._cluster.run(function, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def fit(
        self, windows: Sequence[pd.Series], horizon: int, config: ForecastConfig
    ) -> list[ModelRun]:
        runs = await asyncio.gather(
            *(self._run(self._fit, window, horizon, config) for window in windows)
        )
        return [run for run in runs if isinstance(run, ModelRun)]

    async def retrain(
        self, history: pd.Series, past: Sequence[ModelRun], horizon: int, config: ForecastConfig
    ) -> tuple[ModelRun, ModelForecast]:
        result = await self._run(retrain_task, self._fit, history, list(past), horizon, config)
        assert isinstance(result, tuple)
        return result

    async def replay(
        self,
        history: pd.Series,
        runs: Sequence[ModelRun],
        rows: Sequence[int],
        config: ForecastConfig,
    ) -> list[ModelForecast]:
        result = await self._run(replay, history, list(runs), list(rows), config)
        assert isinstance(result, list)
        return result

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
