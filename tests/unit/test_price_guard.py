"""Implausible feed prices are held, not believed: not stored, shown, alerted or forecast on,
until the next prices confirm them or an admin accepts them."""

import logging
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from core.access import AccessPolicy
from core.alert_rules import AlertPolicy
from core.errors import UserError
from core.feeds import PricePoller
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from core.models import Channel, FeedRow, PricePoint, Role, Severity, User
from core.monitoring import AlertMonitor
from core.price_guard import PriceGuard
from core.prices import PriceService
from core.recipients import RecipientDirectory
from tests.fakes import (
    COPPER,
    MATERIALS,
    NOW,
    FakeClock,
    FakeFeed,
    FakeInventoryRepo,
    FakeOutbox,
    FakePriceRepo,
    FakeStateStore,
    FakeSubscriptionRepo,
    FakeUserRepo,
    daily_prices,
)

CATALOG = MaterialCatalog(MATERIALS)
ADMIN, OTHER_ADMIN = 1, 7
NICKEL_CSV = Path(__file__).resolve().parents[3] / "shared/data/real-prices/nickel.csv"


class Rig:
    """A feed polled through the guard into the price repository, with the alert rules and
    the outbox behind it, as the bot wires them."""

    def __init__(
        self, state: FakeStateStore | None = None, history: tuple[float, ...] = (9000.0, 9100.0)
    ) -> None:
        self.clock = FakeClock()
        self.prices = FakePriceRepo(daily_prices("copper", history))
        self.state = state or FakeStateStore()
        self.outbox = FakeOutbox()
        self.users = FakeUserRepo()
        subscriptions = FakeSubscriptionRepo()
        self.recipients = RecipientDirectory(subscriptions, self.clock, queue=self.outbox)
        access = AccessPolicy(frozenset({ADMIN}), frozenset(), self.users, self.clock)
        self.guard = PriceGuard(
            CATALOG, self.prices, self.state, self.clock, 50.0, self.outbox, access
        )
        self.monitor = AlertMonitor(
            CATALOG,
            self.prices,
            InventoryService(CATALOG, FakeInventoryRepo(), self.clock),
            self.outbox,
            self.recipients,
            FakeStateStore(),
            self.clock,
            AlertPolicy(),
        )
        self.feed = FakeFeed()
        self.poller = PricePoller(self.feed, CATALOG, self.prices, self.clock, self.guard)

    async def poll(self, price: float, material: str = "copper") -> None:
        """One poll of the feed, an hour after the last, with the price rules after it."""
        self.clock.advance(hours=1)
        self.feed.answers.append([FeedRow(material, price, self.clock.now(), "row")])
        await self.poller.poll()
        await self.monitor.check_prices()

    async def latest(self) -> float:
        latest = await self.prices.latest("copper")
        assert latest is not None
        return latest.price


@pytest.mark.parametrize("typo", [910_000.0, 1e308, 91.0])
async def test_a_mistyped_price_is_held_not_stored_shown_or_alerted(
    typo: float, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig()
    rig.users.users[OTHER_ADMIN] = User(OTHER_ADMIN, Role.ADMIN, NOW)  # granted at run time
    with caplog.at_level(logging.INFO):
        await rig.poll(typo)
    assert await rig.latest() == 9100.0  # not stored, so /price, charts, forecasts never see it
    summary = await PriceService(CATALOG, rig.prices).summary(COPPER)
    assert summary.latest is not None and summary.latest.price == 9100.0
    [held] = (await rig.guard.held(COPPER)).points
    assert held.price == typo
    [note] = rig.outbox.alerts  # no price alert to subscribers: one INFO note to the admins
    assert note.severity is Severity.INFO and "held as implausible" in note.message
    assert "/prices accept copper" in note.message
    assert {(d.channel, d.address) for d in rig.outbox.deliveries.values()} == {
        (Channel.TELEGRAM, str(ADMIN)),
        (Channel.TELEGRAM, str(OTHER_ADMIN)),
    }
    logged = [r.getMessage() for r in caplog.records if r.name == "core.price_guard"]
    assert len(logged) == 1 and logged[0].startswith("Held copper price")


async def test_a_held_price_is_accepted_when_the_next_three_prices_confirm_it() -> None:
    rig = Rig()
    await rig.poll(18_500.0)  # the feed moved to a new level (say, a new contract)
    for price in (18_400.0, 18_600.0):
        await rig.poll(price)
        assert await rig.latest() == 9100.0
    await rig.poll(18_550.0)
    assert await rig.latest() == 18_550.0
    stored = [p.price for p in await rig.prices.history("copper", NOW)]
    assert stored[-4:] == [18_500.0, 18_400.0, 18_600.0, 18_550.0]  # each at its own time
    assert (await rig.guard.held(COPPER)).points == ()
    # Now accepted, the move is alerted like any other.
    assert [a.severity for a in rig.outbox.alerts] == [Severity.INFO, Severity.CRITICAL]


async def test_a_price_back_at_the_accepted_level_discards_the_held_one() -> None:
    rig = Rig()
    await rig.poll(910_000.0)
    await rig.poll(9_120.0)
    assert await rig.latest() == 9_120.0
    assert (await rig.guard.held(COPPER)).points == ()
    for price in (9_130.0, 9_140.0, 9_150.0):
        await rig.poll(price)
    assert 910_000.0 not in [p.price for p in rig.prices.points]


async def test_held_prices_survive_a_restart() -> None:
    state = FakeStateStore()
    first = Rig(state)
    await first.poll(910_000.0)
    assert "held_prices:copper" in state.values
    again = Rig(state)
    [held] = (await again.guard.held(COPPER)).points
    assert held.price == 910_000.0


async def test_an_admin_accepts_or_drops_held_prices() -> None:
    rig = Rig()
    await rig.poll(20_000.0)
    accepted = await rig.guard.accept(COPPER)
    assert [p.price for p in accepted.points] == [20_000.0]
    assert await rig.latest() == 20_000.0
    await rig.poll(60_000.0)
    dropped = await rig.guard.drop(COPPER)
    assert [p.price for p in dropped.points] == [60_000.0]
    assert await rig.latest() == 20_000.0 and await rig.guard.all_held() == []


async def test_admins_get_one_note_per_material_within_the_interval() -> None:
    rig = Rig()
    await rig.poll(910_000.0)
    await rig.poll(9_120.0)  # discarded
    await rig.poll(910_000.0)  # held again, an hour later
    assert len((await rig.guard.held(COPPER)).points) == 1
    assert len(rig.outbox.alerts) == 1


async def test_nickels_44_percent_day_in_march_2022_passes() -> None:
    rig = Rig(history=())
    await rig.guard.admit(daily_prices("copper", [29_800.0]))
    rig.clock.advance(days=1)
    admission = await rig.guard.admit(
        [PricePoint("copper", NOW + timedelta(days=1), 42_995.0, "t")]
    )
    assert admission.stored == 1 and admission.held == []


@pytest.mark.skipif(not NICKEL_CSV.exists(), reason="../shared/data/real-prices is absent")
async def test_no_day_of_eighteen_years_of_real_nickel_prices_is_held() -> None:
    frame = pd.read_csv(NICKEL_CSV).dropna(subset=["cash_settlement"])
    closes = frame["cash_settlement"].astype(float).tolist()
    rig = Rig(history=())
    points = daily_prices("copper", closes, end=NOW - timedelta(days=1))
    admission = await rig.guard.admit(points)
    assert admission.held == [] and admission.stored == len(points) > 4000


async def test_deleting_a_stored_point_needs_its_time_to_name_one() -> None:
    rig = Rig()
    at = NOW.replace(minute=5, second=17)
    await rig.prices.add([PricePoint("copper", at, 910_000.0, "csv")])
    await rig.prices.add([PricePoint("copper", at + timedelta(seconds=20), 9_150.0, "csv")])
    minute = NOW.replace(minute=5)
    with pytest.raises(UserError, match=r"2 Copper prices are stored then .*12:05:17 UTC"):
        await rig.guard.delete(COPPER, minute, timedelta(minutes=1))
    with pytest.raises(UserError, match="No Copper price is stored at 2026-11-24 12:06 UTC"):
        await rig.guard.delete(COPPER, NOW.replace(minute=6), timedelta(minutes=1))
    gone = await rig.guard.delete(COPPER, at, timedelta(seconds=1))
    assert gone.price == 910_000.0
    assert await rig.latest() == 9_150.0
