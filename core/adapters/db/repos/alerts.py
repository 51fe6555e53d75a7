"""Alerts as raised (their deliveries are in the outbox)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import alerts
from core.models import Action, Alert, AlertFacts, AlertType, Severity

# The message types /alerts lists (not digests and the like).
_ALERT_TYPES = [t.value for t in AlertType if t.is_alert]

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
    alerts.c.chat,
    alerts.c.actions,
)


def alert_from_row(row: Any, prefix: str = "") -> Alert:
    """An alert from a row selecting ALERT_COLUMNS (each labelled `prefix` + its name)."""

    def column(name: str) -> Any:
        return getattr(row, prefix + name)

    facts, actions = column("facts"), column("actions")
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
        column("chat"),
        () if actions is None else tuple(Action(*pair) for pair in json.loads(actions)),
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
                    chat=alert.chat,
                    actions=json.dumps([[a.label, a.command] for a in alert.actions])
                    if alert.actions
                    else None,
                )
                .returning(alerts.c.id)
            )
        return dataclasses.replace(alert, id=alert_id)

    async def recent(
        self, limit: int, material: str | None = None, chat: str | None = None
    ) -> list[Alert]:
        audience: sa.ColumnElement[bool] = alerts.c.chat.is_(None)
        if chat is not None:
            audience = sa.or_(audience, alerts.c.chat == chat)
        statement = (
            sa.select(*ALERT_COLUMNS)
            .where(alerts.c.type.in_(_ALERT_TYPES), audience)
            .order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
        )
        if material is not None:
            statement = statement.where(alerts.c.material == material)
        return [alert_from_row(r) for r in await self._db.fetchall(statement.limit(limit))]
