"""Price watches: a chat's own alerts on one material's price. Pure rules, no I/O.

- A level watch (`above` or `below` a price) fires when a new price crosses the level, not
  on every price while it stays beyond it. It is then disarmed, and armed again once the price
  is back on the other side by REARM_PCT of the level, so that noise around the line does not
  fire it again and again. A watch set while the price is beyond its level already starts
  disarmed: it fires at the next real crossing. A `once` watch is finished when it fires.
- A move watch fires on a move of at least its percentage against the price its window of
  days before the new price (the last price at or before then), upwards, downwards or either
  way; it has the cool-down of the other alerts (core/alert_rules.py): within it, only a
  clearly larger move in the same direction or a higher severity is alerted again.
- A watch with an expiry (`for Nd`) checks nothing from then on.

A watch's alert goes to the chat that set it, and to no other: PRICE_LEVEL for a crossing,
PRICE_DROP / PRICE_INCREASE for a move, with a button to the material's price chart and one
that removes the watch.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from math import inf

from core.alert_rules import WINDOW_SLACK, AlertPolicy, amount, cooldown_allows, when
from core.models import Action, Alert, AlertFacts, AlertType, Material, PricePoint, Severity
from core.prices import pct_change

# How far back beyond its level (in % of the level) the price must go to re-arm a level watch.
REARM_PCT = 0.5
MAX_MOVE_PCT = 100.0
MAX_MOVE_DAYS = 90
MAX_LASTS_DAYS = 365


class WatchKind(StrEnum):
    ABOVE = "above"
    BELOW = "below"
    MOVE = "move"


class Direction(StrEnum):
    """Which moves a move watch fires on: a signed percentage (+3, -3) picks one direction."""

    UP = "up"
    DOWN = "down"
    EITHER = "either"


class WatchState(StrEnum):
    ARMED = "armed"
    FIRED = "fired"  # waiting to re-arm, or finished (`once`)
    WAITING = "waiting"  # set beyond its level: waits for the price to come back first
    EXPIRED = "expired"


@dataclass(frozen=True)
class WatchRule:
    """What a watch looks for: `threshold` is the level (above, below) or the percentage
    (move, always positive, with `direction` and a window of `days`)."""

    material: str
    kind: WatchKind
    threshold: float
    direction: Direction = Direction.EITHER
    days: int = 1
    once: bool = False

    @property
    def is_level(self) -> bool:
        return self.kind is not WatchKind.MOVE

    def same_condition(self, other: WatchRule) -> bool:
        """Whether both look for the same thing (`once` aside)."""
        return replace(self, once=False) == replace(other, once=False)

    def armed_at(self, price: float | None) -> bool:
        """Whether a new watch is armed at `price`: not when the price is beyond its level
        already (a move watch always is)."""
        if price is None or self.kind is WatchKind.MOVE:
            return True
        return price >= self.threshold if self.kind is WatchKind.BELOW else price <= self.threshold

    @property
    def rearm_price(self) -> float:
        """Where the price must be back to for a level watch that fired to fire again."""
        if self.kind is WatchKind.BELOW:
            return self.threshold * (1 + REARM_PCT / 100)
        return self.threshold * (1 - REARM_PCT / 100)


@dataclass(frozen=True)
class Watch:
    """One chat's watch as stored: its rule, who set it, and where it stands."""

    id: int
    chat: str
    rule: WatchRule
    created_by: int
    created_at: datetime
    expires_at: datetime | None = None
    armed: bool = True
    triggered_at: datetime | None = None
    triggered_price: float | None = None
    triggered_change: float | None = None  # a move watch's last move alerted, in percent

    @property
    def material(self) -> str:
        return self.rule.material

    @property
    def finished(self) -> bool:
        """A `once` watch that fired."""
        return self.rule.once and self.triggered_at is not None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def live(self, now: datetime) -> bool:
        """Whether new prices are checked against it."""
        return not self.finished and not self.expired(now)

    def state(self, now: datetime) -> WatchState:
        if self.expired(now) and not self.finished:
            return WatchState.EXPIRED
        if self.armed and not self.finished:
            return WatchState.ARMED
        return WatchState.FIRED if self.triggered_at is not None else WatchState.WAITING


def describe(rule: WatchRule, material: Material) -> str:
    """'Copper below 9,000 USD/t', 'Nickel moves ±3% in 1 day'."""
    if rule.is_level:
        text = f"{material.name} {rule.kind} {amount(rule.threshold)} {material.price_unit}"
    else:
        sign = {Direction.UP: "+", Direction.DOWN: "-", Direction.EITHER: "±"}[rule.direction]
        text = f"{material.name} moves {sign}{rule.threshold:g}% in {days(rule.days)}"
    return text + (" (once)" if rule.once else "")


def days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


@dataclass(frozen=True)
class Trigger:
    """What a new price did to a watch: `watch` as the price leaves it (disarmed, armed again,
    or with its last trigger), and the alert for its chat when it fired."""

    watch: Watch
    alert: Alert | None = None


def check(
    watch: Watch,
    material: Material,
    price: PricePoint,
    before: PricePoint | None,
    now: datetime,
    cooldown: timedelta,
) -> Trigger | None:
    """The watch against a new price (and, for a move watch, the price its window before);
    None when nothing changes."""
    if not watch.live(now):
        return None
    if watch.rule.is_level:
        return _check_level(watch, material, price, now)
    if before is None:
        return None
    return _check_move(watch, material, price, before, now, cooldown)


def _check_level(
    watch: Watch, material: Material, price: PricePoint, now: datetime
) -> Trigger | None:
    rule = watch.rule
    below = rule.kind is WatchKind.BELOW
    if watch.armed:
        crossed = price.price < rule.threshold if below else price.price > rule.threshold
        if not crossed:
            return None
        fired = replace(watch, armed=False, triggered_at=now, triggered_price=price.price)
        return Trigger(fired, _level_alert(fired, material, price, now))
    back = price.price >= rule.rearm_price if below else price.price <= rule.rearm_price
    return Trigger(replace(watch, armed=True)) if back else None


def _check_move(
    watch: Watch,
    material: Material,
    price: PricePoint,
    before: PricePoint,
    now: datetime,
    cooldown: timedelta,
) -> Trigger | None:
    rule = watch.rule
    # Rounded so that a move shown as 3.0% is not 2.9999999999999996% for the threshold.
    change = round(pct_change(before.price, price.price), 6)
    wanted = {
        Direction.UP: change >= rule.threshold,
        Direction.DOWN: -change >= rule.threshold,
        Direction.EITHER: abs(change) >= rule.threshold,
    }[rule.direction]
    if not wanted:
        return None
    alert = _move_alert(watch, material, price, before, change, now)
    if not _cooled_down(watch, alert, cooldown):
        return None
    fired = replace(
        watch, triggered_at=now, triggered_price=price.price, triggered_change=round(change, 2)
    )
    return Trigger(fired, alert)


def _cooled_down(watch: Watch, candidate: Alert, cooldown: timedelta) -> bool:
    if watch.triggered_at is None or watch.triggered_change is None:
        return True
    last_type = AlertType.PRICE_DROP if watch.triggered_change < 0 else AlertType.PRICE_INCREASE
    if last_type is not candidate.type:  # the other direction is another condition
        return True
    last = replace(
        candidate,
        severity=_move_severity(watch.rule, watch.triggered_change),
        created_at=watch.triggered_at,
        magnitude=watch.triggered_change,
    )
    return cooldown_allows(candidate, last, AlertPolicy(watch.rule.threshold, cooldown))


def _move_severity(rule: WatchRule, change: float) -> Severity:
    return Severity.CRITICAL if abs(change) >= 2 * rule.threshold else Severity.WARNING


def _actions(watch: Watch, material: Material) -> tuple[Action, ...]:
    return (
        Action(f"{material.name} chart", f"/price {material.key}"),
        Action(f"Remove watch #{watch.id}", f"/unwatch {watch.id}"),
    )


def _level_alert(watch: Watch, material: Material, price: PricePoint, now: datetime) -> Alert:
    rule, unit = watch.rule, material.price_unit
    verb = "fell below" if rule.kind is WatchKind.BELOW else "rose above"
    side = "above" if rule.kind is WatchKind.BELOW else "below"
    if rule.once:
        after = f"Watch #{watch.id} was for once: it is done."
    else:
        after = (
            f"Watch #{watch.id} fires again once {material.name} has been back {side} "
            f"{amount(rule.rearm_price)}."
        )
    shown = f"{amount(price.price)} {unit}"
    return Alert(
        type=AlertType.PRICE_LEVEL,
        severity=Severity.WARNING,
        material=material.key,
        message=(
            f"{material.name} {verb} {amount(rule.threshold)} {unit}: {shown} "
            f"({when(price.at, now)}). {after}"
        ),
        created_at=now,
        dedup_key=f"watch:{watch.id}",
        magnitude=price.price,
        facts=AlertFacts(
            material.name, f"{verb} {amount(rule.threshold)}", shown, f"Watch #{watch.id}"
        ),
        chat=watch.chat,
        actions=_actions(watch, material),
    )


def _move_alert(
    watch: Watch,
    material: Material,
    price: PricePoint,
    before: PricePoint,
    change: float,
    now: datetime,
) -> Alert:
    rule = watch.rule
    falling = change < 0
    kind = AlertType.PRICE_DROP if falling else AlertType.PRICE_INCREASE
    window = timedelta(days=rule.days)
    span = (
        f"in {days(rule.days)}"
        if price.at - before.at <= window + WINDOW_SLACK
        else f"since {when(before.at, now)}"
    )
    shown = f"{amount(price.price)} {material.price_unit}"
    verb = "fell" if falling else "rose"
    return Alert(
        type=kind,
        severity=_move_severity(rule, change),
        material=material.key,
        message=(
            f"{material.name} {verb} {abs(change):.1f}% {span} to {shown} "
            f"({when(price.at, now)}). Watch #{watch.id}: {describe(rule, material)}."
        ),
        created_at=now,
        dedup_key=f"watch:{watch.id}:{kind}",
        magnitude=round(change, 2),
        facts=AlertFacts(material.name, f"{change:+.1f}% {span}", shown, f"Watch #{watch.id}"),
        chat=watch.chat,
        actions=_actions(watch, material),
    )


class _Shelf:
    """One material's watches, the level ones sorted so that a price finds the ones it may
    change by bisection: an armed `below` watch fires under its level, a disarmed one re-arms
    at or over its re-arm price (and the mirror image for `above`). Move watches are all
    sorted by percentage for each window: a move is one number per window."""

    def __init__(self) -> None:
        self.watches: dict[int, Watch] = {}
        self.armed_below: list[tuple[float, int]] = []
        self.waiting_below: list[tuple[float, int]] = []
        self.armed_above: list[tuple[float, int]] = []
        self.waiting_above: list[tuple[float, int]] = []
        self.moves: dict[int, list[tuple[float, int]]] = {}  # by window (days)

    def _place(self, watch: Watch) -> tuple[list[tuple[float, int]], float]:
        rule = watch.rule
        if rule.kind is WatchKind.MOVE:
            return self.moves.setdefault(rule.days, []), rule.threshold
        below = rule.kind is WatchKind.BELOW
        if watch.armed:
            return (self.armed_below if below else self.armed_above), rule.threshold
        return (self.waiting_below if below else self.waiting_above), rule.rearm_price

    def add(self, watch: Watch) -> None:
        self.watches[watch.id] = watch
        entries, key = self._place(watch)
        insort(entries, (key, watch.id))

    def remove(self, watch_id: int) -> None:
        watch = self.watches.pop(watch_id, None)
        if watch is None:
            return
        entries, key = self._place(watch)
        entries.pop(bisect_left(entries, (key, watch_id)))
        if watch.rule.kind is WatchKind.MOVE and not entries:
            del self.moves[watch.rule.days]

    def candidates(self, price: float, before: Mapping[int, PricePoint | None]) -> list[Watch]:
        """The watches `price` may fire or re-arm (a superset: `check` decides); `before`
        maps each move window to the price that long before."""
        ids = [i for _, i in self.armed_below[bisect_right(self.armed_below, (price, inf)) :]]
        ids += [i for _, i in self.waiting_below[: bisect_right(self.waiting_below, (price, inf))]]
        ids += [i for _, i in self.armed_above[: bisect_left(self.armed_above, (price, -inf))]]
        ids += [i for _, i in self.waiting_above[bisect_left(self.waiting_above, (price, -inf)) :]]
        for days, entries in self.moves.items():
            earlier = before.get(days)
            if earlier is not None:
                reach = abs(round(pct_change(earlier.price, price), 6))
                ids += [i for _, i in entries[: bisect_right(entries, (reach, inf))]]
        return [self.watches[i] for i in ids]


class WatchBook:
    """The live watches, by material and sorted by level, so that checking a new price costs
    a bisection per material plus the watches it may change (and the move watches), however
    many watches there are."""

    def __init__(self, watches: Iterable[Watch] = ()) -> None:
        self._shelves: dict[str, _Shelf] = {}
        for watch in watches:
            self.put(watch)

    def __len__(self) -> int:
        return sum(len(shelf.watches) for shelf in self._shelves.values())

    def __iter__(self) -> Iterator[Watch]:
        for shelf in self._shelves.values():
            yield from shelf.watches.values()

    @property
    def materials(self) -> list[str]:
        return list(self._shelves)

    def of(self, material: str) -> list[Watch]:
        shelf = self._shelves.get(material)
        return [] if shelf is None else list(shelf.watches.values())

    def windows(self, material: str) -> set[int]:
        """The move windows (days) watched on `material`."""
        shelf = self._shelves.get(material)
        return set() if shelf is None else set(shelf.moves)

    def put(self, watch: Watch) -> None:
        """Adds or replaces a watch; a finished one leaves the book."""
        self.drop(watch)
        if not watch.finished:
            self._shelves.setdefault(watch.material, _Shelf()).add(watch)

    def drop(self, watch: Watch) -> None:
        shelf = self._shelves.get(watch.material)
        if shelf is None:
            return
        shelf.remove(watch.id)
        if not shelf.watches:
            del self._shelves[watch.material]

    def check(
        self,
        material: Material,
        price: PricePoint,
        before: Mapping[int, PricePoint | None],
        now: datetime,
        cooldown: timedelta,
    ) -> list[Trigger]:
        """The watches on `material` against its new price; `before` maps each move window
        (days) to the price that long before it."""
        shelf = self._shelves.get(material.key)
        if shelf is None:
            return []
        triggers = []
        for watch in shelf.candidates(price.price, before):
            trigger = check(watch, material, price, before.get(watch.rule.days), now, cooldown)
            if trigger is not None:
                triggers.append(trigger)
        return triggers
