"""Backups and restores on both backends: a backup made while prices are being written is one
moment of the database; a restored backup answers /price, /stock and /alerts exactly as the
original did; restoring refuses a database with data and anything that is not a backup, and
stores nothing when it fails; the daily backups keep the last BACKUP_KEEP."""

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.bootstrap import build_services
from bot.chat.registry import execute, parse
from bot.chat.request import Caller
from bot.rendering import Renderer
from bot.settings import load_settings
from core.adapters.db.backup import (
    BackupError,
    DirectoryBackups,
    find_pg_dump,
    make_backup,
    restore_backup,
)
from core.adapters.db.copy import row_counts
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.outbox import SqlOutbox, SqlStateStore
from core.adapters.db.repos.prices import SqlPriceRepo
from core.adapters.db.repos.purchases import SqlPurchaseRepo
from core.adapters.db.schema import daily_closes, prices
from core.backups import BackupService
from core.domain.purchasing import Purchase, po_number
from core.health import HealthLog
from core.models import Alert, AlertType, Channel, PricePoint, Recipient, Role, Severity
from data import demo
from tests.commandline import procurebot
from tests.fakes import NOW, FakeClock
from tests.postgres import PostgresServer

ADMIN = Caller(1, Role.ADMIN, 1)


@pytest.fixture
def empty_database(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[], str]:
    """Makes another empty database on the same backend as `database_url`."""
    made = iter(range(1, 100))
    if database_url.startswith("sqlite"):
        return lambda: sqlite_url(tmp_path / f"restored-{next(made)}.db")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database


@pytest.fixture(params=["native", "portable"])
def dump(request: pytest.FixtureRequest, database_url: str) -> str | None:
    """pg_dump's path, or None for procurebot's portable dump (on SQLite: its online backup,
    which is the one kind there)."""
    if database_url.startswith("sqlite"):
        if request.param == "portable":
            pytest.skip("SQLite is backed up with its online backup API only")
        return None
    if request.param == "portable":
        return None
    found = find_pg_dump()
    if found is None:
        pytest.skip("pg_dump is not installed here")
    return found


@pytest.fixture
async def original(database_url: str) -> AsyncIterator[Database]:
    db = await Database.open(database_url)
    await demo.seed(db, NOW.date())
    alert = Alert(
        AlertType.PRICE_DROP, Severity.WARNING, "copper", "Copper fell 6.2%.", NOW, "drop:copper"
    )
    stored = await SqlOutbox(db).record(
        alert, [Recipient(Channel.TELEGRAM, "1"), Recipient(Channel.TELEGRAM, "2")]
    )
    assert stored.id is not None
    first = (await SqlOutbox(db).deliveries(stored.id))[0]
    await SqlOutbox(db).claim(first.id, "w", NOW)
    await SqlOutbox(db).mark_sent(first.id, NOW)
    await _purchase_order(db)
    try:
        yield db
    finally:
        await db.close()


async def _purchase_order(db: Database) -> None:
    """An open purchase order with its PO number, and a request waiting for approval."""
    purchases = SqlPurchaseRepo(db)
    request = Purchase("copper", "Acme", 25.0, "t", 9800.0, "USD", 14, 2, "Bob", NOW, 2)
    number = po_number(NOW.year, await purchases.next_sequence(NOW.year))
    await purchases.add(request.approve(3, "Olga", NOW).order(number, NOW, 9700.0, None))
    await purchases.add(request)


async def answers(db: Database) -> dict[str, str]:
    settings = load_settings(_env_file=None)
    services = await build_services(db, settings, FakeClock(NOW))
    replies = {}
    for line in (
        "/price",
        "/price copper",
        "/stock",
        "/stock aluminium",
        "/alerts",
        "/vendors zinc",
        "/orders all",
    ):
        name, args = parse(line)
        replies[line] = (await execute(name, args, ADMIN, services, Renderer())).text
    return replies


async def test_a_restored_backup_answers_exactly_as_the_original(
    original: Database, dump: str | None, empty_database: Callable[[], str], tmp_path: Path
) -> None:
    made = await make_backup(original, tmp_path / "backup", dump)
    expected_kind = (
        "sqlite" if original.backend == "sqlite" else ("pg_dump" if dump else "portable")
    )
    assert made.kind == expected_kind and made.size > 0
    target = await Database.open(empty_database())
    try:
        counts = await restore_backup(made.path, target, "pg_restore" if dump else None)
        assert all(c.matches for c in counts)
        assert await row_counts(target) == await row_counts(original)
        assert await answers(target) == await answers(original)
        assert "sent to 1 of 2" in (await answers(target))["/alerts"]
        # new rows get ids after the restored ones
        later = PricePoint("copper", datetime.now(UTC), 1.0, "after-the-restore")
        assert await SqlPriceRepo(target).add([later]) == 1
    finally:
        await target.close()


async def test_a_backup_taken_while_prices_are_written_is_one_moment_of_the_database(
    original: Database, dump: str | None, empty_database: Callable[[], str], tmp_path: Path
) -> None:
    written = 0
    stop = asyncio.Event()

    async def write_prices() -> None:
        nonlocal written
        repo = SqlPriceRepo(original)
        at = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
        while not stop.is_set():
            # Each add stores the prices and moves the day's close, in one transaction.
            batch = [
                PricePoint(m, at + timedelta(minutes=written), 100.0 + written, "writer")
                for m in ("copper", "zinc")
            ]
            await repo.add(batch)
            written += 1
            await asyncio.sleep(0)

    writer = asyncio.create_task(write_prices())
    while written < 20:
        await asyncio.sleep(0.01)
    before = written
    made = await make_backup(original, tmp_path / "backup", dump)
    after = written
    stop.set()
    await writer
    assert after > before, "the writer was not writing during the backup"

    target = await Database.open(empty_database())
    try:
        await restore_backup(made.path, target, "pg_restore" if dump else None)
        kept = await target.scalar(
            sa.select(sa.func.count()).select_from(prices).where(prices.c.source == "writer")
        )
        assert 2 * before <= kept <= 2 * after and kept % 2 == 0  # whole transactions only
        # every day's close is that day's last price: no transaction was torn by the backup
        last = await target.fetchall(
            sa.select(prices.c.material, sa.func.max(prices.c.at).label("at"))
            .where(prices.c.at >= datetime(2026, 11, 25, tzinfo=UTC))
            .group_by(prices.c.material)
        )
        closes = {
            row.material: row.at
            for row in await target.fetchall(
                sa.select(daily_closes.c.material, daily_closes.c.at).where(
                    daily_closes.c.day == datetime(2026, 11, 25).date()
                )
            )
        }
        assert {row.material: row.at for row in last} == closes
    finally:
        await target.close()


async def test_restore_refuses_a_database_with_data(
    original: Database, dump: str | None, tmp_path: Path
) -> None:
    made = await make_backup(original, tmp_path / "backup", dump)
    counts = await row_counts(original)
    with pytest.raises(BackupError, match="is not empty: restore into an empty database"):
        await restore_backup(made.path, original, "pg_restore")
    assert await row_counts(original) == counts


async def test_a_damaged_dump_restores_nothing(
    original: Database, empty_database: Callable[[], str], tmp_path: Path
) -> None:
    if original.backend == "sqlite":
        pytest.skip("the portable dump is PostgreSQL's")
    made = await make_backup(original, tmp_path / "backup", None)
    whole = gzip.decompress(made.path.read_bytes())
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(gzip.compress(whole[: len(whole) * 2 // 3]))
    target = await Database.open(empty_database())
    try:
        with pytest.raises(BackupError, match=r"truncated|damaged"):
            await restore_backup(cut, target)
        assert not any((await row_counts(target)).values())
    finally:
        await target.close()


def test_backup_and_restore_on_the_command_line(
    database_url: str, empty_database: Callable[[], str], tmp_path: Path
) -> None:
    assert procurebot("seed", DATABASE_URL=database_url).returncode == 0
    output = tmp_path / "nightly.backup"
    made = procurebot("db", "backup", "--output", str(output), DATABASE_URL=database_url)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("Backed up ") and str(output) in made.stdout

    target = empty_database()
    restored = procurebot("db", "restore", str(output), DATABASE_URL=target)
    assert restored.returncode == 0, restored.stderr
    assert "prices" in restored.stdout and "DIFFERS" not in restored.stdout

    again = procurebot("db", "restore", str(output), DATABASE_URL=target)
    assert again.returncode == 2
    [line] = again.stderr.strip().splitlines()
    assert line.startswith("Nothing restored: ") and "is not empty" in line

    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello")
    refused = procurebot("db", "restore", str(not_a_backup), DATABASE_URL=empty_database())
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"Nothing restored: {not_a_backup} is not a procurebot backup: expected a SQLite file, "
        "a pg_dump archive or a portable dump (.json.gz)"
    )


async def test_daily_backups_keep_the_last_seven(tmp_path: Path) -> None:
    db = await Database.open(sqlite_url(tmp_path / "bot.db"))
    try:
        await demo.seed(db, NOW.date())
        clock = FakeClock(NOW)
        directory = tmp_path / "backups"
        directory.mkdir()
        (directory / "notes.txt").write_text("not ours")
        health = HealthLog(SqlStateStore(db), clock)
        service = BackupService(DirectoryBackups(db, directory, clock), health, clock, keep=7)
        made = []
        for _ in range(9):
            state = await service.run_if_due()
            assert state is not None and state.error is None and state.file is not None
            made.append(Path(state.file).name)
            clock.advance(hours=23)
            assert await service.run_if_due() is None  # not a day yet
            clock.advance(hours=1)
        kept = sorted(p.name for p in directory.iterdir())
        assert kept == sorted([*made[2:], "notes.txt"])
        assert made[0] == "procurebot-20261124T120000Z.sqlite"
    finally:
        await db.close()
