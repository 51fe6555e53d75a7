"""Only the leader polls Telegram and runs the jobs (bot/lead.py): a standby bot waits without
polling or scheduling anything and starts both once the leader goes; a second `procurebot run`
on the same SQLite file is refused with one line."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import pytest

from bot.rendering import Renderer
from bot.telegram.context import SERVICES
from tests.bot.process import start_bot_process, stop
from tests.bot.telegram import ADMIN_ID, BUYER_ID, RunningBot, running_bot
from tests.fake_telegram import FakeBotApi, FakeUser
from tests.leadership import quick_leadership, standing_by

PATIENCE = 60.0  # seconds; only stops a broken test from hanging


async def test_a_standby_bot_polls_and_schedules_nothing_until_the_leader_goes(
    postgres_url: str,
    telegram_api: FakeBotApi,
    database: Path,
    chart_renderer: Renderer,
    buyer: FakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="core.adapters.db.leader")
    api = telegram_api
    leader = quick_leadership(postgres_url)
    await leader.acquire()
    started: asyncio.Future[RunningBot] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def standby() -> None:
        async with running_bot(
            api,
            database,
            chart_renderer,
            scheduled_jobs=True,
            leadership=quick_leadership(postgres_url),
        ) as bot:
            started.set_result(bot)
            await done.wait()

    running = asyncio.create_task(standby())
    try:
        await standing_by(caplog)
        await asyncio.sleep(0.5)  # five more tries to take the lead
        assert not started.done()
        assert api.calls_to("getMe"), "a standby has checked its token"
        assert api.calls_to("getUpdates") == []
        assert api.calls_to("setMyCommands") == []

        await leader.release()
        bot = await asyncio.wait_for(started, PATIENCE)
        assert bot.application.job_queue is not None
        assert {job.name for job in bot.application.job_queue.jobs()} >= {
            "poll prices",
            "check stock",
            "deliver alerts",
        }
        assert SERVICES in bot.application.bot_data
        turn = await bot.say(buyer, "/price copper")
        assert turn.last.reads.startswith("Copper: ")
    finally:
        done.set()
        await asyncio.wait_for(running, PATIENCE)
        await leader.release()


async def test_a_second_bot_on_the_same_sqlite_file_exits_2_with_one_line(
    tmp_path: Path, telegram_api: FakeBotApi
) -> None:
    api = telegram_api
    database = tmp_path / "var" / "bot.db"
    settings = {
        "DATABASE_PATH": str(database),
        "ADMIN_USER_IDS": str(ADMIN_ID),
        "ALLOWED_USER_IDS": str(BUYER_ID),
    }
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = await start_bot_process(api, tmp_path, first_log, settings)
    try:
        polls = len(api.calls_to("getUpdates"))
        second = await start_bot_process(api, tmp_path, second_log, settings, wait=False)
        code = await asyncio.wait_for(second.wait(), PATIENCE)
        output = second_log.read_text(encoding="utf-8").strip()
        assert code == 2, output[-2000:]
        assert output.splitlines() == [
            f"Another procurebot run is already using {database} (process {first.pid}): "
            "stop it first. Only one process may use a SQLite database; for a standby, use "
            "PostgreSQL (DATABASE_URL)."
        ]
        # the first goes on polling; the second never did
        await api.wait_for(lambda: len(api.calls_to("getUpdates")) > polls + 1, PATIENCE)
        assert first.returncode is None
    finally:
        assert await stop(first, signal.SIGTERM) == 0
    assert "Traceback" not in first_log.read_text(encoding="utf-8")
