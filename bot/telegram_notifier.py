"""Alerts to Telegram chats: the `Notifier` port over python-telegram-bot, every outcome mapped
to a `SendResult` (delivery failures are reported, never raised)."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.formatting import alert_follow_up, alert_message
from core.materials import MaterialCatalog
from core.models import Alert, Channel, SendResult, SendStatus

log = logging.getLogger(__name__)

CHAT_ID = re.compile(r"^-?\d{1,20}$")
# Telegram says "chat not found" for a chat that is gone or that the bot can never reach.
UNREACHABLE_CHAT = "chat not found"


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

    def __init__(self, bot: Bot, catalog: MaterialCatalog | None = None) -> None:
        self._bot = bot
        self._catalog = catalog

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
        material = None
        if self._catalog is not None and alert.material is not None:
            material = next((m for m in self._catalog if m.key == alert.material), None)
        follow_up = alert_follow_up(alert, material)
        markup = (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(follow_up.label, callback_data=follow_up.command)]]
            )
            if follow_up is not None
            else None
        )
        await self._bot.send_message(
            chat_id, alert_message(alert), parse_mode=ParseMode.HTML, reply_markup=markup
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
