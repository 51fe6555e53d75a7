"""How good and how fast the forecaster is.

(a) The rolling-origin backtest (`procurebot backtest`'s code) on the four real LME series in
    ../shared/data/real-prices (copper, aluminium, nickel cash; steel rebar front month), plus
    two synthetic series with real structure (a weekly cycle; a steady trend) to show the
    method uses Prophet where Prophet has something to say. 250 scored origins a week apart,
    52 warm-up origins, horizon 7 rows; Prophet fits in 2 worker processes.
(c) The 95% ranges by regime, on the four real series: at horizons 5 and 7 rows over 750 weekly
    origins (400 for rebar), coverage overall and in the calmest and most volatile third of
    origins (by the volatility of the 20 rows before each) and the interval score, for the
    range before the regime fix (`ForecastConfig.previous()`) and now, side by side; then
    coverage at 21 and 63 rows and of the budget's range for 30 and 90 days. These are the
    ranges of the naive forecast, which (a) shows is the forecast on these series: no Prophet
    fit is needed, so they take seconds.
(b) Retraining 100 synthetic materials (one year of daily prices each, 150 stored past runs to
    calibrate on, as in steady operation): materials per second with one worker process and
    with two, the speed-up, and the event loop's worst stall while they retrain.
(d) With --cluster local: 1,000 such materials retrained in the process pool (2 workers) and on
    a local Dask cluster (2 worker processes, loopback; its scheduler in a process of its own,
    as a real one would be), side by side, and whether they gave the same forecasts.

    .venv/bin/python benchmarks/forecast.py            # (a), (c), (b)
    .venv/bin/python benchmarks/forecast.py --skip-backtest --cluster local
    .venv/bin/python benchmarks/forecast.py --skip-retrain --check   # CI: accuracy targets

Targets: (a) MAE ratio <= 1.00, 95% coverage 93-97% and no money lost on every real series;
(c) at 5 and 7 rows coverage 93-97% overall and 92.5-97.5% in the calm and volatile thirds,
interval score <= 0.97 x before on average over the series at each horizon and <= 1.02 x on
each series;
at 21 and 63 rows, and for 30- and 90-day budgets, coverage 90-99%; (b) 100 materials in
<= 30 s, speed-up >= 1.6 from one worker to two, worst stall <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.backtest import run_backtest  # noqa: E402
from bot.loop_monitor import LoopMonitor  # noqa: E402
from core.adapters.dask_cluster import DaskCluster, local_cluster  # noqa: E402
from core.adapters.processes import worker_pool  # noqa: E402
from core.adapters.prophet_model import ProphetEngine  # noqa: E402
from core.budget import budget_rows  # noqa: E402
from core.forecast_model import (  # noqa: E402
    ForecastConfig,
    ModelForecast,
    ModelRun,
    naive_backtest,
    period_coverage,
    summarize,
)

REAL_PRICES = ROOT.parent / "shared" / "data" / "real-prices"
REAL_SERIES = {
    "copper": ("copper.csv", "cash_settlement"),
    "aluminium": ("aluminium.csv", "cash_settlement"),
    "nickel": ("nickel.csv", "cash_settlement"),
    "steel rebar": ("lme_combined_sr_sc.csv", "sr_m01"),
}
HORIZON = 7


def real_series(file: str, column: str) -> pd.Series:
    frame = pd.read_csv(REAL_PRICES / file, parse_dates=["date"]).dropna(subset=[column])
    return pd.Series(frame[column].to_numpy(float), index=pd.DatetimeIndex(frame["date"]))


def weekly_cycle(days: int = 2600, seed: int = 1) -> pd.Series:
    """Every calendar day: a random walk (1% a day) with a +/-3% weekly cycle."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    logs = np.log(1000) + np.cumsum(rng.normal(0, 0.01, days)) + 0.03 * np.sin(2 * np.pi * t / 7)
    return pd.Series(np.exp(logs), index=pd.date_range("2019-01-01", periods=days, freq="D"))


def steady_trend(rows: int = 1900, seed: int = 2) -> pd.Series:
    """Trading days: +0.35% a day (about 2.5% a week) with 0.6% daily noise."""
    rng = np.random.default_rng(seed)
    logs = np.log(100) + 0.0035 * np.arange(rows) + rng.normal(0, 0.006, rows)
    return pd.Series(np.exp(logs), index=pd.bdate_range("2019-01-01", periods=rows))


def percent(share: float, hit: float | None) -> str:
    return f"{100 * share:4.0f}% ({'  - ' if hit is None else f'{100 * hit:3.0f}%'})"


def backtests(origins: int, synthetic: bool = True) -> list[str]:
    """Prints the table; returns the real series that miss a target."""
    series: dict[str, pd.Series] = {}
    if REAL_PRICES.is_dir():
        series |= {name: real_series(*where) for name, where in REAL_SERIES.items()}
    else:
        print(f"(a) skipped the real series: {REAL_PRICES} is not here")
    if synthetic:
        series["synthetic weekly cycle"] = weekly_cycle()
        series["synthetic steady trend"] = steady_trend()
    print(f"\n(a) Backtest: horizon {HORIZON} rows, {origins} origins a week apart + 52 warm-up")
    head = (
        f"{'series':<24}{'period':<25}{'MAE':>9}{'ratio':>7}{'path':>7}{'cover':>7}"
        f"{'BUY NOW (hit)':>15}{'WAIT (hit)':>13}{'saved':>8}{'fits/s':>8}  method"
    )
    print(head)
    config = ForecastConfig()
    misses = []
    with worker_pool(2, ["core.adapters.prophet_model"]) as pool, open(os.devnull, "w") as quiet:
        for name, prices in series.items():
            run = run_backtest(prices, HORIZON, origins, config, pool, out=quiet)
            s, frame = run.summary, run.frame
            period = f"{frame['origin'].iloc[0]}..{frame['origin'].iloc[-1]}"
            methods = ", ".join(f"{m} {100 * v:.0f}%" for m, v in s.methods.items())
            print(
                f"{name:<24}{period:<25}{s.mae:>9,.1f}{s.mae_ratio:>7.3f}{s.path_ratio:>7.3f}"
                f"{100 * s.coverage:>6.1f}%{percent(s.buy_share, s.buy_hit):>15}"
                f"{percent(s.wait_share, s.wait_hit):>13}{s.money_saved_pct:>+7.2f}%"
                f"{run.fits / run.seconds:>8.1f}  {methods}",
                flush=True,
            )
            target_met = s.mae_ratio <= 1.0 and 0.93 <= s.coverage <= 0.97
            if name in REAL_SERIES and not (target_met and s.money_saved_pct >= 0):
                misses.append(f"{name} (backtest at {HORIZON} rows)")
    return misses


REGIME_HORIZONS = (5, 7)
LONG_HORIZONS = (21, 63)
BUDGET_DAYS = (30, 90)


def scored_origins(name: str) -> int:
    return 400 if name == "steel rebar" else 750  # rebar's history is 10 years, not 18


def regime_cell(name: str, horizon: int, previous: bool) -> tuple[float, float, float, float]:
    """Coverage overall, calm, volatile and the mean interval score (% of price) of one series
    at one horizon, with the range before the regime fix or now."""
    config = ForecastConfig.previous() if previous else ForecastConfig()
    frame = naive_backtest(real_series(*REAL_SERIES[name]), horizon, scored_origins(name), config)
    s = summarize(frame)
    return s.coverage, s.calm_coverage, s.volatile_coverage, s.interval_score_pct


def long_cell(name: str, horizon: int) -> float:
    frame = naive_backtest(real_series(*REAL_SERIES[name]), horizon, scored_origins(name))
    return summarize(frame).coverage


def budget_cell(name: str, days: int) -> float:
    series = real_series(*REAL_SERIES[name])
    rows = budget_rows(days, pd.DatetimeIndex(series.index))
    return period_coverage(series, rows, scored_origins(name))


def regimes() -> list[str]:
    """Prints the ranges by regime, before and now, and at long horizons; returns the misses."""
    if not REAL_PRICES.is_dir():
        print(f"\n(c) skipped: {REAL_PRICES} is not here")
        return []
    names = list(REAL_SERIES)
    started = time.perf_counter()
    with worker_pool(2) as pool:
        cells = {
            (name, h, previous): pool.submit(regime_cell, name, h, previous)
            for h in REGIME_HORIZONS
            for name in names
            for previous in (True, False)
        }
        longs = {
            (name, h): pool.submit(long_cell, name, h) for h in LONG_HORIZONS for name in names
        }
        budgets = {
            (name, d): pool.submit(budget_cell, name, d) for d in BUDGET_DAYS for name in names
        }
        result = {key: future.result() for key, future in cells.items()}
        long_result = {key: future.result() for key, future in longs.items()}
        budget_result = {key: future.result() for key, future in budgets.items()}
    misses, means = [], []
    print(
        "\n(c) 95% ranges by regime: 750 weekly origins (400 for rebar); coverage overall / "
        "calmest third / most volatile third, interval score in % of price"
    )
    print(f"{'series':<14}{'h':>3}  {'before':<32}{'now':<32}{'IS ratio':>9}")
    for h in REGIME_HORIZONS:
        ratios = []
        for name in names:
            before, now = result[name, h, True], result[name, h, False]
            ratio = now[3] / before[3]
            ratios.append(ratio)
            shown = [
                f"{100 * c[0]:5.1f} / {100 * c[1]:5.1f} / {100 * c[2]:5.1f}  {c[3]:6.2f}"
                for c in (before, now)
            ]
            print(f"{name:<14}{h:>3}  {shown[0]:<32}{shown[1]:<32}{ratio:>9.3f}", flush=True)
            if not 0.93 <= now[0] <= 0.97:
                misses.append(f"{name} at {h} rows: coverage {100 * now[0]:.1f}%")
            for label, value in (("calm", now[1]), ("volatile", now[2])):
                if not 0.925 <= value <= 0.975:
                    misses.append(f"{name} at {h} rows: {label} third {100 * value:.1f}%")
            if ratio > 1.02:
                misses.append(f"{name} at {h} rows: interval score {ratio:.3f} x before")
        mean = float(np.mean(ratios))
        means.append(mean)
        print(f"{'mean':<14}{h:>3}  {'':<64}{mean:>9.4f}")
        if mean > 0.97:
            misses.append(
                f"at {h} rows: interval score {mean:.4f} x before on average (target <= 0.97)"
            )
    print(f"{'mean of both':<17}  {'':<64}{float(np.mean(means)):>9.4f}")
    print("\nLong horizons and budgets: coverage of the 95% range")
    heads = [f"{h} rows" for h in LONG_HORIZONS] + [f"{d}-day budget" for d in BUDGET_DAYS]
    print(f"{'series':<14}" + "".join(f"{head:>15}" for head in heads))
    for name in names:
        values = [long_result[name, h] for h in LONG_HORIZONS]
        values += [budget_result[name, d] for d in BUDGET_DAYS]
        print(f"{name:<14}" + "".join(f"{100 * v:>14.1f}%" for v in values))
        for head, value in zip(heads, values, strict=True):
            if not 0.90 <= value <= 0.99:
                misses.append(f"{name}: {head} coverage {100 * value:.1f}%")
    print(f"({time.perf_counter() - started:.0f} s on 2 worker processes)")
    return misses


def synthetic_materials(count: int, days: int = 400) -> list[pd.Series]:
    rng = np.random.default_rng(2026)
    index = pd.date_range("2025-10-20", periods=days, freq="D")
    return [
        pd.Series(1000 * np.exp(np.cumsum(rng.normal(0, 0.012, days))), index=index)
        for _ in range(count)
    ]


def stored_runs(history: pd.Series, count: int = 150) -> list[ModelRun]:
    """Past runs as a year of daily retrains would have left them (flat paths: what matters
    here is the calibration's cost, not its verdict)."""
    runs = []
    for origin in history.index[-count - HORIZON :: 1][:count]:
        log_last = float(np.log(history[origin]))
        path = tuple([log_last] * (HORIZON + 1))
        runs.append(ModelRun(origin, HORIZON, log_last, path, path, 0.0))
    return runs


async def retrain(workers: int, materials: list[pd.Series]) -> tuple[float, float]:
    elapsed, stall, _ = await retrain_on(ProphetEngine.in_processes(workers), materials, workers)
    return elapsed, stall


async def retrain_on(
    engine: ProphetEngine, materials: list[pd.Series], workers: int
) -> tuple[float, float, list[ModelForecast]]:
    """Retrains every material on `engine` (then closes it): seconds, worst loop stall, and
    the forecasts."""
    config = ForecastConfig()
    past = [stored_runs(history) for history in materials]
    try:
        # Start the workers (and their Prophet import) before timing.
        await asyncio.gather(
            *(engine.retrain(materials[i], past[i], HORIZON, config) for i in range(workers))
        )
        monitor = LoopMonitor(step=0.002)
        monitor.start()
        started = time.perf_counter()
        results = await asyncio.gather(
            *(engine.retrain(h, p, HORIZON, config) for h, p in zip(materials, past, strict=True))
        )
        elapsed = time.perf_counter() - started
        await monitor.stop()
        return elapsed, monitor.worst, [forecast for _, forecast in results]
    finally:
        engine.close()


def retraining(count: int) -> None:
    materials = synthetic_materials(count)
    print(f"\n(b) Retraining {count} materials (Prophet fit + calibration on 150 past runs each)")
    timings = {}
    for workers in (1, 2):
        elapsed, stall = asyncio.run(retrain(workers, materials))
        timings[workers] = elapsed
        print(
            f"  {workers} worker{'s' if workers > 1 else ' '}: {elapsed:5.1f} s, "
            f"{count / elapsed:5.1f} materials/s, worst event-loop stall {1000 * stall:.1f} ms",
            flush=True,
        )
    print(f"  speed-up from one worker to two: {timings[1] / timings[2]:.2f}x")


def serve_cluster(address: Connection, stop: Connection) -> None:
    """A local Dask cluster (2 worker processes) running until told to stop."""
    with local_cluster(workers=2) as cluster:
        address.send(cluster.scheduler_address)
        stop.recv()


@contextlib.contextmanager
def cluster_elsewhere() -> Iterator[str]:
    """A local Dask cluster in a process of its own, as FORECAST_CLUSTER's scheduler would be:
    in this one, the scheduler's thread would compete with the event loop for the GIL."""
    context = multiprocessing.get_context("spawn")
    address_out, address_in = context.Pipe(duplex=False)
    stop_out, stop_in = context.Pipe(duplex=False)
    server = context.Process(target=serve_cluster, args=(address_in, stop_out))
    server.start()
    try:
        yield str(address_out.recv())
    finally:
        stop_in.send(True)
        server.join(60)
        if server.is_alive():
            server.terminate()


def on_cluster(count: int) -> None:
    """(d) The same retrain in the process pool and on a local Dask cluster, side by side."""
    materials = synthetic_materials(count)
    print(
        f"\n(d) Retraining {count} materials: process pool against a Dask cluster, 2 workers each"
    )
    pool_seconds, pool_stall, pool_forecasts = asyncio.run(
        retrain_on(ProphetEngine.in_processes(2), materials, 2)
    )
    with cluster_elsewhere() as address:
        engine = ProphetEngine(cluster=DaskCluster(address))
        dask_seconds, dask_stall, dask_forecasts = asyncio.run(retrain_on(engine, materials, 2))
    for label, seconds, stall in (
        ("process pool", pool_seconds, pool_stall),
        ("Dask cluster", dask_seconds, dask_stall),
    ):
        print(
            f"  {label}: {seconds:6.1f} s, {count / seconds:5.1f} materials/s, "
            f"worst event-loop stall {1000 * stall:.1f} ms",
            flush=True,
        )
    same = all(
        a.yhat == b.yhat and a.lower == b.lower and a.upper == b.upper and a.method == b.method
        for a, b in zip(pool_forecasts, dask_forecasts, strict=True)
    )
    print(f"  same forecasts on both: {'yes' if same else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--origins", type=int, default=250)
    parser.add_argument("--materials", type=int, default=100)
    parser.add_argument("--skip-backtest", action="store_true")
    parser.add_argument("--skip-retrain", action="store_true")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if a real series misses a target of (a) or (c); (a) on the real series only",
    )
    parser.add_argument(
        "--cluster",
        choices=["local"],
        help="(d): retrain --cluster-materials materials in the pool and on a local Dask cluster",
    )
    parser.add_argument("--cluster-materials", type=int, default=1000)
    args = parser.parse_args()
    started = time.perf_counter()
    misses = [] if args.skip_backtest else backtests(args.origins, synthetic=not args.check)
    if not args.skip_backtest:
        misses += regimes()
    if not args.skip_retrain:
        retraining(args.materials)
    if args.cluster:
        on_cluster(args.cluster_materials)
    print(f"\nDone in {time.perf_counter() - started:.0f} s")
    if misses:
        print("\nTargets missed:\n  " + "\n  ".join(misses))
    if args.check and misses:
        sys.exit(1)


if __name__ == "__main__":
    main()
