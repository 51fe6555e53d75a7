"""The operations settings, JSON log lines, and a metrics port that cannot be used."""

import json
import logging
import socket
import sys

import httpx
import pytest

from bot.cli import JsonFormatter
from bot.metrics import Metrics, MetricsServer
from bot.settings import SettingsError, load_settings
from core.delivery import DeliveryReport
from core.feeds import PollResult, Refusal
from core.models import FeedRow
from tests.fakes import COPPER_DROP


def test_operations_settings_default_to_off_and_safe() -> None:
    settings = load_settings(_env_file=None)
    assert settings.metrics_port is None and settings.metrics_host == "127.0.0.1"
    assert settings.backup_dir is None and settings.backup_keep == 7
    assert settings.price_retention_days == 90
    assert settings.log_format == "text"
    assert load_settings(_env_file=None, log_format="JSON").log_format == "json"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("metrics_port", "70000", "a TCP port, 1-65535"),
        ("backup_keep", "0", "a whole number of backups, 1-1000"),
        ("price_retention_days", "30", "a whole number of days >= 31 (the /price chart shows 30)"),
        ("log_format", "xml", "text or json"),
    ],
)
def test_a_bad_operations_setting_is_named_in_one_line(
    name: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, **{name: value})
    [line] = str(raised.value).splitlines()
    assert line.startswith(f"Invalid setting {name.upper()}=") and expected in line


def test_json_log_lines_are_one_object_each_with_secrets_redacted() -> None:
    formatter = JsonFormatter("%(message)s", ["top-secret-token"])
    try:
        raise RuntimeError('failed at https://x/bottop-secret-token/getMe with "quotes"')
    except RuntimeError:
        record = logging.LogRecord(
            "bot", logging.ERROR, __file__, 1, "token %s", ("top-secret-token",), sys.exc_info()
        )
    line = formatter.format(record)
    assert "\n" not in line and "top-secret-token" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "bot"
    assert entry["message"] == "token [redacted]"
    assert entry["traceback"].startswith("Traceback")
    assert 'bot[redacted]/getMe with "quotes"' in entry["traceback"]


def test_a_metrics_port_in_use_is_one_line_naming_the_setting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SettingsError) as raised:
            MetricsServer.start(Metrics("0.1.0"), "127.0.0.1", port)
    assert str(raised.value).startswith(
        f"METRICS_PORT={port} on METRICS_HOST=127.0.0.1 cannot be used: Address already in use"
    )


def test_metrics_count_what_core_reports() -> None:
    metrics = Metrics("0.1.0")
    metrics.polled(PollResult(accepted=2, stored=2))
    refused = Refusal(FeedRow("copper", "n/a", None, "line 2"), "price 'n/a' is not a number")
    metrics.polled(PollResult(refused=[refused]))
    metrics.raised([COPPER_DROP, COPPER_DROP])
    report = DeliveryReport()
    report.outcomes["telegram", "sent"] += 3
    report.outcomes["whatsapp", "failed"] += 1
    metrics.delivered(report)
    metrics.command("price", True, "answered", 0.2)
    metrics.command("pirce", False, "answered", 0.01)
    value = metrics.registry.get_sample_value
    assert value("procurebot_feed_polls_total") == 2
    assert value("procurebot_feed_failures_total") == 1  # every row refused
    assert value("procurebot_feed_prices_stored_total") == 2
    assert value("procurebot_alerts_total", {"type": "PRICE_DROP", "severity": "WARNING"}) == 2
    assert value("procurebot_deliveries_total", {"channel": "telegram", "result": "sent"}) == 3
    assert value("procurebot_deliveries_total", {"channel": "whatsapp", "result": "failed"}) == 1
    assert value("procurebot_commands_total", {"command": "unknown", "outcome": "answered"}) == 1
    assert value("procurebot_reply_seconds_bucket", {"command": "price", "le": "0.25"}) == 1


async def test_metrics_are_served_in_prometheus_text_format() -> None:
    metrics = Metrics("0.1.0")
    metrics.leader.set(1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = MetricsServer.start(metrics, "127.0.0.1", port)
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        server.stop()
    assert response.status_code == 200
    assert "procurebot_leader 1.0" in response.text.splitlines()
    assert 'procurebot_build_info{version="0.1.0"} 1.0' in response.text.splitlines()
