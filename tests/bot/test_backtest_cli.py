"""`procurebot backtest` as an analyst runs it: a CSV in, a summary and a per-origin CSV out."""

import csv
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from tests.bot.test_console import procurebot


def trading_days_csv(path: Path, rows: int = 520) -> pd.Series:
    rng = np.random.default_rng(4)
    days = pd.bdate_range("2023-01-02", periods=rows)
    prices = pd.Series(9000 * np.exp(np.cumsum(rng.normal(0, 0.012, rows))), index=days)
    pd.DataFrame({"date": days.date, "volume": 1, "cash": prices.round(1)}).to_csv(
        path, index=False
    )
    return prices.round(1)


def test_backtest_writes_one_row_per_origin_and_prints_a_summary(tmp_path: Path) -> None:
    prices = trading_days_csv(tmp_path / "copper.csv")
    done = procurebot(
        tmp_path,
        "backtest",
        "--csv", "copper.csv",
        "--price-column", "cash",
        "--horizon", "5",
        "--origins", "12",
        "--output", "out.csv",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "copper.csv (cash): horizon 5 rows, 12 origins" in done.stdout
    assert "ratio 1.000" in done.stdout and "95% interval held the actual price" in done.stdout
    assert "% in the calmest third of weeks, " in done.stdout
    assert "% in the most volatile third); interval score " in done.stdout
    assert "saves +0.00% of spend against buying on schedule" in done.stdout
    assert "Fitting Prophet [" in done.stderr and "64/64" in done.stderr
    with open(tmp_path / "out.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == [
        "origin", "target", "actual", "yhat", "yhat_lower", "yhat_upper", "naive",
        "recommendation",
    ]  # fmt: skip
    assert len(rows) == 12
    days = [day.strftime("%Y-%m-%d") for day in pd.DatetimeIndex(prices.index)]
    for row in rows:
        origin = days.index(row["origin"])  # ISO dates, on rows of the file
        assert row["target"] == days[origin + 5]
        assert float(row["naive"]) == prices.iloc[origin]
        assert float(row["actual"]) == prices.iloc[origin + 5]
        assert float(row["yhat_lower"]) < float(row["yhat"]) < float(row["yhat_upper"])
        assert row["recommendation"] in {"BUY NOW", "WAIT", "MONITOR"}
    origins = [days.index(row["origin"]) for row in rows]
    assert {b - a for a, b in itertools.pairwise(origins)} == {5}  # a week apart


def test_backtest_looks_a_quarter_ahead_for_budgets(tmp_path: Path) -> None:
    trading_days_csv(tmp_path / "copper.csv")
    done = procurebot(
        tmp_path, "backtest", "--csv", "copper.csv", "--horizon", "63", "--origins", "3",
        "--output", "out.csv",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "horizon 63 rows, 3 origins" in done.stdout
    with open(tmp_path / "out.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    days = [day.strftime("%Y-%m-%d") for day in pd.bdate_range("2023-01-02", periods=520)]
    assert all(days.index(r["target"]) - days.index(r["origin"]) == 63 for r in rows)


def test_backtest_defaults_to_the_first_numeric_column(tmp_path: Path) -> None:
    trading_days_csv(tmp_path / "prices.csv", rows=320)
    done = procurebot(tmp_path, "backtest", "--csv", "prices.csv", "--origins", "1")
    assert done.returncode == 0, done.stderr
    assert "prices.csv (volume)" in done.stdout


def test_bad_backtest_input_gets_one_line(tmp_path: Path) -> None:
    trading_days_csv(tmp_path / "short.csv", rows=100)
    cases = [
        (("--csv", "missing.csv"), "No such file: missing.csv"),
        (("--csv", "short.csv", "--price-column", "gold"), "has no price column 'gold'"),
        (("--csv", "short.csv", "--date-column", "day"), "has no column 'day'"),
        (("--csv", "short.csv"), "100 rows are too few"),
        (("--csv", "short.csv", "--horizon", "0"), "must be whole numbers of at least 1"),
        (("--csv", "short.csv", "--horizon", "64"), "at most 63 rows (a quarter of trading"),
    ]
    for arguments, message in cases:
        done = procurebot(tmp_path, "backtest", *arguments)
        assert done.returncode == 2, arguments
        assert message in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr
