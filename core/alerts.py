"""Alert history, with how each alert's delivery went."""

from __future__ import annotations

from dataclasses import dataclass

from core.models import Alert, DeliverySummary, Material
from core.ports import AlertRepo, DeliveryLog

MAX_HISTORY = 100


@dataclass(frozen=True)
class AlertRecord:
    """An alert and how its delivery went (None where deliveries are not tracked)."""

    alert: Alert
    delivery: DeliverySummary | None


class AlertService:
    """Answers "what has the bot warned us about, and did it reach everyone?"."""

    def __init__(self, alerts: AlertRepo, deliveries: DeliveryLog | None = None) -> None:
        self._alerts = alerts
        self._deliveries = deliveries

    async def history(
        self, limit: int = 10, material: Material | None = None, chat: str | None = None
    ) -> list[Alert]:
        """The newest `limit` alerts (at most `MAX_HISTORY`), optionally for one material: those
        to every subscriber, and those for `chat` only (its watches')."""
        key = material.key if material else None
        return await self._alerts.recent(min(limit, MAX_HISTORY), key, chat)

    async def report(
        self, limit: int = 10, material: Material | None = None, chat: str | None = None
    ) -> list[AlertRecord]:
        """Like `history`, with each alert's delivery summary."""
        alerts = await self.history(limit, material, chat)
        ids = [a.id for a in alerts if a.id is not None]
        summaries = await self._deliveries.summaries(ids) if self._deliveries and ids else {}
        if self._deliveries is None:
            return [AlertRecord(a, None) for a in alerts]
        return [
            AlertRecord(a, summaries.get(a.id, DeliverySummary()) if a.id is not None else None)
            for a in alerts
        ]
