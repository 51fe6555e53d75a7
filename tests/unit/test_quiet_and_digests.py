"""Quiet hours holding and releasing alerts, and daily digests on the chat's clock, over the
fakes of the ports and a fake clock."""

from datetime import UTC, datetime, time, timedelta

import pytest

from core.alert_rules import AlertPolicy
from core.digests import DigestService
from core.domain.local_time import DailyTime, find_zone, parse_quiet_hours
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from core.models import (
    Advice,
    Alert,
    AlertType,
    Channel,
    CurrentAdvice,
    DeliveryStatus,
    Recipient,
    Severity,
    Subscription,
)
from core.monitoring import AlertMonitor
from core.prices import PriceService
from core.quiet_hours import QuietHoursService
from core.recipients import RecipientDirectory
from tests.fakes import (
    COPPER_DROP,
    MATERIALS,
    NOW,
    FakeAdviceSource,
    FakeClock,
    FakeInventoryRepo,
    FakeSubscriptionRepo,
    FakeUnitOfWork,
    daily_prices,
    stock_item,
)

CHAT, OTHER = "-100123", "777"
BERLIN = find_zone("Europe/Berlin")


def quiet_service(uow: FakeUnitOfWork, clock: FakeClock) -> QuietHoursService:
    return QuietHoursService(uow, uow.quiet_hours, uow.outbox, clock)


async def hold(uow: FakeUnitOfWork, quiet: QuietHoursService, message: str) -> Alert:
    """An alert raised now for CHAT, held if its quiet hours are on."""
    alert = Alert(
        AlertType.PRICE_DROP, Severity.WARNING, "copper", message, quiet._clock.now(), message
    )
    recipients = await quiet.schedule([Recipient(Channel.TELEGRAM, CHAT)], alert.severity)
    return await uow.outbox.record(alert, recipients)


async def test_alerts_held_overnight_arrive_as_one_message_when_the_quiet_hours_end() -> None:
    clock, uow = FakeClock(NOW.replace(hour=21, minute=30)), FakeUnitOfWork()
    quiet = quiet_service(uow, clock)
    assert await quiet.set(CHAT, parse_quiet_hours("22:00-07:00", "Europe/Berlin"), 2002)
    for text in ("Copper fell 6%", "Nickel rose 7%", "Zinc fell 5%"):
        await hold(uow, quiet, text)
        clock.advance(hours=2)
    outbox = uow.outbox
    assert {d.status for d in outbox.deliveries.values()} == {DeliveryStatus.HELD}
    assert await quiet.release() == 0  # 03:30 in Berlin: still quiet

    clock.current = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
    assert await quiet.release() == 3
    assert await quiet.release() == 0
    [(carrier, message)] = await outbox.due(Channel.TELEGRAM, clock.now(), 10)
    assert message.type is AlertType.HELD_ALERTS and message.chat == CHAT
    lines = message.message.splitlines()
    assert lines[0] == "Held during quiet hours (22:00-07:00 Europe/Berlin): 3 alerts"
    assert lines[1] == "• 24 Nov 22:30 WARNING PRICE_DROP: Copper fell 6%"
    assert lines[3].startswith("• 02:30 WARNING PRICE_DROP: Zinc fell 5%")
    claimed = await outbox.claim(carrier.id, "worker", clock.now())
    assert claimed is not None
    await outbox.mark_sent(claimed.id, clock.now())
    assert {d.status for d in outbox.deliveries.values()} == {DeliveryStatus.SENT}


async def test_a_single_held_alert_is_released_as_itself() -> None:
    clock, uow = FakeClock(NOW.replace(hour=23)), FakeUnitOfWork()
    quiet = quiet_service(uow, clock)
    await quiet.set(CHAT, parse_quiet_hours("22:00-07:00"), 2002)
    held = await hold(uow, quiet, "Copper fell 6%")
    clock.advance(hours=8)
    assert await quiet.release() == 1
    [(delivery, alert)] = await uow.outbox.due(Channel.TELEGRAM, clock.now(), 10)
    assert alert.id == held.id and delivery.next_attempt_at == clock.now()


async def test_turning_quiet_hours_off_releases_what_they_held_at_once() -> None:
    clock, uow = FakeClock(NOW.replace(hour=23)), FakeUnitOfWork()
    quiet = quiet_service(uow, clock)
    await quiet.set(CHAT, parse_quiet_hours("22:00-07:00"), 2002)
    await hold(uow, quiet, "Copper fell 6%")
    await hold(uow, quiet, "Nickel rose 7%")
    assert await quiet.off(CHAT, 2002)
    assert not await quiet.off(CHAT, 2002)
    assert await quiet.release() == 2
    assert await quiet.get(CHAT) is None


async def test_moving_quiet_hours_moves_the_end_of_what_they_hold() -> None:
    clock, uow = FakeClock(NOW.replace(hour=23)), FakeUnitOfWork()
    quiet = quiet_service(uow, clock)
    await quiet.set(CHAT, parse_quiet_hours("22:00-07:00"), 2002)
    await hold(uow, quiet, "Copper fell 6%")
    ends = await quiet.set(CHAT, parse_quiet_hours("22:00-05:00"), 2002)
    assert ends == datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
    [delivery] = uow.outbox.deliveries.values()
    assert delivery.next_attempt_at == ends


async def test_the_alert_monitor_holds_only_chats_in_their_quiet_hours_and_never_critical() -> None:
    clock, uow = FakeClock(NOW.replace(hour=23)), FakeUnitOfWork()
    quiet = quiet_service(uow, clock)
    await quiet.set(CHAT, parse_quiet_hours("22:00-07:00"), 2002)
    subscriptions = FakeSubscriptionRepo()
    for chat in (CHAT, OTHER):
        await subscriptions.add(Subscription(Channel.TELEGRAM, chat, NOW))
    catalog = MaterialCatalog(MATERIALS)
    monitor = AlertMonitor(
        catalog,
        uow.prices,
        InventoryService(catalog, FakeInventoryRepo(), clock),
        uow.outbox,
        RecipientDirectory(subscriptions, clock),
        uow.state,
        clock,
        AlertPolicy(),
        quiet=quiet,
    )
    await monitor.raise_alert(COPPER_DROP)
    critical = Alert(
        AlertType.LOW_INVENTORY, Severity.CRITICAL, "copper", "Copper is out", NOW, "low"
    )
    await monitor.raise_alert(critical)
    statuses = {(d.alert_id, d.address): d.status for d in uow.outbox.deliveries.values()}
    assert statuses == {
        (1, CHAT): DeliveryStatus.HELD,
        (1, OTHER): DeliveryStatus.PENDING,
        (2, CHAT): DeliveryStatus.PENDING,
        (2, OTHER): DeliveryStatus.PENDING,
    }


def digest_service(uow: FakeUnitOfWork, clock: FakeClock) -> DigestService:
    catalog = MaterialCatalog(MATERIALS)
    inventory = InventoryService(
        catalog, FakeInventoryRepo([stock_item("aluminium", on_hand=50)]), clock
    )
    advice = FakeAdviceSource(
        {"copper": CurrentAdvice("copper", Advice.WAIT, "expected to fall 2.5%")}
    )
    return DigestService(
        uow,
        uow.digests,
        PriceService(catalog, uow.prices),
        inventory,
        uow.outbox,
        clock,
        advice=advice,
    )


async def run_minutes(service: DigestService, clock: FakeClock, until: datetime) -> None:
    """The scheduler's job, every 10 minutes until `until`."""
    while clock.now() < until:
        clock.advance(minutes=10)
        await service.book_due()


async def test_a_digest_comes_once_a_day_at_the_local_time_across_a_daylight_saving_change() -> (
    None
):
    start = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    clock, uow = FakeClock(start), FakeUnitOfWork()
    await uow.prices.add(daily_prices("copper", [9000, 9100], end=start))
    service = digest_service(uow, clock)
    schedule = await service.set(CHAT, DailyTime(time(7, 30), BERLIN), 2002)
    assert schedule.next_at == datetime(2026, 3, 28, 6, 30, tzinfo=UTC)
    await run_minutes(service, clock, datetime(2026, 3, 29, 12, 0, tzinfo=UTC))
    service = digest_service(uow, clock)  # a restart
    await run_minutes(service, clock, datetime(2026, 3, 30, 12, 0, tzinfo=UTC))

    sent = [a.created_at for a in uow.outbox.alerts]
    local = [f"{at.astimezone(BERLIN):%d %H:%M}" for at in sent]
    assert local == ["28 07:30", "29 07:30", "30 07:30"]
    assert sent[1] - sent[0] == timedelta(hours=23)
    assert sorted(day.day for _, day in uow.digests.days) == [28, 29, 30]
    assert [d.address for d in uow.outbox.deliveries.values()] == [CHAT] * 3


async def test_a_digest_says_prices_stock_advice_and_the_days_alerts() -> None:
    clock, uow = FakeClock(), FakeUnitOfWork()
    await uow.prices.add(daily_prices("copper", [9000.0 + 10 * i for i in range(8)]))
    await uow.outbox.record(COPPER_DROP, [])
    watch_alert = Alert(
        AlertType.PRICE_LEVEL, Severity.WARNING, "copper", "Mine", NOW, "w", chat=OTHER
    )
    await uow.outbox.record(watch_alert, [])
    text = await digest_service(uow, clock).write(CHAT, BERLIN)
    lines = text.splitlines()
    assert lines[0] == "Daily digest, Tue 24 Nov 13:00 (Europe/Berlin)"
    assert "• Copper: 9,070 USD/t · +0.1% · +0.8%" in lines
    assert "• Aluminium: no price yet" in lines
    assert "Stock to order" in lines
    assert any(line.startswith("• Aluminium: 50 t, 5 days of cover, CRITICAL") for line in lines)
    assert "• Copper WAIT: expected to fall 2.5%" in lines
    assert "Alerts, last 24 h: 1" in lines and "Mine" not in text
    assert "Open orders due" not in text  # until purchasing fills the hook


async def test_a_digest_missed_by_hours_is_skipped_and_the_next_one_comes_on_time() -> None:
    clock, uow = FakeClock(NOW.replace(hour=6)), FakeUnitOfWork()
    service = digest_service(uow, clock)
    await service.set(CHAT, DailyTime(time(7, 30), find_zone(None)), 2002)
    clock.current = NOW.replace(hour=14)  # the bot was down all morning
    assert await service.book_due() == 0
    schedule = await service.get(CHAT)
    assert schedule is not None and schedule.next_at == NOW.replace(hour=7, minute=30) + timedelta(
        days=1
    )


@pytest.mark.parametrize("late_minutes", [0, 90])
async def test_a_digest_due_while_the_bot_was_briefly_down_still_comes(late_minutes: int) -> None:
    clock, uow = FakeClock(NOW.replace(hour=6)), FakeUnitOfWork()
    service = digest_service(uow, clock)
    await service.set(CHAT, DailyTime(time(7, 30), find_zone(None)), 2002)
    clock.current = NOW.replace(hour=7, minute=30) + timedelta(minutes=late_minutes)
    assert await service.book_due() == 1
    assert await service.book_due() == 0
    [digest] = uow.outbox.alerts
    assert digest.type is AlertType.DIGEST and digest.chat == CHAT
