"""Settings documented in .env.example, and secrets kept out of log lines."""

import logging
import re
import sys
from pathlib import Path

import pytest

from bot.cli import RedactingFormatter, secrets_of
from bot.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_env_example_with_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    documented = {}
    for index, line in enumerate(lines):
        match = re.match(r"^([A-Z_]+)=", line)
        if match:  # a comment right above it, or above the group of settings it is in
            above = index - 1
            while above >= 0 and re.match(r"^[A-Z_]+=", lines[above]):
                above -= 1
            documented[match.group(1)] = above >= 0 and lines[above].startswith("#")
    assert set(documented) == {name.upper() for name in Settings.model_fields}
    assert all(documented.values()), [
        name for name, commented in documented.items() if not commented
    ]


def test_the_token_and_twilio_credentials_are_redacted_from_any_log_line() -> None:
    settings = load_settings(
        _env_file=None,
        telegram_bot_token="123456789:AAE-secret_token-value",
        twilio_account_sid="AC0123456789abcdef0123456789abcdef",
        twilio_auth_token="f00dfeedf00dfeedf00dfeedf00dfeed",
    )
    formatter = RedactingFormatter("%(message)s", secrets_of(settings))
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "POST %s and %s then %s",
        (
            "http://x/bot123456789:AAE-secret_token-value/getMe",
            "http://x/bot123456789%3AAAE-secret_token-value/getMe",
            "https://AC0123456789abcdef0123456789abcdef:f00dfeedf00dfeedf00dfeedf00dfeed@api",
        ),
        None,
    )
    text = formatter.format(record)
    assert "secret_token" not in text and "f00dfeed" not in text and "AC0123" not in text
    assert text.count("[redacted]") == 4


def test_a_traceback_is_redacted_too() -> None:
    formatter = RedactingFormatter("%(message)s", ["top-secret-token"])
    try:
        raise RuntimeError("failed calling /bottop-secret-token/sendMessage")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    assert "top-secret-token" not in formatter.format(record)


@pytest.mark.parametrize(("name", "value"), [("CHART_CACHE_SIZE", "-1"), ("CHART_CACHE_SIZE", "x")])
def test_a_bad_chart_cache_size_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(Exception, match="CHART_CACHE_SIZE"):
        load_settings(_env_file=None)


@pytest.mark.parametrize("written", ["debug", "Info", " warning ", "ERROR"])
def test_the_log_level_may_be_written_in_any_case(written: str) -> None:
    assert load_settings(_env_file=None, log_level=written).log_level == written.strip().upper()


@pytest.mark.parametrize("value", ["10.0.0.5:8786", "http://10.0.0.5:8786", "tcp://host"])
def test_a_forecast_cluster_that_is_no_dask_address_is_named_with_an_example(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FORECAST_CLUSTER", value)
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert str(raised.value) == (
        f"Invalid setting FORECAST_CLUSTER='{value}': expected a Dask scheduler address, "
        "tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786."
    )


def test_a_forecast_cluster_address_is_taken() -> None:
    settings = load_settings(_env_file=None, forecast_cluster=" tcp://10.0.0.5:8786 ")
    assert settings.forecast_cluster == "tcp://10.0.0.5:8786"
