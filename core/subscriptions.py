"""Alert subscriptions as chats manage them: /subscribe and /unsubscribe, and who may.

What the channels report about a subscribed chat (it blocked the bot, it became a supergroup)
is applied by core/recipients.py, the one place that keeps the recipients true to that.
"""

from __future__ import annotations

import logging

from core.errors import UserError
from core.models import Channel, Role, Subscription
from core.ports import Clock, DeliveryQueue, SubscriptionRepo

log = logging.getLogger(__name__)

UNSUBSCRIBED = "unsubscribed"


class SubscriptionService:
    """Subscribes and unsubscribes chats; an unsubscribed chat gets none of the alerts still
    waiting for it either."""

    def __init__(
        self, subscriptions: SubscriptionRepo, clock: Clock, queue: DeliveryQueue | None = None
    ) -> None:
        self._subscriptions = subscriptions
        self._clock = clock
        self._queue = queue

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
        """True if it was subscribed; its pending deliveries are dropped."""
        removed = await self._subscriptions.remove(channel, address)
        if removed:
            dropped = await self._queue.cancel(channel, address, UNSUBSCRIBED) if self._queue else 0
            log.info(
                "Unsubscribed %s %s on request (%d pending dropped)", channel, address, dropped
            )
        return removed

    async def get(self, channel: Channel, address: str) -> Subscription | None:
        return await self._subscriptions.get(channel, address)

    async def active(self, channel: Channel | None = None) -> list[Subscription]:
        return [s for s in await self._subscriptions.all(channel) if s.active]
