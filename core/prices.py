"""Price summaries and history, read from the stored price points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.materials import MaterialCatalog
from core.models import Material, PricePoint
from core.ports import PriceRepo


def pct_change(old: float, new: float) -> float:
    """The change from `old` to `new` in percent of `old`."""
    return (new / old - 1.0) * 100.0


@dataclass(frozen=True)
class PriceSummary:
    """A material's latest price and its change over 1 and 7 days (None where unknown)."""

    material: Material
    latest: PricePoint | None
    change_1d_pct: float | None = None
    change_7d_pct: float | None = None


class PriceService:
    """Answers "what does it cost now, and how has it moved?"."""

    def __init__(self, catalog: MaterialCatalog, prices: PriceRepo) -> None:
        self._catalog = catalog
        self._prices = prices

    async def summary(self, material: Material) -> PriceSummary:
        """The latest price with its change against the prices 1 and 7 days before it."""
        latest = await self._prices.latest(material.key)
        if latest is None:
            return PriceSummary(material, None)
        return PriceSummary(
            material,
            latest,
            await self._change_since(latest, timedelta(days=1)),
            await self._change_since(latest, timedelta(days=7)),
        )

    async def summaries(self) -> list[PriceSummary]:
        """A summary for every tracked material, in catalog order."""
        return [await self.summary(material) for material in self._catalog]

    async def history(self, material: Material, days: int = 30) -> list[PricePoint]:
        """The points of the `days` days up to the latest price, oldest first."""
        latest = await self._prices.latest(material.key)
        if latest is None:
            return []
        return await self._prices.history(material.key, latest.at - timedelta(days=days))

    async def _change_since(self, latest: PricePoint, span: timedelta) -> float | None:
        before = await self._prices.at_or_before(latest.material, latest.at - span)
        return None if before is None else pct_change(before.price, latest.price)
