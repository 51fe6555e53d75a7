"""Operating the real bot process (`procurebot run` against the fake Bot API): Prometheus
scrapes /metrics over HTTP while it answers and delivers, `procurebot status` reads its
heartbeat (exit 0 while it runs, 1 once it stopped), /status answers admins only, and with
LOG_FORMAT=json every log line is one JSON object with the secrets redacted."""

import asyncio
import json
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bot.bootstrap import open_database
from bot.settings import load_settings
from core.adapters.db.repos.subscriptions import SqlSubscriptionRepo
from core.models import Channel, Subscription
from tests.bot.process import start_bot_process, stop
from tests.bot.telegram import ADMIN_ID, BUYER_ID, TOKEN
from tests.fake_telegram import FakeBotApi
from tests.postgres import free_port

PATIENCE = 60.0


def procurebot(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def sample(metrics: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus's text format, or None when it is not there."""
    shown = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = re.escape(name + (f"{{{shown}}}" if labels else "")) + r" ([0-9.e+-]+)$"
    found = re.search(pattern, metrics, re.MULTILINE)
    return float(found.group(1)) if found else None


async def scrape(port: int) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def until_scraped(port: int, name: str, **labels: str) -> str:
    deadline = asyncio.get_running_loop().time() + PATIENCE
    while True:
        metrics = await scrape(port)
        if (sample(metrics, name, **labels) or 0) > 0:
            return metrics
        assert asyncio.get_running_loop().time() < deadline, f"no {name} {labels} in {metrics}"
        await asyncio.sleep(0.2)


async def test_metrics_status_and_json_logs_of_a_running_bot(
    tmp_path: Path, telegram_api: FakeBotApi
) -> None:
    api = telegram_api
    admin, buyer = api.user(ADMIN_ID, "Ada"), api.user(BUYER_ID, "Bob")
    database = tmp_path / "var" / "bot.db"
    settings = load_settings(_env_file=None, database_path=database)
    async with open_database(settings) as db:  # the demo data; the admin's chat gets alerts
        subscription = Subscription(Channel.TELEGRAM, str(ADMIN_ID), datetime.now(UTC))
        await SqlSubscriptionRepo(db).add(subscription)
    port = free_port()
    environment = {
        "DATABASE_PATH": str(database),
        "ADMIN_USER_IDS": str(ADMIN_ID),
        "ALLOWED_USER_IDS": str(BUYER_ID),
        "METRICS_PORT": str(port),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
    }
    log = tmp_path / "bot.log"
    process = await start_bot_process(api, tmp_path, log, environment)
    try:
        api.send(buyer, "/price copper")
        await api.wait_for(lambda: api.sent_to(buyer.id))
        api.send(buyer, "/status")
        await api.wait_for(lambda: len(api.sent_to(buyer.id)) == 2)
        assert api.sent_to(buyer.id)[-1].reads == "Only admins may use /status."

        # The demo stock is low: the stock check raises alerts and they reach the admin's chat.
        await until_scraped(
            port, "procurebot_alerts_total", type="LOW_INVENTORY", severity="CRITICAL"
        )
        metrics = await until_scraped(
            port, "procurebot_deliveries_total", channel="telegram", result="sent"
        )
        assert sample(metrics, "procurebot_commands_total", command="price", outcome="answered")
        assert sample(metrics, "procurebot_commands_total", command="status", outcome="answered")
        assert sample(metrics, "procurebot_reply_seconds_count", command="price") == 1
        assert sample(metrics, "procurebot_alerts_total", type="LOW_INVENTORY", severity="CRITICAL")
        assert (sample(metrics, "procurebot_event_loop_lag_seconds_count") or 0) > 0
        assert sample(metrics, "procurebot_leader") == 1
        assert (sample(metrics, "procurebot_feed_polls_total") or 0) >= 1
        assert sample(metrics, "procurebot_feed_failures_total") == 0
        assert sample(metrics, "procurebot_build_info", version="0.1.0") == 1
        assert (sample(metrics, "process_resident_memory_bytes") or 0) > 0
        metrics = await until_scraped(port, "procurebot_healthy")
        assert sample(metrics, "procurebot_outbox_pending") is not None
        labels = set(re.findall(r'="([^"]*)"', metrics))
        for user_id in (ADMIN_ID, BUYER_ID):  # no user or chat ids as labels
            assert not any(str(user_id) in value for value in labels)

        running = procurebot(tmp_path, "status", DATABASE_PATH=str(database))
        assert running.returncode == 0, running.stdout + running.stderr
        lines = running.stdout.splitlines()
        assert lines[0] == "procurebot 0.1.0: healthy"
        assert lines[2].startswith("Bot: up since ") and "version 0.1.0" in lines[2]
        assert "Price feed simulated: last good poll " in running.stdout

        api.send(admin, "/status")
        await api.wait_for(
            lambda: any("procurebot 0.1.0" in m.reads for m in api.sent_to(admin.id))
        )
        report = next(m for m in api.sent_to(admin.id) if "procurebot 0.1.0" in m.reads)
        assert report.reads.splitlines()[0] == "procurebot 0.1.0: healthy"
        assert "Alerts go to: 1 Telegram chat, WhatsApp off" in report.reads
    finally:
        code = await stop(process)
    output = log.read_text(encoding="utf-8")
    assert code == 0, output[-3000:]

    stopped = procurebot(tmp_path, "status", DATABASE_PATH=str(database))
    assert stopped.returncode == 1
    assert stopped.stdout.splitlines()[1].startswith(
        "PROBLEM: the bot is not running (it stopped at"
    )

    entries = [json.loads(line) for line in output.splitlines()]  # every line is JSON
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    messages = [e["message"] for e in entries]
    assert any(m.startswith(f"Metrics at http://127.0.0.1:{port}/metrics") for m in messages)
    assert any("[redacted]" in m for m in messages)  # PTB's debug line with the API URL
    assert TOKEN not in output


async def test_a_metrics_port_in_use_stops_start_up_with_one_line(
    tmp_path: Path, telegram_api: FakeBotApi
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        log = tmp_path / "bot.log"
        settings = {"DATABASE_PATH": str(tmp_path / "bot.db"), "METRICS_PORT": str(port)}
        process = await start_bot_process(telegram_api, tmp_path, log, settings, wait=False)
        code = await asyncio.wait_for(process.wait(), PATIENCE)
    output = log.read_text(encoding="utf-8").strip()
    assert code == 2, output[-2000:]
    assert output.splitlines()[-1].startswith(f"METRICS_PORT={port} on METRICS_HOST=127.0.0.1")
    assert "Traceback" not in output
