"""The watch rules: level crossings that re-arm, once, expiry, move windows and their cool-down."""

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from core.domain.watches import (
    Direction,
    Trigger,
    Watch,
    WatchBook,
    WatchKind,
    WatchRule,
    WatchState,
    check,
    describe,
)
from core.models import AlertType, PricePoint, Severity
from tests.fakes import COPPER, NOW

COOLDOWN = timedelta(hours=6)


def watch(rule: WatchRule, price_now: float | None = None, **changes: object) -> Watch:
    made = Watch(7, "-100123", rule, 2002, NOW, armed=rule.armed_at(price_now))
    return replace(made, **changes)  # type: ignore[arg-type]


def below(level: float, once: bool = False) -> WatchRule:
    return WatchRule("copper", WatchKind.BELOW, level, once=once)


def above(level: float) -> WatchRule:
    return WatchRule("copper", WatchKind.ABOVE, level)


def move(pct: float, days: int = 1, direction: Direction = Direction.EITHER) -> WatchRule:
    return WatchRule("copper", WatchKind.MOVE, pct, direction, days)


def point(price: float, minutes: int = 0) -> PricePoint:
    return PricePoint("copper", NOW + timedelta(minutes=minutes), price, "test")


def follow(start: Watch, path: Sequence[float]) -> tuple[Watch, list[Trigger]]:
    """A watch through a path of prices, one poll (5 minutes) each; the alerts it raised."""
    current, fired = start, []
    for step, price in enumerate(path):
        now = NOW + timedelta(minutes=5 * step)
        trigger = check(current, COPPER, point(price, 5 * step), None, now, COOLDOWN)
        if trigger is not None:
            current = trigger.watch
            if trigger.alert is not None:
                fired.append(trigger)
    return current, fired


def test_a_price_path_oscillating_around_the_level_fires_once_per_real_crossing() -> None:
    start = watch(below(9000), price_now=9100)
    # Down through 9,000, noise around the line, back up past 9,045 (0.5%), down again.
    path = [9050, 8990, 9010, 8995, 9030, 8980, 9040, 9046, 9020, 8999, 8990, 9100]
    _, fired = follow(start, path)
    assert len(fired) == 2
    first, second = (t.alert for t in fired)
    assert first is not None and second is not None
    assert first.type is AlertType.PRICE_LEVEL and first.severity is Severity.WARNING
    assert first.message.startswith("Copper fell below 9,000 USD/t: 8,990 USD/t (12:05 UTC).")
    assert "fires again once Copper has been back above 9,045" in first.message
    assert second.magnitude == 8999


def test_staying_beyond_the_level_does_not_fire_again() -> None:
    _, fired = follow(watch(above(10_000), price_now=9900), [10_010, 10_200, 10_500, 10_100])
    assert len(fired) == 1


def test_a_watch_set_beyond_its_level_waits_for_a_real_crossing() -> None:
    start = watch(below(9000), price_now=8900)
    assert start.state(NOW) is WatchState.WAITING
    assert follow(start, [8800, 8950, 8990])[1] == []
    rearmed, fired = follow(start, [8800, 9050, 8990])
    assert len(fired) == 1 and rearmed.state(NOW) is WatchState.FIRED


def test_a_once_watch_fires_once_and_is_finished() -> None:
    done, fired = follow(watch(below(9000, once=True), 9100), [8990, 9100, 8900, 9200, 8800])
    assert len(fired) == 1 and done.finished
    alert = fired[0].alert
    assert alert is not None and "Watch #7 was for once: it is done." in alert.message
    assert check(done, COPPER, point(8000), None, NOW, COOLDOWN) is None
    assert done.state(NOW) is WatchState.FIRED


def test_an_expired_watch_checks_nothing() -> None:
    expiring = watch(below(9000), 9100, expires_at=NOW + timedelta(days=3))
    assert check(expiring, COPPER, point(8900), None, NOW + timedelta(days=2), COOLDOWN)
    later = NOW + timedelta(days=3)
    assert check(expiring, COPPER, point(8900), None, later, COOLDOWN) is None
    assert expiring.state(later) is WatchState.EXPIRED


def test_the_alert_goes_to_the_watching_chat_with_a_chart_and_a_remove_button() -> None:
    trigger = check(watch(above(9000), 8900), COPPER, point(9100), None, NOW, COOLDOWN)
    assert trigger is not None and trigger.alert is not None
    assert trigger.alert.chat == "-100123"
    assert [(a.label, a.command) for a in trigger.alert.actions] == [
        ("Copper chart", "/price copper"),
        ("Remove watch #7", "/unwatch 7"),
    ]


def move_check(
    rule: WatchRule, before: float, after: float, start: Watch | None = None
) -> Trigger | None:
    current = start or watch(rule)
    earlier = point(before, -rule.days * 24 * 60)
    return check(current, COPPER, point(after), earlier, NOW, COOLDOWN)


@pytest.mark.parametrize(
    ("rule", "before", "after", "fires"),
    [
        (move(3), 9000, 8730, True),  # -3.0% exactly
        (move(3), 9000, 8740, False),  # -2.9%
        (move(3), 9000, 9270, True),  # +3.0%: either way
        (move(3, direction=Direction.DOWN), 9000, 9300, False),
        (move(3, direction=Direction.DOWN), 9000, 8700, True),
        (move(3, direction=Direction.UP), 9000, 8700, False),
    ],
)
def test_a_move_watch_fires_on_a_large_enough_move_in_its_direction(
    rule: WatchRule, before: float, after: float, fires: bool
) -> None:
    trigger = move_check(rule, before, after)
    assert (trigger is not None) is fires


def test_a_move_is_measured_over_the_watch_window() -> None:
    trigger = move_check(move(5, days=7), 10_000, 9400)
    assert trigger is not None and trigger.alert is not None
    alert = trigger.alert
    assert (alert.type, alert.severity, alert.magnitude) == (
        AlertType.PRICE_DROP,
        Severity.WARNING,
        -6.0,
    )
    assert alert.message.startswith("Copper fell 6.0% in 7 days to 9,400 USD/t (12:00 UTC).")
    assert "Watch #7: Copper moves ±5% in 7 days." in alert.message


def test_a_move_of_twice_the_threshold_is_critical() -> None:
    trigger = move_check(move(3), 9000, 9600)
    assert trigger is not None and trigger.alert is not None
    assert (trigger.alert.type, trigger.alert.severity) == (
        AlertType.PRICE_INCREASE,
        Severity.CRITICAL,
    )


def test_a_move_watch_has_the_cool_down_of_the_other_alerts() -> None:
    rule = move(3)
    fired = move_check(rule, 9000, 8700)  # -3.3%
    assert fired is not None
    after = replace(fired.watch, triggered_at=NOW - timedelta(hours=1))
    assert move_check(rule, 9000, 8650, after) is None  # -3.9%: not clearly larger
    assert move_check(rule, 9000, 8560, after) is not None  # -4.9%: 1.5 points larger
    assert move_check(rule, 9000, 9300, after) is not None  # the other direction
    cooled = replace(fired.watch, triggered_at=NOW - COOLDOWN)
    assert move_check(rule, 9000, 8700, cooled) is not None


def test_a_book_checks_a_price_against_its_own_material_only() -> None:
    copper = watch(below(9000), 9100)
    nickel = replace(watch(WatchRule("nickel", WatchKind.ABOVE, 1.0)), id=8)
    book = WatchBook([copper, nickel])
    assert sorted(book.materials) == ["copper", "nickel"]
    [trigger] = book.check(COPPER, point(8990), {}, NOW, COOLDOWN)
    assert trigger.watch.id == 7
    book.put(replace(trigger.watch, rule=below(9000, once=True)))
    assert [w.id for w in book] == [8]


def test_watches_describe_themselves_in_the_materials_units() -> None:
    assert describe(below(9000.5), COPPER) == "Copper below 9,000 USD/t"
    up = move(2.5, 3, Direction.UP)
    assert describe(replace(up, once=True), COPPER) == "Copper moves +2.5% in 3 days (once)"


def test_the_book_finds_exactly_the_watches_a_price_changes_among_many() -> None:
    rng = random.Random(3)
    watches = []
    for n in range(600):
        kind = rng.choice(list(WatchKind))
        threshold = rng.choice([2.0, 3.0, 5.0]) if kind is WatchKind.MOVE else rng.uniform(90, 110)
        direction, days = rng.choice(list(Direction)), rng.choice([1, 2, 3])
        rule = WatchRule("copper", kind, round(threshold, 1), direction, days)
        armed = rng.random() < 0.5 if kind is not WatchKind.MOVE else True
        watches.append(Watch(n + 1, "chat", rule, 1, NOW, armed=armed))
    book = WatchBook(watches)
    before: dict[int, PricePoint | None] = {
        1: PricePoint("copper", NOW - timedelta(days=1), 100.0, "test"),
        2: PricePoint("copper", NOW - timedelta(days=2), 97.0, "test"),
    }  # no price 3 days before
    for price in (89.0, 95.5, 99.9, 100.0, 100.45, 100.5, 104.2, 111.0):
        expected = {
            w.id
            for w in watches
            if check(w, COPPER, point(price), before.get(w.rule.days), NOW, COOLDOWN)
        }
        found = {t.watch.id for t in book.check(COPPER, point(price), before, NOW, COOLDOWN)}
        assert found == expected and found, price
    fired = book.check(COPPER, point(95.0), before, NOW, COOLDOWN)
    for trigger in fired:
        book.put(trigger.watch)
    assert len(book) == 600
    assert fired and book.check(COPPER, point(95.0), before, NOW, COOLDOWN) == []  # seen once
