"""The CSV feed against a real, growing file, with its read position in SQLite."""

import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.adapters.csv_feed import FINGERPRINT_BYTES, CsvPriceFeed, ReadPosition
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.outbox import SqlStateStore
from core.adapters.db.repos.prices import SqlMaterialRepo, SqlPriceRepo
from core.feeds import PricePoller
from core.materials import MaterialCatalog
from core.models import PricePoint
from tests.fakes import MATERIALS, FakeClock

HEADER = "timestamp,material,price\n"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(sqlite_url(tmp_path / "feed.db"))
    for material in MATERIALS:
        await SqlMaterialRepo(database).upsert(material)
    yield database
    await database.close()


def poller_for(db: Database, path: Path) -> PricePoller:
    feed = CsvPriceFeed(path, SqlStateStore(db))
    return PricePoller(feed, MaterialCatalog(MATERIALS), SqlPriceRepo(db), FakeClock())


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


async def test_each_poll_takes_only_the_complete_rows_appended_since_the_last(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(HEADER + "2026-11-20,copper,9000\n2026-11-21,Cu,9100\n")
    polling = poller_for(db, path)
    assert (await polling.poll()).stored == 2

    append(path, "2026-11-22T16:00:00Z,aluminum,2500\n2026-11-23T16:00:00Z,copper,91")
    second = await polling.poll()
    assert (second.accepted, second.stored) == (1, 1)  # the last line is still being written
    append(path, "50.5\n")
    third = await polling.poll()
    assert (third.accepted, third.stored) == (1, 1)
    latest = await SqlPriceRepo(db).latest("copper")
    assert latest is not None and latest.price == 9150.5 and latest.source == f"csv:{path}"
    assert (await polling.poll()).accepted == 0  # nothing new

    state = await SqlStateStore(db).get(f"csv-feed:{path.resolve()}")
    assert ReadPosition.from_json(state).offset == path.stat().st_size


async def test_a_restart_continues_where_the_last_run_stopped(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(HEADER + "2026-11-20,copper,9000\n")
    await poller_for(db, path).poll()
    append(path, "2026-11-21,copper,9100\n")
    restarted = await poller_for(db, path).poll()  # a new feed object: a new process
    assert (restarted.accepted, restarted.stored) == (1, 1)


async def test_bad_rows_are_refused_by_line_and_reported_once(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(
        HEADER
        + "2026-11-20,copper,9000\n"
        + "2026-11-20,copper,n/a\n"
        + "2026-11-20,gold,2000\n"
        + "2026-11-20,steel\n"
        + "\n"
        + "2026-11-20,steel,-3\n"
        + "20/11/2026,steel,500\n"
        + '2026-11-21,"steel",510\n'
    )
    polling = poller_for(db, path)
    with caplog.at_level(logging.WARNING):
        result = await polling.poll()
        append(path, "2026-11-22,steel,520\n")
        await polling.poll()
    assert result.stored == 2
    assert [r.describe() for r in result.refused] == [
        "line 3: price 'n/a' is not a number",
        "line 4: unknown material 'gold' (known: copper, aluminium, steel)",
        "line 5: expected 3 fields, got 2",
        "line 7: price '-3' is not above zero",
        "line 8: timestamp '20/11/2026' is not ISO 8601",
    ]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 5 and all("refused line" in w for w in warnings)
    assert await SqlPriceRepo(db).count() == 3


async def test_a_missing_or_wrong_file_is_an_outage_until_it_is_fixed(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "later.csv"
    polling = poller_for(db, path)
    with caplog.at_level(logging.INFO):
        assert "does not exist" in str((await polling.poll()).error)
        await polling.poll()
        path.write_text("date;metal;usd\n2026-11-20;copper;9000\n")
        assert "the first line must be the header timestamp,material,price" in str(
            (await polling.poll()).error
        )
        path.write_text(HEADER + "2026-11-20,copper,9000\n")
        assert (await polling.poll()).stored == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "does not exist" in warnings[0]
    assert any("is back after 3 failed polls" in r.getMessage() for r in caplog.records)


async def test_a_replaced_or_truncated_file_is_read_again_without_duplicates(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "prices.csv"
    rows = "".join(f"2026-11-{day:02d},copper,{9000 + day}\n" for day in range(1, 21))
    path.write_text(HEADER + rows)
    polling = poller_for(db, path)
    assert (await polling.poll()).stored == 20

    path.write_text(HEADER + "2026-11-21,copper,9100\n")  # a new export, shorter
    truncated = await polling.poll()
    assert (truncated.accepted, truncated.stored) == (1, 1)
    path.write_text(HEADER + rows + "2026-11-21,copper,9100\n2026-11-22,copper,9200\n")
    replaced = await polling.poll()  # different first bytes: read from the start
    assert (replaced.accepted, replaced.stored) == (22, 1)


async def test_a_big_file_is_read_once_and_then_only_its_tail(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    lines = [f"2026-{1 + i // 28:02d}-{1 + i % 28:02d},copper,{9000 + i}\n" for i in range(300)]
    path.write_text(HEADER + "".join(lines))
    assert path.stat().st_size > FINGERPRINT_BYTES
    polling = poller_for(db, path)
    assert (await polling.poll()).stored == 300
    append(path, "2026-11-23,copper,9999\n")
    tail = await polling.poll()
    assert (tail.accepted, tail.stored) == (1, 1)


async def test_rows_are_read_again_if_storing_them_failed(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(HEADER + "2026-11-20,copper,9000\n")

    class FailingOnce(SqlPriceRepo):
        failed = False

        async def add(self, points: Sequence[PricePoint]) -> int:
            if not self.failed:
                self.failed = True
                raise OSError("disk full")
            return await super().add(points)

    feed = CsvPriceFeed(path, SqlStateStore(db))
    polling = PricePoller(feed, MaterialCatalog(MATERIALS), FailingOnce(db), FakeClock())
    assert (await polling.poll()).error == "unexpected OSError"
    assert (await polling.poll()).stored == 1


async def test_a_line_with_a_time_taken_already_keeps_the_first_price_and_says_so(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(HEADER + "2026-11-20,copper,9000\n")
    polling = poller_for(db, path)
    await polling.poll()
    append(path, "2026-11-21,copper,9100\n2026-11-20,copper,9050\n2026-11-21,copper,9110\n")
    with caplog.at_level(logging.WARNING):
        result = await polling.poll()
    assert result.stored == 1
    assert [r.row.key for r in result.conflicts] == ["line 4", "line 5"]
    closes = await SqlPriceRepo(db).history("copper", datetime(2026, 11, 1, tzinfo=UTC))
    assert [p.price for p in closes] == [9000.0, 9100.0]
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records] == [
        "line 4: conflicting duplicate: copper at 2026-11-20T00:00:00+00:00 has the price "
        "9000 already; 9050 is ignored",
        "line 5: conflicting duplicate: copper at 2026-11-21T00:00:00+00:00 has the price "
        "9100 already; 9110 is ignored",
    ]
