"""Alerts as raised (their deliveries are in the outbox)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import alerts
from core.models import Alert, AlertFacts, AlertType, Severity

ALERT_COLUMNS = (
    alerts.c.id,
    alerts.c.type,
    alerts.c.severity,
    alerts.c.material,
    alerts.c.message,
    alerts.c.created_at,
    alerts.c.dedup_key,
    alerts.c.magnitude,
    alerts.c.facts,
)


def alert_from_row(row: Any, prefix: str = "") -> Alert:
    """An alert from a row selecting ALERT_COLUMNS (each labelled `prefix` + its name)."""

    def column(name: str) -> Any:
        return getattr(row, prefix + name)

    facts = column("facts")
    return Alert(
        AlertType(column("type")),
        Severity(column("severity")),
        column("material"),
        column("message"),
        column("created_at"),
        column("dedup_key"),
        column("id"),
        column("magnitude"),
        None if facts is None else AlertFacts(**json.loads(facts)),
    )


class SqlAlertRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, alert: Alert) -> Alert:
        async with self._db.transaction() as tx:
            alert_id = await tx.scalar(
                sa.insert(alerts)
                .values(
                    type=alert.type.value,
                    severity=alert.severity.value,
                    material=alert.material,
                    message=alert.message,
                    created_at=alert.created_at,
                    dedup_key=alert.dedup_key,
                    magnitude=alert.magnitude,
                    facts=None
                    if alert.facts is None
                    else json.dumps(dataclasses.asdict(alert.facts)),
                )
                .returning(alerts.c.id)
            )
        return dataclasses.replace(alert, id=alert_id)

    async def recent(self, limit: int, material: str | None = None) -> list[Alert]:
        statement = sa.select(*ALERT_COLUMNS).order_by(
            alerts.c.created_at.desc(), alerts.c.id.desc()
        )
        if material is not None:
            statement = statement.where(alerts.c.material == material)
        return [alert_from_row(r) for r in await self._db.fetchall(statement.limit(limit))]
