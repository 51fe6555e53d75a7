"""Repositories over the SQLite database; every statement is parameterised."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import aiosqlite

from core.adapters.sqlite import (
    Database,
    from_db_date,
    from_db_time,
    to_db_date,
    to_db_time,
)
from core.models import (
    Alert,
    AlertFacts,
    AlertType,
    Channel,
    InventoryItem,
    Invite,
    Material,
    PricePoint,
    Role,
    Severity,
    Subscription,
    User,
    VendorQuote,
)


class SqliteMaterialRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[Material]:
        rows = await self._db.fetchall(
            "SELECT key, name, unit, currency, aliases FROM materials ORDER BY rowid"
        )
        return [
            Material(r["key"], r["name"], r["unit"], r["currency"], tuple(json.loads(r["aliases"])))
            for r in rows
        ]

    async def upsert(self, material: Material) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                """INSERT INTO materials (key, name, unit, currency, aliases)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (key) DO UPDATE SET name = excluded.name, unit = excluded.unit,
                       currency = excluded.currency, aliases = excluded.aliases""",
                (
                    material.key,
                    material.name,
                    material.unit,
                    material.currency,
                    json.dumps(list(material.aliases)),
                ),
            )


def _price(row: aiosqlite.Row) -> PricePoint:
    return PricePoint(row["material"], from_db_time(row["at"]), row["price"], row["source"])


class SqlitePriceRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, points: Sequence[PricePoint]) -> int:
        """Stores the points not stored yet (same material, time and source); returns how many."""
        async with self._db.transaction() as tx:
            # rowcount counts the rows this statement inserted, not those its triggers wrote
            cursor = await tx.executemany(
                "INSERT OR IGNORE INTO prices (material, at, price, source) VALUES (?, ?, ?, ?)",
                [(p.material, to_db_time(p.at), p.price, p.source) for p in points],
            )
            return max(cursor.rowcount, 0)

    async def latest(self, material: str) -> PricePoint | None:
        row = await self._db.fetchone(
            """SELECT material, at, price, source FROM prices WHERE material = ?
               ORDER BY at DESC, id DESC""",
            (material,),
        )
        return None if row is None else _price(row)

    async def at_or_before(self, material: str, at: datetime) -> PricePoint | None:
        row = await self._db.fetchone(
            """SELECT material, at, price, source FROM prices WHERE material = ? AND at <= ?
                ORDER BY at DESC, id DESC""",
            (material, to_db_time(at)),
        )
        return None if row is None else _price(row)

    async def history(self, material: str, since: datetime) -> list[PricePoint]:
        rows = await self._db.fetchall(
            """SELECT material, at, price, source FROM prices WHERE material = ? AND at >= ?
               ORDER BY at, id""",
            (material, to_db_time(since)),
        )
        return [_price(r) for r in rows]

    async def daily_closes(self, material: str, since: date) -> list[tuple[date, float]]:
        rows = await self._db.fetchall(
            "SELECT day, price FROM daily_closes WHERE material = ? AND day >= ? ORDER BY day",
            (material, since.isoformat()),
        )
        return [(date.fromisoformat(r["day"]), r["price"]) for r in rows]

    async def delete(self, material: str, at: datetime) -> int:
        """Removes the material's points at `at`; the daily_closes trigger keeps that right."""
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "DELETE FROM prices WHERE material = ? AND at = ?", (material, to_db_time(at))
            )
            return cursor.rowcount

    async def count(self, source: str | None = None) -> int:
        row = await self._db.fetchone(
            "SELECT count(*) FROM prices WHERE ? IS NULL OR source = ?", (source, source)
        )
        return int(row[0]) if row else 0

    async def delete_source(self, source: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM prices WHERE source = ?", (source,))


class SqliteInventoryRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[InventoryItem]:
        rows = await self._db.fetchall(
            """SELECT material, on_hand, unit, daily_consumption, minimum, lead_time_days,
                      updated_at
               FROM inventory ORDER BY material"""
        )
        return [
            InventoryItem(
                r["material"],
                r["on_hand"],
                r["unit"],
                r["daily_consumption"],
                r["minimum"],
                r["lead_time_days"],
                from_db_time(r["updated_at"]),
            )
            for r in rows
        ]

    async def upsert(self, item: InventoryItem) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                """INSERT INTO inventory (material, on_hand, unit, daily_consumption, minimum,
                                          lead_time_days, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (material) DO UPDATE SET on_hand = excluded.on_hand,
                       unit = excluded.unit, daily_consumption = excluded.daily_consumption,
                       minimum = excluded.minimum, lead_time_days = excluded.lead_time_days,
                       updated_at = excluded.updated_at""",
                (
                    item.material,
                    item.on_hand,
                    item.unit,
                    item.daily_consumption,
                    item.minimum,
                    item.lead_time_days,
                    to_db_time(item.updated_at),
                ),
            )

    async def consumption(self, material: str, since: date) -> list[float]:
        rows = await self._db.fetchall(
            "SELECT quantity FROM consumption WHERE material = ? AND day >= ? ORDER BY day",
            (material, since.isoformat()),
        )
        return [r["quantity"] for r in rows]

    async def record_consumption(self, material: str, daily: Sequence[tuple[date, float]]) -> None:
        async with self._db.transaction() as tx:
            await tx.executemany(
                """INSERT INTO consumption (material, day, quantity) VALUES (?, ?, ?)
                   ON CONFLICT (material, day) DO UPDATE SET quantity = excluded.quantity""",
                [(material, day.isoformat(), quantity) for day, quantity in daily],
            )


class SqliteVendorRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def quotes(self, material: str) -> list[VendorQuote]:
        rows = await self._db.fetchall(
            """SELECT vendor, material, price, currency, rating, delivery_days, min_order_qty,
                      valid_until
               FROM vendor_quotes WHERE material = ? ORDER BY vendor""",
            (material,),
        )
        return [
            VendorQuote(
                r["vendor"],
                r["material"],
                r["price"],
                r["currency"],
                r["rating"],
                r["delivery_days"],
                r["min_order_qty"],
                from_db_date(r["valid_until"]),
            )
            for r in rows
        ]

    async def replace(self, material: str, quotes: Sequence[VendorQuote]) -> None:
        """Makes `quotes` the material's only quotes."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM vendor_quotes WHERE material = ?", (material,))
            await tx.executemany(
                """INSERT INTO vendor_quotes (vendor, material, price, currency, rating,
                                              delivery_days, min_order_qty, valid_until)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    (
                        q.vendor,
                        q.material,
                        q.price,
                        q.currency,
                        q.rating,
                        q.delivery_days,
                        q.min_order_qty,
                        to_db_date(q.valid_until),
                    )
                    for q in quotes
                ],
            )


ALERT_COLUMNS = "id, type, severity, material, message, created_at, dedup_key, magnitude, facts"


def _facts_to_db(facts: AlertFacts | None) -> str | None:
    return None if facts is None else json.dumps(dataclasses.asdict(facts))


def alert_from_row(row: aiosqlite.Row, prefix: str = "") -> Alert:
    """An alert from a row selecting ALERT_COLUMNS (each named `prefix` + column)."""

    def column(name: str) -> Any:
        return row[prefix + name]

    facts_json = column("facts")
    return Alert(
        AlertType(column("type")),
        Severity(column("severity")),
        column("material"),
        column("message"),
        from_db_time(column("created_at")),
        column("dedup_key"),
        column("id"),
        column("magnitude"),
        None if facts_json is None else AlertFacts(**json.loads(facts_json)),
    )


class SqliteAlertRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, alert: Alert) -> Alert:
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                """INSERT INTO alerts (type, severity, material, message, created_at, dedup_key,
                                       magnitude, facts)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    alert.type.value,
                    alert.severity.value,
                    alert.material,
                    alert.message,
                    to_db_time(alert.created_at),
                    alert.dedup_key,
                    alert.magnitude,
                    _facts_to_db(alert.facts),
                ),
            )
            alert_id = cursor.lastrowid
        return dataclasses.replace(alert, id=alert_id)

    async def recent(self, limit: int, material: str | None = None) -> list[Alert]:
        rows = await self._db.fetchall(
            f"""SELECT {ALERT_COLUMNS} FROM alerts
               WHERE ? IS NULL OR material = ?
               ORDER BY created_at DESC, id DESC LIMIT ?""",  # noqa: S608 (a constant)
            (material, material, limit),
        )
        return [alert_from_row(r) for r in rows]

    async def last(self, dedup_key: str) -> Alert | None:
        """The newest alert for one condition."""
        row = await self._db.fetchone(
            f"""SELECT {ALERT_COLUMNS} FROM alerts WHERE dedup_key = ?
                ORDER BY created_at DESC, id DESC""",  # noqa: S608 (a constant)
            (dedup_key,),
        )
        return None if row is None else alert_from_row(row)


def _user(row: aiosqlite.Row) -> User:
    return User(
        row["user_id"],
        Role(row["role"]),
        from_db_time(row["added_at"]),
        row["added_by"],
        row["name"],
    )


class SqliteUserRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: int) -> User | None:
        row = await self._db.fetchone(
            "SELECT user_id, role, name, added_by, added_at FROM users WHERE user_id = ?",
            (user_id,),
        )
        return None if row is None else _user(row)

    async def all(self) -> list[User]:
        rows = await self._db.fetchall(
            "SELECT user_id, role, name, added_by, added_at FROM users ORDER BY added_at, user_id"
        )
        return [_user(r) for r in rows]

    async def grant(
        self,
        user_id: int,
        role: Role,
        added_by: int | None,
        at: datetime,
        name: str | None = None,
    ) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                """INSERT INTO users (user_id, role, name, added_by, added_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (user_id) DO UPDATE
                   SET role = excluded.role, name = coalesce(excluded.name, users.name)""",
                (user_id, role.value, name, added_by, to_db_time(at)),
            )

    async def revoke(self, user_id: int) -> bool:
        async with self._db.transaction() as tx:
            cursor = await tx.execute("DELETE FROM users WHERE user_id = ?", (user_id,))
            return cursor.rowcount > 0


def _invite(row: aiosqlite.Row) -> Invite:
    return Invite(
        row["code_hash"],
        Role(row["role"]),
        row["created_by"],
        from_db_time(row["created_at"]),
        from_db_time(row["expires_at"]),
        row["used_by"],
        None if row["used_at"] is None else from_db_time(row["used_at"]),
    )


class SqliteInviteRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, invite: Invite) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                """INSERT INTO invites (code_hash, role, created_by, created_at, expires_at)
                   VALUES (?, ?, ?, ?, ?)""",
                (
                    invite.code_hash,
                    invite.role.value,
                    invite.created_by,
                    to_db_time(invite.created_at),
                    to_db_time(invite.expires_at),
                ),
            )

    async def get(self, code_hash: str) -> Invite | None:
        row = await self._db.fetchone(
            """SELECT code_hash, role, created_by, created_at, expires_at, used_by, used_at
               FROM invites WHERE code_hash = ?""",
            (code_hash,),
        )
        return None if row is None else _invite(row)

    async def claim(self, code_hash: str, user_id: int, at: datetime) -> bool:
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                """UPDATE invites SET used_by = ?, used_at = ?
                   WHERE code_hash = ? AND used_at IS NULL""",
                (user_id, to_db_time(at), code_hash),
            )
            return cursor.rowcount > 0


_SUBSCRIPTION_COLUMNS = "channel, address, added_by, created_at, disabled_reason"


def _subscription(row: aiosqlite.Row) -> Subscription:
    return Subscription(
        Channel(row["channel"]),
        row["address"],
        from_db_time(row["created_at"]),
        row["added_by"],
        row["disabled_reason"],
    )


class SqliteSubscriptionRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, subscription: Subscription) -> bool:
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                """INSERT INTO subscriptions (channel, address, added_by, created_at)
                   VALUES (?, ?, ?, ?)
                   ON CONFLICT (channel, address) DO UPDATE
                   SET disabled_reason = NULL, added_by = excluded.added_by,
                       created_at = excluded.created_at
                   WHERE disabled_reason IS NOT NULL""",
                (
                    subscription.channel.value,
                    subscription.address,
                    subscription.added_by,
                    to_db_time(subscription.created_at),
                ),
            )
            return cursor.rowcount > 0

    async def remove(self, channel: Channel, address: str) -> bool:
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "DELETE FROM subscriptions WHERE channel = ? AND address = ?",
                (channel.value, address),
            )
            return cursor.rowcount > 0

    async def get(self, channel: Channel, address: str) -> Subscription | None:
        row = await self._db.fetchone(
            f"""SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions
                WHERE channel = ? AND address = ?""",  # noqa: S608 (constants)
            (channel.value, address),
        )
        return None if row is None else _subscription(row)

    async def all(self, channel: Channel | None = None) -> list[Subscription]:
        rows = await self._db.fetchall(
            f"""SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions
                WHERE ? IS NULL OR channel = ? ORDER BY created_at, address""",  # noqa: S608
            (channel, channel),
        )
        return [_subscription(r) for r in rows]

    async def move(self, channel: Channel, old: str, new: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                """UPDATE OR REPLACE subscriptions SET address = ?
                   WHERE channel = ? AND address = ?""",
                (new, channel.value, old),
            )

    async def disable(self, channel: Channel, address: str, reason: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE subscriptions SET disabled_reason = ? WHERE channel = ? AND address = ?",
                (reason, channel.value, address),
            )
