"""`procurebot backtest` as an analyst runs it: a CSV in, a summary and a per-origin CSV out."""

import csv
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from bot.backtest import InputOptions, describe_input, load_series
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


def european_csv(path: Path, rows: int = 320) -> pd.Series:
    """Day-first dates, `;` between fields and decimal commas, as a European spreadsheet saves
    them."""
    prices = trading_days_csv(path, rows)
    lines = ["Datum;Kasse"] + [
        f"{day:%d/%m/%Y};{f'{price:.1f}'.replace('.', ',')}" for day, price in prices.items()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return prices


def test_ambiguous_dates_are_refused_unless_dayfirst_says_how_to_read_them(
    tmp_path: Path,
) -> None:
    prices = european_csv(tmp_path / "kupfer.csv")
    done = procurebot(tmp_path, "backtest", "--csv", "kupfer.csv", "--date-column", "Datum")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "kupfer.csv: dates like '02/01/2023' (line 2) could be day or month first (line 11 has "
        "'13/01/2023': day first): add --dayfirst, or --date-format %m/%d/%Y for month first"
    )
    for how in ({"dayfirst": True}, {"date_format": "%d/%m/%Y"}):
        loaded = load_series(tmp_path / "kupfer.csv", InputOptions("Datum", **how))
        assert loaded.series.index[0] == pd.Timestamp("2023-01-02")  # 2 January, not 1 February
        assert loaded.used == loaded.read == 320 and loaded.dropped == {}
        assert list(loaded.series) == list(prices)


def test_semicolons_and_decimal_commas_are_detected(tmp_path: Path) -> None:
    prices = european_csv(tmp_path / "kupfer.csv", rows=60)
    loaded = load_series(tmp_path / "kupfer.csv", InputOptions("Datum", dayfirst=True))
    assert (loaded.delimiter, loaded.decimal, loaded.series.name) == (";", ",", "Kasse")
    assert loaded.series.iloc[0] == prices.iloc[0] and loaded.series.iloc[0] > 1000
    assert describe_input(loaded) == (
        "  Input: 60 rows read (';'-separated, decimal commas), all used"
    )


def test_the_summary_says_how_many_rows_were_read_and_dropped_and_why(tmp_path: Path) -> None:
    european_csv(tmp_path / "kupfer.csv")
    lines = (tmp_path / "kupfer.csv").read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].split(";")[0] + ";"  # no price on line 6
    lines[29] = "31/02/2023;9000,5"  # no such day, on line 30
    (tmp_path / "kupfer.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = procurebot(
        tmp_path, "backtest", "--csv", "kupfer.csv", "--date-column", "Datum", "--dayfirst",
        "--origins", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        "  Input: 320 rows read (';'-separated, decimal commas), 318 used, 2 dropped: "
        "1 with no price (line 6); 1 with an unreadable date (line 30)"
    ) in done.stdout.splitlines()


def test_mostly_unusable_rows_are_refused_not_dropped(tmp_path: Path) -> None:
    trading_days_csv(tmp_path / "prices.csv", rows=100)
    lines = (tmp_path / "prices.csv").read_text(encoding="utf-8").splitlines()
    for index in range(1, 70):
        lines[index] = lines[index].rsplit(",", 1)[0] + ",n/a"
    (tmp_path / "prices.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = procurebot(tmp_path, "backtest", "--csv", "prices.csv", "--price-column", "cash")
    assert done.returncode == 2
    assert done.stderr.strip() == "prices.csv: column 'cash' is not numeric: line 2 has 'n/a'"
    lines[1:70] = [line.replace(",n/a", ",") for line in lines[1:70]]
    (tmp_path / "prices.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = procurebot(tmp_path, "backtest", "--csv", "prices.csv", "--price-column", "cash")
    assert done.returncode == 2
    assert done.stderr.strip().startswith(
        "prices.csv: 69 of 100 rows cannot be used, 69 with no price (lines 2, 3, 4 and 66 more)"
    )


def test_an_output_that_cannot_be_written_is_refused_before_any_fitting(tmp_path: Path) -> None:
    trading_days_csv(tmp_path / "prices.csv", rows=320)
    (tmp_path / "results").mkdir()
    cases = [
        ("missing/out.csv", "--output missing/out.csv: the folder missing does not exist"),
        ("results", "--output results is a folder: name a file, e.g. results/backtest.csv"),
    ]
    for output, message in cases:
        done = procurebot(tmp_path, "backtest", "--csv", "prices.csv", "--output", output)
        assert done.returncode == 2
        assert done.stderr.strip() == message  # one line, and no "Fitting Prophet" before it
