"""What `procurebot status` reads besides the job state: the running instances' heartbeats and
the outbox's backlog."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import alerts, deliveries, instances
from core.health import Instance, InstanceRole, OutboxState
from core.models import DeliveryStatus

# Rows of instances that stopped beating this long ago are forgotten.
FORGET_AFTER = timedelta(days=7)


def _instance(row: Any) -> Instance:
    return Instance(
        row.id,
        InstanceRole(row.role),
        row.pid,
        row.host,
        row.version,
        row.started_at,
        row.beat_at,
        row.stopped_at,
    )


class SqlInstanceRegistry:
    """Implements core.health.InstanceRegistry in the `instances` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def beat(self, instance: Instance) -> None:
        row = {
            "id": instance.id,
            "role": instance.role.value,
            "pid": instance.pid,
            "host": instance.host,
            "version": instance.version,
            "started_at": instance.started_at,
            "beat_at": instance.beat_at,
            "stopped_at": instance.stopped_at,
        }
        async with self._db.transaction() as tx:
            await tx.execute(self._db.upsert(instances, ["id"], row))
            await tx.execute(
                sa.delete(instances).where(instances.c.beat_at < instance.beat_at - FORGET_AFTER)
            )

    async def stopped(self, instance_id: str, at: datetime) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                sa.update(instances).where(instances.c.id == instance_id).values(stopped_at=at)
            )

    async def all(self) -> list[Instance]:
        rows = await self._db.fetchall(
            sa.select(instances).order_by(instances.c.beat_at.desc(), instances.c.id)
        )
        return [_instance(r) for r in rows]


_WAITING = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)


class SqlOutboxStats:
    """Implements core.health.OutboxStats over the deliveries and their alerts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def outbox_state(self, now: datetime) -> OutboxState:
        # A delivery has no time of its own: it waits since its alert was raised.
        waiting = await self._db.fetchone(
            sa.select(
                sa.func.count().label("waiting"), sa.func.min(alerts.c.created_at).label("oldest")
            )
            .select_from(deliveries.join(alerts, alerts.c.id == deliveries.c.alert_id))
            .where(deliveries.c.status.in_(_WAITING))
        )
        failed = await self._db.scalar(
            sa.select(sa.func.count())
            .select_from(deliveries.join(alerts, alerts.c.id == deliveries.c.alert_id))
            .where(
                deliveries.c.status == DeliveryStatus.FAILED.value,
                alerts.c.created_at >= now - timedelta(hours=24),
            )
        )
        assert waiting is not None
        return OutboxState(int(waiting.waiting or 0), waiting.oldest, int(failed or 0))
