"""Alert history."""

from __future__ import annotations

from core.models import Alert, Material
from core.ports import AlertRepo

MAX_HISTORY = 100


class AlertService:
    """Answers "what has the bot warned us about?"."""

    def __init__(self, alerts: AlertRepo) -> None:
        self._alerts = alerts

    async def history(self, limit: int = 10, material: Material | None = None) -> list[Alert]:
        """The newest `limit` alerts (at most `MAX_HISTORY`), optionally for one material."""
        key = material.key if material else None
        return await self._alerts.recent(min(limit, MAX_HISTORY), key)
