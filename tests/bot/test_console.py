"""`procurebot` as a user runs it: a real process, piped input, a real SQLite file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import png_size


def procurebot(
    tmp_path: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM", "TWILIO"))}
    environment |= {"DATABASE_PATH": str(tmp_path / "var" / "bot.db"), **env}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )


def replies(output: str) -> list[str]:
    return [block for block in output.split("\n\n") if block.strip()]


def test_console_answers_a_buyers_questions_from_piped_input(tmp_path: Path) -> None:
    commands = [
        "/help",
        "/price",
        "/price copper",
        "/stock",
        "/vendors steel",
        "/alerts",
        "/forecast aluminium",
        "/budget copper 90",
    ]
    done = procurebot(tmp_path, "console", stdin="\n".join(commands) + "\n")
    assert done.returncode == 0, done.stderr
    answers = replies(done.stdout)
    assert len(answers) == len(commands)
    help_, prices, copper, stock, steel, alerts, forecast, budget = answers

    assert "/forecast MATERIAL" in help_ and "e.g. /vendors steel" in help_
    for name in ("Copper", "Aluminium", "Steel rebar"):
        assert f"{name}: " in prices and "USD/t · 1d " in prices
    assert copper.startswith("Copper: ") and "30 days: low" in copper
    chart = tmp_path / "var" / "charts" / "price-copper.png"
    assert f"Chart: {chart.relative_to(tmp_path)}" in copper or f"Chart: {chart}" in copper
    assert png_size(chart.read_bytes()) == (800, 500)
    assert stock.splitlines()[1].startswith("🔴 Aluminium") and "CRITICAL" in stock
    assert "Best pick: " in steel and "EXPIRED" in steel
    assert alerts.startswith("No alerts yet.")
    assert forecast.startswith("Aluminium: 7-day forecast")
    assert "BUY NOW: Stock is below its minimum (95 t against 120 t)" in forecast
    assert "because its record is being built" in forecast  # a fresh database: at once
    assert "Track record: being built." in forecast
    assert "/var/charts/forecast-aluminium.png" in forecast
    assert budget.startswith("Next 90 days of copper: 660 t to buy, expected ")
    assert "/var/charts/budget-copper-90.png" in budget
    assert "Traceback" not in done.stdout + done.stderr
    assert "Chain" not in done.stderr and "cmdstanpy" not in done.stderr
    assert "First start: Loaded demo data" in done.stderr


def test_bad_input_gets_one_line_naming_what_would_work(tmp_path: Path) -> None:
    commands = [
        "/price unobtainium",
        "/vendors",
        "/alerts -1",
        "/stock gold",
        "/frobnicate",
        "/forecast",
        "price aluminum",
    ]
    done = procurebot(tmp_path, "console", stdin="\n".join(commands) + "\n")
    assert done.returncode == 0
    unknown, vendors, alerts, gold, command, forecast, aluminium = replies(done.stdout)
    assert unknown == (
        "Unknown material 'unobtainium'. Did you mean aluminium? "
        "Known materials: copper, aluminium, steel, nickel, zinc."
    )
    assert vendors.startswith("Which material? Usage: /vendors MATERIAL")
    assert "Options: /vendors copper | /vendors aluminium" in vendors
    assert alerts == "N must be a whole number from 1 to 100, got '-1'. Example: /alerts 20"
    assert gold.startswith("Unknown material 'gold'.")
    assert command == "Unknown command /frobnicate. Send /help for the list."
    assert forecast.startswith("Which material? Usage: /forecast MATERIAL")
    assert aluminium.startswith("Aluminium: ")
    assert "Traceback" not in done.stdout + done.stderr


def test_seed_is_safe_to_run_twice(tmp_path: Path) -> None:
    first = procurebot(tmp_path, "seed")
    assert first.returncode == 0 and "Loaded demo data" in first.stdout
    again = procurebot(tmp_path, "seed")
    assert again.returncode == 0 and "nothing changed" in again.stdout
    forced = procurebot(tmp_path, "seed", "--force")
    assert forced.returncode == 0 and "Loaded demo data" in forced.stdout


def test_run_without_a_token_and_without_a_terminal_names_the_fix(tmp_path: Path) -> None:
    done = procurebot(tmp_path, "run")
    assert done.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PRICE_UPDATE_SECONDS", "often", "a whole number of seconds > 0"),
        ("ADMIN_USER_IDS", "12,bob", "comma-separated numeric Telegram user ids"),
        ("PRICE_SOURCE", "ftp:prices", "simulated, csv:PATH or http:URL"),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line(
    tmp_path: Path, name: str, value: str, expected: str
) -> None:
    done = procurebot(tmp_path, "console", **{name: value})
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert name in done.stderr and expected in done.stderr


def test_settings_are_read_from_dot_env_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FORECAST_HORIZON_DAYS=zero\n")
    done = procurebot(tmp_path, "seed")
    assert done.returncode == 2 and "FORECAST_HORIZON_DAYS" in done.stderr


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    import sqlite3

    (tmp_path / "var").mkdir()
    with sqlite3.connect(tmp_path / "var" / "bot.db") as raw:
        raw.execute("PRAGMA user_version = 999")
    done = procurebot(tmp_path, "console", stdin="/price\n")
    assert done.returncode == 2
    assert "schema version 999" in done.stderr and "Traceback" not in done.stderr


def test_console_acts_in_a_telegram_chat_whose_watches_outlive_the_process(
    tmp_path: Path,
) -> None:
    chat = ("console", "--chat", "-100123")
    first = procurebot(
        tmp_path, *chat, stdin="/watch copper below 9000 for 7d\n/digest 07:30 Europe/Berlin\n"
    )
    assert first.returncode == 0, first.stderr
    watch, digest = replies(first.stdout)
    assert watch.startswith("👀 Watch #1 set: Copper below 9,000 USD/t.")
    assert "Options: /unwatch 1 | /watches" in watch
    assert digest.startswith("🗞 Daily digest at 07:30 Europe/Berlin")

    second = procurebot(tmp_path, *chat, stdin="/watches\n/digest\n/unwatch 1\n")
    assert second.returncode == 0, second.stderr
    listing, now, removed = replies(second.stdout)
    assert "#1 Copper below 9,000 USD/t · armed · now " in listing
    assert now.startswith("Daily digest, ") and "Next digest: " in now
    assert "Chart: " in now
    assert removed.startswith("Removed watch #1: Copper below 9,000 USD/t.")

    elsewhere = procurebot(tmp_path, "console", stdin="/watches\n")
    assert "start it with --chat CHAT_ID" in elsewhere.stdout
