"""Vendor ranking.

Each valid quote in the material's currency gets a score out of 100:
  50 x (cheapest price / its price) + 30 x (fastest delivery / its delivery) + 20 x (rating / 5),
where the cheapest and fastest are those of the valid quotes, so the cheapest, fastest,
best-rated vendor scores 100, each point lost says how far behind it is, and the pick has the
best score shown. Delivery counts at least one day. Expired quotes get no score: they are listed
after the valid ones and never picked. Quotes in another currency are listed but not compared
(no exchange rates are assumed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.models import Material, VendorQuote
from core.ports import Clock, VendorRepo
from core.wording import plural

PRICE_WEIGHT = 50.0
DELIVERY_WEIGHT = 30.0
RATING_WEIGHT = 20.0


@dataclass(frozen=True)
class RankedQuote:
    """A quote with its score (None when expired or not comparable); `comparable` says it is
    in the material's currency."""

    quote: VendorQuote
    score: float | None
    expired: bool
    comparable: bool = True


@dataclass(frozen=True)
class VendorRanking:
    """Quotes best first, the pick and a one-line why."""

    material: Material
    ranked: list[RankedQuote]
    best: RankedQuote | None
    why: str


def rank_quotes(material: Material, quotes: list[VendorQuote], today: date) -> VendorRanking:
    """Scores and orders `quotes`: valid ones by score, then expired, then other currencies."""
    comparable = [q for q in quotes if q.currency == material.currency]
    others = [
        RankedQuote(q, None, _expired(q, today), False) for q in quotes if q not in comparable
    ]
    if not comparable:
        return VendorRanking(
            material, others, None, f"No quotes in {material.currency} for {material.name} yet."
        )
    valid = [q for q in comparable if not _expired(q, today)]
    expired = sorted((q for q in comparable if q not in valid), key=lambda q: q.price)
    if not valid:
        stale = [RankedQuote(q, None, True) for q in expired]
        return VendorRanking(material, stale + others, None, _why(None, []))
    cheapest = min(q.price for q in valid)
    fastest = max(1, min(q.delivery_days for q in valid))

    def score(q: VendorQuote) -> float:
        return (
            PRICE_WEIGHT * cheapest / q.price
            + DELIVERY_WEIGHT * fastest / max(1, q.delivery_days)
            + RATING_WEIGHT * q.rating / 5.0
        )

    scored = sorted(
        (RankedQuote(q, score(q), False) for q in valid),
        key=lambda r: (-(r.score or 0.0), r.quote.price),
    )
    stale = [RankedQuote(q, None, True) for q in expired]
    return VendorRanking(material, scored + stale + others, scored[0], _why(scored[0], scored))


def _expired(quote: VendorQuote, today: date) -> bool:
    return quote.valid_until is not None and quote.valid_until < today


def _why(best: RankedQuote | None, valid: list[RankedQuote]) -> str:
    if best is None:
        return "Every quote has expired: ask the vendors for fresh quotes before ordering."
    quote = best.quote
    cheapest = min(valid, key=lambda r: r.quote.price).quote
    fastest = min(valid, key=lambda r: r.quote.delivery_days).quote
    top_rating = max(r.quote.rating for r in valid)
    if quote is cheapest:
        price = "the lowest valid price"
    else:
        dearer = (quote.price / cheapest.price - 1) * 100
        price = f"{dearer:.1f}% above the cheapest ({cheapest.vendor})"
    days = plural(quote.delivery_days, "day")
    delivery = (
        f"the fastest delivery ({days})"
        if quote.delivery_days == fastest.delivery_days
        else f"delivery in {days}"
    )
    rating = f"rated {quote.rating:.1f}/5" + (" (the best)" if quote.rating == top_rating else "")
    reason = f"{quote.vendor} scores {best.score:.0f}/100: {price}, {delivery}, {rating}"
    if len(valid) > 1:
        runner_up = valid[1]
        reason += f"; next is {runner_up.quote.vendor} at {runner_up.score:.0f}"
    else:
        reason += "; it is the only valid quote"
    return reason + "."


class VendorService:
    """Answers "from whom should we buy?"."""

    def __init__(self, vendors: VendorRepo, clock: Clock) -> None:
        self._vendors = vendors
        self._clock = clock

    async def ranking(self, material: Material) -> VendorRanking:
        quotes = await self._vendors.quotes(material.key)
        if not quotes:
            return VendorRanking(material, [], None, f"No vendor quotes for {material.name} yet.")
        return rank_quotes(material, quotes, self._clock.now().date())
