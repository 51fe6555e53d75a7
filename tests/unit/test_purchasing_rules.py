"""The purchasing rules (core/domain/purchasing.py) on hand-computed examples."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from core.domain.purchasing import (
    Inbound,
    PriceOutlook,
    Purchase,
    PurchaseState,
    StockPosition,
    cover_target,
    days_until,
    inbound_covers,
    material_report,
    may_buy,
    may_cancel,
    may_decide,
    month_span,
    needed_quantity,
    needs_approval,
    open_order_sort_key,
    overdue,
    parse_po_number,
    po_number,
    price_option,
    reminder_due,
    round_to_terms,
    stock_out_day,
    suggest,
    unit_price,
    waiting_risk,
)
from core.errors import UserError
from core.models import Advice, Severity
from tests.purchasing_fakes import Break, Terms

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
# Daily use 10 t, lead time 20 days, safety stock 50 t: the cover target with 7 review days
# is 10 x (20 + 7) + 50 = 320 t.
POSITION = StockPosition(on_hand=150.0, daily_use=10.0, safety_stock=50.0, lead_time_days=20)
# 40 t on its way, due in 5 days.
INBOUND = [Inbound(40.0, TODAY + timedelta(days=5))]


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


# --- quantity ---------------------------------------------------------------------------------


def test_cover_target_is_daily_use_times_lead_time_and_review_days_plus_safety_stock() -> None:
    assert cover_target(POSITION) == 320.0
    assert cover_target(POSITION, review_days=0) == 250.0


def test_needed_quantity_subtracts_on_hand_and_open_orders_from_the_target() -> None:
    assert needed_quantity(POSITION, []) == 170.0  # 320 - 150
    assert needed_quantity(POSITION, INBOUND) == 130.0  # 320 - (150 + 40)


def test_nothing_is_needed_when_stock_and_open_orders_reach_the_target() -> None:
    plenty = [Inbound(200.0, day(3))]
    assert needed_quantity(POSITION, plenty) == 0.0
    suggestion = suggest(POSITION, plenty, [Terms("Acme", 9800.0)], "USD", TODAY)
    assert suggestion.nothing_to_order
    assert suggestion.pick is None


def test_rounding_goes_up_to_the_minimum_order_then_to_whole_packs() -> None:
    assert round_to_terms(130.0, min_order=200.0, pack_size=None) == 200.0
    assert round_to_terms(130.0, min_order=None, pack_size=25.0) == 150.0
    assert round_to_terms(130.0, min_order=None, pack_size=10.0) == 130.0  # whole packs already
    # a minimum that is not a whole number of packs: the packs win, above the minimum
    assert round_to_terms(130.0, min_order=140.0, pack_size=25.0) == 150.0
    assert round_to_terms(0.3, min_order=None, pack_size=0.1) == 0.3  # no float noise


def test_the_price_is_the_lowest_break_the_quantity_reaches() -> None:
    quote = Terms("Acme", 9900.0, breaks=(Break(25.0, 9800.0), Break(100.0, 9750.0)))
    assert unit_price(quote, 24.0) == 9900.0
    assert unit_price(quote, 25.0) == 9800.0
    assert unit_price(quote, 99.9) == 9800.0
    assert unit_price(quote, 100.0) == 9750.0


def test_an_order_goes_up_to_a_price_break_only_when_that_costs_less_in_total() -> None:
    worth_it = Terms("Acme", 10000.0, breaks=(Break(140.0, 9000.0),))
    not_worth_it = Terms("Bolt", 10000.0, breaks=(Break(150.0, 9500.0),))
    # 130 t x 10,000 = 1,300,000 against 140 t x 9,000 = 1,260,000: the larger order
    assert price_option(worth_it, 130.0, TODAY, None).quantity == 140.0
    assert price_option(worth_it, 130.0, TODAY, None).total == 1_260_000.0
    # 130 t x 10,000 = 1,300,000 against 150 t x 9,500 = 1,425,000: stays at 130 t
    assert price_option(not_worth_it, 130.0, TODAY, None).quantity == 130.0


def test_each_vendor_is_priced_at_the_need_rounded_to_its_own_terms() -> None:
    quotes = [
        Terms("Moq", 9700.0, min_order_qty=200.0),
        Terms("Packs", 9800.0, pack_size=25.0),
        Terms("Breaks", 9900.0, breaks=(Break(100.0, 9750.0),)),
    ]
    suggestion = suggest(POSITION, INBOUND, quotes, "USD", TODAY)
    assert suggestion.needed == 130.0
    priced = {o.vendor: (o.quantity, o.unit_price) for o in suggestion.options}
    assert priced == {
        "Moq": (200.0, 9700.0),
        "Packs": (150.0, 9800.0),
        "Breaks": (130.0, 9750.0),
    }
    assert suggestion.pick is not None and suggestion.pick.vendor == "Moq"  # cheapest unit price


# --- dates and vendor choice ------------------------------------------------------------------


def test_stock_out_counts_open_orders_on_their_due_days() -> None:
    # 150 t at 10 t a day lasts 15 days; 40 t arriving on day 5 adds 4 days
    assert stock_out_day(POSITION, [], TODAY) == day(15)
    assert stock_out_day(POSITION, INBOUND, TODAY) == day(19)


def test_an_order_due_after_the_stock_out_does_not_prevent_it() -> None:
    assert stock_out_day(POSITION, [Inbound(500.0, day(16))], TODAY) == day(15)


def test_an_overdue_order_is_expected_today() -> None:
    assert days_until(0.0, 150.0, 10.0, [Inbound(40.0, day(-3))], TODAY) == 19.0


def test_a_material_not_used_never_runs_out() -> None:
    idle = StockPosition(on_hand=10.0, daily_use=0.0, safety_stock=0.0, lead_time_days=5)
    assert stock_out_day(idle, [], TODAY) is None


def test_a_vendor_arriving_after_the_stock_out_is_flagged_and_not_picked() -> None:
    cheap_but_late = Terms("Slowco", 9000.0, delivery_days=25)  # arrives day 25, out on day 19
    dear_on_time = Terms("Quick", 9900.0, delivery_days=10)
    suggestion = suggest(POSITION, INBOUND, [cheap_but_late, dear_on_time], "USD", TODAY)
    assert suggestion.stock_out == day(19)
    by_vendor = {o.vendor: o for o in suggestion.options}
    assert by_vendor["Slowco"].late and not by_vendor["Quick"].late
    assert suggestion.pick is not None and suggestion.pick.vendor == "Quick"


def test_when_no_vendor_can_deliver_in_time_the_earliest_is_picked() -> None:
    quotes = [
        Terms("Late", 9000.0, delivery_days=30),
        Terms("Later", 8000.0, delivery_days=40),
    ]
    suggestion = suggest(POSITION, INBOUND, quotes, "USD", TODAY)
    assert all(o.late for o in suggestion.options)
    assert suggestion.pick is not None and suggestion.pick.vendor == "Late"


def test_arriving_on_the_stock_out_day_is_in_time() -> None:
    suggestion = suggest(
        POSITION, INBOUND, [Terms("Exact", 9000.0, delivery_days=19)], "USD", TODAY
    )
    assert suggestion.pick is not None and not suggestion.pick.late


def test_order_by_is_the_last_day_the_delivery_arrives_before_the_safety_stock_is_touched() -> None:
    # stock reaches the 50 t safety stock on day 14 (100 t used, 40 t arriving on day 5):
    # with 10 days' delivery, order by day 4
    suggestion = suggest(
        POSITION, INBOUND, [Terms("Quick", 9900.0, delivery_days=10)], "USD", TODAY
    )
    assert suggestion.pick is not None
    assert suggestion.pick.order_by == day(4)
    assert suggestion.pick.arrival == day(10)


def test_expired_quotes_and_quotes_in_another_currency_are_left_out_with_the_reason() -> None:
    quotes = [
        Terms("Old", 9000.0, valid_until=day(-1)),
        Terms("Euro", 8000.0, currency="EUR"),
        Terms("Good", 9800.0, valid_until=TODAY),
    ]
    suggestion = suggest(POSITION, INBOUND, quotes, "USD", TODAY)
    assert [o.vendor for o in suggestion.options] == ["Good"]
    assert suggestion.left_out == ("Old: expired on 23 Nov", "Euro: quoted in EUR, not USD")


def test_low_stock_is_covered_by_an_order_arriving_before_the_stock_out() -> None:
    low = StockPosition(on_hand=200.0, daily_use=10.0, safety_stock=50.0, lead_time_days=20)
    # reorder point 250 t; the stock lasts 20 days without orders
    assert not inbound_covers(low, [], TODAY)
    assert inbound_covers(low, [Inbound(100.0, day(12))], TODAY)
    assert not inbound_covers(low, [Inbound(100.0, day(25))], TODAY)  # after the stock-out
    assert not inbound_covers(low, [Inbound(40.0, day(12))], TODAY)  # 240 t: still low
    plenty = StockPosition(on_hand=400.0, daily_use=10.0, safety_stock=50.0, lead_time_days=20)
    assert not inbound_covers(plenty, [], TODAY)  # not low, but no order covers anything


# --- the price risk of waiting -----------------------------------------------------------------


def test_waiting_risk_scales_the_forecast_interval_to_the_order_cost() -> None:
    outlook = PriceOutlook(now=10000.0, price=10000.0, lower=9000.0, upper=11000.0, days=7)
    risk = waiting_risk(1_000_000.0, outlook)
    assert (risk.low, risk.high) == pytest.approx((900_000.0, 1_100_000.0))
    assert risk.chance_cheaper == pytest.approx(0.5)  # today's price is the median
    assert risk.days == 7


def test_chance_cheaper_uses_the_spread_of_the_side_todays_price_is_on() -> None:
    # forecast 10,200 (95%: 9,400-11,000), today 10,000, which is below the forecast:
    # spread = ln(10200 / 9400) / 1.96 = 0.04167, z = ln(10000 / 10200) / 0.04167 = -0.4752,
    # Phi(-0.4752) = 0.3173
    outlook = PriceOutlook(now=10000.0, price=10200.0, lower=9400.0, upper=11000.0, days=7)
    assert waiting_risk(1.0, outlook).chance_cheaper == pytest.approx(0.3173, abs=1e-4)
    # today above the forecast: the upper side's spread, and more likely cheaper than not
    falling = PriceOutlook(now=10100.0, price=10000.0, lower=9000.0, upper=10300.0, days=7)
    assert waiting_risk(1.0, falling).chance_cheaper == pytest.approx(0.7453, abs=1e-4)


def test_a_forecast_with_no_uncertainty_below_it_is_never_cheaper() -> None:
    outlook = PriceOutlook(now=9000.0, price=10000.0, lower=10000.0, upper=11000.0, days=7)
    assert waiting_risk(1.0, outlook).chance_cheaper == 0.0


def test_a_forecast_outside_its_own_interval_is_refused() -> None:
    with pytest.raises(ValueError):
        PriceOutlook(now=10000.0, price=12000.0, lower=9000.0, upper=11000.0, days=7)


# --- the state machine ----------------------------------------------------------------------


def request(**changes: object) -> Purchase:
    base = Purchase(
        material="copper",
        vendor="Acme",
        quantity=100.0,
        unit="t",
        unit_price=9800.0,
        currency="USD",
        delivery_days=14,
        requested_by=20,
        requested_by_name="Ann",
        requested_at=NOW,
        id=12,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def ordered(**changes: object) -> Purchase:
    return request(**changes).approve(30, "Olga", NOW).order("PO-2026-0001", NOW, 9700.0, None)


def test_an_approved_request_becomes_an_order_due_after_the_delivery_days() -> None:
    order = ordered()
    assert order.state is PurchaseState.ORDERED
    assert order.expected == date(2026, 12, 8)  # 24 Nov + 14 days
    assert order.po_number == "PO-2026-0001"
    assert order.approved_by == 30 and order.market_price == 9700.0
    assert order.total == 980_000.0
    assert order.label == "PO-2026-0001"


def test_partial_receipts_leave_the_rest_open_until_it_is_all_received() -> None:
    order = ordered().receive(40.0, NOW)
    assert order.state is PurchaseState.PARTIALLY_RECEIVED
    assert order.outstanding == 60.0
    order = order.receive(30.0, NOW)
    assert order.state is PurchaseState.PARTIALLY_RECEIVED and order.outstanding == 30.0
    order = order.receive(30.0, NOW)
    assert order.state is PurchaseState.RECEIVED
    assert order.outstanding == 0.0 and order.received_at == NOW


def test_a_receipt_above_the_ordered_quantity_receives_the_order() -> None:
    order = ordered().receive(105.0, NOW)
    assert order.state is PurchaseState.RECEIVED and order.received == 105.0


def test_a_request_cannot_be_received_against_nor_an_order_approved_again() -> None:
    with pytest.raises(UserError, match="Request #12 is requested: only an open order"):
        request().receive(10.0, NOW)
    with pytest.raises(UserError, match="PO-2026-0001 is ordered: only a request waiting"):
        ordered().approve(31, "Paul", NOW)


def test_final_states_allow_nothing_more() -> None:
    rejected = request().reject(30, "Olga", NOW, "too dear")
    with pytest.raises(UserError, match="is rejected"):
        rejected.cancel(20, "Ann", NOW)
    received = ordered().receive(100.0, NOW)
    with pytest.raises(UserError, match="is received"):
        received.cancel(1, "Ada", NOW)
    assert PurchaseState.RECEIVED.is_final and not PurchaseState.ORDERED.is_final


def test_a_partially_received_order_can_be_cancelled_and_keeps_what_came() -> None:
    cancelled = ordered().receive(40.0, NOW).cancel(20, "Ann", NOW, "rest not coming")
    assert cancelled.state is PurchaseState.CANCELLED
    assert cancelled.received == 40.0 and cancelled.outstanding == 0.0
    assert cancelled.reason == "rest not coming"


def test_an_undone_receipt_opens_a_received_order_again_but_not_a_cancelled_one() -> None:
    received = ordered().receive(40.0, NOW).receive(60.0, NOW)
    reopened = received.unreceive(60.0)
    assert (reopened.state, reopened.outstanding, reopened.received_at) == (
        PurchaseState.PARTIALLY_RECEIVED,
        60.0,
        None,
    )
    assert reopened.unreceive(40.0).state is PurchaseState.ORDERED
    cancelled = ordered().receive(40.0, NOW).cancel(20, "Ann", NOW)
    corrected = cancelled.unreceive(40.0)
    assert (corrected.state, corrected.received) == (PurchaseState.CANCELLED, 0.0)
    with pytest.raises(UserError, match="nothing was received"):
        request().unreceive(5.0)


def test_a_rejection_needs_a_reason() -> None:
    with pytest.raises(UserError, match="needs a reason"):
        request().reject(30, "Olga", NOW, "  ")


def test_po_numbers_count_per_year_with_four_digits() -> None:
    assert po_number(2026, 1) == "PO-2026-0001"
    assert po_number(2027, 12345) == "PO-2027-12345"
    assert parse_po_number("po-2026-0042") == (2026, 42)
    assert parse_po_number("PO-26-1") is None
    assert parse_po_number("42") is None


# --- approval rules ----------------------------------------------------------------------------


def test_at_or_below_the_limit_no_approval_is_needed() -> None:
    assert not needs_approval(980.0, 980.0)
    assert not needs_approval(100 * 9.8, 980.0)  # 980.0000000000001 is not above 980
    assert needs_approval(980.01, 980.0)
    assert needs_approval(1.0, 0.0)  # the default limit: everything needs an approver


def test_only_approvers_and_admins_other_than_the_requester_may_decide() -> None:
    waiting = request()  # requested by user 20
    may_decide(waiting, 30, "approver")
    may_decide(waiting, 1, "admin")
    may_decide(waiting, None, "admin")  # the command line
    with pytest.raises(UserError, match="Only approvers and admins"):
        may_decide(waiting, 21, "buyer")
    with pytest.raises(UserError, match="another approver or an admin must decide"):
        may_decide(request(requested_by=30), 30, "approver")
    with pytest.raises(UserError, match="another approver or an admin must decide"):
        may_decide(request(requested_by=1), 1, "admin")


def test_viewers_may_not_request_nor_receive() -> None:
    may_buy("buyer", "request purchases")
    with pytest.raises(UserError, match="Viewers cannot request purchases"):
        may_buy("viewer", "request purchases")


def test_only_the_requester_or_an_admin_may_cancel() -> None:
    may_cancel(request(), 20, "buyer")
    may_cancel(request(), 1, "admin")
    with pytest.raises(UserError, match="Only Ann or an admin may cancel request #12"):
        may_cancel(request(), 30, "approver")


def test_a_reminder_is_due_once_after_the_reminder_time() -> None:
    after = timedelta(hours=24)
    waiting = request()
    assert not reminder_due(waiting, NOW + timedelta(hours=23, minutes=59), after)
    assert reminder_due(waiting, NOW + after, after)
    reminded = waiting.remind(NOW + after)
    assert not reminder_due(reminded, NOW + timedelta(days=5), after)
    assert not reminder_due(ordered(), NOW + timedelta(days=5), after)


# --- overdue -------------------------------------------------------------------------------------


def test_an_order_is_overdue_after_its_expected_day_without_a_full_receipt() -> None:
    order = ordered()  # expected 8 Dec
    assert overdue(order, date(2026, 12, 8), POSITION) is None
    late = overdue(order, date(2026, 12, 10), None)
    assert late is not None and late.days_late == 2
    assert overdue(order.receive(100.0, NOW), date(2026, 12, 10), None) is None


def test_overdue_is_critical_when_the_stock_runs_out_before_a_delivery_could_arrive() -> None:
    order = ordered()  # 14 days' delivery, expected 8 Dec
    today = date(2026, 12, 10)
    lasting = StockPosition(on_hand=200.0, daily_use=10.0, safety_stock=50.0, lead_time_days=20)
    short = StockPosition(on_hand=100.0, daily_use=10.0, safety_stock=50.0, lead_time_days=20)
    warning = overdue(order, today, lasting)  # 20 days of stock: a delivery makes it
    critical = overdue(order, today, short)  # 10 days of stock: out before 14 days' delivery
    assert warning is not None and warning.severity is Severity.WARNING
    assert critical is not None and critical.severity is Severity.CRITICAL
    assert critical.stock_out == date(2026, 12, 20)
    # another open order arriving in time takes the critical edge off
    helped = overdue(order, today, short, [Inbound(100.0, date(2026, 12, 15))])
    assert helped is not None and helped.severity is Severity.WARNING


def test_open_orders_list_overdue_ones_first() -> None:
    today = date(2026, 12, 10)
    due_soon = ordered(id=1, delivery_days=20)  # expected 14 Dec
    overdue_long = ordered(id=2, delivery_days=5)  # expected 29 Nov
    overdue_short = ordered(id=3, delivery_days=14)  # expected 8 Dec
    orders = sorted(
        [due_soon, overdue_short, overdue_long], key=lambda p: open_order_sort_key(p, today)
    )
    assert [p.id for p in orders] == [2, 3, 1]


# --- the report ----------------------------------------------------------------------------------


def test_the_monthly_report_on_a_hand_computed_example() -> None:
    placed = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)

    def order(quantity: float, paid: float, market: float, advice: Advice | None) -> Purchase:
        return (
            request(quantity=quantity, unit_price=paid)
            .approve(30, "Olga", placed)
            .order("PO-2026-0001", placed, market, advice)
        )

    orders = [
        order(10.0, 9900.0, 9800.0, Advice.BUY_NOW),
        order(30.0, 9700.0, 9600.0, Advice.WAIT),
        order(20.0, 9500.0, 9400.0, Advice.MONITOR).cancel(20, "Ann", placed),  # nothing came
        order(50.0, 9000.0, 8800.0, None).receive(5.0, placed).cancel(20, "Ann", placed),
    ]
    # the market's daily closes over the month
    closes = [9500.0, 9700.0, 9900.0, 9700.0]
    line = material_report("copper", orders, closes)
    assert line is not None
    # counted: 10 t, 30 t and the 5 t received of the cancelled 50 t; the other cancelled
    # order brought nothing
    assert line.orders == 3
    assert line.quantity == 45.0
    # spend 10 x 9,900 + 30 x 9,700 + 5 x 9,000 = 99,000 + 291,000 + 45,000 = 435,000
    assert line.spend == pytest.approx(435_000.0)
    assert line.average_paid == pytest.approx(435_000.0 / 45)  # 9,666.67
    # market: (10 x 9,800 + 30 x 9,600 + 5 x 8,800) / 45 = 430,000 / 45 = 9,555.56
    assert line.market_average == pytest.approx(430_000.0 / 45)
    # premium: 435,000 / 430,000 - 1 = 1.1628%
    assert line.premium_pct == pytest.approx(1.16279, abs=1e-4)
    assert (line.followed, line.against) == (1, 1)  # the third counted order had no advice
    # schedule: 45 t at the mean close 9,700 with the same premium:
    # 45 x 9,700 x 435,000 / 430,000 = 441,575.58; the orders cost 6,575.58 less
    assert line.schedule_price == pytest.approx(9700.0)
    assert line.schedule_cost == pytest.approx(441_575.58, abs=0.01)
    assert line.versus_schedule == pytest.approx(-6_575.58, abs=0.01)


def test_a_report_without_market_prices_has_no_premium_nor_schedule() -> None:
    order = request().approve(30, "Olga", NOW).order("PO-2026-0001", NOW, None, None)
    line = material_report("copper", [order], [9700.0])
    assert line is not None and line.spend == 980_000.0
    assert line.premium_pct is None and line.versus_schedule is None


def test_a_month_spans_its_calendar_days_in_utc() -> None:
    start, end = month_span(date(2026, 2, 17))
    assert start == datetime(2026, 2, 1, tzinfo=UTC)
    assert end == datetime(2026, 3, 1, tzinfo=UTC)
