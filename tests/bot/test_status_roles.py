"""`procurebot status` on PostgreSQL with two real bots: the leader and the standby each beat,
status names both; when the leader stops, the standby takes over and status says so."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from bot.cli import _status
from bot.rendering import Renderer
from bot.settings import load_settings
from tests.bot.telegram import RunningBot, running_bot
from tests.fake_telegram import FakeBotApi
from tests.fakes import NOW, FakeClock
from tests.leadership import quick_leadership

PATIENCE = 60.0


async def status_lines(url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = await _status(load_settings(_env_file=None, database_url=url), FakeClock(NOW))
    return code, capsys.readouterr().out.splitlines()


async def until_roles(url: str, capsys: pytest.CaptureFixture[str], *roles: str) -> list[str]:
    deadline = asyncio.get_running_loop().time() + PATIENCE
    while True:
        _, lines = await status_lines(url, capsys)
        shown = [line.split(":")[0] for line in lines if line.startswith(("Leader", "Standby"))]
        if shown == list(roles):
            return lines
        assert asyncio.get_running_loop().time() < deadline, lines
        await asyncio.sleep(0.1)


async def test_status_names_the_leader_and_the_standby_and_follows_a_takeover(
    postgres_url: str,
    telegram_api: FakeBotApi,
    database: Path,
    chart_renderer: Renderer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def bot() -> AbstractAsyncContextManager[RunningBot]:
        return running_bot(
            telegram_api,
            database,
            chart_renderer,
            leadership=quick_leadership(postgres_url),
            database_url=postgres_url,
        )

    standby_up: asyncio.Future[RunningBot] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def second() -> None:
        async with bot() as running:
            standby_up.set_result(running)
            await done.wait()

    async with bot():
        standby = asyncio.create_task(second())
        try:
            lines = await until_roles(postgres_url, capsys, "Leader", "Standby")
            assert lines[1].startswith("Database: PostgreSQL, postgresql://procurebot@127.0.0.1:")
            assert "Leader: up since 12:00 UTC (0 s) on " in lines[2]
        except BaseException:
            done.set()
            standby.cancel()
            raise
    try:
        await asyncio.wait_for(standby_up, PATIENCE)  # the standby took over
        lines = await until_roles(postgres_url, capsys, "Leader")
        assert lines[0] == "procurebot 0.1.0: healthy"
    finally:
        done.set()
        await asyncio.wait_for(standby, PATIENCE)
    code, lines = await status_lines(postgres_url, capsys)
    assert code == 1
    assert lines[1].startswith("PROBLEM: the bot is not running (it stopped at 12:00 UTC on ")
