"""`procurebot backtest`: rolling-origin evaluation of the forecaster on a price history file.

At each origin the forecaster sees only the rows up to it (and its own earlier runs), exactly as
a retrain does; `WARMUP` earlier origins are fitted first so the first scored forecast has a
track record to be calibrated on, as the bot has after its backfill.
"""

from __future__ import annotations

import csv
import math
import re
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
    origin_rows,
    schedule_step,
    summarize,
    training_windows,
)
from core.wording import quoted

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


DELIMITERS = (",", ";", "\t", "|")
# Half the rows or more unusable means the file was misread (or is not a price history):
# a backtest on what is left would mislead.
MAX_DROPPED_SHARE = 0.5
_ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([T ]|$)")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})([T ]|$)")
_DECIMAL_POINT = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d*)(\.\d+)?([eE][+-]?\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d*)(,\d+)?$")
_THOUSANDS_OR_DECIMAL = re.compile(r"^[+-]?\d{1,3},\d{3}$")


@dataclass(frozen=True)
class InputOptions:
    """How to read the file: `dayfirst` or `date_format` for dates like 03/01/2022, `decimal`
    "," or "." when the file cannot tell."""

    date_column: str = "date"
    price_column: str | None = None
    dayfirst: bool = False
    date_format: str | None = None
    decimal: str | None = None


@dataclass(frozen=True)
class LoadedSeries:
    """The prices read, and what was left out: line numbers by reason."""

    series: pd.Series
    read: int
    dropped: dict[str, list[int]]
    delimiter: str = ","
    decimal: str = "."

    @property
    def used(self) -> int:
        return len(self.series)


def _lines(numbers: list[int], shown: int = 3) -> str:
    listed = ", ".join(str(n) for n in numbers[:shown])
    more = f" and {len(numbers) - shown} more" if len(numbers) > shown else ""
    return f"line{'s' if len(numbers) > 1 else ''} {listed}{more}"


def describe_input(loaded: LoadedSeries) -> str:
    """One line for the summary: rows read, used and dropped, and why."""
    dropped = sum(len(lines) for lines in loaded.dropped.values())
    form = []
    if loaded.delimiter != ",":
        form.append(f"{'tab' if loaded.delimiter == chr(9) else repr(loaded.delimiter)}-separated")
    if loaded.decimal == ",":
        form.append("decimal commas")
    shape = f" ({', '.join(form)})" if form else ""
    if not dropped:
        return f"  Input: {loaded.read:,} rows read{shape}, all used"
    reasons = "; ".join(
        f"{len(lines)} {reason} ({_lines(lines)})" for reason, lines in loaded.dropped.items()
    )
    return (
        f"  Input: {loaded.read:,} rows read{shape}, {loaded.used:,} used, "
        f"{dropped:,} dropped: {reasons}"
    )


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    """The header, the non-blank rows with their line numbers, and the delimiter."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            first = file.readline()
            delimiter = max(DELIMITERS, key=first.count) if first.strip() else ","
            file.seek(0)
            reader = csv.reader(file, delimiter=delimiter)
            header = [name.strip() for name in next(reader, [])]
            rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except FileNotFoundError:
        raise UserError(f"No such file: {path}") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, not a CSV file") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path} is not a readable CSV file: {error}") from None
    if not header or not rows:
        raise UserError(f"{path} has no rows of data")
    return header, rows, delimiter


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _decimal_mark(values: list[str], given: str | None, path: Path, column: str) -> str:
    """ "," or ".": as given, or as the values show it; values that could be either (9,123)
    are refused."""
    if given is not None:
        return given
    for value in values:
        if "," in value and "." in value:
            return "," if value.rfind(",") > value.rfind(".") else "."
    with_comma = [v for v in values if "," in v]
    if with_comma and all(_THOUSANDS_OR_DECIMAL.match(v) for v in with_comma):
        raise UserError(
            f"{path}: in column '{column}', '{quoted(with_comma[0])}' could be a thousands "
            "separator or a decimal comma: add --decimal , (decimal comma) or --decimal . "
            "(thousands separator)"
        )
    return "," if with_comma else "."


def _number(value: str, decimal: str) -> float | None:
    text = value.replace(" ", "").replace("\u00a0", "")
    if decimal == ",":
        if not _DECIMAL_COMMA.match(text):
            return None
        text = text.replace(".", "").replace(",", ".")
    else:
        if not _DECIMAL_POINT.match(text):
            return None
        text = text.replace(",", "")
    try:
        return float(text)
    except ValueError:
        return None


def _numbers(values: list[str], decimal: str) -> list[float | None]:
    return [_number(v, decimal) if v else None for v in values]


def _mostly_numbers(values: list[str], decimal: str) -> bool:
    filled = [v for v in values if v]
    return bool(filled) and sum(_number(v, decimal) is not None for v in filled) > len(filled) / 2


def _dates(
    values: list[str], lines: list[int], options: InputOptions, path: Path
) -> pd.DatetimeIndex:
    """Each value as a date (NaT where unreadable). Dates like 03/01/2022 are ambiguous: they
    need --dayfirst or --date-format, never a guess."""
    if options.date_format is not None:
        parsed = pd.to_datetime(pd.Series(values), format=options.date_format, errors="coerce")
        return pd.DatetimeIndex(parsed)
    numeric = [(i, m) for i, v in enumerate(values) if (m := _NUMERIC_DATE.match(v))]
    if numeric and not options.dayfirst:
        index, match = numeric[0]
        day_first = next((i for i, m in numeric if int(m.group(1)) > 12), None)
        month_first = next((i for i, m in numeric if int(m.group(3)) > 12), None)
        hint = ""
        if day_first is not None and month_first is None:
            hint = f" (line {lines[day_first]} has '{values[day_first]}': day first)"
        elif month_first is not None and day_first is None:
            hint = f" (line {lines[month_first]} has '{values[month_first]}': month first)"
        sep = match.group(2)
        raise UserError(
            f"{path}: dates like '{quoted(values[index])}' (line {lines[index]}) could be day or "
            f"month first{hint}: add --dayfirst, or --date-format %m{sep}%d{sep}%Y for month first"
        )
    day_first_rows = [i for i, _ in numeric]
    iso_rows = [i for i, v in enumerate(values) if _ISO_DATE.match(v)]
    taken = set(day_first_rows) | set(iso_rows)
    other_rows = [i for i, v in enumerate(values) if v and i not in taken]

    def part(rows: list[int]) -> pd.Series:
        return pd.Series([values[i] for i in rows], index=rows, dtype=object)

    parts = [
        pd.to_datetime(part(iso_rows), format="ISO8601", errors="coerce", utc=True),
        pd.to_datetime(
            part(day_first_rows), format="mixed", dayfirst=True, errors="coerce", utc=True
        ),
        pd.to_datetime(part(other_rows), format="mixed", errors="coerce", utc=True),
    ]
    found = [p.dt.tz_convert(None) for p in parts if len(p)]
    if not found:
        return pd.DatetimeIndex([pd.NaT] * len(values))
    return pd.DatetimeIndex(pd.concat(found).reindex(range(len(values))))


def load_series(path: Path, options: InputOptions) -> LoadedSeries:
    """The price column of a CSV (`,` `;` tab or `|` separated), indexed by its dates, with
    every row left out counted by reason; a file that cannot be read as asked is a UserError
    of one line."""
    header, rows, delimiter = _read_rows(path)
    if options.date_column not in header:
        raise UserError(
            f"{path} has no column '{quoted(options.date_column)}' "
            f"(columns: {quoted(', '.join(header), 80)}); name the date column with --date-column"
        )
    lines = [line for line, _ in rows]
    columns = {name: [_cell(row, i) for _, row in rows] for i, name in enumerate(header)}
    marks = {
        name: _decimal_mark(values, options.decimal, path, name)
        for name, values in columns.items()
        if name != options.date_column and (options.price_column in (None, name))
    }
    numeric = [name for name, mark in marks.items() if _mostly_numbers(columns[name], mark)]
    column = options.price_column or (numeric[0] if numeric else None)
    if column is None or column not in header:
        raise UserError(
            f"{path} has no price column '{quoted(str(column))}'; numeric columns: "
            f"{', '.join(numeric) or 'none'}. Name it with --price-column"
        )
    values = columns[column]
    if column not in numeric:
        example = next(
            (i for i, v in enumerate(values) if v and _number(v, marks[column]) is None), 0
        )
        hint = " (for decimal commas add --decimal ,)" if "," in values[example] else ""
        raise UserError(
            f"{path}: column '{quoted(column)}' is not numeric: line {lines[example]} has "
            f"'{quoted(values[example])}'{hint}"
        )
    dates = _dates(columns[options.date_column], lines, options, path)
    prices = _numbers(values, marks[column])
    dropped: dict[str, list[int]] = {}
    kept_dates, kept_prices, kept_lines = [], [], []
    for line, day, price, text, raw_day in zip(
        lines, dates, prices, values, columns[options.date_column], strict=True
    ):
        if not raw_day:
            reason = "with no date"
        elif pd.isna(day):
            reason = "with an unreadable date"
        elif not text:
            reason = "with no price"
        elif price is None:
            reason = "with a price that is not a number"
        elif not (math.isfinite(price) and price > 0):
            reason = "with a price not above zero"
        else:
            kept_dates.append(day)
            kept_prices.append(price)
            kept_lines.append(line)
            continue
        dropped.setdefault(reason, []).append(line)
    series = pd.Series(kept_prices, index=pd.DatetimeIndex(kept_dates), dtype=float)
    repeated = series.index.duplicated(keep="last")
    if repeated.any():
        dropped["repeating a later row's date"] = [
            line for line, again in zip(kept_lines, repeated, strict=True) if again
        ]
    series = series[~repeated].sort_index()
    series.name = column
    loaded = LoadedSeries(series, len(rows), dropped, delimiter, marks[column])
    if loaded.used <= len(rows) * (1 - MAX_DROPPED_SHARE):
        reason, first = max(dropped.items(), key=lambda item: len(item[1]))
        raise UserError(
            f"{path}: {len(rows) - loaded.used:,} of {len(rows):,} rows cannot be used, "
            f"{len(first):,} {reason} ({_lines(first)}): check --date-column, --price-column, "
            "--dayfirst, --date-format and --decimal"
        )
    return loaded


def check_output(path: Path) -> None:
    """Raises a UserError unless `path` can be written (checked before any fitting)."""
    if path.is_dir():
        raise UserError(f"--output {path} is a folder: name a file, e.g. {path / 'backtest.csv'}")
    if not path.parent.is_dir():
        raise UserError(f"--output {path}: the folder {path.parent} does not exist")
    existed = path.exists()
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as error:
        raise UserError(f"--output {path} cannot be written: {error.strerror}") from None
    if not existed:
        path.unlink()


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
