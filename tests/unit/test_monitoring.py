"""Raising alerts from new prices, stock and recommendations, with the cool-down."""

import logging
from datetime import timedelta

import pytest

from core.alert_rules import AlertPolicy
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from core.models import (
    Advice,
    AlertType,
    Channel,
    CurrentAdvice,
    PricePoint,
    Recipient,
    Severity,
    Subscription,
)
from core.monitoring import AlertMonitor
from core.recipients import RecipientDirectory
from tests.fakes import (
    MATERIALS,
    NOW,
    FakeAdviceSource,
    FakeClock,
    FakeInventoryRepo,
    FakeOutbox,
    FakePriceRepo,
    FakeStateStore,
    FakeSubscriptionRepo,
    stock_item,
)

CATALOG = MaterialCatalog(MATERIALS)


class World:
    """An AlertMonitor over fakes, with one Telegram chat and one WhatsApp number."""

    def __init__(self, cooldown_minutes: int = 360, whatsapp: bool = True) -> None:
        self.clock = FakeClock()
        self.prices = FakePriceRepo([PricePoint("copper", NOW - timedelta(days=1), 9000.0, "f")])
        self.inventory = FakeInventoryRepo([stock_item("copper", on_hand=1000)])
        self.outbox = FakeOutbox()
        self.state = FakeStateStore()
        self.advice = FakeAdviceSource()
        self.subscriptions = FakeSubscriptionRepo()
        self.recipients = RecipientDirectory(
            self.subscriptions, self.clock, ("+4915112345678",), whatsapp, self.outbox
        )
        self.monitor = AlertMonitor(
            CATALOG,
            self.prices,
            InventoryService(CATALOG, self.inventory, self.clock),
            self.outbox,
            self.recipients,
            self.state,
            self.clock,
            AlertPolicy(5.0, timedelta(minutes=cooldown_minutes)),
            self.advice,
        )

    async def subscribe(self, chat: str) -> None:
        await self.subscriptions.add(Subscription(Channel.TELEGRAM, chat, NOW))

    async def price(self, value: float, minutes: float = 0) -> None:
        self.clock.advance(minutes=minutes)
        await self.prices.add([PricePoint("copper", self.clock.now(), value, "f")])


async def test_a_sharp_move_is_recorded_with_one_delivery_per_recipient() -> None:
    world = World()
    await world.subscribe("-100")
    await world.subscribe("42")
    await world.subscriptions.add(Subscription(Channel.TELEGRAM, "7", NOW, disabled_reason="x"))
    world.advice.advice["copper"] = CurrentAdvice("copper", Advice.WAIT)
    await world.price(8442.0)

    (alert,) = await world.monitor.check_prices()
    assert alert.type is AlertType.PRICE_DROP and alert.id == 1
    assert alert.message == "Copper fell 6.2% in 24 h to 8,442 USD/t (12:00 UTC). Forecast: WAIT."
    recipients = {Recipient(d.channel, d.address) for d in world.outbox.deliveries.values()}
    assert recipients == {
        Recipient(Channel.TELEGRAM, "-100"),
        Recipient(Channel.TELEGRAM, "42"),
        Recipient(Channel.WHATSAPP, "+4915112345678"),
    }


async def test_a_price_is_checked_once_and_the_cooldown_holds_repeats_back() -> None:
    world = World()
    await world.price(8500.0)
    assert len(await world.monitor.check_prices()) == 1
    assert await world.monitor.check_prices() == []  # the same price is not checked again

    await world.price(8450.0, minutes=5)  # still about 6% down: same condition, not worse
    assert await world.monitor.check_prices() == []
    await world.price(8200.0, minutes=5)  # 8.9%: half the threshold more than 5.6%
    (worse,) = await world.monitor.check_prices()
    assert "fell 8.9%" in worse.message
    await world.price(8000.0, minutes=5)  # 11.1%: critical
    (critical,) = await world.monitor.check_prices()
    assert critical.severity is Severity.CRITICAL

    await world.price(8010.0, minutes=360)  # the cool-down is over; the move persists
    assert len(await world.monitor.check_prices()) == 1
    assert [a.message.split(" to ")[0] for a in world.outbox.alerts] == [
        "Copper fell 5.6% in 24 h",
        "Copper fell 8.9% in 24 h",
        "Copper fell 11.1% in 24 h",
        "Copper fell 11.0% since 23 Nov 12:00 UTC",  # the last price at least 24 h before
    ]


async def test_a_price_without_one_a_day_before_raises_nothing() -> None:
    world = World()
    world.prices.points.clear()
    await world.price(100.0)
    await world.price(50.0, minutes=60)
    assert await world.monitor.check_prices() == []


async def test_low_stock_is_alerted_once_per_cooldown_and_again_when_critical() -> None:
    world = World()
    world.inventory.items = [stock_item("aluminium", on_hand=250)]
    (low,) = await world.monitor.check_stock()
    assert low.severity is Severity.WARNING and low.facts is not None
    world.clock.advance(hours=1)
    assert await world.monitor.check_stock() == []
    world.inventory.items = [stock_item("aluminium", on_hand=80)]
    world.clock.advance(hours=1)
    (critical,) = await world.monitor.check_stock()
    assert critical.severity is Severity.CRITICAL


async def test_a_buy_signal_is_raised_when_the_recommendation_turns_and_not_after_a_restart() -> (
    None
):
    world = World()
    world.advice.advice["copper"] = CurrentAdvice("copper", Advice.WAIT)
    assert await world.monitor.check_advice() == []
    world.advice.advice["copper"] = CurrentAdvice("copper", Advice.BUY_NOW, "Cover is short", 2.4)
    (signal,) = await world.monitor.check_advice()
    assert "turned BUY NOW (was WAIT), expecting +2.4%" in signal.message
    assert "Cover is short." in signal.message

    world.clock.advance(hours=7)  # past the cool-down: still BUY NOW is no new turn
    assert await world.monitor.check_advice() == []
    restarted = World()
    restarted.state, restarted.monitor._state = world.state, world.state
    restarted.advice.advice = world.advice.advice
    assert await restarted.monitor.check_advice() == []


async def test_whatsapp_numbers_get_nothing_while_whatsapp_is_off() -> None:
    world = World(whatsapp=False)
    await world.subscribe("-100")
    await world.price(8000.0)
    await world.monitor.check_prices()
    assert [d.channel for d in world.outbox.deliveries.values()] == [Channel.TELEGRAM]


async def test_an_alert_with_no_recipients_is_still_recorded_for_the_history() -> None:
    world = World(whatsapp=False)
    await world.price(8000.0)
    (alert,) = await world.monitor.check_prices()
    assert world.outbox.alerts == [alert] and world.outbox.deliveries == {}


async def test_recommendations_that_fail_do_not_stop_price_alerts() -> None:
    class Broken:
        async def current(self) -> dict[str, CurrentAdvice]:
            raise RuntimeError("forecast store locked")

    world = World()
    world.monitor._advice = Broken()
    await world.price(8000.0)
    (alert,) = await world.monitor.check_prices()
    assert "Forecast" not in alert.message


async def test_an_alert_that_reached_no_recipient_does_not_start_the_cool_down() -> None:
    world = World(whatsapp=False)
    world.inventory.items = [stock_item("aluminium", on_hand=250)]
    (unheard,) = await world.monitor.check_stock()  # nobody subscribed yet
    world.clock.advance(minutes=5)
    assert await world.monitor.check_stock() == []  # not recorded again for nobody
    await world.subscribe("42")
    world.clock.advance(minutes=5)
    (heard,) = await world.monitor.check_stock()  # the new chat hears of it at the next check
    assert [d.address for d in world.outbox.deliveries.values()] == ["42"]
    assert heard.message == unheard.message.replace("12:00", "12:10")
    world.clock.advance(minutes=5)
    assert await world.monitor.check_stock() == []  # now the cool-down holds


async def test_an_alert_whose_deliveries_all_failed_does_not_start_the_cool_down() -> None:
    world = World(whatsapp=False)
    await world.subscribe("42")
    world.inventory.items = [stock_item("aluminium", on_hand=250)]
    (first,) = await world.monitor.check_stock()
    [delivery] = world.outbox.deliveries.values()
    await world.outbox.claim(delivery.id, "worker", NOW)
    await world.outbox.mark_failed(delivery.id, "Bad Request: chat not found")
    await world.subscribe("43")
    world.clock.advance(minutes=5)
    (again,) = await world.monitor.check_stock()
    assert again.id != first.id


async def test_the_cool_down_hold_back_is_logged_once_per_condition(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World()
    world.inventory.items = [
        stock_item("aluminium", on_hand=250),
        stock_item("steel", on_hand=250),
    ]
    with caplog.at_level(logging.INFO, logger="core.monitoring"):
        assert len(await world.monitor.check_stock()) == 2
        for _ in range(12):  # an hour of 5-minute checks
            world.clock.advance(minutes=5)
            assert await world.monitor.check_stock() == []
    held = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Held back")]
    assert len(held) == 2  # one per condition
    assert {line.split(")")[0] for line in held} == {
        "Held back by the cool-down (LOW_INVENTORY:aluminium",
        "Held back by the cool-down (LOW_INVENTORY:steel",
    }
