"""kill -9 of the real bot process after a purchase request was stored and before its post
reached the approval group: the restarted bot posts it, once.

The request and its post are one transaction (the purchase, the PURCHASE message and its
delivery to the group), so once the buyer's /buy is answered the post is in the outbox. Here
the group's messages hang (and then fail, so that a killed bot's request never lands later):
the delivery worker has claimed the post and is waiting for Telegram when the bot is killed.
The restarted bot puts the claimed delivery back (its worker recovers what dead workers left
in flight) and sends it: the group gets the post exactly once, with its buttons, and an
approver can act on it.
"""

import dataclasses
from collections.abc import Awaitable
from pathlib import Path

import sqlalchemy as sa

from bot.bootstrap import open_database
from bot.settings import load_settings
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.outbox import SqlStateStore
from core.adapters.db.repos.purchases import SqlPurchaseRepo
from core.adapters.db.schema import alerts, deliveries
from core.domain.purchasing import APPROVAL_ROOM, PurchaseState
from tests.bot.process import kill, start_bot_process, stop, until
from tests.fake_telegram import Failure, FakeBotApi

BUYER = 6001
APPROVER = 6002
GROUP = -6100
PATIENCE = 90.0  # seconds; only stops a broken test from hanging
HANGS_THEN_FAILS = dataclasses.replace(Failure.server_error(503), delay=60.0)


async def post_status(database: Path) -> str | None:
    """Where the delivery of the approval post to the group stands (None: not stored)."""
    db = await Database.open(sqlite_url(database))
    try:
        status: str | None = await db.scalar(
            sa.select(deliveries.c.status)
            .join(alerts, alerts.c.id == deliveries.c.alert_id)
            .where(alerts.c.type == "PURCHASE", deliveries.c.address == str(GROUP))
        )
        return status
    finally:
        await db.close()


async def test_a_request_stored_before_kill_9_is_posted_to_the_approval_group_once(
    tmp_path: Path, telegram_api: FakeBotApi
) -> None:
    api = telegram_api
    buyer = api.user(BUYER, "Bea")
    approver = api.user(APPROVER, "Olga")
    api.group(GROUP, "Managers")
    database, log = tmp_path / "var" / "bot.db", tmp_path / "bot.log"
    async with open_database(load_settings(_env_file=None, database_path=database)) as db:
        await SqlStateStore(db).set(APPROVAL_ROOM, str(GROUP))  # /approvals here, earlier
    settings = {
        "DATABASE_PATH": str(database),
        "ALLOWED_USER_IDS": str(BUYER),
        "APPROVER_USER_IDS": str(APPROVER),
    }

    first = await start_bot_process(api, tmp_path, log, settings)
    api.fail("sendMessage", HANGS_THEN_FAILS, chat_id=GROUP)
    api.send(buyer, '/buy copper 30 from "Nordic Copper AB"')
    answered = await api.wait_for(lambda: api.sent_to(BUYER), PATIENCE)
    assert answered[0].reads.startswith("Purchase request #1: 30 t Copper")
    await until(lambda: _is(post_status(database), "sending"), "the post claimed for sending")
    await kill(first)
    assert api.sent_to(GROUP) == []  # the post never arrived

    api.heal()
    second = await start_bot_process(api, tmp_path, log, settings, wait=False)
    await api.wait_for(lambda: api.sent_to(GROUP), PATIENCE)
    await until(lambda: _is(post_status(database), "sent"), "the post recorded as sent")
    (post,) = api.sent_to(GROUP)
    assert post.reads.startswith("🛒 Purchase request #1\nPurchase request #1 from Bea:")
    assert post.labels == ["✅ Approve", "❌ Reject"]

    api.press(approver, post, "✅ Approve")
    await api.wait_for(lambda: len(api.sent_to(GROUP)) > 1, PATIENCE)
    assert api.sent_to(GROUP)[1].reads.startswith("✅ Approved: request #1 is PO-2026-0001")
    assert await stop(second) == 0
    assert len(api.sent_to(GROUP)) == 2  # the post once, and the approval's answer
    db = await Database.open(sqlite_url(database))
    try:
        (order,) = await SqlPurchaseRepo(db).recent(10)
        assert (order.state, order.po_number) == (PurchaseState.ORDERED, "PO-2026-0001")
    finally:
        await db.close()
    output = log.read_text(encoding="utf-8")
    assert "Deliveries in flight when the bot last stopped: 1" in output
    assert "Traceback" not in output


async def _is(status: Awaitable[str | None], wanted: str) -> bool:
    return await status == wanted
