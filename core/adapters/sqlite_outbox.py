"""The delivery outbox in SQLite: alerts with one delivery row per recipient, and the small
job state kept across restarts.

A delivery row moves pending -> sending -> sent | failed, or back to pending after a transient
failure (see core/delivery.py for when each step is committed relative to the send). Every
method here is its own transaction and has committed when it returns; every statement is
parameterised.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from core.adapters.sqlite import Database, from_db_time, to_db_time
from core.adapters.sqlite_repos import ALERT_COLUMNS, SqliteAlertRepo, alert_from_row
from core.models import (
    Alert,
    Channel,
    Delivery,
    DeliveryStatus,
    DeliverySummary,
    Recipient,
)

_DELIVERY_FIELDS = (
    "id",
    "alert_id",
    "channel",
    "address",
    "status",
    "attempts",
    "next_attempt_at",
    "detail",
)
_DELIVERY_COLUMNS = ", ".join(f"d.{name}" for name in _DELIVERY_FIELDS)
# The alert's columns in a join, each as a_<column>.
_JOINED_ALERT_COLUMNS = ", ".join(
    f"a.{name} AS a_{name}" for name in (c.strip() for c in ALERT_COLUMNS.split(","))
)


def _delivery(row: aiosqlite.Row) -> Delivery:
    return Delivery(
        row["id"],
        row["alert_id"],
        Channel(row["channel"]),
        row["address"],
        DeliveryStatus(row["status"]),
        row["attempts"],
        from_db_time(row["next_attempt_at"]),
        row["detail"],
    )


class SqliteOutbox:
    """Implements AlertOutbox, DeliveryQueue and DeliveryLog over one database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._alerts = SqliteAlertRepo(db)

    # --- AlertOutbox ---

    async def record(self, alert: Alert, recipients: Sequence[Recipient]) -> Alert:
        async with self._db.transaction() as tx:
            stored = await self._alerts.add(alert)  # joins this transaction
            await tx.executemany(
                """INSERT INTO deliveries (alert_id, channel, address, next_attempt_at)
                   VALUES (?, ?, ?, ?)
                   ON CONFLICT (alert_id, channel, address) DO NOTHING""",
                [
                    (stored.id, r.channel.value, r.address, to_db_time(alert.created_at))
                    for r in recipients
                ],
            )
        return stored

    async def last_alert(self, dedup_key: str) -> Alert | None:
        # An alert none of whose deliveries can still succeed (none at all, or every one
        # failed) reached nobody: it does not start the cool-down.
        row = await self._db.fetchone(
            f"""SELECT {ALERT_COLUMNS} FROM alerts a WHERE dedup_key = ?
                AND EXISTS (SELECT 1 FROM deliveries d
                            WHERE d.alert_id = a.id AND d.status != 'failed')
                ORDER BY created_at DESC, id DESC""",  # noqa: S608 (a constant)
            (dedup_key,),
        )
        return None if row is None else alert_from_row(row)

    # --- DeliveryQueue ---

    async def recover(self, owner: str) -> int:
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                """UPDATE deliveries SET status = 'pending', claimed_by = NULL
                   WHERE status = 'sending' AND claimed_by IS NOT ?""",
                (owner,),
            )
            return cursor.rowcount

    async def due(
        self, channel: Channel, now: datetime, limit: int, skip: Sequence[int] = ()
    ) -> list[tuple[Delivery, Alert]]:
        rows = await self._db.fetchall(
            f"""SELECT {_DELIVERY_COLUMNS}, {_JOINED_ALERT_COLUMNS}
                FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                WHERE d.status = 'pending' AND d.channel = ? AND d.next_attempt_at <= ?
                ORDER BY d.next_attempt_at, d.id LIMIT ?""",  # noqa: S608 (constants)
            (channel.value, to_db_time(now), limit + len(skip)),
        )
        skipped = set(skip)
        found = [
            (_delivery(row), alert_from_row(row, prefix="a_"))
            for row in rows
            if row["id"] not in skipped
        ]
        return found[:limit]

    async def claim(self, delivery_id: int, owner: str, now: datetime) -> Delivery | None:
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                f"""UPDATE deliveries
                    SET status = 'sending', claimed_by = ?, attempts = attempts + 1
                    WHERE id = ? AND status = 'pending'
                    RETURNING {", ".join(_DELIVERY_FIELDS)}""",  # noqa: S608 (constants)
                (owner, delivery_id),
            )
            row = await cursor.fetchone()
            return None if row is None else _delivery(row)

    async def mark_sent(self, delivery_id: int, now: datetime) -> None:
        await self._finish(
            "status = 'sent', sent_at = ?, detail = ''", (to_db_time(now),), delivery_id
        )

    async def mark_retry(self, delivery_id: int, at: datetime, detail: str) -> None:
        await self._finish(
            "status = 'pending', next_attempt_at = ?, detail = ?",
            (to_db_time(at), detail),
            delivery_id,
        )

    async def mark_failed(self, delivery_id: int, detail: str) -> None:
        await self._finish("status = 'failed', detail = ?", (detail,), delivery_id)

    async def _finish(self, assignments: str, params: tuple[object, ...], delivery_id: int) -> None:
        # Only a delivery in flight can be finished: a result that arrives after the delivery
        # was recovered or finished otherwise changes nothing.
        async with self._db.transaction() as tx:
            await tx.execute(
                f"""UPDATE deliveries SET {assignments}, claimed_by = NULL
                    WHERE id = ? AND status = 'sending'""",  # noqa: S608 (constants)
                (*params, delivery_id),
            )

    async def readdress(self, delivery_id: int, new_address: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE OR IGNORE deliveries SET address = ? WHERE id = ?",
                (new_address, delivery_id),
            )

    async def redirect(self, channel: Channel, old: str, new: str) -> int:
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                """UPDATE OR IGNORE deliveries SET address = ?
                   WHERE channel = ? AND address = ? AND status = 'pending'""",
                (new, channel.value, old),
            )
            followed = cursor.rowcount
            # Those left behind collided with a delivery of the same alert to the new address.
            await tx.execute(
                """UPDATE deliveries SET status = 'failed', detail = ?
                   WHERE channel = ? AND address = ? AND status = 'pending'""",
                (f"moved to {new}, which gets this alert already", channel.value, old),
            )
            return followed

    async def cancel(self, channel: Channel, address: str, reason: str) -> int:
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                """UPDATE deliveries SET status = 'failed', detail = ?
                   WHERE channel = ? AND address = ? AND status = 'pending'""",
                (reason, channel.value, address),
            )
            return cursor.rowcount

    # --- DeliveryLog ---

    async def summaries(self, alert_ids: Sequence[int]) -> dict[int, DeliverySummary]:
        if not alert_ids:
            return {}
        marks = ", ".join("?" for _ in alert_ids)
        rows = await self._db.fetchall(
            f"""SELECT alert_id, status, detail, count(*) AS n FROM deliveries
                WHERE alert_id IN ({marks}) GROUP BY alert_id, status, detail""",  # noqa: S608
            tuple(alert_ids),
        )
        counts: dict[int, Counter[str]] = {}
        failures: dict[int, Counter[str]] = {}
        for row in rows:
            counts.setdefault(row["alert_id"], Counter())[row["status"]] += row["n"]
            if row["status"] == DeliveryStatus.FAILED:
                failures.setdefault(row["alert_id"], Counter())[row["detail"]] += row["n"]
        return {
            alert_id: DeliverySummary(
                total=sum(c.values()),
                sent=c[DeliveryStatus.SENT],
                failed=c[DeliveryStatus.FAILED],
                waiting=c[DeliveryStatus.PENDING] + c[DeliveryStatus.SENDING],
                failures=tuple(failures.get(alert_id, Counter()).most_common()),
            )
            for alert_id, c in counts.items()
        }

    # --- for tests and operators ---

    async def deliveries(self, alert_id: int | None = None) -> list[Delivery]:
        rows = await self._db.fetchall(
            f"""SELECT {_DELIVERY_COLUMNS} FROM deliveries d
                WHERE ? IS NULL OR d.alert_id = ? ORDER BY d.id""",  # noqa: S608 (constants)
            (alert_id, alert_id),
        )
        return [_delivery(r) for r in rows]


class SqliteStateStore:
    """StateStore in the job_state table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> str | None:
        row = await self._db.fetchone("SELECT value FROM job_state WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set(self, key: str, value: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                """INSERT INTO job_state (key, value, updated_at)
                   VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                   ON CONFLICT (key) DO UPDATE
                   SET value = excluded.value, updated_at = excluded.updated_at""",
                (key, value),
            )
