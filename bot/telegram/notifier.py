"""Alerts to Telegram chats: the `Notifier` port over python-telegram-bot, every outcome mapped
to a `SendResult` (delivery failures are reported, never raised)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.formatting import (
    Button,
    alert_follow_up,
    alert_message,
    purchase_message,
    split_message,
    summary_message,
)
from bot.telegram.replies import button_rows, fits_callback_data
from core.materials import MaterialCatalog
from core.models import Alert, AlertType, Channel, SendResult, SendStatus

log = logging.getLogger(__name__)

CHAT_ID = re.compile(r"^-?\d{1,20}$")
# Telegram says "chat not found" for a chat that is gone or that the bot can never reach.
UNREACHABLE_CHAT = "chat not found"

# Draws the chart a message comes with (a digest's price overview), or None.
ChartSource = Callable[[Alert], Awaitable[bytes | None]]


class TelegramNotifier:
    """Sends one alert to one chat (`address` is the chat id as text).

    success -> SENT; flood control (429) -> RETRY after `retry_after`; timeouts, network errors
    and 5xx -> RETRY; the bot blocked or removed (403) -> FAILED and `disable`; a group that
    became a supergroup -> the alert is sent to the new chat and `moved_to` names it; any other
    refusal (400) -> FAILED.

    The bot's rate limiter (AIORateLimiter) already waits out and retries a few 429s itself;
    RETRY comes when those retries are spent.
    """

    channel = Channel.TELEGRAM

    def __init__(
        self,
        bot: Bot,
        catalog: MaterialCatalog | None = None,
        charts: ChartSource | None = None,
    ) -> None:
        self._bot = bot
        self._catalog = catalog
        self._charts = charts

    async def send(self, address: str, alert: Alert) -> SendResult:
        if not CHAT_ID.match(address):
            return SendResult(
                SendStatus.FAILED, f"not a Telegram chat id: {address!r}", disable=True
            )
        chat_id = int(address)
        try:
            await self._send(chat_id, alert)
        except ChatMigrated as moved:
            new_id = moved.new_chat_id
            log.info("Chat %s became supergroup %s: sending the alert there", chat_id, new_id)
            try:
                await self._send(new_id, alert)
            except TelegramError as error:
                return replace(outcome_of(error), moved_to=str(new_id))
            return SendResult(SendStatus.SENT, moved_to=str(new_id))
        except TelegramError as error:
            return outcome_of(error)
        return SendResult(SendStatus.SENT)

    async def _send(self, chat_id: int, alert: Alert) -> None:
        markup = self._keyboard(alert)
        if alert.type is AlertType.PURCHASE:
            pieces = split_message(purchase_message(alert.message))
        elif alert.type.is_alert:
            pieces = [alert_message(alert)]
        else:  # a digest, or the alerts quiet hours held: a summary, maybe a long one
            pieces = split_message(summary_message(alert.message))
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            await self._bot.send_message(
                chat_id, piece, parse_mode=ParseMode.HTML, reply_markup=markup if last else None
            )
        if alert.type is AlertType.DIGEST and self._charts is not None:
            await self._send_chart(chat_id, alert)

    def _keyboard(self, alert: Alert) -> InlineKeyboardMarkup | None:
        """The message's own actions as buttons, else the follow-up an alert suggests."""
        buttons = [Button(a.label, a.command) for a in alert.actions]
        if not buttons:
            material = None
            if self._catalog is not None and alert.material is not None:
                material = next((m for m in self._catalog if m.key == alert.material), None)
            follow_up = alert_follow_up(alert, material)
            buttons = [follow_up] if follow_up is not None else []
        fitting = [
            InlineKeyboardButton(b.label, callback_data=b.command)
            for b in buttons
            if fits_callback_data(b.command)
        ]
        rows = button_rows(fitting)
        return InlineKeyboardMarkup(rows) if rows else None

    async def _send_chart(self, chat_id: int, alert: Alert) -> None:
        """The chart is a courtesy: the message itself went out, so a chart that cannot be
        drawn or sent is logged, and the message is not sent again for it."""
        assert self._charts is not None
        try:
            chart = await self._charts(alert)
            if chart is not None:
                await self._bot.send_photo(chat_id, InputFile(chart, filename="prices.png"))
        except Exception as error:
            log.warning(
                "The chart of message %s did not reach chat %s: %s", alert.id, chat_id, error
            )


def outcome_of(error: TelegramError) -> SendResult:
    """What a Telegram error means for a delivery."""
    if isinstance(error, RetryAfter):
        return SendResult(SendStatus.RETRY, error.message, retry_after=_seconds(error))
    if isinstance(error, Forbidden):
        return SendResult(SendStatus.FAILED, error.message, disable=True)
    if isinstance(error, BadRequest):  # a NetworkError subclass: check it first
        gone = UNREACHABLE_CHAT in error.message.lower()
        return SendResult(SendStatus.FAILED, error.message, disable=gone)
    if isinstance(error, NetworkError):  # timeouts, connection errors, 5xx
        return SendResult(SendStatus.RETRY, error.message)
    return SendResult(SendStatus.FAILED, error.message)


def _seconds(error: RetryAfter) -> float:
    # `retry_after` is an int or a timedelta depending on PTB_TIMEDELTA, and warns either way
    # in PTB 22; the timedelta behind it is what PTB's own rate limiter reads.
    value = getattr(error, "_retry_after", None)
    if isinstance(value, timedelta):
        return value.total_seconds()
    retry_after = error.retry_after
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)
