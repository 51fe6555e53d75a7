"""`PRICE_SOURCE=simulated`: a realistic random walk from each material's last stored price.

Each poll moves every material by a normal shock scaled to the time since its last price,
with that material's own daily volatility measured from its stored history (metals move about
1-2% a day); a material without enough history gets DEFAULT_DAILY_VOLATILITY. Shocks are
capped at MAX_SIGMAS standard deviations. The random generator is injected, so a seeded one
gives the same walk every time.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from datetime import datetime, timedelta

from core.materials import MaterialCatalog
from core.models import FeedRow, PricePoint
from core.ports import Clock, FeedBatch, PriceRepo

DEFAULT_DAILY_VOLATILITY = 0.015
MIN_RETURNS = 10
VOLATILITY_WINDOW = timedelta(days=60)
VOLATILITY_REFRESH = timedelta(days=1)
MAX_SIGMAS = 4.0
SECONDS_PER_DAY = 86_400.0


def daily_volatility(points: list[PricePoint]) -> float | None:
    """The standard deviation of log returns per day, from points oldest first at any spacing
    (each return divided by the square root of its span in days); None with too few."""
    scaled = []
    for before, after in itertools.pairwise(points):
        days = (after.at - before.at).total_seconds() / SECONDS_PER_DAY
        if days > 0:
            scaled.append(math.log(after.price / before.price) / math.sqrt(days))
    if len(scaled) < MIN_RETURNS:
        return None
    return statistics.pstdev(scaled)


class SimulatedPriceFeed:
    """A random walk from the stored prices, for demos and for trying alerts out."""

    name = "simulated"

    def __init__(
        self,
        catalog: MaterialCatalog,
        prices: PriceRepo,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._catalog = catalog
        self._prices = prices
        self._clock = clock
        self._rng = rng or random.Random()
        self._volatility: dict[str, tuple[datetime, float]] = {}

    async def fetch(self) -> FeedBatch:
        now = self._clock.now().replace(microsecond=0)
        rows = []
        for material in self._catalog:
            last = await self._prices.latest(material.key)
            if last is None or last.at >= now:
                continue
            days = (now - last.at).total_seconds() / SECONDS_PER_DAY
            sigma = await self._daily_volatility(material.key, now) * math.sqrt(days)
            shock = max(-MAX_SIGMAS, min(MAX_SIGMAS, self._rng.gauss(0.0, 1.0))) * sigma
            price = round(last.price * math.exp(shock - sigma * sigma / 2), 2)
            rows.append(FeedRow(material.key, price, now, f"{material.key} walk"))
        return FeedBatch(rows)

    async def _daily_volatility(self, material: str, now: datetime) -> float:
        cached = self._volatility.get(material)
        if cached is not None and now - cached[0] < VOLATILITY_REFRESH:
            return cached[1]
        history = await self._prices.history(material, now - VOLATILITY_WINDOW)
        volatility = daily_volatility(history) or DEFAULT_DAILY_VOLATILITY
        self._volatility[material] = (now, volatility)
        return volatility
