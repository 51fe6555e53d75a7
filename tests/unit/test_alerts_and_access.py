from datetime import timedelta

from core.access import AccessPolicy
from core.alerts import AlertService
from core.models import Alert, AlertType, Role, Severity
from tests.fakes import COPPER, NOW, FakeAlertRepo, FakeUserRepo


def alert(minutes_ago: int, material: str = "copper") -> Alert:
    return Alert(
        AlertType.PRICE_DROP,
        Severity.WARNING,
        material,
        f"moved {minutes_ago}",
        NOW - timedelta(minutes=minutes_ago),
        f"drop:{material}",
    )


async def test_alert_history_is_newest_first_and_limited() -> None:
    service = AlertService(FakeAlertRepo([alert(30), alert(10), alert(20)]))
    history = await service.history(limit=2)
    assert [a.message for a in history] == ["moved 10", "moved 20"]


async def test_alert_history_for_one_material() -> None:
    service = AlertService(FakeAlertRepo([alert(1, "steel"), alert(2, "copper")]))
    assert [a.material for a in await service.history(10, COPPER)] == ["copper"]


async def test_access_is_denied_by_default() -> None:
    users = FakeUserRepo()
    policy = AccessPolicy(frozenset({1}), frozenset({2}), users)
    await users.grant(3, Role.BUYER, 1, NOW)
    assert await policy.role_of(1) is Role.ADMIN
    assert await policy.role_of(2) is Role.BUYER
    assert await policy.role_of(3) is Role.BUYER
    assert await policy.role_of(4) is None
