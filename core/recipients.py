"""Who gets alerts: subscribed Telegram chats, and WhatsApp numbers from WHATSAPP_RECIPIENTS
plus those admins add with /whatsapp; and keeping that list true to what the channels report.

Numbers from the setting are not stored until a channel refuses one for good (an opted-out or
invalid number): then a disabled subscription row remembers that, so the number gets nothing
more until an admin adds it again (`/whatsapp add` re-enables it). Numbers added by command are
ordinary WhatsApp subscriptions.

What a channel reports about a recipient (it can never be reached; it moved to a new address) is
applied here and only here, whoever learnt it (the delivery worker from a send, or the Telegram
bot from an update): to the subscription, and to the alerts still pending for it in the outbox.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.errors import UserError
from core.models import Channel, Recipient, Subscription
from core.ports import Clock, DeliveryQueue, SubscriptionRepo
from core.wording import quoted

log = logging.getLogger(__name__)

# A +, then 8 to 15 ASCII digits (the country code first, never 0), as the refusal says.
E164 = re.compile(r"^\+[1-9][0-9]{7,14}\Z")
_SEPARATORS = re.compile(r"[\s\-().]")


def parse_e164(text: str) -> str:
    """A phone number in E.164 ('+4915112345678'); spaces, dashes, dots and brackets are
    dropped first, and a 'whatsapp:' prefix is accepted. Raises UserError saying what fits."""
    number = _SEPARATORS.sub("", text.strip().removeprefix("whatsapp:"))
    if not E164.match(number):
        raise UserError(
            f"'{quoted(text)}' is not a phone number in international (E.164) form: a + , the "
            "country code and the number, 8 to 15 digits, e.g. +4915112345678."
        )
    return number


def mask(address: str) -> str:
    """A phone number shortened for logs: '+49151…678'."""
    if E164.match(address):
        return f"{address[:6]}…{address[-3:]}"
    return address


@dataclass(frozen=True)
class WhatsAppNumber:
    """One WhatsApp recipient as /whatsapp list shows it."""

    number: str
    from_settings: bool
    added_by: int | None = None
    disabled_reason: str | None = None


@dataclass(frozen=True)
class Change:
    """What /whatsapp add or remove did, in one line for the admin."""

    done: bool
    message: str


class RecipientDirectory:
    """Resolves alert recipients and keeps the WhatsApp list."""

    def __init__(
        self,
        subscriptions: SubscriptionRepo,
        clock: Clock,
        whatsapp_from_settings: Sequence[str] = (),
        whatsapp_enabled: bool = False,
        queue: DeliveryQueue | None = None,
        chat_moved: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self._subscriptions = subscriptions
        self._clock = clock
        self._settings = tuple(dict.fromkeys(whatsapp_from_settings))
        self.whatsapp_enabled = whatsapp_enabled
        self._queue = queue
        self._chat_moved = chat_moved  # what else follows a Telegram chat (core/chats.py)

    async def for_alerts(self) -> list[Recipient]:
        """Everyone who gets a new alert: active Telegram chats, and, when WhatsApp is set up,
        the active WhatsApp numbers."""
        recipients = [
            Recipient(Channel.TELEGRAM, s.address)
            for s in await self._subscriptions.all(Channel.TELEGRAM)
            if s.active
        ]
        if self.whatsapp_enabled:
            recipients += [
                Recipient(Channel.WHATSAPP, n.number)
                for n in await self.whatsapp()
                if n.disabled_reason is None
            ]
        return recipients

    async def whatsapp(self) -> list[WhatsAppNumber]:
        """The numbers from the settings first, then those added by command."""
        stored = {s.address: s for s in await self._subscriptions.all(Channel.WHATSAPP)}
        numbers = []
        for number in self._settings:
            row = stored.pop(number, None)
            numbers.append(
                WhatsAppNumber(number, True, disabled_reason=row.disabled_reason if row else None)
            )
        numbers += [
            WhatsAppNumber(s.address, False, s.added_by, s.disabled_reason) for s in stored.values()
        ]
        return numbers

    async def add_whatsapp(self, text: str, added_by: int | None) -> Change:
        number = parse_e164(text)
        current = {n.number: n for n in await self.whatsapp()}.get(number)
        if current is not None and current.disabled_reason is None:
            origin = " (from settings)" if current.from_settings else ""
            return Change(False, f"{number} gets alerts already{origin}.")
        subscription = Subscription(Channel.WHATSAPP, number, self._clock.now(), added_by)
        await self._subscriptions.add(subscription)
        if current is not None:
            return Change(
                True, f"{number} gets alerts again (it was off: {current.disabled_reason})."
            )
        return Change(True, f"{number} will get alerts on WhatsApp.")

    async def remove_whatsapp(self, text: str) -> Change:
        number = parse_e164(text)
        if number in self._settings:
            return Change(
                False,
                f"{number} comes from the WHATSAPP_RECIPIENTS setting: remove it there "
                "(and restart) to stop its alerts.",
            )
        if not await self._subscriptions.remove(Channel.WHATSAPP, number):
            return Change(False, f"{number} is not on the WhatsApp list (see /whatsapp list).")
        if self._queue is not None:
            await self._queue.cancel(Channel.WHATSAPP, number, "removed from the WhatsApp list")
        return Change(True, f"{number} gets no more alerts.")

    async def unreachable(self, channel: Channel, address: str, reason: str) -> None:
        """Stops alerts to an address the channel refused for good (a chat that blocked the
        bot, an opted-out number): its subscription is disabled with the reason (a number from
        the settings gets a disabled row, so that this is remembered) and its pending
        deliveries are dropped. Logs one line when it was getting alerts."""
        subscription = await self._subscriptions.get(channel, address)
        from_settings = channel is Channel.WHATSAPP and address in self._settings
        getting_alerts = subscription.active if subscription is not None else from_settings
        if subscription is None and from_settings:
            await self._subscriptions.add(Subscription(channel, address, self._clock.now()))
        if getting_alerts:
            await self._subscriptions.disable(channel, address, reason)
        dropped = await self._queue.cancel(channel, address, reason) if self._queue else 0
        if getting_alerts:
            log.warning(
                "Unsubscribed %s %s: %s%s",
                channel,
                mask(address),
                reason,
                _pending(dropped, "dropped"),
            )

    async def moved(self, channel: Channel, old: str, new: str) -> None:
        """Keeps a subscription, the alerts pending for it and what the chat keeps for itself
        (watches, digest, quiet hours) under its new address (a Telegram group that became a
        supergroup)."""
        if old == new:
            return
        subscription = await self._subscriptions.get(channel, old)
        if subscription is not None:
            await self._subscriptions.move(channel, old, new)
        followed = await self._queue.redirect(channel, old, new) if self._queue else 0
        if channel is Channel.TELEGRAM and self._chat_moved is not None:
            await self._chat_moved(old, new)
        if subscription is not None or followed:
            log.info(
                "Subscription of %s %s moved to %s%s",
                channel,
                old,
                new,
                _pending(followed, "moved with it"),
            )


def _pending(count: int, what_happened: str) -> str:
    if not count:
        return ""
    return f" ({count} pending {'delivery' if count == 1 else 'deliveries'} {what_happened})"
