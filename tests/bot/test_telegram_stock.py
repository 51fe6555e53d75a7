"""Stock moves, buttons and files end to end: the real bot over HTTP against the fake Bot API,
as a buyer on a phone would use them (Undo, Confirm / Cancel tapped once and twice, a file sent
as a document, checked, imported, exported and sent back)."""

from pathlib import Path

import pytest

from bot.rendering import Renderer
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.stock import SqlStockMoveRepo
from tests.bot.telegram import RunningBot, running_bot
from tests.fake_telegram import FakeBotApi, FakeUser

MOVES_CSV = (
    b"date,material,kind,quantity,unit,reference,note\n"
    b"2026-11-01,copper,receive,2500,kg,PO 12,\n"
    b"2026-11-02,copper,use,1.5,,,line 3\n"
)


async def moves_in(database: Path) -> int:
    db = await Database.open(sqlite_url(database))
    try:
        return len(await SqlStockMoveRepo(db).recent(10_000))
    finally:
        await db.close()


async def test_a_use_is_answered_with_what_changed_and_undone_with_its_button(
    telegram_bot: RunningBot, buyer: FakeUser, database: Path
) -> None:
    before = await moves_in(database)
    turn = await telegram_bot.say(buyer, "/use copper 5t")
    assert turn.text.startswith("Copper: used 5 t. On hand 415 t,")
    assert turn.last.labels == ["↩️ Undo"]
    undone = await telegram_bot.press(buyer, turn.last, "↩️ Undo")
    assert undone.text.startswith("Undone: move #") and "On hand 420 t" in undone.text
    again = await telegram_bot.press(buyer, turn.last, "↩️ Undo")  # a second tap
    assert "was undone already" in again.text
    assert await moves_in(database) == before + 2  # the use and its undo, nothing more


async def test_a_typo_sized_use_is_confirmed_once_however_often_it_is_tapped(
    telegram_bot: RunningBot, buyer: FakeUser, database: Path
) -> None:
    before = await moves_in(database)
    asked = await telegram_bot.say(buyer, "/use copper 500 t")
    assert asked.text.startswith("Copper: use 500 t? That is more than the stock on hand")
    assert asked.last.labels == ["✅ Confirm", "✖️ Cancel"]
    assert await moves_in(database) == before
    booked = await telegram_bot.press(buyer, asked.last, "✅ Confirm")
    assert booked.text.startswith("Copper: used 500 t.") and booked.last.labels == ["↩️ Undo"]
    tapped_again = await telegram_bot.press(buyer, asked.last, "✅ Confirm")
    assert tapped_again.text == "That has been done already."
    cancelled_late = await telegram_bot.press(buyer, asked.last, "✖️ Cancel")
    assert cancelled_late.text == "That has been done already."
    assert await moves_in(database) == before + 1


async def test_cancel_books_nothing(
    telegram_bot: RunningBot, buyer: FakeUser, database: Path
) -> None:
    before = await moves_in(database)
    asked = await telegram_bot.say(buyer, "/count copper 4,100")
    cancelled = await telegram_bot.press(buyer, asked.last, "✖️ Cancel")
    assert cancelled.text == "Cancelled: nothing was booked."
    assert await moves_in(database) == before


async def test_a_viewer_is_told_why_and_books_nothing(
    telegram_api: FakeBotApi, database: Path, chart_renderer: Renderer
) -> None:
    viewer = telegram_api.user(4004, "Vic")
    async with running_bot(
        telegram_api,
        database,
        chart_renderer,
        viewer_user_ids={4004},
    ) as bot:
        before = await moves_in(database)
        refused = await bot.say(viewer, "/use copper 5")
        assert refused.text.startswith("Your role is viewer, which may only read: /use")
        assert "Copper" in (await bot.say(viewer, "/moves")).text
        file_refused = await bot.send_file(viewer, "moves.csv", MOVES_CSV)
        assert file_refused.text.startswith("Your role is viewer, which may only read")
        assert await moves_in(database) == before
        assert telegram_api.downloads == []


async def test_a_csv_sent_to_the_bot_is_previewed_then_imported_once(
    telegram_bot: RunningBot, buyer: FakeUser, database: Path
) -> None:
    api = telegram_bot.api
    before = await moves_in(database)
    preview = await telegram_bot.send_file(buyer, "moves.csv", MOVES_CSV)
    assert api.calls_to("getFile") and len(api.downloads) == 1
    assert preview.text.startswith(
        "Ready to import moves.csv: 2 stock moves (1 receipt, 1 use, 0 counts) for 1 material, "
        "01 Nov 2026 to 02 Nov 2026."
    )
    assert preview.last.labels == ["📥 Import", "✖️ Cancel"]
    assert await moves_in(database) == before
    imported = await telegram_bot.press(buyer, preview.last, "📥 Import")
    assert imported.text.startswith("Imported moves.csv: 2 stock moves")
    tapped_again = await telegram_bot.press(buyer, preview.last, "📥 Import")
    assert tapped_again.text == "That has been done already."
    resent = await telegram_bot.send_file(buyer, "copy of moves.csv", MOVES_CSV)
    assert "holds the same rows as the file imported on" in resent.text
    assert "nothing to import, nothing changed" in resent.text and not resent.last.labels
    assert await moves_in(database) == before + 2


async def test_a_bad_file_gets_its_errors_by_line_and_stores_nothing(
    telegram_bot: RunningBot, buyer: FakeUser, database: Path
) -> None:
    before = await moves_in(database)
    rows = b"".join(b"2026-11-01,copper,use,x%d\n" % i for i in range(12))
    turn = await telegram_bot.send_file(buyer, "bad.csv", b"date,material,kind,quantity\n" + rows)
    lines = turn.text.splitlines()
    assert lines[0] == "bad.csv was not imported; nothing was stored:"
    assert lines[1] == "• line 2: quantity 'x0' is not a number"
    assert lines[-1] == "• and 2 more" and len(lines) == 12
    assert await moves_in(database) == before


@pytest.mark.parametrize(
    ("name", "content", "mime", "size", "answer"),
    [
        ("photo.jpg", b"\xff\xd8\xff", "image/jpeg", None, "I import CSV and XLSX files only"),
        ("huge.csv", b"a,b\n", "text/csv", 25 * 1024 * 1024, "That file is larger than 20 MB"),
        ("broken.xlsx", b"PK\x03\x04 nope", "application/zip", None, "cannot be read as an XLSX"),
    ],
)
async def test_files_that_cannot_be_imported_get_one_line(
    telegram_bot: RunningBot,
    buyer: FakeUser,
    name: str,
    content: bytes,
    mime: str,
    size: int | None,
    answer: str,
) -> None:
    turn = await telegram_bot.send_file(buyer, name, content, mime, size)
    assert len(turn.messages) == 1 and answer in turn.text and "\n" not in turn.text


async def test_export_sends_an_xlsx_that_imports_back_as_nothing_new(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    turn = await telegram_bot.say(buyer, "/export")
    sent = turn.last
    assert sent.document is not None
    name, content = sent.document
    assert name.startswith("procurement-") and name.endswith(".xlsx")
    assert content[:2] == b"PK" and sent.caption is not None
    back = await telegram_bot.send_file(
        buyer,
        name,
        content,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    assert back.text.startswith(f"Ready to import {name}: 5 materials (0 new, 5 updated)")
    assert "stored already, to be skipped" in back.text
