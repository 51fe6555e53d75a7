"""Implausible feed prices are held, not believed; admins curate what the price table holds.

A feed price further than `max_jump_pct` (PRICE_MAX_JUMP_PCT, default 50) from the last accepted
price of its material is held as suspect: a 100x typo, a feed that changed its units. Real moves
pass: nickel on 7 March 2022 (cash +44%, three-month +47%) is the largest daily move in 18 years
of LME copper, aluminium and nickel prices.
Held prices are kept in the StateStore (`held_prices:<material>`, so they survive a restart) and
never enter the price table until accepted, so they are not shown, alerted on or used by
forecasts. Holding one logs one line and sends the admins an INFO note (at most one per material
within `note_interval`).

- The next `CONFIRMATIONS` prices confirm the new level when each is within `max_jump_pct` of
  the first held one: then every held price is accepted, with its own time.
- A price back within `max_jump_pct` of the accepted level is stored as usual, and the held ones
  are discarded: the feed glitched and recovered.
- A price implausible against both starts a new held run in place of the old one.
- An admin accepts the held prices at once (`/prices accept MATERIAL`) or discards them
  (`/prices drop MATERIAL`), and removes a bad stored point (`/prices delete MATERIAL TIME`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.access import AccessPolicy
from core.alert_rules import amount, when
from core.errors import UserError
from core.materials import MaterialCatalog
from core.models import (
    Alert,
    AlertFacts,
    AlertType,
    Channel,
    Material,
    PricePoint,
    Recipient,
    Severity,
)
from core.ports import AlertOutbox, Clock, PriceRepo, StateStore
from core.prices import pct_change
from core.wording import percent

log = logging.getLogger(__name__)

CONFIRMATIONS = 3
DEFAULT_MAX_JUMP_PCT = 50.0
STATE_PREFIX = "held_prices:"
NOTE_PREFIX = "PRICE_HELD:"


@dataclass(frozen=True)
class HeldPrices:
    """A material's held prices, oldest first, and the accepted price they were judged by."""

    material: Material
    points: tuple[PricePoint, ...]
    reference: float | None

    @property
    def level(self) -> float:
        return self.points[0].price

    @property
    def jump_pct(self) -> float | None:
        return None if self.reference is None else pct_change(self.reference, self.level)

    def to_json(self) -> str:
        return json.dumps(
            {
                "reference": self.reference,
                "points": [
                    {"at": p.at.isoformat(), "price": p.price, "source": p.source}
                    for p in self.points
                ],
            }
        )

    @classmethod
    def from_json(cls, material: Material, text: str | None) -> HeldPrices:
        if not text:
            return cls(material, (), None)
        data = json.loads(text)
        points = tuple(
            PricePoint(material.key, datetime.fromisoformat(p["at"]), p["price"], p["source"])
            for p in data["points"]
        )
        return cls(material, points, data["reference"])


@dataclass(frozen=True)
class Admission:
    """What became of a batch of feed prices: stored (how many were new), held, and accepted
    or discarded from earlier held ones."""

    stored: int = 0
    held: list[PricePoint] = field(default_factory=list)
    accepted: list[PricePoint] = field(default_factory=list)
    discarded: list[PricePoint] = field(default_factory=list)


class PriceGuard:
    """Decides which feed prices enter the price table; admins accept, drop or delete."""

    def __init__(
        self,
        catalog: MaterialCatalog,
        prices: PriceRepo,
        state: StateStore,
        clock: Clock,
        max_jump_pct: float = DEFAULT_MAX_JUMP_PCT,
        outbox: AlertOutbox | None = None,
        access: AccessPolicy | None = None,
        note_interval: timedelta = timedelta(hours=6),
    ) -> None:
        self._catalog = catalog
        self._prices = prices
        self._state = state
        self._clock = clock
        self.max_jump_pct = max_jump_pct
        self._outbox = outbox
        self._access = access
        self._note_interval = note_interval
        self._lock = asyncio.Lock()  # a poll and an admin's /prices never interleave

    def plausible(self, reference: float, price: float) -> bool:
        return abs(pct_change(reference, price)) <= self.max_jump_pct

    async def admit(self, points: Sequence[PricePoint]) -> Admission:
        """Stores the plausible points and holds the implausible ones, per material in time
        order."""
        by_material: dict[str, list[PricePoint]] = {}
        for point in points:
            by_material.setdefault(point.material, []).append(point)
        admission = Admission()
        store: list[PricePoint] = []
        async with self._lock:
            for key, group in by_material.items():
                material = self._catalog.get(key)
                store += await self._admit(material, sorted(group, key=lambda p: p.at), admission)
            stored = await self._prices.add(store) if store else 0
        return Admission(stored, admission.held, admission.accepted, admission.discarded)

    async def _admit(
        self, material: Material, points: list[PricePoint], admission: Admission
    ) -> list[PricePoint]:
        before = await self.held(material)
        held = before
        accepted = await self._prices.at_or_before(material.key, points[0].at)
        store: list[PricePoint] = []
        for point in points:
            if any(h.at == point.at for h in held.points):
                continue  # held already (a feed that reread its rows after a restart)
            last = store[-1] if store else accepted
            if last is None or self.plausible(last.price, point.price):
                store.append(point)
                if held.points:
                    self._discard(held, f"the feed is back at {amount(point.price)}")
                    admission.discarded.extend(held.points)
                    held = HeldPrices(material, (), None)
            elif held.points and self.plausible(held.level, point.price):
                held = HeldPrices(material, (*held.points, point), held.reference)
                if len(held.points) > CONFIRMATIONS:
                    log.warning(
                        "Accepted %d held %s prices: %d later prices confirmed the level of %s",
                        len(held.points),
                        material.key,
                        CONFIRMATIONS,
                        amount(held.level),
                    )
                    store += held.points
                    admission.accepted.extend(held.points)
                    held = HeldPrices(material, (), None)
            else:
                if held.points:
                    self._discard(held, f"a new price of {amount(point.price)} came")
                    admission.discarded.extend(held.points)
                held = HeldPrices(material, (point,), last.price)
                admission.held.append(point)
                await self._hold(held)
        if held != before:
            await self._save(held)
        return store

    async def _hold(self, held: HeldPrices) -> None:
        point, material = held.points[0], held.material
        log.warning(
            "Held %s price %s %s (%s) from %s: %s from the last accepted %s, more than the "
            "%g%% a price may move unconfirmed",
            material.key,
            amount(point.price),
            material.price_unit,
            point.at.isoformat(),
            point.source,
            percent(held.jump_pct or 0.0),
            amount(held.reference or 0.0),
            self.max_jump_pct,
        )
        await self._note_admins(held)

    def _discard(self, held: HeldPrices, why: str) -> None:
        log.warning(
            "Discarded %d held %s prices at %s: %s",
            len(held.points),
            held.material.key,
            amount(held.level),
            why,
        )

    async def _note_admins(self, held: HeldPrices) -> None:
        """An INFO alert to the admins' private chats, through the outbox like any alert."""
        if self._outbox is None or self._access is None:
            return
        now = self._clock.now()
        key = f"{NOTE_PREFIX}{held.material.key}"
        last = await self._outbox.last_alert(key)
        if last is not None and now - last.created_at < self._note_interval:
            return
        # A private chat with the bot has the user's own id.
        admins = [Recipient(Channel.TELEGRAM, str(a)) for a in await self._access.admin_ids()]
        point, material = held.points[0], held.material
        change = held.jump_pct or 0.0
        price = f"{amount(point.price)} {material.price_unit}"
        todo = (
            f"It is accepted if the next {CONFIRMATIONS} prices confirm it; "
            f"/prices accept {material.key} accepts it now, /prices drop {material.key} "
            "discards it"
        )
        await self._outbox.record(
            Alert(
                type=AlertType.PRICE_INCREASE if change > 0 else AlertType.PRICE_DROP,
                severity=Severity.INFO,
                material=material.key,
                message=(
                    f"{material.name}: the feed says {price} ({when(point.at, now)}), "
                    f"{percent(change)} from the last accepted "
                    f"{amount(held.reference or 0.0)}: held as implausible, not shown or "
                    f"alerted. {todo}."
                ),
                created_at=now,
                dedup_key=key,
                magnitude=round(change, 2),
                facts=AlertFacts(material.name, f"{percent(change)} (held)", price, todo),
            ),
            admins,
        )

    # --- what admins see and do ---

    async def held(self, material: Material) -> HeldPrices:
        return HeldPrices.from_json(material, await self._state.get(STATE_PREFIX + material.key))

    async def all_held(self) -> list[HeldPrices]:
        """The materials with held prices, in catalog order."""
        every = [await self.held(m) for m in self._catalog]
        return [h for h in every if h.points]

    async def _save(self, held: HeldPrices) -> None:
        await self._state.set(STATE_PREFIX + held.material.key, held.to_json())

    async def accept(self, material: Material) -> HeldPrices:
        """Stores the material's held prices; returns them (none held: nothing done)."""
        async with self._lock:
            held = await self.held(material)
            if held.points:
                await self._prices.add(held.points)
                await self._save(HeldPrices(material, (), None))
                log.warning(
                    "Accepted %d held %s prices by an admin", len(held.points), material.key
                )
            return held

    async def drop(self, material: Material) -> HeldPrices:
        """Discards the material's held prices; returns them."""
        async with self._lock:
            held = await self.held(material)
            if held.points:
                await self._save(HeldPrices(material, (), None))
                self._discard(held, "an admin dropped them")
            return held

    async def delete(self, material: Material, at: datetime, span: timedelta) -> PricePoint:
        """Removes the one stored price in [at, at + span) (a TIME to the second has a span of
        one second); more than one there, or none, is a UserError listing what is there."""
        async with self._lock:
            found = [p for p in await self._prices.history(material.key, at) if p.at < at + span]
            if not found:
                raise UserError(
                    f"No {material.name} price is stored at {_exactly(at)}. "
                    f"/price {material.key} shows the latest with its time."
                )
            if len(found) > 1:
                listed = ", ".join(f"{_exactly(p.at)}: {amount(p.price)}" for p in found[:5])
                more = f" and {len(found) - 5} more" if len(found) > 5 else ""
                raise UserError(
                    f"{len(found)} {material.name} prices are stored then ({listed}{more}): "
                    f"name one to the second, e.g. /prices delete {material.key} "
                    f"{found[0].at:%Y-%m-%dT%H:%M:%S}"
                )
            point = found[0]
            await self._prices.delete(material.key, point.at)
            log.warning(
                "Deleted the %s price %s at %s by an admin",
                material.key,
                amount(point.price),
                point.at.isoformat(),
            )
            return point


def _exactly(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC" if at.second else f"{at:%Y-%m-%d %H:%M} UTC"
