"""Files in and out over a real database: a checked file previewed and imported all or nothing,
the same rows never twice, and an export that imports into an empty database unchanged; and
`procurebot import` and `procurebot export` as real processes."""

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.bootstrap import build_services
from bot.settings import load_settings
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.stock import SqlStockMoveRepo
from core.adapters.db.repos.vendors import SqlVendorRepo
from core.adapters.spreadsheets import write_xlsx
from core.domain.actors import Actor, Source
from core.domain.stock import MoveKind
from core.errors import UserError
from core.models import Role
from core.services import Services
from core.services.imports import Imported
from core.services.stock import Booked
from data import demo
from tests.fakes import COPPER, NOW, FakeClock

ROOT = Path(__file__).resolve().parents[2]
BOB = Actor(2, "Bob", Role.BUYER, Source.TELEGRAM, chat_id=2)
VERA = Actor(7, "Vera", Role.VIEWER, Source.TELEGRAM, chat_id=7)

MOVES = (
    "date,material,kind,quantity,unit,reference,note\n"
    "2026-11-01,copper,receive,2500,kg,PO 12,\n"
    "2026-11-02,copper,use,1.5,,,line 3\n"
    "2026-11-03,aluminium,count,90,,,stock-take\n"
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.open(database_url)
    await demo.seed(database, NOW.date())
    yield database
    await database.close()


@pytest.fixture
async def services(db: Database) -> Services:
    return await build_services(db, load_settings(_env_file=None), FakeClock())


async def preview_and_import(services: Services, name: str, content: bytes) -> Imported:
    checked = await services.imports.check(name, content)
    preview = await services.imports.preview(BOB, name, checked)
    assert preview.action_id is not None, preview
    return await services.imports.run(BOB, preview.action_id)


async def test_a_checked_file_is_previewed_then_imported_with_who_imported_it(
    services: Services, db: Database
) -> None:
    before = len(await SqlStockMoveRepo(db).recent(1000))
    checked = await services.imports.check("moves.csv", MOVES.encode())
    preview = await services.imports.preview(BOB, "moves.csv", checked)
    assert preview.summary == (
        "moves.csv: 3 stock moves (1 receipt, 1 use, 1 count) for 2 materials, "
        "01 Nov 2026 to 03 Nov 2026"
    )
    assert len(await SqlStockMoveRepo(db).recent(1000)) == before  # a preview stores no move
    assert preview.action_id is not None
    imported = await services.imports.run(BOB, preview.action_id)
    assert imported.record.user_name == "Bob" and imported.record.rows == 3
    moves = [m for m in await SqlStockMoveRepo(db).recent(1000) if m.import_id is not None]
    assert {(m.kind.value, m.quantity, m.source, m.user_name) for m in moves} == {
        ("receive", 2.5, Source.IMPORT, "Bob"),
        ("use", 1.5, Source.IMPORT, "Bob"),
        ("count", 90.0, Source.IMPORT, "Bob"),
    }
    with pytest.raises(UserError, match="done already"):
        await services.imports.run(BOB, preview.action_id)  # the button pressed twice


async def test_the_same_rows_imported_again_change_nothing_and_say_so(
    services: Services, db: Database
) -> None:
    await preview_and_import(services, "moves.csv", MOVES.encode())
    count = len(await SqlStockMoveRepo(db).recent(1000))
    reordered = MOVES.replace("2500,kg", "2.5,t").replace(",", ";")
    checked = await services.imports.check("again.csv", reordered.encode())
    preview = await services.imports.preview(BOB, "again.csv", checked)
    assert preview.action_id is None and preview.imported_before is not None
    assert preview.imported_before.file_name == "moves.csv"
    assert len(await SqlStockMoveRepo(db).recent(1000)) == count


async def test_a_file_with_one_bad_row_stores_nothing(services: Services, db: Database) -> None:
    count = len(await SqlStockMoveRepo(db).recent(1000))
    bad = MOVES + '2026-11-04,copper,use,"12,5x",,,\n'
    checked = await services.imports.check("moves.csv", bad.encode())
    preview = await services.imports.preview(BOB, "moves.csv", checked)
    assert preview.problems == ("line 5: quantity '12,5x' is not a number",)
    assert preview.action_id is None
    assert len(await SqlStockMoveRepo(db).recent(1000)) == count


async def test_an_import_that_fails_half_way_stores_nothing(
    services: Services, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    quotes_before = await SqlVendorRepo(db).history()
    moves_before = len(await SqlStockMoveRepo(db).recent(1000))

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(SqlVendorRepo, "add", broken)  # after the moves were written
    content = write_xlsx(
        [
            (
                "stock moves",
                ["date", "material", "kind", "quantity"],
                [["2026-11-01", "copper", "use", 5]],
            ),
            ("quotes", ["vendor", "material", "price"], [["Acme", "copper", 9000]]),
        ]
    )
    with pytest.raises(RuntimeError):
        await preview_and_import(services, "both.xlsx", content)
    assert len(await SqlStockMoveRepo(db).recent(1000)) == moves_before
    assert await SqlVendorRepo(db).history() == quotes_before
    monkeypatch.undo()
    again = await services.imports.check("both.xlsx", content)
    assert (await services.imports.preview(BOB, "both.xlsx", again)).action_id is not None


async def test_a_viewer_may_not_import(services: Services) -> None:
    checked = await services.imports.check("moves.csv", MOVES.encode())
    with pytest.raises(UserError, match="Your role is viewer, which may only read"):
        await services.imports.preview(VERA, "moves.csv", checked)


def _sheets(content: bytes, path: Path) -> dict[str, list[tuple[object, ...]]]:
    path.write_bytes(content)
    workbook = load_workbook(path, read_only=True)
    try:
        return {s.title: list(s.iter_rows(values_only=True)) for s in workbook.worksheets}
    finally:
        workbook.close()


async def test_an_export_imports_into_an_empty_database_and_exports_the_same(
    services: Services, tmp_path: Path
) -> None:
    await preview_and_import(services, "moves.csv", MOVES.encode())
    booked = await services.ledger.record(BOB, COPPER, MoveKind.USE, 5)
    assert isinstance(booked, Booked)
    await services.ledger.undo(BOB, booked.move.id)  # neither it nor its undo is exported
    name, first = await services.imports.export()
    assert name == "procurement-2026-11-24.xlsx"
    empty = await Database.open(sqlite_url(tmp_path / "empty.db"))
    try:
        fresh = await build_services(empty, load_settings(_env_file=None), FakeClock())
        imported = await preview_and_import(fresh, name, first)
        assert imported.skipped.total == 0
        _, second = await fresh.imports.export()
        stock = [
            (s.material.key, s.item.on_hand, s.daily_use) for s in await fresh.inventory.statuses()
        ]
        assert stock == [
            (s.material.key, s.item.on_hand, s.daily_use)
            for s in await services.inventory.statuses()
        ]
    finally:
        await empty.close()
    assert _sheets(second, tmp_path / "second.xlsx") == _sheets(first, tmp_path / "first.xlsx")
    again = await services.imports.check(name, first)
    assert (await services.imports.preview(BOB, name, again)).summary.endswith(
        "stored already, to be skipped)"
    )


def procurebot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_PATH": "var/p.db"},
    )


def test_import_and_export_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "moves.csv").write_text(MOVES, encoding="utf-8")
    (tmp_path / "bad.csv").write_text(MOVES + "2026-11-04,copper,use,x\n", encoding="utf-8")
    (tmp_path / "materials.csv").write_text(
        "key,name,unit,currency,lead_time_days,minimum\ncopper,Copper,t,USD,21,100\n"
        "aluminium,Aluminium,t,USD,14,50\n",
        encoding="utf-8",
    )
    dry = procurebot("import", "materials.csv", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == (
        "Checked, nothing stored (--dry-run): materials.csv: 2 materials (2 new, 0 updated)."
    )
    assert procurebot("import", "materials.csv", cwd=tmp_path).returncode == 0
    bad = procurebot("import", "bad.csv", cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[-2:] == [
        "bad.csv was not imported; nothing was stored:",
        "  line 5: quantity 'x' is not a number",
    ]
    done = procurebot("import", "moves.csv", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("Imported moves.csv: 3 stock moves")
    twice = procurebot("import", "moves.csv", cwd=tmp_path)
    assert "nothing to import, nothing changed" in twice.stdout
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG")
    refused = procurebot("import", "photo.png", cwd=tmp_path)
    assert refused.returncode == 2 and "photo.png is not a CSV or XLSX file" in refused.stderr
    exported = procurebot("export", "--output", "all.xlsx", cwd=tmp_path)
    assert exported.returncode == 0 and exported.stdout.startswith(
        "Exported everything to all.xlsx"
    )
    sheets = _sheets((tmp_path / "all.xlsx").read_bytes(), tmp_path / "copy.xlsx")
    assert list(sheets) == ["materials", "stock moves", "quotes", "prices"]
    assert sheets["stock moves"][0] == (
        "date",
        "material",
        "kind",
        "quantity",
        "unit",
        "reference",
        "note",
    )
    assert len(sheets["stock moves"]) == 4 and "Traceback" not in exported.stderr
