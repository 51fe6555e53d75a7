"""Raising alerts: runs the rules over the stored facts, applies the cool-down, and records
each alert with its deliveries in the outbox (one transaction), ready for the delivery worker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from core.alert_rules import (
    PRICE_WINDOW,
    AlertPolicy,
    buy_signal_alert,
    cooldown_allows,
    price_move_alert,
    stock_alert,
)
from core.inventory import InventoryService, StockStatus
from core.materials import MaterialCatalog
from core.models import Advice, Alert, CurrentAdvice
from core.ports import AdviceSource, AlertOutbox, Clock, PriceRepo, StateStore
from core.quiet_hours import QuietHoursService
from core.recipients import RecipientDirectory

log = logging.getLogger(__name__)


class AlertMonitor:
    """Turns new prices, stock levels and recommendations into stored, deliverable alerts."""

    def __init__(
        self,
        catalog: MaterialCatalog,
        prices: PriceRepo,
        inventory: InventoryService,
        outbox: AlertOutbox,
        recipients: RecipientDirectory,
        state: StateStore,
        clock: Clock,
        policy: AlertPolicy,
        advice: AdviceSource | None = None,
        quiet: QuietHoursService | None = None,
    ) -> None:
        self._catalog = catalog
        self._prices = prices
        self._inventory = inventory
        self._outbox = outbox
        self._recipients = recipients
        self._state = state
        self._clock = clock
        self._policy = policy
        self._advice = advice
        # In memory: after a restart each is at worst logged or recorded once more.
        self._held_back_after: dict[str, int | None] = {}  # condition -> id of the alert
        self._unheard: dict[str, Alert] = {}  # condition -> last alert for no recipients
        self._quiet = quiet

    async def check_prices(self) -> list[Alert]:
        """Each material's latest price, if not checked before, against 24 h before it.

        The time of the last price checked is kept in the state store and moved on only after
        the alert is recorded: a crash in between checks that price again (the cool-down keeps
        it from alerting twice) rather than never.
        """
        now = self._clock.now()
        advice: Mapping[str, CurrentAdvice] | None = None
        raised = []
        for material in self._catalog:
            latest = await self._prices.latest(material.key)
            state_key = f"price-checked:{material.key}"
            checked = await self._state.get(state_key)
            if latest is None or (
                checked is not None and latest.at <= datetime.fromisoformat(checked)
            ):
                continue
            before = await self._prices.at_or_before(material.key, latest.at - PRICE_WINDOW)
            if before is not None:
                if advice is None:
                    advice = await self._current_advice()
                candidate = price_move_alert(
                    material, latest, before, self._policy, now, advice.get(material.key)
                )
                if candidate is not None and (alert := await self.raise_alert(candidate)):
                    raised.append(alert)
            await self._state.set(state_key, latest.at.isoformat())
        return raised

    async def check_stock(self) -> list[Alert]:
        """LOW_INVENTORY for every material at its reorder point or lower."""
        raised = []
        for status in await self._inventory.statuses():
            if alert := await self.check_stock_status(status):
                raised.append(alert)
        return raised

    async def check_stock_status(self, status: StockStatus) -> Alert | None:
        """LOW_INVENTORY for one material's stock if it is at its reorder point or lower (a
        stock move checks the stock it changed, in its own unit of work)."""
        price = await self._prices.latest(status.material.key)
        candidate = stock_alert(status, self._clock.now(), price)
        return None if candidate is None else await self.raise_alert(candidate)

    async def check_advice(self) -> list[Alert]:
        """BUY_SIGNAL for every recommendation that turned BUY NOW since the last check.

        The last recommendation seen is kept in the state store, so a restart is not a turn;
        it is saved after the alert is recorded, so a crash in between at worst evaluates the
        turn again, and the cool-down keeps that from alerting twice.
        """
        if self._advice is None:
            return []
        now = self._clock.now()
        raised = []
        for key, current in (await self._current_advice()).items():
            if key not in self._catalog.keys:
                continue
            state_key = f"advice:{key}"
            seen = await self._state.get(state_key)
            previous = Advice(seen) if seen in {a.value for a in Advice} else None
            price = await self._prices.latest(key)
            candidate = buy_signal_alert(self._catalog.get(key), current, previous, now, price)
            if candidate is not None and (alert := await self.raise_alert(candidate)):
                raised.append(alert)
            if seen != current.advice.value:
                await self._state.set(state_key, current.advice.value)
        return raised

    async def raise_alert(self, candidate: Alert) -> Alert | None:
        """Records the alert for every current recipient unless the cool-down holds it back.

        The cool-down starts only with an alert that reached someone (the outbox leaves out
        those whose deliveries all failed): a chat that subscribes after an alert reached
        nobody gets the next one. So that a condition with nobody to tell is not recorded on
        every check, an alert for no recipients is not repeated within the cool-down either. A
        chat in its quiet hours gets the alert when they end (unless it is CRITICAL).
        """
        key = candidate.dedup_key
        last = await self._outbox.last_alert(key)
        if not cooldown_allows(candidate, last, self._policy):
            self._held_back(candidate, last)
            return None
        recipients = await self._recipients.for_alerts()
        unheard = self._unheard.get(key)
        if not recipients and not cooldown_allows(candidate, unheard, self._policy):
            log.debug("Not recorded again, still nobody to tell (%s)", key)
            return None
        if self._quiet is not None:
            recipients = await self._quiet.schedule(recipients, candidate.severity)
        alert = await self._outbox.record(candidate, recipients)
        if recipients:
            self._unheard.pop(key, None)
        else:
            self._unheard[key] = alert
        log.info(
            "Alert %s %s for %d recipients: %s",
            alert.severity,
            alert.type,
            len(recipients),
            alert.message,
        )
        return alert

    def _held_back(self, candidate: Alert, last: Alert | None) -> None:
        """Logs the first time the cool-down holds back a condition after an alert, and only
        at DEBUG on the checks after it."""
        key = candidate.dedup_key
        alerted = None if last is None else last.id
        if self._held_back_after.get(key) == alerted:
            log.debug("Still held back by the cool-down (%s)", key)
            return
        self._held_back_after[key] = alerted
        log.info(
            "Held back by the cool-down (%s): %s (not logged again until the next alert)",
            key,
            candidate.message,
        )

    async def _current_advice(self) -> Mapping[str, CurrentAdvice]:
        if self._advice is None:
            return {}
        try:
            return await self._advice.current()
        except Exception:  # advice is a bonus in price alerts: never lose the alert for it
            log.warning("Recommendations are unavailable for this check", exc_info=True)
            return {}
