"""A chat's quiet hours: its WARNING and INFO alerts wait until they end, and then arrive as one
message; CRITICAL alerts are never held.

How a held alert travels, all of it in the outbox (core/adapters/db/repos/outbox.py):
1. When an alert is recorded for a chat in its quiet hours, that chat's delivery is `held`,
   due when they end (the local end time on the chat's clock, as UTC).
2. `release` (run every minute) takes the held deliveries that are due. A chat with one gets
   it back as an ordinary pending delivery. A chat with more gets one HELD_ALERTS message
   listing them, recorded with its own delivery in the same transaction that marks the held
   ones as carried by it; they end (sent or failed) when that delivery does.
A crash loses nothing: each step is one transaction, and a second process releasing at the same
moment finds the deliveries carried already and rolls its message back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import groupby

from core.domain.digests import held_text
from core.domain.local_time import QuietHours
from core.models import (
    SEVERITY_RANK,
    Action,
    Alert,
    AlertType,
    Channel,
    Delivery,
    Recipient,
    Severity,
)
from core.ports import Clock, HeldDeliveries, QuietHoursRepo, UnitOfWork

log = logging.getLogger(__name__)


def _recipient(held: tuple[Delivery, Alert]) -> tuple[Channel, str]:
    return held[0].channel, held[0].address


class _ReleasedElsewhere(Exception):
    """Another process released these held deliveries first."""


class QuietHoursService:
    """Sets a chat's quiet hours, holds its alerts during them and releases them after."""

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        hours: QuietHoursRepo,
        held: HeldDeliveries,
        clock: Clock,
    ) -> None:
        self._new_uow = new_uow
        self._hours = hours
        self._held = held
        self._clock = clock

    async def get(self, chat: str) -> QuietHours | None:
        return await self._hours.get(chat)

    async def set(self, chat: str, hours: QuietHours, by: int | None) -> datetime | None:
        """Sets (or changes) the chat's quiet hours; returns when the current ones end, if they
        are on now. Alerts held already wait for the new end (or go at once)."""
        now = self._clock.now()
        ends = hours.end_if_quiet(now)
        async with self._new_uow() as uow:
            await uow.quiet_hours.set(chat, hours, by, now)
            await uow.held.hold_until(Channel.TELEGRAM, chat, ends or now)
        log.info("Quiet hours for chat %s set to %s by user %s", chat, hours.describe(), by)
        return ends

    async def off(self, chat: str, by: int | None) -> bool:
        """Ends the chat's quiet hours (False: it had none); what they held goes out now."""
        async with self._new_uow() as uow:
            removed = await uow.quiet_hours.remove(chat)
            await uow.held.hold_until(Channel.TELEGRAM, chat, self._clock.now())
        if removed:
            log.info("Quiet hours for chat %s turned off by user %s", chat, by)
        return removed

    async def schedule(
        self, recipients: Sequence[Recipient], severity: Severity
    ) -> list[Recipient]:
        """The recipients, those in their quiet hours held until they end (not for CRITICAL)."""
        if severity is Severity.CRITICAL or not recipients:
            return list(recipients)
        hours = await self._hours.all()
        now = self._clock.now()
        scheduled = []
        for recipient in recipients:
            quiet = hours.get(recipient.address) if recipient.channel is Channel.TELEGRAM else None
            ends = quiet.end_if_quiet(now) if quiet is not None else None
            scheduled.append(replace(recipient, hold_until=ends) if ends else recipient)
        return scheduled

    async def release(self) -> int:
        """Sends on what each chat's quiet hours held, now that they are over: one alert as
        itself, more as one message. Returns how many held deliveries were released."""
        now = self._clock.now()
        released = 0
        due = await self._held.held_due(now)
        for (channel, address), group in groupby(due, key=_recipient):
            held = list(group)
            try:
                released += await self._release(channel, address, held, now)
            except _ReleasedElsewhere:
                log.info("Alerts held for %s %s were released by another process", channel, address)
        return released

    async def _release(
        self,
        channel: Channel,
        address: str,
        held: list[tuple[Delivery, Alert]],
        now: datetime,
    ) -> int:
        ids = [delivery.id for delivery, _ in held]
        if len(held) == 1:
            async with self._new_uow() as uow:
                return await uow.held.release(ids, now)
        alerts = [alert for _, alert in held]
        hours = await self._hours.get(address)
        worst = max((a.severity for a in alerts), key=SEVERITY_RANK.__getitem__)
        message = Alert(
            type=AlertType.HELD_ALERTS,
            severity=worst,
            material=None,
            message=held_text(alerts, hours, now),
            created_at=now,
            dedup_key=f"{AlertType.HELD_ALERTS}:{address}",
            chat=address,
            actions=(Action("All alerts", "/alerts 20"),),
        )
        async with self._new_uow() as uow:
            carrier = await uow.outbox.record(message, [Recipient(channel, address)])
            assert carrier.id is not None
            if await uow.held.carry(ids, carrier.id) != len(ids):
                raise _ReleasedElsewhere  # rolls the message back
        log.info("Released %d alerts held for %s %s as one message", len(ids), channel, address)
        return len(ids)
