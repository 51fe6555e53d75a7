"""A chat's own price watches: setting, listing and removing them (WatchService, behind
/watch, /watches and /unwatch), and checking them on every price poll (WatchMonitor).

The rules are in core/domain/watches.py. Each change a chat makes is one transaction; a watch
firing (its new state, its alert and the alert's one delivery, to the chat that set it) is
another, so nothing is lost and nothing is sent twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.watches import Trigger, Watch, WatchBook, WatchRule, describe
from core.errors import UserError
from core.materials import MaterialCatalog
from core.models import Alert, Channel, PricePoint, Recipient, Severity
from core.ports import Clock, PriceRepo, StateStore, UnitOfWork, WatchRepo
from core.quiet_hours import QuietHoursService

log = logging.getLogger(__name__)

MAX_WATCHES_PER_CHAT = 50
# Where the monitor keeps the time of each material's last price it checked.
CHECKED_KEY = "watches:checked"


@dataclass(frozen=True)
class Added:
    """A new watch, the price when it was set, and the finished one it took the place of."""

    watch: Watch
    price: PricePoint | None
    replaced: Watch | None = None


@dataclass(frozen=True)
class Listed:
    """A chat's watch with its material's current price."""

    watch: Watch
    price: PricePoint | None


@dataclass(frozen=True)
class Removal:
    """What /unwatch did: the watches removed, and how many stay because others set them."""

    removed: list[Watch]
    kept: int = 0


class WatchService:
    """The watches of each chat: anyone with access adds them; the person who set one (or an
    admin) removes it, and may undo that."""

    def __init__(
        self,
        catalog: MaterialCatalog,
        new_uow: Callable[[], UnitOfWork],
        watches: WatchRepo,
        prices: PriceRepo,
        clock: Clock,
        max_per_chat: int = MAX_WATCHES_PER_CHAT,
    ) -> None:
        self._catalog = catalog
        self._new_uow = new_uow
        self._watches = watches
        self._prices = prices
        self._clock = clock
        self._max = max_per_chat

    async def add(
        self, chat: str, rule: WatchRule, by: int, lasts_days: int | None = None
    ) -> Added:
        """Sets a watch; one the chat has for the same condition already is refused, unless it
        is over (fired once, or expired): then the new one takes its place."""
        material = self._catalog.get(rule.material)
        now = self._clock.now()
        expires_at = None if lasts_days is None else now + timedelta(days=lasts_days)
        async with self._new_uow() as uow:
            existing = await uow.watches.of_chat(chat)
            same = next((w for w in existing if w.rule.same_condition(rule)), None)
            if same is not None and same.live(now):
                raise UserError(_watched_already(same, describe(same.rule, material)))
            if sum(w.live(now) for w in existing) >= self._max:
                raise UserError(
                    f"This chat has {self._max} watches, as many as it may have: remove some "
                    "first (/watches lists them, /unwatch N removes one)."
                )
            if same is not None:
                await uow.watches.remove([same.id], by, now)
            price = await uow.prices.latest(rule.material)
            armed = rule.armed_at(None if price is None else price.price)
            watch = await uow.watches.add(chat, rule, by, now, expires_at, armed)
            if watch is None:  # set at the same moment by someone else in the chat
                raise UserError(f"This chat watches {describe(rule, material)} already.")
        log.info(
            "Watch #%d set in chat %s by user %s: %s", watch.id, chat, by, describe(rule, material)
        )
        return Added(watch, price, same)

    async def of_chat(self, chat: str) -> list[Listed]:
        """The chat's watches with their materials' current prices, oldest first."""
        watches = await self._watches.of_chat(chat)
        prices = await self._prices.latest_of(sorted({w.material for w in watches}))
        return [Listed(w, prices.get(w.material)) for w in watches]

    async def remove(
        self, chat: str, watch_id: int | None, by: int, is_admin: bool = False
    ) -> Removal:
        """Removes watch `watch_id` of the chat, or (None) every watch of it that `by` may
        remove: those they set, or all of them for an admin."""
        watches = await self._watches.of_chat(chat)
        if watch_id is None:
            mine = [w for w in watches if is_admin or w.created_by == by]
            kept = len(watches) - len(mine)
        else:
            watch = next((w for w in watches if w.id == watch_id), None)
            if watch is None:
                raise UserError(_not_this_chats(watch_id, watches))
            if not is_admin and watch.created_by != by:
                raise UserError(
                    f"Watch #{watch_id} was set by someone else: only they or an admin may "
                    "remove it."
                )
            mine, kept = [watch], 0
        if mine:
            async with self._new_uow() as uow:
                await uow.watches.remove([w.id for w in mine], by, self._clock.now())
            log.info("Watches %s removed in chat %s by user %s", [w.id for w in mine], chat, by)
        return Removal(mine, kept)

    async def restore(
        self, chat: str, watch_id: int, by: int, is_admin: bool = False
    ) -> list[Watch]:
        """Undoes a removal: brings back watch `watch_id` and those removed with it, when `by`
        removed them (or is an admin), except conditions the chat watches again meanwhile."""
        async with self._new_uow() as uow:
            restored = await uow.watches.restore(watch_id, chat, None if is_admin else by)
        if restored:
            log.info(
                "Watches %s restored in chat %s by user %s", [w.id for w in restored], chat, by
            )
        return restored


def _watched_already(watch: Watch, what: str) -> str:
    return (
        f"This chat watches {what} already: watch #{watch.id}. To change it, remove it first "
        f"(/unwatch {watch.id}) and set it again."
    )


def _not_this_chats(watch_id: int, watches: Iterable[Watch]) -> str:
    numbers = ", ".join(f"#{w.id}" for w in watches)
    if not numbers:
        return f"There is no watch #{watch_id} in this chat: it has none (/watch sets one)."
    return f"There is no watch #{watch_id} in this chat: its watches are {numbers} (/watches)."


class WatchMonitor:
    """Checks the live watches against each material's new price, after every price poll.

    The watches are kept in memory (a WatchBook, sorted by level) and reloaded only when a chat
    changed them (WatchRepo.version), so a poll costs one query for the latest prices, one per
    move window for the earlier prices, and one transaction for what changed. The time of each
    material's last price checked is kept in the state store and moved on after that
    transaction: a crash in between checks that price again, and a watch that fired is
    disarmed (or in its cool-down) by then, so nothing is alerted twice.
    """

    def __init__(
        self,
        catalog: MaterialCatalog,
        new_uow: Callable[[], UnitOfWork],
        watches: WatchRepo,
        prices: PriceRepo,
        state: StateStore,
        clock: Clock,
        cooldown: timedelta,
        quiet: QuietHoursService | None = None,
    ) -> None:
        self._catalog = catalog
        self._new_uow = new_uow
        self._watches = watches
        self._prices = prices
        self._state = state
        self._clock = clock
        self._cooldown = cooldown
        self._quiet = quiet
        self._book = WatchBook()
        self._version: str | None = None
        self._loaded = False

    async def book(self) -> WatchBook:
        """The live watches, reloaded when a chat has changed them since the last look."""
        version = await self._watches.version()
        if not self._loaded or version != self._version:
            self._book = WatchBook(await self._watches.live(self._clock.now()))
            self._version, self._loaded = version, True
        return self._book

    async def check(self) -> list[Alert]:
        """Every live watch against its material's price, if new since the last check; records
        each alert with one delivery, to the chat that set the watch."""
        book = await self.book()
        if not len(book):
            return []
        now = self._clock.now()
        checked = await self._checked()
        latest = await self._prices.latest_of(book.materials)
        new = {
            material: price
            for material, price in latest.items()
            if material in self._catalog.keys
            and (material not in checked or price.at > checked[material])
        }
        if not new:
            return []
        before = await self._before(book, new)
        triggers: list[Trigger] = []
        for material, price in new.items():
            material_ = self._catalog.get(material)
            triggers += book.check(material_, price, before.get(material, {}), now, self._cooldown)
        alerts = await self._apply(book, triggers)
        checked.update({material: price.at for material, price in new.items()})
        await self._state.set(
            CHECKED_KEY, json.dumps({m: at.isoformat() for m, at in checked.items()})
        )
        return alerts

    async def _checked(self) -> dict[str, datetime]:
        stored = await self._state.get(CHECKED_KEY)
        if stored is None:
            return {}
        return {m: datetime.fromisoformat(at) for m, at in json.loads(stored).items()}

    async def _before(
        self, book: WatchBook, new: Mapping[str, PricePoint]
    ) -> dict[str, dict[int, PricePoint | None]]:
        """For each material, the price each of its move windows before its new price: one
        query per window length."""
        windows: dict[int, dict[str, datetime]] = {}
        for material, price in new.items():
            for days in book.windows(material):
                windows.setdefault(days, {})[material] = price.at - timedelta(days=days)
        before: dict[str, dict[int, PricePoint | None]] = {}
        for days, moments in windows.items():
            found = await self._prices.at_or_before_of(moments)
            for material in moments:
                before.setdefault(material, {})[days] = found.get(material)
        return before

    async def _apply(self, book: WatchBook, triggers: list[Trigger]) -> list[Alert]:
        """Records what the prices did in one transaction: the watches that re-armed, and each
        that fired with its alert and that alert's one delivery, to the chat that set it (held
        for its quiet hours, unless CRITICAL). A watch removed meanwhile sends nothing."""
        if not triggers:
            return []
        fired = [t for t in triggers if t.alert is not None]
        recipients = await self._recipients(fired)
        raised, removed = [], []
        async with self._new_uow() as uow:
            await uow.watches.rearm([t.watch.id for t in triggers if t.alert is None])
            for trigger in fired:
                assert trigger.alert is not None
                if await uow.watches.record(trigger.watch):
                    chat = recipients[trigger.watch.id]
                    raised.append(await uow.outbox.record(trigger.alert, [chat]))
                else:
                    removed.append(trigger.watch)
        for trigger in triggers:
            book.put(trigger.watch)
        for watch in removed:
            book.drop(watch)
        for alert in raised:
            log.info("Watch alert for chat %s: %s", alert.chat, alert.message)
        return raised

    async def _recipients(self, fired: list[Trigger]) -> dict[int, Recipient]:
        """Each fired watch's chat, held until its quiet hours end where they apply."""
        chats = {t.watch.id: Recipient(Channel.TELEGRAM, t.watch.chat) for t in fired}
        if self._quiet is None or not fired:
            return chats
        by_severity: dict[Severity, list[int]] = {}
        for trigger in fired:
            assert trigger.alert is not None
            by_severity.setdefault(trigger.alert.severity, []).append(trigger.watch.id)
        for severity, ids in by_severity.items():
            scheduled = await self._quiet.schedule([chats[i] for i in ids], severity)
            chats.update(zip(ids, scheduled, strict=True))
        return chats
