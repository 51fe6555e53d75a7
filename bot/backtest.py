"""`procurebot backtest`: rolling-origin evaluation of the forecaster on a price history file.

At each origin the forecaster sees only the rows up to it (and its own earlier runs), exactly as
a retrain does; `WARMUP` earlier origins are fitted first so the first scored forecast has a
track record to be calibrated on, as the bot has after its backfill.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, TypeVar

import pandas as pd

from core.adapters.prophet_model import prophet_run
from core.errors import UserError
from core.forecast_model import (
    MAX_HORIZON,
    BacktestSummary,
    ForecastConfig,
    backtest,
    clean_history,
    origin_rows,
    schedule_step,
    summarize,
    training_windows,
)

WARMUP = 52
CSV_COLUMNS = [
    "origin",
    "target",
    "actual",
    "yhat",
    "yhat_lower",
    "yhat_upper",
    "naive",
    "recommendation",
]
T = TypeVar("T")


def load_series(path: Path, date_column: str, price_column: str | None) -> pd.Series:
    """The price column of a CSV, indexed by its dates; a bad file or column is a UserError."""
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise UserError(f"No such file: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is not a readable CSV file: {error}") from None
    if date_column not in frame.columns:
        raise UserError(
            f"{path} has no column '{date_column}' (columns: {', '.join(frame.columns)}); "
            "name the date column with --date-column"
        )
    numeric = [
        c for c in frame.columns if c != date_column and pd.api.types.is_numeric_dtype(frame[c])
    ]
    column = price_column or (numeric[0] if numeric else None)
    if column is None or column not in frame.columns:
        raise UserError(
            f"{path} has no price column '{price_column}'; numeric columns: "
            f"{', '.join(numeric) or 'none'}. Name it with --price-column"
        )
    dates = pd.to_datetime(frame[date_column], errors="coerce")
    prices = pd.to_numeric(frame[column], errors="coerce")
    known = dates.notna().to_numpy() & prices.notna().to_numpy()
    series = clean_history(pd.Series(prices.to_numpy()[known], index=dates[known]))
    series.name = column
    return series


@dataclass(frozen=True)
class BacktestRun:
    frame: pd.DataFrame
    summary: BacktestSummary
    fits: int
    seconds: float


def progress(items: Iterable[T], total: int, label: str, out: TextIO) -> Iterator[T]:
    """Yields `items`, drawing a progress bar on `out` (a line each 10% when not a terminal)."""
    started, shown = time.perf_counter(), -1
    live = out.isatty()
    for done, item in enumerate(items, start=1):
        yield item
        tenth = 10 * done // max(total, 1)
        if live or tenth != shown or done == total:
            shown = tenth
            bar = "#" * (30 * done // max(total, 1))
            line = f"{label} [{bar:<30}] {done}/{total}  {time.perf_counter() - started:.0f} s"
            print(("\r" + line) if live else line, end="" if live else "\n", file=out, flush=True)
    if live:
        print(file=out)


def run_backtest(
    series: pd.Series,
    horizon: int,
    origins: int,
    config: ForecastConfig,
    executor: Executor,
    out: TextIO = sys.stderr,
) -> BacktestRun:
    """Fits the model at every origin (in `executor`), then replays the retrains in order."""
    if horizon < 1 or origins < 1:
        raise UserError("--horizon and --origins must be whole numbers of at least 1")
    if horizon > MAX_HORIZON:
        raise UserError(
            f"--horizon {horizon} is too far ahead: at most {MAX_HORIZON} rows (a quarter of "
            "trading days)"
        )
    step = schedule_step(pd.DatetimeIndex(series.index))
    rows = origin_rows(len(series), horizon, origins + WARMUP, step)
    if len(rows) <= WARMUP:
        raise UserError(
            f"{len(series)} rows are too few: a backtest needs about {30 + step * (WARMUP + 1)}"
            f" rows for {WARMUP} warm-up origins {step} rows apart plus one to score"
        )
    started = time.perf_counter()
    windows = training_windows(series, rows, config)
    fitted = executor.map(
        prophet_run, windows, [horizon] * len(rows), [config] * len(rows), chunksize=2
    )
    runs = list(progress(fitted, len(rows), "Fitting Prophet", out))
    frame = backtest(series, runs, rows, origins, config)
    return BacktestRun(frame, summarize(frame), len(runs), time.perf_counter() - started)


def _share(share: float, hit: float | None) -> str:
    right = "-" if hit is None else f"{100 * hit:.0f}%"
    return f"{100 * share:.1f}% of weeks, right {right}"


def describe(name: str, run: BacktestRun, horizon: int) -> str:
    """The printed summary of one series."""
    s, frame = run.summary, run.frame
    methods = ", ".join(f"{method} {100 * share:.0f}%" for method, share in s.methods.items())
    return "\n".join(
        [
            f"{name}: horizon {horizon} rows, {s.origins} origins "
            f"({frame['origin'].iloc[0]} to {frame['origin'].iloc[-1]}), "
            f"{run.fits} Prophet fits in {run.seconds:.0f} s",
            f"  MAE {s.mae:,.2f} against naive {s.naive_mae:,.2f}: ratio {s.mae_ratio:.3f} "
            f"(over the whole path {s.path_ratio:.3f})",
            f"  95% interval held the actual price {100 * s.coverage:.1f}% of the time "
            f"({100 * s.calm_coverage:.1f}% in the calmest third of weeks, "
            f"{100 * s.volatile_coverage:.1f}% in the most volatile third); interval score "
            f"{s.interval_score_pct:.2f}% of the price",
            f"  BUY NOW {_share(s.buy_share, s.buy_hit)}; WAIT {_share(s.wait_share, s.wait_hit)}",
            f"  A weekly buyer following the advice saves {s.money_saved_pct:+.2f}% of spend "
            "against buying on schedule",
            f"  Method chosen: {methods}",
        ]
    )


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame[CSV_COLUMNS].to_csv(path, index=False, float_format="%.4f")
