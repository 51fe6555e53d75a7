"""Subscriptions: who may manage them, and keeping them true to what a channel reports."""

import logging

import pytest

from core.errors import UserError
from core.models import Alert, AlertType, Channel, Role, SendResult, SendStatus, Severity
from core.subscriptions import SubscriptionService, SubscriptionUpkeep
from tests.fakes import NOW, FakeClock, FakeSubscriptionRepo

TELEGRAM = Channel.TELEGRAM
ALERT = Alert(AlertType.LOW_INVENTORY, Severity.WARNING, "copper", "low", NOW, "low:copper")


class ScriptedNotifier:
    channel = Channel.TELEGRAM

    def __init__(self, result: SendResult) -> None:
        self.result = result
        self.sent: list[str] = []

    async def send(self, address: str, alert: Alert) -> SendResult:
        self.sent.append(address)
        return self.result


@pytest.fixture
def service() -> SubscriptionService:
    return SubscriptionService(FakeSubscriptionRepo(), FakeClock())


def test_in_a_group_only_admins_manage_alerts() -> None:
    SubscriptionService.check_may_manage(Role.ADMIN, is_group=True)
    SubscriptionService.check_may_manage(Role.BUYER, is_group=False)
    with pytest.raises(UserError, match="Only admins may subscribe or unsubscribe a group"):
        SubscriptionService.check_may_manage(Role.BUYER, is_group=True)
    with pytest.raises(UserError):
        SubscriptionService.check_may_manage(None, is_group=False)


async def test_subscribe_is_idempotent_and_unsubscribe_removes(
    service: SubscriptionService,
) -> None:
    assert await service.subscribe(TELEGRAM, "42", by=1)
    assert not await service.subscribe(TELEGRAM, "42", by=1)
    assert [s.address for s in await service.active()] == ["42"]
    assert await service.unsubscribe(TELEGRAM, "42")
    assert not await service.unsubscribe(TELEGRAM, "42")


async def test_a_blocked_chat_is_unsubscribed_with_a_log_line_and_can_come_back(
    service: SubscriptionService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await service.subscribe(TELEGRAM, "42", by=1)
    upkeep = SubscriptionUpkeep(
        ScriptedNotifier(SendResult(SendStatus.FAILED, "Forbidden: blocked", disable=True)),
        service,
    )
    result = await upkeep.send("42", ALERT)
    assert result.disable and await service.active() == []
    subscription = await service.get(TELEGRAM, "42")
    assert subscription is not None and subscription.disabled_reason == "Forbidden: blocked"
    assert "Unsubscribed telegram 42: Forbidden: blocked" in caplog.text
    assert await service.subscribe(TELEGRAM, "42", by=1)  # re-subscribing enables it again
    assert [s.address for s in await service.active()] == ["42"]


async def test_a_moved_group_keeps_its_subscription(service: SubscriptionService) -> None:
    await service.subscribe(TELEGRAM, "-42", by=1)
    upkeep = SubscriptionUpkeep(
        ScriptedNotifier(SendResult(SendStatus.SENT, moved_to="-10042")), service
    )
    assert (await upkeep.send("-42", ALERT)).status is SendStatus.SENT
    assert [s.address for s in await service.active()] == ["-10042"]
    await service.moved(TELEGRAM, "-42", "-10042")  # told twice: nothing changes
    assert [s.address for s in await service.active()] == ["-10042"]


async def test_transient_failures_change_nothing(service: SubscriptionService) -> None:
    await service.subscribe(TELEGRAM, "42", by=1)
    upkeep = SubscriptionUpkeep(
        ScriptedNotifier(SendResult(SendStatus.RETRY, "502", retry_after=3)), service
    )
    assert (await upkeep.send("42", ALERT)).status is SendStatus.RETRY
    assert [s.address for s in await service.active()] == ["42"]
    assert upkeep.channel is Channel.TELEGRAM
