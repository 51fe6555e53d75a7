from datetime import date

import pytest

from core.vendors import VendorService, rank_quotes
from tests.fakes import COPPER, FakeClock, FakeVendorRepo, quote

TODAY = date(2026, 11, 24)


def test_cheapest_fastest_best_rated_vendor_scores_100_and_is_picked() -> None:
    ranking = rank_quotes(
        COPPER,
        [
            quote("Slow", price=9000, delivery_days=30, rating=3.0),
            quote("Best", price=9000, delivery_days=5, rating=5.0),
            quote("Dear", price=9900, delivery_days=5, rating=5.0),
        ],
        TODAY,
    )
    assert ranking.best is not None and ranking.best.quote.vendor == "Best"
    assert ranking.best.score == pytest.approx(100)
    assert [r.quote.vendor for r in ranking.ranked] == ["Best", "Dear", "Slow"]
    assert "lowest valid price" in ranking.why and "fastest delivery" in ranking.why


def test_score_weighs_price_delivery_and_rating() -> None:
    ranking = rank_quotes(
        COPPER,
        [
            quote("A", price=9000, delivery_days=10, rating=5.0),
            quote("B", price=10000, delivery_days=20, rating=2.5),
        ],
        TODAY,
    )
    b = next(r for r in ranking.ranked if r.quote.vendor == "B")
    assert b.score == pytest.approx(50 * 0.9 + 30 * 0.5 + 20 * 0.5)


def test_expired_quote_is_flagged_and_never_the_pick() -> None:
    ranking = rank_quotes(
        COPPER,
        [
            quote("Expired", price=8000, delivery_days=1, valid_until=date(2026, 11, 1)),
            quote("Valid", price=9000, delivery_days=10, rating=4.0),
        ],
        TODAY,
    )
    assert ranking.best is not None and ranking.best.quote.vendor == "Valid"
    assert ranking.ranked[-1].quote.vendor == "Expired" and ranking.ranked[-1].expired
    assert "only valid quote" in ranking.why


def test_all_quotes_expired_means_no_pick_and_ask_for_fresh_quotes() -> None:
    ranking = rank_quotes(COPPER, [quote("Old", valid_until=date(2026, 1, 1))], TODAY)
    assert ranking.best is None
    assert "fresh quotes" in ranking.why


def test_quote_in_another_currency_is_listed_but_not_compared() -> None:
    ranking = rank_quotes(
        COPPER, [quote("Euro", price=100, currency="EUR"), quote("Dollar")], TODAY
    )
    assert ranking.best is not None and ranking.best.quote.vendor == "Dollar"
    euro = next(r for r in ranking.ranked if r.quote.vendor == "Euro")
    assert not euro.comparable


def test_why_names_the_price_gap_and_the_runner_up() -> None:
    ranking = rank_quotes(
        COPPER,
        [
            quote("Fast", price=9300, delivery_days=3, rating=4.8),
            quote("Cheap", price=9000, delivery_days=30, rating=3.5),
        ],
        TODAY,
    )
    assert ranking.best is not None and ranking.best.quote.vendor == "Fast"
    assert "3.3% above the cheapest (Cheap)" in ranking.why
    assert "next is Cheap" in ranking.why


async def test_material_without_quotes_says_so() -> None:
    ranking = await VendorService(FakeVendorRepo(), FakeClock()).ranking(COPPER)
    assert ranking.ranked == [] and ranking.best is None
    assert ranking.why == "No vendor quotes for Copper yet."


def test_an_expired_quote_neither_sets_the_scores_nor_outscores_the_pick() -> None:
    ranking = rank_quotes(
        COPPER,
        [
            quote(
                "Expired", price=8000, delivery_days=1, rating=5.0, valid_until=date(2026, 11, 1)
            ),
            quote("Valid", price=9000, delivery_days=10, rating=5.0),
        ],
        TODAY,
    )
    valid, expired = ranking.ranked
    assert valid.score == pytest.approx(100)  # the cheapest and fastest of the valid quotes
    assert expired.quote.vendor == "Expired" and expired.score is None and expired.comparable
    assert ranking.best is valid
    shown = [r.score for r in ranking.ranked if r.score is not None]
    assert ranking.best.score == max(shown)
