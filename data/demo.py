"""Builds the demo data deterministically and loads it into the database.

The prices are the same numbers on every run; only their dates move, so the history always ends
yesterday. A `procurebot seed` on a database that has data already changes nothing unless forced.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Any

import numpy as np

from core.adapters.db.engine import Database
from core.adapters.db.repos.prices import SqlMaterialRepo
from core.adapters.db.unit_of_work import SqlUnitOfWork
from core.domain.actors import Source
from core.domain.stock import MoveKind, NewMove
from core.models import InventoryItem, Material, PricePoint, VendorQuote

SOURCE = "demo"
CLOSE = time(16, 0, tzinfo=UTC)
FAT_TAIL_DF = 4  # Student-t degrees of freedom: metal prices jump more often than a normal says


@dataclass(frozen=True)
class DemoData:
    materials: list[Material]
    prices: list[PricePoint]
    inventory: list[InventoryItem]
    consumption: dict[str, list[tuple[date, float]]]
    quotes: list[VendorQuote]
    seeded_at: datetime

    def moves(self) -> list[NewMove]:
        """The ledger: each day's use, then the stock on hand counted at the seeding."""
        uses = [
            NewMove(
                material,
                MoveKind.USE,
                quantity,
                datetime.combine(day, time(0, 0), tzinfo=UTC),
                Source.IMPORT,
                reference=SOURCE,
            )
            for material, days in self.consumption.items()
            for day, quantity in days
            if quantity > 0
        ]
        counts = [
            NewMove(
                item.material,
                MoveKind.COUNT,
                item.on_hand,
                self.seeded_at,
                Source.IMPORT,
                reference=SOURCE,
                note="opening balance",
            )
            for item in self.inventory
        ]
        return sorted(uses, key=lambda m: m.at) + counts


@dataclass(frozen=True)
class SeedResult:
    seeded: bool
    materials: int = 0
    prices: int = 0
    quotes: int = 0

    def describe(self, path: object) -> str:
        if not self.seeded:
            return f"{path} already has data; nothing changed (--force reloads the demo data)."
        return (
            f"Loaded demo data into {path}: {self.materials} materials, {self.prices} daily "
            f"prices, {self.quotes} vendor quotes, stock for each material."
        )


def _spec() -> dict[str, Any]:
    text = resources.files("data").joinpath("demo.json").read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


def _walk(level: float, volatility: float, drift: float, days: int, seed: int) -> list[float]:
    """A fat-tailed geometric random walk of `days` daily closes ending exactly at `level`."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(FAT_TAIL_DF, size=days - 1)
    shocks *= volatility / math.sqrt(FAT_TAIL_DF / (FAT_TAIL_DF - 2))
    log_path = np.concatenate([[0.0], np.cumsum(shocks + drift / (days - 1))])
    prices = level * np.exp(log_path - log_path[-1])
    return [round(float(p), 1) for p in prices]


def build(today: date) -> DemoData:
    """The demo data for a database seeded on `today`."""
    spec = _spec()
    days = spec["history_days"]
    first = today - timedelta(days=days)
    seeded_at = datetime.combine(today, time(0, 0), tzinfo=UTC)
    materials, prices, last_price = [], [], {}
    for m, material in zip(spec["materials"], materials_of(spec), strict=True):
        materials.append(material)
        closes = _walk(m["level"], m["daily_volatility"], m["drift_180d"], days, m["seed"])
        prices += [
            PricePoint(m["key"], datetime.combine(first + timedelta(days=i), CLOSE), p, SOURCE)
            for i, p in enumerate(closes)
        ]
        last_price[m["key"]] = closes[-1]

    inventory, consumption = [], {}
    rng = np.random.default_rng(2026)
    for i in spec["inventory"]:
        inventory.append(
            InventoryItem(
                i["material"],
                i["on_hand"],
                i["unit"],
                i["daily_consumption"],
                i["minimum"],
                i["lead_time_days"],
                seeded_at,
            )
        )
        n = spec["consumption_days"]
        use = rng.normal(i["daily_consumption"], i["consumption_sd"], size=n).clip(min=0)
        consumption[i["material"]] = [
            (today - timedelta(days=n - k), round(float(q), 2)) for k, q in enumerate(use)
        ]

    quotes = [
        VendorQuote(
            v["vendor"],
            v["material"],
            round(last_price[v["material"]] * (1 + v["premium_pct"] / 100)),
            "USD",
            v["rating"],
            v["delivery_days"],
            v["min_order_qty"],
            today + timedelta(days=v["valid_days"]),
            quoted_at=seeded_at,
        )
        for v in spec["vendors"]
    ]
    return DemoData(materials, prices, inventory, consumption, quotes, seeded_at)


def materials_of(spec: dict[str, Any] | None = None) -> list[Material]:
    """The demo's materials (what a new database starts with)."""
    return [
        Material(m["key"], m["name"], m["unit"], m["currency"], tuple(m["aliases"]))
        for m in (spec or _spec())["materials"]
    ]


async def is_empty(db: Database) -> bool:
    return not await SqlMaterialRepo(db).all()


async def seed(db: Database, today: date, force: bool = False) -> SeedResult:
    """Loads the demo data in one transaction; without `force`, only into an empty database."""
    if not force and not await is_empty(db):
        return SeedResult(seeded=False)
    demo = build(today)
    async with SqlUnitOfWork(db) as uow:
        for material in demo.materials:
            await uow.materials.upsert(material)
        await uow.prices.delete_source(SOURCE)
        stored = await uow.prices.add(demo.prices)
        for item in demo.inventory:
            await uow.inventory.upsert(item)
        await uow.stock.forget(SOURCE)
        await uow.stock.add_many(demo.moves())
        for material in demo.materials:
            await uow.vendors.replace(
                material.key, [q for q in demo.quotes if q.material == material.key]
            )
    return SeedResult(True, len(demo.materials), stored, len(demo.quotes))
