"""How purchasing reads the rest of the bot: the adapters of the ports in core/ports_purchasing.py
over the other core services (stock figures, forecasts, roles, the outbox). The composition root
(bot/bootstrap.py) builds them; tests use the hand-written fakes instead."""

from __future__ import annotations

import logging

from core.access import AccessPolicy
from core.domain.purchasing import Notice, NoticeKind, PriceOutlook, StockPosition
from core.errors import UserError
from core.inventory import InventoryService
from core.models import Action, Alert, AlertType, Channel, Material, Recipient, Role, Severity
from core.ports import AlertOutbox, Clock, ForecastRepo

log = logging.getLogger(__name__)


class InventoryFigures:
    """StockFigures over the inventory service: on hand from the ledger, daily use, safety
    stock and lead time as /stock shows them."""

    def __init__(self, inventory: InventoryService) -> None:
        self._inventory = inventory

    async def position(self, material: Material) -> StockPosition | None:
        try:
            status = await self._inventory.status(material)
        except UserError:  # no stock recorded
            return None
        return StockPosition(
            on_hand=max(status.item.on_hand, 0.0),
            daily_use=status.daily_use,
            safety_stock=status.safety_stock,
            lead_time_days=status.item.lead_time_days,
        )


class ForecastOutlooks:
    """Outlooks from the stored forecast (made by the retrain job): the last close and the
    calibrated forecast at the horizon. None when there is no forecast yet; /order then leaves
    out the price risk rather than wait for a fit."""

    def __init__(self, forecasts: ForecastRepo, horizon: int) -> None:
        self._forecasts = forecasts
        self._horizon = horizon

    async def outlook(self, material: str) -> PriceOutlook | None:
        forecast = await self._forecasts.latest(material, self._horizon)
        if forecast is None or not forecast.yhat:
            return None
        try:
            return PriceOutlook(
                now=forecast.last_price,
                price=forecast.yhat[-1],
                lower=forecast.lower[-1],
                upper=forecast.upper[-1],
                days=forecast.horizon,
            )
        except ValueError:  # a forecast outside its own interval: no risk to show
            log.warning("The stored forecast of %s has no usable interval", material)
            return None


class RoleApprovers:
    """ApproverDirectory over the access policy: everyone whose role is approver or admin,
    from the settings and granted at run time."""

    def __init__(self, access: AccessPolicy) -> None:
        self._access = access

    async def approvers(self) -> list[int]:
        members = await self._access.members()
        candidates = {
            *members.admins,
            *members.approvers,
            *(u.user_id for u in members.granted),
        }
        deciding = (Role.APPROVER, Role.ADMIN)
        return sorted([c for c in candidates if await self._access.role_of(c) in deciding])


# The buttons each kind of notice comes with.
_ACTIONS = {
    NoticeKind.APPROVAL: ("✅ Approve", "❌ Reject"),
    NoticeKind.REMINDER: ("✅ Approve", "❌ Reject"),
}


class OutboxNotices:
    """PurchaseNotices through the outbox: each notice a PURCHASE message for its one chat,
    stored with its delivery in the unit of work open in this task, sent once that commits.
    A request to decide on comes with Approve and Reject buttons."""

    def __init__(self, outbox: AlertOutbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    async def post(self, notice: Notice) -> None:
        actions: tuple[Action, ...] = ()
        if notice.kind in _ACTIONS:
            approve, reject = _ACTIONS[notice.kind]
            actions = (
                Action(approve, f"/approve {notice.purchase_id}"),
                Action(reject, f"/reject {notice.purchase_id}"),
            )
        elif notice.kind is NoticeKind.OUTCOME:
            actions = (Action("📦 Orders", "/orders"),)
        chat = str(notice.chat_id)
        message = f"{notice.title}\n{notice.text}" if notice.title else notice.text
        await self._outbox.record(
            Alert(
                type=AlertType.PURCHASE,
                severity=Severity.INFO,
                material=None,
                message=message,
                created_at=self._clock.now(),
                dedup_key=f"{AlertType.PURCHASE}:{notice.purchase_id}:{notice.kind}:{chat}",
                chat=chat,
                actions=actions,
            ),
            [Recipient(Channel.TELEGRAM, chat)],
        )
