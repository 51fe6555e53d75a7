"""kill -9 of a delivering process: nothing pending is lost, nothing sent is sent again.

A real process (tests/integration/delivery_process.py: the composition root, SQLite and the
twilio client) sends an alert to eight WhatsApp numbers, one at a time, through a local fake of
Twilio's Messages endpoint that counts a message only when it answers 201.
1. The fake holds the 4th request; the process is killed with SIGKILL while it waits.
2. A restarted process recovers the in-flight delivery and sends the rest; once the database
   says every delivery was sent, it is killed with SIGKILL too ("right after delivery").
3. A third process finds nothing to send.
Every number got the alert exactly once.
"""

import asyncio
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.outbox import SqlOutbox
from core.adapters.db.repos.prices import SqlMaterialRepo
from core.models import Alert, AlertType, Channel, DeliveryStatus, Recipient, Severity
from tests.fakes import COPPER

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
NUMBERS = [f"+49151000000{n:02d}" for n in range(8)]


@dataclass
class FakeTwilio:
    """Accepts messages (201) and records them; can hold one request unanswered."""

    accepted: list[str] = field(default_factory=list)
    requests: int = 0
    hold_request: int | None = None
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def create_message(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.requests += 1
        if self.requests == self.hold_request:
            self.held.set()
            await self.release.wait()
            raise web.HTTPServiceUnavailable()  # the client is gone by now
        self.accepted.append(str(form["To"]).removeprefix("whatsapp:"))
        return web.json_response({"sid": f"SM{self.requests:032x}", "status": "queued"}, status=201)


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[FakeTwilio, str]]:
    fake = FakeTwilio()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", fake.create_message)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield fake, f"http://127.0.0.1:{runner.addresses[0][1]}"
    fake.release.set()
    await runner.cleanup()


async def start_worker(db_path: Path, base_url: str, *args: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_PATH": str(db_path),
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": "restart-test-token",
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "TWILIO_BASE_URL": base_url,
        "WHATSAPP_RECIPIENTS": ",".join(NUMBERS),
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.delivery_process",
        *args,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return process


async def statuses(db_path: Path) -> Counter[DeliveryStatus]:
    db = await Database.open(sqlite_url(db_path))
    try:
        return Counter(d.status for d in await SqlOutbox(db).deliveries())
    finally:
        await db.close()


async def kill(process: asyncio.subprocess.Process) -> None:
    process.kill()  # SIGKILL: no cleanup, no finally blocks
    await process.wait()
    assert process.returncode == -9


async def test_kill_9_during_and_right_after_delivery_loses_nothing_and_repeats_nothing(
    tmp_path: Path, twilio: tuple[FakeTwilio, str]
) -> None:
    fake, base_url = twilio
    db_path = tmp_path / "restart.db"
    db = await Database.open(sqlite_url(db_path))
    await SqlMaterialRepo(db).upsert(COPPER)
    now = datetime.now(UTC).replace(microsecond=0)
    alert = Alert(AlertType.PRICE_DROP, Severity.CRITICAL, "copper", "Copper fell 20%", now, "d")
    await SqlOutbox(db).record(alert, [Recipient(Channel.WHATSAPP, n) for n in NUMBERS])
    await db.close()

    # 1. Killed while the 4th message is in flight.
    fake.hold_request = 4
    first = await start_worker(db_path, base_url)
    await asyncio.wait_for(fake.held.wait(), timeout=120)
    await kill(first)
    assert fake.accepted == NUMBERS[:3]
    assert await statuses(db_path) == {
        DeliveryStatus.SENT: 3,
        DeliveryStatus.SENDING: 1,
        DeliveryStatus.PENDING: 4,
    }

    # 2. Restarted: sends the rest, then is killed right after the last one is marked sent.
    second = await start_worker(db_path, base_url)
    while (await statuses(db_path))[DeliveryStatus.SENT] < len(NUMBERS):
        assert second.returncode is None, (await second.communicate())[1].decode()
        await asyncio.sleep(0.05)
    await kill(second)

    # 3. Restarted again: nothing left to send.
    third = await start_worker(db_path, base_url, "--once")
    _, errors = await asyncio.wait_for(third.communicate(), timeout=120)
    assert third.returncode == 0, errors.decode()

    assert sorted(fake.accepted) == sorted(NUMBERS)  # each number exactly once
    assert await statuses(db_path) == {DeliveryStatus.SENT: len(NUMBERS)}
