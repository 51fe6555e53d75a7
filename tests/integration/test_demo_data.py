"""The demo data: deterministic, realistic, and safe to load twice."""

import itertools
import math
import statistics
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.prices import SqlMaterialRepo, SqlPriceRepo
from core.adapters.db.repos.vendors import SqlVendorRepo
from core.inventory import StockLevel, assess_stock
from data import demo

TODAY = date(2026, 11, 24)


def test_demo_data_is_the_same_every_time() -> None:
    assert demo.build(TODAY) == demo.build(TODAY)


def test_prices_cover_180_days_up_to_yesterday_at_realistic_levels() -> None:
    data = demo.build(TODAY)
    keys = [m.key for m in data.materials]
    assert {"copper", "aluminium", "steel"} <= set(keys)
    levels = {"copper": (8000, 16000), "aluminium": (2000, 4000), "steel": (350, 900)}
    for key in keys:
        closes = [p.price for p in data.prices if p.material == key]
        days = [p.at.date() for p in data.prices if p.material == key]
        assert len(closes) == 180
        assert days[-1] == date(2026, 11, 23) and len(set(days)) == 180
        if key in levels:
            low, high = levels[key]
            assert low <= min(closes) and max(closes) <= high
        moves = [math.log(b / a) for a, b in itertools.pairwise(closes)]
        assert 0.004 < statistics.stdev(moves) < 0.025  # metals move about 1-2% a day
        assert max(abs(m) for m in moves) < 0.15


def test_one_material_is_below_its_threshold_and_vendors_differ() -> None:
    data = demo.build(TODAY)
    materials = {m.key: m for m in data.materials}
    levels = [
        assess_stock(materials[i.material], i, [q for _, q in data.consumption[i.material]]).level
        for i in data.inventory
    ]
    assert StockLevel.CRITICAL in levels
    for material in materials:
        quotes = [q for q in data.quotes if q.material == material]
        assert 3 <= len(quotes) <= 4
        for attribute in ("price", "rating", "delivery_days"):
            assert len({getattr(q, attribute) for q in quotes}) > 1


async def test_seeding_twice_changes_nothing_and_force_reloads(tmp_path: Path) -> None:
    db = await Database.open(sqlite_url(tmp_path / "seed.db"))
    try:
        first = await demo.seed(db, TODAY)
        assert first.seeded and first.prices == 900
        assert (await demo.seed(db, TODAY)).seeded is False
        assert await SqlPriceRepo(db).count() == 900

        forced = await demo.seed(db, date(2026, 11, 25), force=True)
        assert forced.seeded and forced.prices == 900
        prices = SqlPriceRepo(db)
        assert await prices.count() == 900
        latest = await prices.latest("copper")
        assert latest is not None and latest.at.date() == date(2026, 11, 24)
        assert len(await SqlMaterialRepo(db).all()) == 5
        assert len(await SqlVendorRepo(db).quotes("steel")) == 4
    finally:
        await db.close()


@pytest.mark.parametrize("material", ["copper", "aluminium", "steel"])
async def test_seeded_prices_keep_other_sources(tmp_path: Path, material: str) -> None:
    db = await Database.open(sqlite_url(tmp_path / "keep.db"))
    try:
        await demo.seed(db, TODAY)
        feed = demo.build(TODAY).prices[-1]
        await SqlPriceRepo(db).add([replace(feed, material=material, source="feed")])
        await demo.seed(db, TODAY, force=True)
        assert await SqlPriceRepo(db).count("feed") == 1
    finally:
        await db.close()
