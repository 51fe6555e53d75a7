"""`procurebot run` as it runs in production: a real process with its settings from the
environment, long polling the fake Bot API, stopped by a signal."""

import asyncio
import json
import signal
import socket
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.bot.process import start_bot_process, stop
from tests.bot.telegram import ADMIN_ID, BUYER_ID, STRANGER_ID, TOKEN
from tests.conftest import png_size
from tests.fake_telegram import FakeBotApi

TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "f00dfeedf00dfeedf00dfeedf00dfeed"


async def start_bot(
    tmp_path: Path, api: FakeBotApi, log: Path, wait: bool = True, **extra: str
) -> asyncio.subprocess.Process:
    settings = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "DATABASE_PATH": str(tmp_path / "var" / "bot.db"),
        "ADMIN_USER_IDS": str(ADMIN_ID),
        "ALLOWED_USER_IDS": str(BUYER_ID),
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "TWILIO_BASE_URL": "http://127.0.0.1:9",  # no WhatsApp recipients: never called
        "LOG_LEVEL": "DEBUG",  # the most talkative: the token must not show even here
        "LOOP_MONITOR_FILE": str(tmp_path / "loop.json"),
    }
    return await start_bot_process(api, tmp_path, log, settings | extra, wait)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "bot.log"


async def test_the_bot_process_answers_and_stops_cleanly_on_sigterm(
    tmp_path: Path, telegram_api: FakeBotApi, log: Path
) -> None:
    api = telegram_api
    buyer, stranger = api.user(BUYER_ID, "Bob"), api.user(STRANGER_ID, "Eve")
    process = await start_bot(tmp_path, api, log)
    try:
        api.send(buyer, "/price copper")
        [chart] = await api.wait_for(lambda: api.sent_to(buyer.id))
        assert chart.photo is not None and png_size(chart.photo) == (800, 500)
        assert chart.reads.startswith("Copper: ") and "USD/t" in chart.reads
        api.send(stranger, "/stock")
        [refusal] = await api.wait_for(lambda: api.sent_to(stranger.id))
        assert f"Your Telegram user id is {STRANGER_ID}" in refusal.reads
    finally:
        code = await stop(process, signal.SIGTERM)
    output = log.read_text(encoding="utf-8")
    assert code == 0, output[-3000:]

    assert "First start: Loaded demo data" in output
    assert f"user={BUYER_ID} chat={BUYER_ID} command=/price copper answered in " in output
    assert f"user={STRANGER_ID} chat={STRANGER_ID} command=/stock refused in " in output
    for secret in (TOKEN, quote(TOKEN, safe=""), TWILIO_SID, TWILIO_TOKEN):
        assert secret not in output
    assert "[redacted]" in output  # PTB's debug line with the API URL was there, redacted
    assert "Traceback" not in output

    # post_shutdown ran: the loop monitor reported, and the database was closed cleanly
    assert json.loads((tmp_path / "loop.json").read_text())["samples"] > 0
    assert not (tmp_path / "var" / "bot.db-wal").exists()
    scopes = set(api.commands)
    assert {"all_private_chats", "all_group_chats"} <= scopes


async def test_the_bot_process_stops_cleanly_on_sigint(
    tmp_path: Path, telegram_api: FakeBotApi, log: Path
) -> None:
    process = await start_bot(tmp_path, telegram_api, log)
    assert await stop(process, signal.SIGINT) == 0
    assert "Bot stopped" in log.read_text(encoding="utf-8")


async def test_a_token_telegram_refuses_stops_start_up_with_one_line(
    tmp_path: Path, telegram_api: FakeBotApi, log: Path
) -> None:
    telegram_api.token = "someone-else's-token"
    process = await start_bot(tmp_path, telegram_api, log, wait=False)
    code = await asyncio.wait_for(process.wait(), 60)
    output = log.read_text(encoding="utf-8")
    assert code == 2, output[-2000:]
    last_line = output.strip().splitlines()[-1]
    assert last_line.startswith(
        "Telegram refused TELEGRAM_BOT_TOKEN: copy the token again from @BotFather"
    )
    assert TOKEN not in output and quote(TOKEN, safe="") not in output


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("TWILIO_WHATSAPP_FROM", "", "TWILIO_WHATSAPP_FROM is not"),
        ("PRICE_SOURCE", "http://prices.test/latest", "PRICE_HTTP_PATHS is empty"),
    ],
)
async def test_alert_settings_that_cannot_work_stop_start_up_before_telegram(
    tmp_path: Path, telegram_api: FakeBotApi, log: Path, setting: str, value: str, named: str
) -> None:
    value = f"http:{value}" if setting == "PRICE_SOURCE" else value
    process = await start_bot(tmp_path, telegram_api, log, wait=False, **{setting: value})
    code = await asyncio.wait_for(process.wait(), 60)
    output = log.read_text(encoding="utf-8").strip()
    assert code == 2, output[-2000:]
    assert named in output and len(output.splitlines()) == 1
    assert telegram_api.calls == []  # Telegram was never asked anything


async def test_a_price_path_for_no_material_stops_start_up_before_telegram(
    tmp_path: Path, telegram_api: FakeBotApi, log: Path
) -> None:
    process = await start_bot(
        tmp_path,
        telegram_api,
        log,
        wait=False,
        PRICE_SOURCE="http:http://prices.test/latest",
        PRICE_HTTP_PATHS="copper=1/rates.XCU*32150.7466,gold=rates.XAU",
        LOG_LEVEL="WARNING",
    )
    code = await asyncio.wait_for(process.wait(), 60)
    output = log.read_text(encoding="utf-8").strip()
    assert code == 2, output[-2000:]
    assert output.startswith("Invalid setting PRICE_HTTP_PATHS: Unknown material 'gold'")
    assert len(output.splitlines()) == 1
    assert telegram_api.calls == []


async def test_an_unreachable_bot_api_stops_start_up_with_one_line_and_no_traceback(
    tmp_path: Path, telegram_api: FakeBotApi, log: Path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = f"http://127.0.0.1:{port}/bot"
    process = await start_bot(
        tmp_path, telegram_api, log, wait=False, TELEGRAM_BASE_URL=unreachable, LOG_LEVEL="INFO"
    )
    code = await asyncio.wait_for(process.wait(), 60)
    output = log.read_text(encoding="utf-8").strip()
    assert code == 1, output[-2000:]
    assert output == (
        f"Could not reach the Bot API at {unreachable} (httpx.ConnectError: All connection "
        "attempts failed): check the network, or TELEGRAM_BASE_URL."
    )
