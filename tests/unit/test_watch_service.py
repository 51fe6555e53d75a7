"""Watches as chats set them and as the price polls check them, over the fakes of the ports."""

from datetime import timedelta

import pytest

from core.domain.local_time import parse_quiet_hours
from core.domain.watches import Direction, WatchKind, WatchRule, WatchState
from core.errors import UserError
from core.materials import MaterialCatalog
from core.models import AlertType, Channel, DeliveryStatus, PricePoint, Severity
from core.quiet_hours import QuietHoursService
from core.watches import WatchMonitor, WatchService
from tests.fakes import MATERIALS, NOW, FakeClock, FakeUnitOfWork

CHAT = "-100123"
ADA, BOB, EVE = 1001, 2002, 3003
BELOW = WatchRule("copper", WatchKind.BELOW, 9000)


class World:
    """The watch service and a monitor over one set of fakes; `poll` adds a copper price (a
    poll later) and runs the check, as the price job does."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.uow = FakeUnitOfWork()
        self.catalog = MaterialCatalog(MATERIALS)
        self.quiet = QuietHoursService(self.uow, self.uow.quiet_hours, self.uow.outbox, self.clock)
        self.service = WatchService(
            self.catalog, self.uow, self.uow.watches, self.uow.prices, self.clock
        )
        self.monitor = self.restart()

    def restart(self) -> WatchMonitor:
        """A new monitor over the same stored state, as after a restart."""
        self.monitor = WatchMonitor(
            self.catalog,
            self.uow,
            self.uow.watches,
            self.uow.prices,
            self.uow.state,
            self.clock,
            timedelta(hours=6),
            self.quiet,
        )
        return self.monitor

    async def price(self, value: float, material: str = "copper") -> None:
        await self.uow.prices.add([PricePoint(material, self.clock.now(), value, "feed")])

    async def poll(self, value: float, material: str = "copper") -> list[str]:
        self.clock.advance(minutes=5)
        await self.price(value, material)
        return [a.message for a in await self.monitor.check()]


@pytest.fixture
async def world() -> World:
    world = World()
    await world.price(9100)
    return world


async def test_a_watch_alerts_only_the_chat_that_set_it_once_per_crossing(world: World) -> None:
    added = await world.service.add(CHAT, BELOW, BOB)
    assert added.watch.armed and added.price is not None and added.price.price == 9100
    fired = [await world.poll(p) for p in (9050, 8990, 9010, 8980, 9046, 8999)]
    assert [len(f) for f in fired] == [0, 1, 0, 0, 0, 1]
    outbox = world.uow.outbox
    assert [a.type for a in outbox.alerts] == [AlertType.PRICE_LEVEL] * 2
    assert [(d.channel, d.address) for d in outbox.deliveries.values()] == [
        (Channel.TELEGRAM, CHAT)
    ] * 2
    [listed] = await world.service.of_chat(CHAT)
    assert listed.watch.state(world.clock.now()) is WatchState.FIRED
    assert listed.watch.triggered_price == 8999 and listed.price is not None


async def test_a_restart_between_polls_neither_repeats_nor_misses_an_alert(world: World) -> None:
    await world.service.add(CHAT, BELOW, BOB)
    assert len(await world.poll(8990)) == 1
    world.restart()
    assert await world.monitor.check() == []  # the same price, checked before the restart
    assert await world.poll(8980) == []
    assert len(await world.poll(9050)) == 0 and len(await world.poll(8970)) == 1


async def test_a_watch_set_or_removed_meanwhile_is_seen_at_the_next_poll(world: World) -> None:
    assert await world.poll(9000) == []
    first = await world.service.add(CHAT, BELOW, BOB)
    await world.service.add(CHAT, WatchRule("copper", WatchKind.ABOVE, 9500), BOB)
    await world.service.remove(CHAT, first.watch.id, BOB)
    assert await world.poll(8900) == []
    assert len(await world.poll(9600)) == 1


async def test_a_watch_removed_while_it_fires_sends_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = await world.service.add(CHAT, BELOW, BOB)
    await world.monitor.book()
    version = await world.uow.watches.version()
    await world.service.remove(CHAT, added.watch.id, BOB)

    async def before_the_removal() -> str | None:
        return version  # the removal commits after the monitor looked

    monkeypatch.setattr(world.uow.watches, "version", before_the_removal)
    assert await world.poll(8900) == []
    assert world.uow.outbox.alerts == []
    assert len(await world.monitor.book()) == 0


async def test_an_expired_watch_stays_silent(world: World) -> None:
    await world.service.add(CHAT, BELOW, BOB, lasts_days=1)
    world.clock.advance(days=1)
    assert await world.poll(8900) == []
    [listed] = await world.service.of_chat(CHAT)
    assert listed.watch.state(world.clock.now()) is WatchState.EXPIRED


async def test_a_move_watch_compares_with_the_price_its_window_before(world: World) -> None:
    rule = WatchRule("copper", WatchKind.MOVE, 3, Direction.DOWN, days=2)
    await world.service.add(CHAT, rule, BOB)
    world.clock.advance(days=2)
    assert await world.poll(8900) == []  # -2.2% against 9,100 two days before
    [message] = await world.poll(8800)  # -3.3%
    assert message.startswith("Copper fell 3.3% in 2 days to 8,800 USD/t")
    assert await world.poll(8750) == []  # in the cool-down, not clearly larger


async def test_the_same_condition_twice_is_refused_but_a_finished_one_makes_way(
    world: World,
) -> None:
    await world.service.add(CHAT, BELOW, BOB)
    with pytest.raises(UserError, match=r"watches Copper below 9,000 USD/t already: watch #1"):
        await world.service.add(CHAT, BELOW, ADA)
    once = WatchRule("copper", WatchKind.ABOVE, 9200, once=True)
    first = await world.service.add(CHAT, once, BOB)
    assert len(await world.poll(9300)) == 1
    again = await world.service.add(CHAT, once, BOB)
    assert again.replaced is not None and again.replaced.id == first.watch.id
    assert not again.watch.armed  # 9,300 is above 9,200 already: it waits for a crossing
    assert [w.watch.id for w in await world.service.of_chat(CHAT)] == [1, 3]


async def test_a_chat_may_have_so_many_watches(world: World) -> None:
    small = WatchService(
        world.catalog, world.uow, world.uow.watches, world.uow.prices, world.clock, 2
    )
    for level in (1, 2):
        await small.add(CHAT, WatchRule("copper", WatchKind.BELOW, level), BOB)
    with pytest.raises(UserError, match="This chat has 2 watches, as many as it may have"):
        await small.add(CHAT, BELOW, BOB)


async def test_in_a_group_only_the_author_or_an_admin_removes_a_watch(world: World) -> None:
    bobs = await world.service.add(CHAT, BELOW, BOB)
    await world.service.add(CHAT, WatchRule("steel", WatchKind.ABOVE, 600), EVE)
    with pytest.raises(UserError, match="set by someone else: only they or an admin"):
        await world.service.remove(CHAT, bobs.watch.id, EVE)
    removal = await world.service.remove(CHAT, None, EVE)
    assert [w.rule.material for w in removal.removed] == ["steel"] and removal.kept == 1
    assert (await world.service.remove(CHAT, bobs.watch.id, ADA, is_admin=True)).removed


async def test_a_number_that_is_not_this_chats_watch_gets_the_chats_numbers(world: World) -> None:
    await world.service.add(CHAT, BELOW, BOB)
    other = await world.service.add("777", BELOW, BOB)
    with pytest.raises(UserError, match=r"no watch #2 in this chat: its watches are #1 "):
        await world.service.remove(CHAT, other.watch.id, BOB)


async def test_a_removal_can_be_undone_by_who_removed_it(world: World) -> None:
    await world.service.add(CHAT, BELOW, BOB)
    await world.service.add(CHAT, WatchRule("steel", WatchKind.ABOVE, 600), BOB)
    removal = await world.service.remove(CHAT, None, BOB)
    assert await world.service.restore(CHAT, removal.removed[0].id, EVE) == []
    restored = await world.service.restore(CHAT, removal.removed[0].id, BOB)
    assert [w.id for w in restored] == [1, 2]
    assert await world.service.restore(CHAT, 1, BOB) == []  # twice: nothing more


async def test_quiet_hours_hold_a_watch_alert_but_never_a_critical_one(world: World) -> None:
    world.clock.current = NOW.replace(hour=23)
    await world.quiet.set(CHAT, parse_quiet_hours("22:00-07:00"), BOB)
    await world.service.add(CHAT, BELOW, BOB)
    await world.service.add(CHAT, WatchRule("copper", WatchKind.MOVE, 2), BOB)
    world.clock.advance(days=1)
    await world.poll(8000)  # below 9,000, and -12% in a day: twice the threshold
    statuses = {
        world.uow.outbox.alerts[d.alert_id - 1].severity: d.status
        for d in world.uow.outbox.deliveries.values()
    }
    assert statuses == {
        Severity.WARNING: DeliveryStatus.HELD,
        Severity.CRITICAL: DeliveryStatus.PENDING,
    }
