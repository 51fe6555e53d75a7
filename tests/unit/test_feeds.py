"""Polling a feed: bad rows refused with a reason, outages logged once, nothing raised."""

import logging
import math
import random
import statistics
from datetime import timedelta

import pytest

from core.adapters.simulated_feed import SimulatedPriceFeed, daily_volatility
from core.errors import FeedError
from core.feeds import PricePoller
from core.materials import MaterialCatalog
from core.models import FeedRow
from tests.fakes import MATERIALS, NOW, FakeClock, FakeFeed, FakePriceRepo, daily_prices

CATALOG = MaterialCatalog(MATERIALS)


def row(material: str, price: object, at: object = None, key: str = "row") -> FeedRow:
    return FeedRow(material, price, at, key)  # type: ignore[arg-type]


def poller(feed: FakeFeed, prices: FakePriceRepo | None = None) -> PricePoller:
    return PricePoller(feed, CATALOG, prices or FakePriceRepo(), FakeClock())


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


async def test_good_rows_are_stored_and_aliases_resolve() -> None:
    prices = FakePriceRepo()
    feed = FakeFeed(
        [
            row("Copper", "9000.5", "2026-11-24T10:00:00Z"),
            row("aluminum", 2500, "2026-11-24"),
            row("rebar", 540.0, "2026-11-24T11:00:00+01:00"),
        ]
    )
    result = await poller(feed, prices).poll()
    assert (result.accepted, result.stored, result.refused, result.error) == (3, 3, [], None)
    stored = {p.material: p for p in prices.points}
    assert stored["copper"].price == 9000.5 and stored["copper"].source == "fake"
    assert stored["aluminium"].at == NOW.replace(hour=0)  # a date is midnight UTC
    assert stored["steel"].at == NOW.replace(hour=10)  # converted to UTC
    assert feed.confirmed == 1


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (row("copper", "abc", key="line 7"), "line 7: price 'abc' is not a number"),
        (row("copper", "0"), "price '0' is not above zero"),
        (row("copper", -5), "price -5 is not above zero"),
        (row("copper", "NaN"), "price 'NaN' is not a finite number"),
        (row("copper", float("inf")), "price inf is not a finite number"),
        (row("copper", None), "price None is not a number"),
        (row("copper", True), "price True is not a number"),
        (row("copper", {"v": 1}), "price {'v': 1} is not a number"),
        (row("gold", "2000"), "unknown material 'gold' (known: copper, aluminium, steel)"),
        (row("copper", "9000", "yesterday"), "timestamp 'yesterday' is not ISO 8601"),
        (row("copper", "9000", "2026-11-25T12:00:00Z"), "is in the future"),
        (row("copper", "9000", ""), "no timestamp"),
        (FeedRow("", None, None, "line 9", problem="expected 3 fields, got 2"), "expected 3"),
    ],
)
async def test_bad_rows_are_refused_with_a_reason_and_never_stored(
    bad: FeedRow, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    prices = FakePriceRepo()
    feed = FakeFeed([bad, row("steel", "500", "2026-11-24T09:00:00Z")])
    with caplog.at_level(logging.INFO):
        result = await poller(feed, prices).poll()
    assert [p.material for p in prices.points] == ["steel"]
    assert len(result.refused) == 1 and reason in result.refused[0].describe()
    (warning,) = records(caplog, logging.WARNING)
    assert reason in warning and "refused" in warning


async def test_an_outage_logs_one_warning_and_one_line_when_the_feed_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed = FakeFeed(
        FeedError("HTTP 503, 3 tries"),
        FeedError("cannot connect (ConnectError), 3 tries"),
        RuntimeError("a bug in the feed"),
        [row("copper", "not a price"), row("steel", "-1")],  # garbage counts as down too
        [row("copper", "9000", "2026-11-24T11:00:00Z")],
        FeedError("HTTP 503, 3 tries"),
    )
    polling = poller(feed)
    with caplog.at_level(logging.INFO):
        results = [await polling.poll() for _ in range(4)]
        assert polling.is_down
        back = await polling.poll()
        assert not polling.is_down
        again = await polling.poll()

    assert [r.error for r in results[:3]] == [
        "HTTP 503, 3 tries",
        "cannot connect (ConnectError), 3 tries",
        "unexpected RuntimeError",
    ]
    assert back.stored == 1 and again.error is not None
    warnings = records(caplog, logging.WARNING)
    assert len(warnings) == 2  # the first outage and the second one
    assert warnings[0].startswith("Price feed fake is down: HTTP 503, 3 tries.")
    (info,) = [m for m in records(caplog, logging.INFO) if "is back" in m]
    assert "after 4 failed polls" in info


async def test_a_refusal_that_repeats_every_poll_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = row("copper", None, key="copper at rates.XCU")
    good = row("steel", "500")
    clock = FakeClock()
    feed = FakeFeed(*([[broken, good]] * 3))
    polling = PricePoller(feed, CATALOG, FakePriceRepo(), clock)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            await polling.poll()
            clock.advance(minutes=5)
    (warning,) = records(caplog, logging.WARNING)
    assert "copper at rates.XCU: price None is not a number" in warning


async def test_rows_already_stored_are_not_new_and_not_an_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = [row("copper", "9000", "2026-11-24T10:00:00Z")]
    polling = poller(FakeFeed(rows, rows))
    first, second = await polling.poll(), await polling.poll()
    assert (first.stored, second.stored, second.accepted) == (1, 0, 1)
    assert not polling.is_down


async def test_the_simulated_walk_is_the_same_for_the_same_seed() -> None:
    outcomes = []
    for _ in range(2):
        history = [9000.0 + 50 * math.sin(i) for i in range(60)]
        prices = FakePriceRepo(daily_prices("copper", history))
        clock = FakeClock(NOW + timedelta(minutes=5))
        polling = PricePoller(
            SimulatedPriceFeed(CATALOG, prices, clock, random.Random(7)), CATALOG, prices, clock
        )
        for _ in range(3):
            await polling.poll()
            clock.advance(minutes=5)
        outcomes.append([p.price for p in prices.points if p.source == "simulated"])
    assert outcomes[0] == outcomes[1] and len(outcomes[0]) == 3
    # Only materials with a price move; each step starts from the last stored price.
    assert {p.material for p in prices.points} == {"copper"}


async def test_the_simulated_walk_has_the_materials_own_volatility() -> None:
    rng = random.Random(3)
    calm = [500.0]
    for _ in range(59):
        calm.append(calm[-1] * math.exp(rng.gauss(0, 0.005)))
    wild = [9000.0]
    for _ in range(59):
        wild.append(wild[-1] * math.exp(rng.gauss(0, 0.03)))
    prices = FakePriceRepo(daily_prices("steel", calm) + daily_prices("copper", wild))
    steel_vol = daily_volatility(prices.points[:60])
    copper_vol = daily_volatility(prices.points[60:])
    assert steel_vol is not None and copper_vol is not None
    assert 0.003 < steel_vol < 0.008 and 0.02 < copper_vol < 0.045

    # One simulated day later, moves scale with each material's own volatility.
    moves: dict[str, list[float]] = {"steel": [], "copper": []}
    for seed in range(40):
        clock = FakeClock(NOW + timedelta(days=1))
        feed = SimulatedPriceFeed(CATALOG, prices, clock, random.Random(seed))
        for r in (await feed.fetch()).rows:
            last = await prices.latest(r.material)
            assert last is not None and isinstance(r.price, float)
            moves[r.material].append(math.log(r.price / last.price))
    assert statistics.pstdev(moves["copper"]) > 3 * statistics.pstdev(moves["steel"])


async def test_a_second_price_for_the_same_time_is_logged_as_a_conflict_not_dropped_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    prices = FakePriceRepo(daily_prices("copper", [9000.0], end=NOW.replace(hour=10)))
    feed = FakeFeed(
        [
            row("copper", "9100", "2026-11-24T11:00:00Z", key="line 2"),
            row("copper", "9150", "2026-11-24T11:00:00Z", key="line 3"),
            row("copper", "9100", "2026-11-24T11:00:00Z", key="line 4"),  # the same again
            row("copper", "8999", "2026-11-24T10:00:00Z", key="line 5"),  # stored already
        ]
    )
    with caplog.at_level(logging.INFO):
        result = await poller(feed, prices).poll()
    assert [p.price for p in prices.points] == [9000.0, 9100.0]  # the first is kept
    assert [c.describe() for c in result.conflicts] == [
        "line 3: conflicting duplicate: copper at 2026-11-24T11:00:00+00:00 has the price "
        "9100 already; 9150 is ignored",
        "line 5: conflicting duplicate: copper at 2026-11-24T10:00:00+00:00 has the price "
        "9000 already; 8999 is ignored",
    ]
    warnings = records(caplog, logging.WARNING)
    assert len(warnings) == 2 and all("conflicting duplicate" in w for w in warnings)
    assert not result.refused and not poller(feed, prices).is_down
