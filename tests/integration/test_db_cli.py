"""`procurebot db check`, `db copy` and a DATABASE_URL that cannot be used, as an operator runs
them: the real command line in its own process."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.adapters.db.copy import row_counts
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.migrate import head
from core.adapters.db.repos.prices import SqlMaterialRepo, SqlPriceRepo
from core.adapters.db.repos.purchases import SqlPurchaseRepo
from core.adapters.db.repos.stock import SqlInventoryRepo
from core.domain.purchasing import Purchase, po_number
from core.models import PricePoint
from tests.commandline import procurebot
from tests.fakes import NOW


async def test_copy_moves_every_table_into_an_empty_database_and_refuses_a_full_one(
    tmp_path: Path, database_url: str
) -> None:
    source = sqlite_url(tmp_path / "source.db")
    assert procurebot("seed", DATABASE_URL=source).returncode == 0
    seeded = await Database.open(source)
    try:  # a purchase order, with the year's PO number taken
        number = po_number(2026, await SqlPurchaseRepo(seeded).next_sequence(2026))
        order = Purchase("copper", "Acme", 25.0, "t", 9800.0, "USD", 14, 2, "Bob", NOW, 2)
        await SqlPurchaseRepo(seeded).add(order.approve(3, "Olga", NOW).order(number, NOW, 1, None))
    finally:
        await seeded.close()

    copied = procurebot("db", "copy", "--to", database_url, DATABASE_URL=source)
    assert copied.returncode == 0, copied.stderr
    assert "prices" in copied.stdout and "DIFFERS" not in copied.stdout

    before, after = await Database.open(source), await Database.open(database_url)
    try:
        assert await row_counts(before) == await row_counts(after)
        assert (await row_counts(after))["prices"] > 0
        assert await SqlMaterialRepo(after).all() == await SqlMaterialRepo(before).all()
        for material in ("copper", "zinc"):
            assert await SqlPriceRepo(after).latest(material) == await SqlPriceRepo(before).latest(
                material
            )
        assert await SqlInventoryRepo(after).all() == await SqlInventoryRepo(before).all()
        assert await SqlPurchaseRepo(after).recent(5) == await SqlPurchaseRepo(before).recent(5)
        assert await SqlPurchaseRepo(after).next_sequence(2026) == 2  # the copy counts on
        # new rows in the copy get ids after the copied ones
        later = PricePoint("copper", datetime.now(UTC), 1.0, "after-the-copy")
        assert await SqlPriceRepo(after).add([later]) == 1
    finally:
        await before.close()
        await after.close()

    again = procurebot("db", "copy", "--to", database_url, DATABASE_URL=source)
    assert again.returncode == 2
    assert again.stderr.strip().endswith("is not empty: copy into an empty database")
    assert len(again.stderr.strip().splitlines()) == 1


def test_check_names_the_backend_and_the_schema_version(tmp_path: Path, database_url: str) -> None:
    fresh = procurebot("db", "check", DATABASE_URL=database_url)
    assert fresh.returncode == 0, fresh.stderr
    assert "schema version none" in fresh.stdout
    procurebot("seed", DATABASE_URL=database_url)
    checked = procurebot("db", "check", DATABASE_URL=database_url)
    backend = "SQLite" if database_url.startswith("sqlite") else "PostgreSQL"
    assert f"({backend}), schema version {head()} (up to date)" in checked.stdout


@pytest.mark.parametrize("command", [("seed",), ("db", "check"), ("console",), ("run",)])
def test_an_unusable_database_url_stops_with_one_line_and_no_password(
    command: tuple[str, ...],
) -> None:
    result = procurebot(
        *command,
        DATABASE_URL="postgresql://bob:s3cret@127.0.0.1:1/procurement",
        TELEGRAM_BOT_TOKEN="123:not-used-because-the-database-comes-first",
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("DATABASE_URL postgresql://bob:***@127.0.0.1:1/procurement")
    assert "s3cret" not in result.stderr + result.stdout
