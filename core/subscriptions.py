"""Which chats and numbers get alerts, and keeping that list true to what the channels report."""

from __future__ import annotations

import logging

from core.errors import UserError
from core.models import Alert, Channel, Role, SendResult, Subscription
from core.ports import Clock, Notifier, SubscriptionRepo

log = logging.getLogger(__name__)


class SubscriptionService:
    """Subscribes and unsubscribes recipients; follows moved chats and drops unreachable ones."""

    def __init__(self, subscriptions: SubscriptionRepo, clock: Clock) -> None:
        self._subscriptions = subscriptions
        self._clock = clock

    @staticmethod
    def check_may_manage(role: Role | None, is_group: bool) -> None:
        """Anyone with access manages alerts for their own private chat; a group's, only admins."""
        if role is None:
            raise UserError("Only people with access may manage alerts.")
        if is_group and role is not Role.ADMIN:
            raise UserError(
                "Only admins may subscribe or unsubscribe a group; ask one of them, or send "
                "/subscribe to me in a private chat."
            )

    async def subscribe(self, channel: Channel, address: str, by: int | None) -> bool:
        """True if newly subscribed (or re-enabled), False if it was subscribed already."""
        added = await self._subscriptions.add(
            Subscription(channel, address, self._clock.now(), added_by=by)
        )
        if added:
            log.info("Subscribed %s %s (by user %s)", channel, address, by)
        return added

    async def unsubscribe(self, channel: Channel, address: str) -> bool:
        removed = await self._subscriptions.remove(channel, address)
        if removed:
            log.info("Unsubscribed %s %s on request", channel, address)
        return removed

    async def get(self, channel: Channel, address: str) -> Subscription | None:
        for subscription in await self._subscriptions.all(channel):
            if subscription.address == address:
                return subscription
        return None

    async def active(self, channel: Channel | None = None) -> list[Subscription]:
        return [s for s in await self._subscriptions.all(channel) if s.active]

    async def moved(self, channel: Channel, old: str, new: str) -> None:
        """Keeps the subscription of `old` under `new` (a group that became a supergroup)."""
        if old == new:
            return
        if await self.get(channel, old) is None:
            return
        await self._subscriptions.move(channel, old, new)
        log.info("Subscription of %s %s moved to %s", channel, old, new)

    async def unreachable(self, channel: Channel, address: str, reason: str) -> None:
        """Stops alerts to a recipient that can never be reached (it blocked the bot)."""
        subscription = await self.get(channel, address)
        if subscription is None or not subscription.active:
            return
        await self._subscriptions.disable(channel, address, reason)
        log.warning("Unsubscribed %s %s: %s", channel, address, reason)

    async def record(self, channel: Channel, address: str, result: SendResult) -> None:
        """Applies what a delivery attempt taught us about the recipient."""
        if result.moved_to is not None:
            await self.moved(channel, address, result.moved_to)
        if result.disable:
            await self.unreachable(channel, address, result.detail or "refused by the channel")


class SubscriptionUpkeep:
    """A Notifier that sends through another and then keeps the subscriptions current: a chat
    that blocked the bot is unsubscribed, a group that became a supergroup is followed."""

    def __init__(self, notifier: Notifier, subscriptions: SubscriptionService) -> None:
        self._notifier = notifier
        self._subscriptions = subscriptions
        self.channel = notifier.channel

    async def send(self, address: str, alert: Alert) -> SendResult:
        result = await self._notifier.send(address, alert)
        await self._subscriptions.record(self.channel, address, result)
        return result
