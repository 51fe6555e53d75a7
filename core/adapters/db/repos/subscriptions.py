"""Which chats and numbers get alerts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import subscriptions
from core.models import Channel, Subscription

_SUBSCRIPTION = (
    subscriptions.c.channel,
    subscriptions.c.address,
    subscriptions.c.created_at,
    subscriptions.c.added_by,
    subscriptions.c.disabled_reason,
)


def _subscription(row: Any) -> Subscription:
    return Subscription(Channel(row.channel), *row[1:])


def _one(channel: Channel, address: str) -> sa.ColumnElement[bool]:
    return sa.and_(subscriptions.c.channel == channel.value, subscriptions.c.address == address)


class SqlSubscriptionRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, subscription: Subscription) -> bool:
        statement = self._db.insert(subscriptions).values(
            channel=subscription.channel.value,
            address=subscription.address,
            added_by=subscription.added_by,
            created_at=subscription.created_at,
        )
        async with self._db.transaction() as tx:
            result = await tx.execute(
                statement.on_conflict_do_update(
                    index_elements=["channel", "address"],
                    set_={
                        "disabled_reason": None,
                        "added_by": statement.excluded.added_by,
                        "created_at": statement.excluded.created_at,
                    },
                    where=subscriptions.c.disabled_reason.is_not(None),
                )
            )
            return result.rowcount > 0

    async def remove(self, channel: Channel, address: str) -> bool:
        async with self._db.transaction() as tx:
            result = await tx.execute(sa.delete(subscriptions).where(_one(channel, address)))
            return result.rowcount > 0

    async def get(self, channel: Channel, address: str) -> Subscription | None:
        row = await self._db.fetchone(sa.select(*_SUBSCRIPTION).where(_one(channel, address)))
        return None if row is None else _subscription(row)

    async def all(self, channel: Channel | None = None) -> list[Subscription]:
        statement = sa.select(*_SUBSCRIPTION).order_by(
            subscriptions.c.created_at, subscriptions.c.address
        )
        if channel is not None:
            statement = statement.where(subscriptions.c.channel == channel.value)
        return [_subscription(r) for r in await self._db.fetchall(statement)]

    async def move(self, channel: Channel, old: str, new: str) -> None:
        """The subscription at `old` takes the place of any at `new`."""
        async with self._db.transaction() as tx:
            exists = await tx.scalar(sa.select(sa.literal(1)).where(_one(channel, old)))
            if exists is None:
                return
            await tx.execute(sa.delete(subscriptions).where(_one(channel, new)))
            await tx.execute(sa.update(subscriptions).where(_one(channel, old)).values(address=new))

    async def disable(self, channel: Channel, address: str, reason: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                sa.update(subscriptions)
                .where(_one(channel, address))
                .values(disabled_reason=reason)
            )
