"""kill -9 of the real bot process right after it booked a /use, before Telegram heard that the
update was handled: the restarted bot is handed the same update again and books it once.

python-telegram-bot confirms an update with its next getUpdates (an offset past it), which it
sends as soon as it has fetched the update. Here that confirmation never reaches the fake Bot API
(`confirmations_lost`: Telegram keeps the update, as it does when the bot dies before its
confirming poll arrives), and the answer to the buyer hangs, so the bot is killed with the move
booked and the answer not sent. The restarted bot asks for updates from the start, gets the same
update (same update_id) again, finds it handled, books nothing, and answers what it answered the
first time. The same holds for the Confirm button of a move that waited for confirmation.
"""

import dataclasses
from pathlib import Path

from bot.bootstrap import open_database
from bot.settings import load_settings
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.pending import SqlHandledUpdateRepo
from core.adapters.db.repos.stock import SqlStockMoveRepo
from core.domain.stock import MoveKind, StockMove
from tests.bot.process import kill, start_bot_process, stop, until
from tests.fake_telegram import Failure, FakeBotApi, Message

BUYER = 6001
PATIENCE = 90.0  # seconds; only stops a broken test from hanging
# The answer hangs (and then fails, so that a killed bot's request never lands later).
HANGS_THEN_FAILS = dataclasses.replace(Failure.server_error(503), delay=60.0)


async def buyers_moves(database: Path) -> list[StockMove]:
    db = await Database.open(sqlite_url(database))
    try:
        return [m for m in await SqlStockMoveRepo(db).recent(10_000) if m.user_id == BUYER]
    finally:
        await db.close()


async def handled(database: Path, update_id: int) -> bool:
    db = await Database.open(sqlite_url(database))
    try:
        return await SqlHandledUpdateRepo(db).reply(update_id) is not None
    finally:
        await db.close()


async def test_a_use_booked_just_before_kill_9_is_booked_once_when_handed_out_again(
    tmp_path: Path, telegram_api: FakeBotApi
) -> None:
    api = telegram_api
    buyer = api.user(BUYER, "Bea")
    database, log = tmp_path / "var" / "bot.db", tmp_path / "bot.log"
    async with open_database(load_settings(_env_file=None, database_path=database)):
        pass  # the demo data
    settings = {"DATABASE_PATH": str(database), "ALLOWED_USER_IDS": str(BUYER)}

    first = await start_bot_process(api, tmp_path, log, settings)
    api.confirmations_lost = True
    api.fail("sendMessage", HANGS_THEN_FAILS, chat_id=BUYER)
    asked = api.send(buyer, "/use copper 5")
    assert asked.update_id is not None
    await until(lambda: handled(database, asked.update_id or 0), "the /use booked")
    await kill(first)
    assert len(await buyers_moves(database)) == 1
    assert api.sent_to(BUYER) == []  # the answer never arrived

    api.heal()
    api.confirmations_lost = False
    second = await start_bot_process(api, tmp_path, log, settings, wait=False)
    await api.wait_for(lambda: api.sent_to(BUYER), PATIENCE)
    (answer,) = api.sent_to(BUYER)
    assert answer.reads.startswith("Copper: used 5 t. On hand 415 t,")
    assert answer.labels == ["↩️ Undo"]
    (move,) = await buyers_moves(database)
    assert (move.kind, move.quantity, move.user_name) == (MoveKind.USE, 5.0, "Bea")

    # The same for a button: Confirm booked, the bot killed, the tap handed out again.
    asked_big = api.send(buyer, "/use copper 500")
    question = await api.wait_for(lambda: _answer_after(api, asked_big), PATIENCE)
    assert question.labels == ["✅ Confirm", "✖️ Cancel"]
    api.confirmations_lost = True
    api.fail("sendMessage", HANGS_THEN_FAILS, chat_id=BUYER)
    api.press(buyer, question, "✅ Confirm")
    tap = api.last_update_id
    await until(lambda: handled(database, tap), "the Confirm booked")
    await kill(second)
    assert len(await buyers_moves(database)) == 2

    api.heal()
    api.confirmations_lost = False
    third = await start_bot_process(api, tmp_path, log, settings, wait=False)
    await api.wait_for(lambda: _answer_after(api, question), PATIENCE)
    confirmed = _answer_after(api, question)
    assert confirmed is not None and confirmed.reads.startswith("Copper: used 500 t.")
    assert await stop(third) == 0
    assert [m.quantity for m in await buyers_moves(database)] == [500.0, 5.0]
    output = log.read_text(encoding="utf-8")
    assert output.count("was handled before: answering as then") == 2
    assert "Traceback" not in output


def _answer_after(api: FakeBotApi, message: Message) -> Message | None:
    later = [m for m in api.sent_to(message.chat.id) if m.message_id > message.message_id]
    return later[0] if later else None
