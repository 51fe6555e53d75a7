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
        """A summary for every tracked material, in catalog order (three queries in all,
        however many materials there are)."""
        latest = await self._prices.latest_of([m.key for m in self._catalog])
        day_before = await self._prices.at_or_before_of(
            {key: point.at - timedelta(days=1) for key, point in latest.items()}
        )
        week_before = await self._prices.at_or_before_of(
            {key: point.at - timedelta(days=7) for key, point in latest.items()}
        )

        def change(before: PricePoint | None, now: PricePoint) -> float | None:
            return None if before is None else pct_change(before.price, now.price)

        return [
            PriceSummary(m, None)
            if (now := latest.get(m.key)) is None
            else PriceSummary(
                m, now, change(day_before.get(m.key), now), change(week_before.get(m.key), now)
            )
            for m in self._catalog
        ]

    async def history(self, material: Material, days: int = 30) -> list[PricePoint]:
        """The points of the `days` days up to the latest price, oldest first."""
        latest = await self._prices.latest(material.key)
        if latest is None:
            return []
        return await self._prices.history(material.key, latest.at - timedelta(days=days))

    async def _change_since(self, latest: PricePoint, span: timedelta) -> float | None:
        before = await self._prices.at_or_before(latest.material, latest.at - span)
        return None if before is None else pct_change(before.price, latest.price)
