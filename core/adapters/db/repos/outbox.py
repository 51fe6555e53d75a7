"""The delivery outbox: alerts with one delivery row per recipient, and the small job state kept
across restarts.

A delivery row moves pending -> sending -> sent | failed, or back to pending after a transient
failure (see core/delivery.py for when each step is committed relative to the send). A claim
carries a lease: a delivery left `sending` longer than LEASE (its worker died mid-send) is due
again. On PostgreSQL a claim skips rows another worker has locked (FOR UPDATE SKIP LOCKED).
A delivery to a chat in its quiet hours starts `held` instead, until they end: then it becomes
pending, or is carried by the one message that releases a chat's held alerts together, and ends
(sent or failed) when that message's delivery does (core/quiet_hours.py).
Every method is its own transaction, or joins the unit of work it is called in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.repos.alerts import ALERT_COLUMNS, SqlAlertRepo, alert_from_row
from core.adapters.db.schema import alerts, deliveries, job_state
from core.models import Alert, Channel, Delivery, DeliveryStatus, DeliverySummary, Recipient

# Longer than any send may take (a Telegram or Twilio call is bounded well below this).
LEASE = timedelta(minutes=5)

_DELIVERY = (
    deliveries.c.id,
    deliveries.c.alert_id,
    deliveries.c.channel,
    deliveries.c.address,
    deliveries.c.status,
    deliveries.c.attempts,
    deliveries.c.next_attempt_at,
    deliveries.c.detail,
)
_JOINED_ALERT = tuple(column.label(f"a_{column.name}") for column in ALERT_COLUMNS)
# Not sent yet, and not in flight: what a chat that moved or left takes with it.
_WAITING = (DeliveryStatus.PENDING.value, DeliveryStatus.HELD.value)


def _delivery(row: Any) -> Delivery:
    return Delivery(
        row.id,
        row.alert_id,
        Channel(row.channel),
        row.address,
        DeliveryStatus(row.status),
        row.attempts,
        row.next_attempt_at,
        row.detail,
    )


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    """Pending, or claimed by a worker whose lease ran out."""
    return sa.or_(
        deliveries.c.status == DeliveryStatus.PENDING.value,
        sa.and_(
            deliveries.c.status == DeliveryStatus.SENDING.value,
            deliveries.c.claimed_at < now - LEASE,
        ),
    )


def _collides_with(address: Any) -> sa.Exists:
    """The same alert has a delivery to `address` on the same channel already."""
    other = deliveries.alias("other")
    return sa.exists().where(
        other.c.alert_id == deliveries.c.alert_id,
        other.c.channel == deliveries.c.channel,
        other.c.address == address,
    )


class SqlOutbox:
    """Implements AlertOutbox, DeliveryQueue and DeliveryLog over one database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._alerts = SqlAlertRepo(db)

    # --- AlertOutbox ---

    async def record(self, alert: Alert, recipients: Sequence[Recipient]) -> Alert:
        async with self._db.transaction() as tx:
            stored = await self._alerts.add(alert)  # joins this transaction
            if recipients:
                await tx.execute(
                    self._db.insert(deliveries)
                    .values(
                        [
                            {
                                "alert_id": stored.id,
                                "channel": r.channel.value,
                                "address": r.address,
                                "next_attempt_at": r.hold_until or alert.created_at,
                                "status": (
                                    DeliveryStatus.HELD if r.hold_until else DeliveryStatus.PENDING
                                ).value,
                            }
                            for r in recipients
                        ]
                    )
                    .on_conflict_do_nothing()
                )
        return stored

    async def last_alert(self, dedup_key: str) -> Alert | None:
        # An alert none of whose deliveries can still succeed (none at all, or every one
        # failed) reached nobody: it does not start the cool-down.
        reached = sa.exists().where(
            deliveries.c.alert_id == alerts.c.id,
            deliveries.c.status != DeliveryStatus.FAILED.value,
        )
        row = await self._db.fetchone(
            sa.select(*ALERT_COLUMNS)
            .where(alerts.c.dedup_key == dedup_key, reached)
            .order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
            .limit(1)
        )
        return None if row is None else alert_from_row(row)

    # --- DeliveryQueue ---

    async def recover(self, owner: str) -> int:
        async with self._db.transaction() as tx:
            result = await tx.execute(
                sa.update(deliveries)
                .where(
                    deliveries.c.status == DeliveryStatus.SENDING.value,
                    sa.or_(deliveries.c.claimed_by.is_(None), deliveries.c.claimed_by != owner),
                )
                .values(status=DeliveryStatus.PENDING.value, claimed_by=None, claimed_at=None)
            )
            return result.rowcount

    async def due(
        self, channel: Channel, now: datetime, limit: int, skip: Sequence[int] = ()
    ) -> list[tuple[Delivery, Alert]]:
        statement = (
            sa.select(*_DELIVERY, *_JOINED_ALERT)
            .join(alerts, alerts.c.id == deliveries.c.alert_id)
            .where(
                _claimable(now),
                deliveries.c.channel == channel.value,
                deliveries.c.next_attempt_at <= now,
            )
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit + len(skip))
        )
        skipped = set(skip)
        found = [
            (_delivery(row), alert_from_row(row, prefix="a_"))
            for row in await self._db.fetchall(statement)
            if row.id not in skipped
        ]
        return found[:limit]

    async def claim(self, delivery_id: int, owner: str, now: datetime) -> Delivery | None:
        claimable = (
            sa.select(deliveries.c.id)
            .where(deliveries.c.id == delivery_id, _claimable(now))
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer anyway
            .scalar_subquery()
        )
        async with self._db.transaction() as tx:
            row = (
                await tx.execute(
                    sa.update(deliveries)
                    .where(deliveries.c.id == claimable)
                    .values(
                        status=DeliveryStatus.SENDING.value,
                        claimed_by=owner,
                        claimed_at=now,
                        attempts=deliveries.c.attempts + 1,
                    )
                    .returning(*_DELIVERY)
                )
            ).first()
            return None if row is None else _delivery(row)

    async def mark_sent(self, delivery_id: int, now: datetime) -> None:
        await self._finish(delivery_id, status=DeliveryStatus.SENT.value, sent_at=now, detail="")

    async def mark_retry(self, delivery_id: int, at: datetime, detail: str) -> None:
        await self._finish(
            delivery_id, status=DeliveryStatus.PENDING.value, next_attempt_at=at, detail=detail
        )

    async def mark_failed(self, delivery_id: int, detail: str) -> None:
        await self._finish(delivery_id, status=DeliveryStatus.FAILED.value, detail=detail)

    async def _finish(self, delivery_id: int, **values: Any) -> None:
        # Only a delivery in flight can be finished: a result that arrives after the delivery
        # was recovered or finished otherwise changes nothing.
        async with self._db.transaction() as tx:
            finished = await tx.execute(
                sa.update(deliveries)
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.status == DeliveryStatus.SENDING.value,
                )
                .values(claimed_by=None, claimed_at=None, **values)
            )
            if finished.rowcount and values["status"] != DeliveryStatus.PENDING.value:
                # The held deliveries this one carried end as it ends.
                message = (
                    sa.select(deliveries.c.alert_id)
                    .where(deliveries.c.id == delivery_id)
                    .scalar_subquery()
                )
                await tx.execute(
                    sa.update(deliveries)
                    .where(
                        deliveries.c.carried_by == message,
                        deliveries.c.status == DeliveryStatus.HELD.value,
                    )
                    .values(
                        status=values["status"],
                        sent_at=values.get("sent_at"),
                        detail=values.get("detail", ""),
                    )
                )

    async def readdress(self, delivery_id: int, new_address: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id, ~_collides_with(new_address))
                .values(address=new_address)
            )

    async def redirect(self, channel: Channel, old: str, new: str) -> int:
        waiting = sa.and_(
            deliveries.c.channel == channel.value,
            deliveries.c.address == old,
            deliveries.c.status.in_(_WAITING),
        )
        async with self._db.transaction() as tx:
            followed = await tx.execute(
                sa.update(deliveries).where(waiting, ~_collides_with(new)).values(address=new)
            )
            # Those left behind collided with a delivery of the same alert to the new address.
            await tx.execute(
                sa.update(deliveries)
                .where(waiting)
                .values(
                    status=DeliveryStatus.FAILED.value,
                    detail=f"moved to {new}, which gets this alert already",
                )
            )
            return followed.rowcount

    async def cancel(self, channel: Channel, address: str, reason: str) -> int:
        async with self._db.transaction() as tx:
            result = await tx.execute(
                sa.update(deliveries)
                .where(
                    deliveries.c.channel == channel.value,
                    deliveries.c.address == address,
                    deliveries.c.status.in_(_WAITING),
                )
                .values(status=DeliveryStatus.FAILED.value, detail=reason)
            )
            return result.rowcount

    # --- HeldDeliveries ---

    async def held_due(self, now: datetime) -> list[tuple[Delivery, Alert]]:
        rows = await self._db.fetchall(
            sa.select(*_DELIVERY, *_JOINED_ALERT)
            .join(alerts, alerts.c.id == deliveries.c.alert_id)
            .where(
                deliveries.c.status == DeliveryStatus.HELD.value,
                deliveries.c.carried_by.is_(None),
                deliveries.c.next_attempt_at <= now,
            )
            .order_by(
                deliveries.c.channel,
                deliveries.c.address,
                alerts.c.created_at,
                deliveries.c.id,
            )
        )
        return [(_delivery(row), alert_from_row(row, prefix="a_")) for row in rows]

    async def carry(self, delivery_ids: Sequence[int], carrier_alert_id: int) -> int:
        return await self._update_held(delivery_ids, carried_by=carrier_alert_id)

    async def release(self, delivery_ids: Sequence[int], at: datetime) -> int:
        return await self._update_held(
            delivery_ids, status=DeliveryStatus.PENDING.value, next_attempt_at=at
        )

    async def _update_held(self, delivery_ids: Sequence[int], **values: Any) -> int:
        async with self._db.transaction() as tx:
            result = await tx.execute(
                sa.update(deliveries)
                .where(
                    deliveries.c.id.in_(list(delivery_ids)),
                    deliveries.c.status == DeliveryStatus.HELD.value,
                    deliveries.c.carried_by.is_(None),
                )
                .values(**values)
            )
            return result.rowcount

    async def hold_until(self, channel: Channel, address: str, at: datetime) -> int:
        async with self._db.transaction() as tx:
            result = await tx.execute(
                sa.update(deliveries)
                .where(
                    deliveries.c.channel == channel.value,
                    deliveries.c.address == address,
                    deliveries.c.status == DeliveryStatus.HELD.value,
                    deliveries.c.carried_by.is_(None),
                )
                .values(next_attempt_at=at)
            )
            return result.rowcount

    # --- DeliveryLog ---

    async def summaries(self, alert_ids: Sequence[int]) -> dict[int, DeliverySummary]:
        if not alert_ids:
            return {}
        rows = await self._db.fetchall(
            sa.select(
                deliveries.c.alert_id,
                deliveries.c.status,
                deliveries.c.detail,
                sa.func.count().label("n"),
            )
            .where(deliveries.c.alert_id.in_(list(alert_ids)))
            .group_by(deliveries.c.alert_id, deliveries.c.status, deliveries.c.detail)
        )
        counts: dict[int, Counter[str]] = {}
        failures: dict[int, Counter[str]] = {}
        for row in rows:
            counts.setdefault(row.alert_id, Counter())[row.status] += row.n
            if row.status == DeliveryStatus.FAILED:
                failures.setdefault(row.alert_id, Counter())[row.detail] += row.n
        return {
            alert_id: DeliverySummary(
                total=sum(c.values()),
                sent=c[DeliveryStatus.SENT],
                failed=c[DeliveryStatus.FAILED],
                waiting=c[DeliveryStatus.PENDING]
                + c[DeliveryStatus.SENDING]
                + c[DeliveryStatus.HELD],
                failures=tuple(failures.get(alert_id, Counter()).most_common()),
                held=c[DeliveryStatus.HELD],
            )
            for alert_id, c in counts.items()
        }

    # --- for tests and operators ---

    async def deliveries(self, alert_id: int | None = None) -> list[Delivery]:
        statement = sa.select(*_DELIVERY).order_by(deliveries.c.id)
        if alert_id is not None:
            statement = statement.where(deliveries.c.alert_id == alert_id)
        return [_delivery(r) for r in await self._db.fetchall(statement)]


class SqlStateStore:
    """StateStore in the job_state table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> str | None:
        value = await self._db.scalar(sa.select(job_state.c.value).where(job_state.c.key == key))
        return None if value is None else str(value)

    async def set(self, key: str, value: str) -> None:
        row = {"key": key, "value": value, "updated_at": datetime.now(UTC)}
        async with self._db.transaction() as tx:
            await tx.execute(self._db.upsert(job_state, ["key"], row))
