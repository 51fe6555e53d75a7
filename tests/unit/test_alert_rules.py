"""The alert rules and the cool-down, as pure functions."""

from dataclasses import replace
from datetime import timedelta

import pytest

from core.alert_rules import (
    AlertPolicy,
    buy_signal_alert,
    cooldown_allows,
    price_move_alert,
    stock_alert,
)
from core.inventory import assess_stock
from core.models import Advice, Alert, AlertType, CurrentAdvice, PricePoint, Severity
from tests.fakes import ALUMINIUM, COPPER, NOW, stock_item

POLICY = AlertPolicy(price_alert_pct=5.0, cooldown=timedelta(minutes=360))
AT = NOW.replace(hour=14, minute=5)


def test_a_drop_says_what_by_how_much_when_and_what_to_do() -> None:
    alert = price_move_alert(
        COPPER,
        PricePoint("copper", AT, 8412.0, "feed"),
        PricePoint("copper", AT - timedelta(hours=24), 8968.0, "feed"),
        POLICY,
        AT,
        CurrentAdvice("copper", Advice.WAIT),
    )
    assert alert is not None
    assert alert.type is AlertType.PRICE_DROP and alert.severity is Severity.WARNING
    assert alert.message == "Copper fell 6.2% in 24 h to 8,412 USD/t (14:05 UTC). Forecast: WAIT."
    assert alert.dedup_key == "PRICE_DROP:copper" and alert.magnitude == pytest.approx(-6.2, 0.01)
    assert alert.facts is not None
    assert (alert.facts.material, alert.facts.change, alert.facts.price, alert.facts.advice) == (
        "Copper",
        "-6.2% in 24 h",
        "8,412 USD/t",
        "Forecast: WAIT",
    )


def test_without_a_forecast_the_alert_still_says_what_to_do() -> None:
    drop = price_move_alert(
        COPPER,
        PricePoint("copper", AT, 90.0, "feed"),
        PricePoint("copper", AT - timedelta(hours=24), 100.0, "feed"),
        POLICY,
        AT,
    )
    assert drop is not None and drop.message.endswith(
        "Check quotes at the lower price: /vendors copper."
    )


def test_moves_below_the_threshold_are_not_alerted_and_twice_it_is_critical() -> None:
    assert (
        price_move_alert(
            COPPER,
            PricePoint("copper", AT, 104.9, "f"),
            PricePoint("copper", AT - timedelta(days=1), 100.0, "f"),
            POLICY,
            AT,
        )
        is None
    )
    rise = price_move_alert(
        COPPER,
        PricePoint("copper", AT, 105.0, "f"),
        PricePoint("copper", AT - timedelta(days=1), 100.0, "f"),
        POLICY,
        AT,
    )
    assert rise is not None and rise.type is AlertType.PRICE_INCREASE
    assert rise.severity is Severity.WARNING and "rose 5.0%" in rise.message
    crash = price_move_alert(
        COPPER,
        PricePoint("copper", AT, 80.0, "f"),
        PricePoint("copper", AT - timedelta(days=1), 100.0, "f"),
        POLICY,
        AT,
    )
    assert crash is not None and crash.severity is Severity.CRITICAL


def test_a_comparison_over_a_longer_gap_names_its_start() -> None:
    alert = price_move_alert(
        COPPER,
        PricePoint("copper", AT, 90.0, "f"),
        PricePoint("copper", AT - timedelta(days=3), 100.0, "f"),
        POLICY,
        AT,
    )
    assert alert is not None and "fell 10.0% since 21 Nov 14:05 UTC to" in alert.message


def test_low_stock_is_a_warning_at_the_reorder_point_and_critical_at_the_minimum() -> None:
    reorder = assess_stock(ALUMINIUM, stock_item("aluminium", on_hand=250), [])
    warning = stock_alert(reorder, NOW)
    assert warning is not None and warning.severity is Severity.WARNING
    assert (
        warning.type is AlertType.LOW_INVENTORY and warning.dedup_key == "LOW_INVENTORY:aluminium"
    )
    assert "at or below its reorder point of 300 t: 25 days of cover" in warning.message
    assert warning.message.endswith("Order now to be covered through the 20-day lead time.")

    critical = stock_alert(assess_stock(ALUMINIUM, stock_item("aluminium", on_hand=80), []), NOW)
    assert critical is not None and critical.severity is Severity.CRITICAL
    assert "at or below its minimum of 100 t" in critical.message

    assert stock_alert(assess_stock(ALUMINIUM, stock_item("aluminium"), []), NOW) is None


@pytest.mark.parametrize(
    ("previous", "current", "alerted"),
    [
        (None, Advice.BUY_NOW, True),
        (Advice.WAIT, Advice.BUY_NOW, True),
        (Advice.MONITOR, Advice.BUY_NOW, True),
        (Advice.BUY_NOW, Advice.BUY_NOW, False),
        (Advice.BUY_NOW, Advice.WAIT, False),
        (None, Advice.MONITOR, False),
    ],
)
def test_a_buy_signal_comes_when_the_recommendation_turns_buy_now(
    previous: Advice | None, current: Advice, alerted: bool
) -> None:
    advice = CurrentAdvice("copper", current, "Forecast +3.1% beyond its uncertainty", 3.1)
    alert = buy_signal_alert(COPPER, advice, previous, NOW, PricePoint("copper", NOW, 9000, "f"))
    assert (alert is not None) is alerted
    if alert is not None:
        assert alert.type is AlertType.BUY_SIGNAL and alert.dedup_key == "BUY_SIGNAL:copper"
        assert "turned BUY NOW" in alert.message and "+3.1%" in alert.message
        assert "at 9,000 USD/t" in alert.message and "/vendors copper" in alert.message


def drop(pct: float, minutes_later: float = 0) -> Alert:
    alert = price_move_alert(
        COPPER,
        PricePoint("copper", AT, 100.0 - pct, "f"),
        PricePoint("copper", AT - timedelta(days=1), 100.0, "f"),
        POLICY,
        AT + timedelta(minutes=minutes_later),
    )
    assert alert is not None
    return alert


def test_the_same_condition_is_not_alerted_again_within_the_cooldown() -> None:
    first = drop(6.0)
    assert cooldown_allows(drop(6.5, 30), first, POLICY) is False
    assert cooldown_allows(drop(6.0, 359), first, POLICY) is False
    assert cooldown_allows(drop(6.0, 360), first, POLICY) is True
    assert cooldown_allows(drop(6.0), None, POLICY) is True


def test_a_worse_condition_is_alerted_within_the_cooldown() -> None:
    first = drop(6.0)
    # Half the threshold (2.5 points) larger: clearly worse.
    assert cooldown_allows(drop(8.5, 30), first, POLICY) is True
    assert cooldown_allows(drop(8.4, 30), first, POLICY) is False
    # Higher severity: CRITICAL at twice the threshold.
    critical = drop(10.0, 30)
    assert critical.severity is Severity.CRITICAL
    assert cooldown_allows(critical, first, POLICY) is True
    # Back down to WARNING after a CRITICAL: not worse.
    assert cooldown_allows(drop(6.0, 60), critical, POLICY) is False


def test_low_stock_is_alerted_again_within_the_cooldown_only_when_it_turns_critical() -> None:
    low = stock_alert(assess_stock(ALUMINIUM, stock_item("aluminium", on_hand=250), []), NOW)
    lower = stock_alert(assess_stock(ALUMINIUM, stock_item("aluminium", on_hand=200), []), NOW)
    critical = stock_alert(assess_stock(ALUMINIUM, stock_item("aluminium", on_hand=90), []), NOW)
    assert low is not None and lower is not None and critical is not None
    later = timedelta(hours=1)
    assert cooldown_allows(replace(lower, created_at=NOW + later), low, POLICY) is False
    assert cooldown_allows(replace(critical, created_at=NOW + later), low, POLICY) is True


def test_no_cooldown_means_every_alert_goes_out() -> None:
    policy = AlertPolicy(5.0, timedelta(0))
    assert cooldown_allows(drop(6.0), drop(6.0), policy) is True


def test_a_huge_move_is_written_with_thousands_separators() -> None:
    before = PricePoint("copper", NOW - timedelta(hours=24), 9_100.0, "f")
    new = PricePoint("copper", NOW, 910_000.0, "f")
    alert = price_move_alert(COPPER, new, before, AlertPolicy(), NOW)
    assert alert is not None and "Copper rose 9,900.0% in 24 h" in alert.message
    assert alert.facts is not None and alert.facts.change == "+9,900.0% in 24 h"


def test_stock_of_one_day_says_1_day() -> None:
    item = stock_item("copper", on_hand=10, daily_consumption=10, lead_time_days=1, minimum=50)
    alert = stock_alert(assess_stock(COPPER, item, []), NOW)
    assert alert is not None and "1 day of cover, lead time 1 day (" in alert.message
