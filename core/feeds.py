"""Polling a price feed: check every row, store the good ones, say clearly what was refused.

A row is refused, with its reason in the log, when its material is unknown, its price is not a
finite number above zero, or its time is missing, unreadable or in the future. Refused rows are
never stored. A feed that cannot be read, or whose every row is refused, is down: that logs one
warning when it starts and one info line when the feed is back, however many polls it lasts.
A poll never raises (except on cancellation), so a bad feed never stops the schedule.

The rows that pass go through the PriceGuard (core/price_guard.py), which holds back a price
implausibly far from the last accepted one instead of storing it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.domain.local_time import iso_moment
from core.errors import FeedError, UnknownMaterial
from core.materials import MaterialCatalog
from core.models import FeedRow, PricePoint
from core.ports import Clock, PriceFeed, PriceRepo
from core.price_guard import PriceGuard

log = logging.getLogger(__name__)

# A row stamped later than this after the poll is refused: a clock or typing error, and a price
# from the future would hide every real price after it.
FUTURE_TOLERANCE = timedelta(minutes=10)
# How many refused rows the one "feed is down" warning quotes.
QUOTED_REFUSALS = 3


@dataclass(frozen=True)
class Refusal:
    row: FeedRow
    reason: str

    def describe(self) -> str:
        return f"{self.row.key}: {self.reason}"


@dataclass(frozen=True)
class PollResult:
    """What one poll did: rows accepted, prices newly stored, rows refused, prices held as
    implausible, or why the feed could not be read."""

    accepted: int = 0
    stored: int = 0
    refused: list[Refusal] = field(default_factory=list)
    error: str | None = None
    held: int = 0
    conflicts: list[Refusal] = field(default_factory=list)


def parse_time(value: datetime | str | None, now: datetime) -> datetime:
    """A row's time: ISO 8601 timestamp or date (a date is midnight UTC, a time without an
    offset is UTC); None is `now`. Raises ValueError with a reason."""
    if value is None:
        return now
    if isinstance(value, datetime):
        moment = value
    else:
        text = value.strip()
        if not text:
            raise ValueError("no timestamp")
        try:
            moment = iso_moment(text)
        except ValueError:
            raise ValueError(f"timestamp {text!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > now + FUTURE_TOLERANCE:
        raise ValueError(f"timestamp {moment.isoformat()} is in the future")
    return moment.astimezone(UTC)


def parse_price(value: object) -> float:
    """A positive finite price from a number or numeric text; raises ValueError with a reason."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"price {_shown(value)} is not a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"price {_shown(value)} is not a number") from None
    else:
        raise ValueError(f"price {_shown(value)} is not a number")
    if not math.isfinite(number):
        raise ValueError(f"price {_shown(value)} is not a finite number")
    if number <= 0:
        raise ValueError(f"price {_shown(value)} is not above zero")
    return number


def _shown(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class PricePoller:
    """Polls one feed into the price repository (through the guard, when given one)."""

    def __init__(
        self,
        feed: PriceFeed,
        catalog: MaterialCatalog,
        prices: PriceRepo,
        clock: Clock,
        guard: PriceGuard | None = None,
    ) -> None:
        self._feed = feed
        self._guard = guard
        self._catalog = catalog
        self._prices = prices
        self._clock = clock
        self._down_since: datetime | None = None
        self._failed_polls = 0
        self._refused_before: set[tuple[str, str]] = set()

    @property
    def feed_name(self) -> str:
        return self._feed.name

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    async def poll(self) -> PollResult:
        """Fetches, checks and stores; logs refusals and outages; never raises."""
        try:
            result = await self._poll()
        except FeedError as error:
            result = PollResult(error=str(error) or type(error).__name__)
        except Exception as error:  # a bug in a feed must not stop the schedule either
            log.debug("Price feed %s raised", self._feed.name, exc_info=True)
            result = PollResult(error=f"unexpected {type(error).__name__}")
        self._report(result)
        return result

    async def _poll(self) -> PollResult:
        now = self._clock.now()
        batch = await self._feed.fetch()
        checked: list[tuple[FeedRow, PricePoint]] = []
        refused: list[Refusal] = []
        for row in batch.rows:
            try:
                checked.append((row, self._check(row, now)))
            except ValueError as error:
                refused.append(Refusal(row, str(error)))
        points, conflicts = await self._without_conflicts(checked)
        stored = held = 0
        if self._guard is not None:
            admission = await self._guard.admit(points)
            stored, held = admission.stored, len(admission.held)
        elif points:
            stored = await self._prices.add(points)
        await batch.confirm()
        return PollResult(len(checked), stored, refused, held=held, conflicts=conflicts)

    async def _without_conflicts(
        self, checked: list[tuple[FeedRow, PricePoint]]
    ) -> tuple[list[PricePoint], list[Refusal]]:
        """The points minus those for a material and time that has a price already (stored,
        or earlier in this batch): a different price there is a conflict, kept out and
        reported; the same price is a plain duplicate."""
        taken: dict[tuple[str, datetime], float] = {}
        for material in {point.material for _, point in checked}:
            since = min(point.at for _, point in checked if point.material == material)
            for stored in await self._prices.history(material, since):
                taken.setdefault((material, stored.at), stored.price)
        points, conflicts = [], []
        for row, point in checked:
            first = taken.get((point.material, point.at))
            if first is None:
                taken[(point.material, point.at)] = point.price
                points.append(point)
            elif first != point.price:
                conflicts.append(
                    Refusal(
                        row,
                        f"conflicting duplicate: {point.material} at {point.at.isoformat()} "
                        f"has the price {first:g} already; {point.price:g} is ignored",
                    )
                )
        return points, conflicts

    def _check(self, row: FeedRow, now: datetime) -> PricePoint:
        if row.problem is not None:
            raise ValueError(row.problem)
        try:
            material = self._catalog.resolve(row.material) if row.material.strip() else None
        except UnknownMaterial:
            material = None
        if material is None:
            raise ValueError(
                f"unknown material {row.material!r} (known: {', '.join(self._catalog.keys)})"
            )
        price = parse_price(row.price)
        at = parse_time(row.at, now).replace(microsecond=0)
        return PricePoint(material.key, at, price, self._feed.name)

    def _report(self, result: PollResult) -> None:
        name = self._feed.name
        if result.error is not None:
            problem = result.error
        elif result.refused and not result.accepted:
            quoted = "; ".join(r.describe() for r in result.refused[:QUOTED_REFUSALS])
            more = len(result.refused) - QUOTED_REFUSALS
            problem = f"every row was refused ({quoted}{f'; {more} more' if more > 0 else ''})"
        else:
            problem = None

        if problem is not None:
            self._failed_polls += 1
            if self._down_since is None:
                self._down_since = self._clock.now()
                log.warning(
                    "Price feed %s is down: %s. Prices are kept as they are; retrying every poll.",
                    name,
                    problem,
                )
            else:
                log.debug("Price feed %s still down: %s", name, problem)
            self._refused_before = {(r.row.key, r.reason) for r in result.refused}
            return

        if self._down_since is not None:
            log.info(
                "Price feed %s is back after %d failed polls since %s.",
                name,
                self._failed_polls,
                self._down_since.strftime("%H:%M UTC"),
            )
            self._down_since, self._failed_polls = None, 0
        # Refusals that repeat poll after poll (an HTTP feed's broken path) are logged once.
        refused_now = {(r.row.key, r.reason) for r in result.refused}
        for refusal in result.refused:
            if (refusal.row.key, refusal.reason) not in self._refused_before:
                log.warning("Price feed %s: refused %s", name, refusal.describe())
        self._refused_before = refused_now
        for conflict in result.conflicts:
            log.warning("Price feed %s: %s", name, conflict.describe())
        if result.stored:
            log.debug("Price feed %s: stored %d new prices", name, result.stored)
