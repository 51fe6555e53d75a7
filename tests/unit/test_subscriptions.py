"""Subscriptions: who may manage them; subscribing, and unsubscribing with what waits."""

import pytest

from core.errors import UserError
from core.models import Alert, AlertType, Channel, DeliveryStatus, Recipient, Role, Severity
from core.subscriptions import SubscriptionService
from tests.fakes import NOW, FakeClock, FakeOutbox, FakeSubscriptionRepo

TELEGRAM = Channel.TELEGRAM
ALERT = Alert(AlertType.LOW_INVENTORY, Severity.WARNING, "copper", "low", NOW, "low:copper")


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


async def test_unsubscribing_drops_the_alerts_still_waiting_for_the_chat() -> None:
    outbox = FakeOutbox()
    service = SubscriptionService(FakeSubscriptionRepo(), FakeClock(), outbox)
    await service.subscribe(TELEGRAM, "42", by=1)
    await outbox.record(ALERT, [Recipient(TELEGRAM, "42"), Recipient(TELEGRAM, "43")])
    assert await service.unsubscribe(TELEGRAM, "42")
    statuses = {d.address: (d.status, d.detail) for d in outbox.deliveries.values()}
    assert statuses == {
        "42": (DeliveryStatus.FAILED, "unsubscribed"),
        "43": (DeliveryStatus.PENDING, ""),
    }
