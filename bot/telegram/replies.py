"""A chat command's Reply sent as Telegram messages: a chart as a photo with its caption, a
file as a document, text split under Telegram's limits, the buttons under the last message, and
a refreshed answer edited in place."""

from __future__ import annotations

import logging

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
)
from telegram.error import BadRequest

from bot.formatting import CAPTION_LIMIT, Reply, split_message
from bot.telegram.context import Context

log = logging.getLogger(__name__)

CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit
BUTTONS_PER_ROW = 3
REFRESH_LABEL = "🔄 Refresh"
HEADLINE_LIMIT = 200


async def send_reply(
    context: Context,
    chat_id: int,
    reply: Reply,
    *,
    reply_to: int | None = None,
    thread_id: int | None = None,
    edit: Message | None = None,
) -> None:
    """Sends a Reply: the chart as a photo with the text as caption when it fits (otherwise a
    short caption and the text after it), text split under 4096 characters at line breaks,
    the buttons under the last message. A refreshed text answer replaces the old one."""
    bot = context.bot
    markup = keyboard(reply)
    quote = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    pieces = split_message(reply.text)
    if reply.document is not None and len(reply.text) < CAPTION_LIMIT:
        name, data = reply.document
        await bot.send_document(
            chat_id,
            InputFile(data, filename=name),
            caption=reply.text,
            reply_markup=markup,
            reply_parameters=quote,
            message_thread_id=thread_id,
        )
        return
    if reply.chart is not None:
        fits = len(reply.text) < CAPTION_LIMIT
        await bot.send_photo(
            chat_id,
            InputFile(reply.chart, filename=f"{reply.chart_name}.png"),
            caption=reply.text if fits else _headline(reply),
            reply_markup=markup if fits else None,
            reply_parameters=quote,
            message_thread_id=thread_id,
        )
        if fits:
            return
        quote = None
    elif (
        edit is not None
        and edit.text is not None
        and len(pieces) == 1
        and not isinstance(markup, ForceReply)
    ):
        try:
            await bot.edit_message_text(
                pieces[0], chat_id=chat_id, message_id=edit.message_id, reply_markup=markup
            )
            return
        except BadRequest as error:
            if "not modified" in error.message:
                return  # nothing changed since the last look
            log.info(
                "Could not refresh message %s in place (%s); sending it anew",
                edit.message_id,
                error.message,
            )
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        await bot.send_message(
            chat_id,
            piece,
            reply_markup=markup if last else None,
            reply_parameters=quote if index == 0 else None,
            message_thread_id=thread_id,
        )


def keyboard(reply: Reply) -> InlineKeyboardMarkup | ForceReply | None:
    """One button per choice (three to a row), then Refresh; each button's data is the command
    it runs. A reply that asks for an answer opens a reply for the person it names instead."""
    if reply.ask_reply:
        return ForceReply(selective=True, input_field_placeholder="The reason")
    buttons = [
        InlineKeyboardButton(choice.label, callback_data=choice.command)
        for choice in reply.choices
        if _fits_button(choice.command)
    ]
    rows = button_rows(buttons)
    if reply.refresh is not None and _fits_button(reply.refresh):
        rows.append([InlineKeyboardButton(REFRESH_LABEL, callback_data=reply.refresh)])
    return InlineKeyboardMarkup(rows) if rows else None


def button_rows(buttons: list[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    """The buttons three to a row."""
    return [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]


def fits_callback_data(command: str) -> bool:
    """Whether `command` fits a button's callback data (Telegram takes 64 bytes at most)."""
    return len(command.encode()) <= CALLBACK_DATA_LIMIT


def _fits_button(command: str) -> bool:
    if fits_callback_data(command):
        return True
    log.warning("No button for %r: longer than Telegram's 64 bytes of callback data", command)
    return False


def _headline(reply: Reply) -> str:
    first = reply.text.split("\n", 1)[0]
    return first if len(first) <= HEADLINE_LIMIT else reply.chart_name
