"""The Telegram handlers: each finds who asks (a `Caller`), runs the shared chat command layer
(bot/chat/registry.py) and sends the `Reply` (replies.py); one error handler logs first, then
answers. Registered by app.build_application."""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import Message, Update
from telegram.constants import ChatAction, ChatMemberStatus, ChatType
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, TelegramError

from bot.chat.commands.files import receive_document
from bot.chat.commands.welcome import refusal, short_refusal
from bot.chat.registry import COMMANDS, execute, parse
from bot.chat.request import Caller
from bot.metrics import Metrics
from bot.telegram.context import METRICS, RENDER, SERVICES, Context, services_of
from bot.telegram.replies import send_reply
from core.models import Channel
from core.services import Services
from core.services.once import UpdateRef

log = logging.getLogger(__name__)

APOLOGY = (
    "Sorry, something went wrong on our side while answering that. It has been logged; "
    "please try again in a minute."
)
NOT_A_COMMAND = "Send me a command, for example /price copper. /help lists them all."
NOT_USABLE = (
    "I read commands and CSV or XLSX files, not photos, voice messages or stickers: send a "
    "command, for example /price copper. /help lists them all."
)


async def on_command(update: Update, context: Context) -> None:
    """A /command in any chat: runs it through the shared command layer, sends the reply."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or message.text is None or chat is None:
        return
    name, args = parse(message.text)
    addressee = _addressee(message.text)
    if addressee is not None and addressee.lower() != (context.bot.username or "").lower():
        return  # /command@OtherBot
    if chat.type != ChatType.PRIVATE and name not in COMMANDS and addressee is None:
        return  # in a group, an unknown command is probably another bot's
    caller = await _caller(update, context)
    if caller is not None:
        await _answer(
            context, caller, name, args, message=message, update=UpdateRef(update.update_id)
        )


async def on_button(update: Update, context: Context) -> None:
    """A button under one of the bot's messages: answers the query, runs its command again."""
    query = update.callback_query
    if query is None:
        return
    caller = await _caller(update, context)
    if caller is None:
        await query.answer()
        return
    if caller.role is None:
        await query.answer(short_refusal(caller.user_id), show_alert=True)
        log.info("Refused button %r from user %s (no access)", query.data, caller.user_id)
        return
    try:
        await query.answer()
    except BadRequest as error:  # a tap handed out again after a restart is too old to answer
        log.info("Could not answer button %r: %s", query.data, error.message)
    name, args = parse(query.data or "")
    pressed = query.message if isinstance(query.message, Message) else None
    await _answer(
        context,
        caller,
        name,
        args,
        pressed=pressed,
        pressed_data=query.data,
        update=UpdateRef(update.update_id, query.id),
    )


async def on_text(update: Update, context: Context) -> None:
    """Plain text in a private chat: the reason for a rejection the caller was asked for, or
    else a pointer to the commands (someone without access: refused)."""
    caller = await _caller(update, context)
    if caller is None:
        return
    if caller.role is not None and await _answer_reason(update, context, caller):
        return
    text = NOT_A_COMMAND if caller.role is not None else refusal(caller.user_id)
    await context.bot.send_message(caller.chat_id, text)


async def on_reply(update: Update, context: Context) -> None:
    """A reply to one of the bot's messages in a group: the reason for a rejection the
    replying approver was asked for there; anything else is left alone (it is the group's)."""
    message = update.effective_message
    replied = message.reply_to_message if message is not None else None
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return
    caller = await _caller(update, context)
    if caller is not None and caller.role is not None:
        await _answer_reason(update, context, caller)


async def _answer_reason(update: Update, context: Context, caller: Caller) -> bool:
    """Rejects the request whose reason `caller` was asked for in this chat (the Reject
    button), with this message as the reason, as /reject N REASON would; False when no
    reason is awaited from them here."""
    message = update.effective_message
    purchasing = services_of(context).purchasing
    if message is None or not message.text or purchasing is None:
        return False
    waiting = await purchasing.reason_awaited(caller.user_id, caller.chat_id)
    if waiting is None:
        return False
    args = (str(waiting.id), *message.text.split())
    await _answer(
        context, caller, "reject", args, message=message, update=UpdateRef(update.update_id)
    )
    return True


async def on_attachment(update: Update, context: Context) -> None:
    """A photo, voice message, sticker... in a private chat (files go to on_document): says
    what the bot can use (someone without access: refused)."""
    caller = await _caller(update, context)
    message = update.effective_message
    if caller is None or message is None:
        return
    await context.bot.send_message(
        caller.chat_id, NOT_USABLE if caller.role is not None else refusal(caller.user_id)
    )


async def on_document(update: Update, context: Context) -> None:
    """A file in a private chat: a CSV or XLSX file is checked and previewed for import; any
    other file gets one line (someone without access: refused)."""
    message = update.effective_message
    caller = await _caller(update, context)
    if message is None or message.document is None or caller is None:
        return
    if caller.role is None:
        await context.bot.send_message(caller.chat_id, refusal(caller.user_id))
        return
    document = message.document
    started = time.perf_counter()

    async def download() -> bytes:
        file = await context.bot.get_file(document.file_id)
        return bytes(await file.download_as_bytearray())

    await context.bot.send_chat_action(caller.chat_id, ChatAction.TYPING)
    reply = await receive_document(
        caller,
        services_of(context),
        document.file_name or "file",
        document.file_size,
        download,
        UpdateRef(update.update_id),
    )
    await send_reply(context, caller.chat_id, reply)
    log.info(
        "user=%s chat=%s file=%r (%s bytes) answered in %d ms",
        caller.user_id,
        caller.chat_id,
        document.file_name,
        document.file_size,
        (time.perf_counter() - started) * 1000,
    )


async def on_migration(update: Update, context: Context) -> None:
    """A group became a supergroup: its alert subscription follows it to the new chat id."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat_id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat_id
    else:
        return
    await services_of(context).recipients.moved(Channel.TELEGRAM, str(old), str(new))


async def on_membership(update: Update, context: Context) -> None:
    """The bot was blocked in a private chat or removed from a group: no more alerts there."""
    change = update.my_chat_member
    if change is None:
        return
    if change.new_chat_member.status not in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
        return
    chat = change.chat
    reason = (
        "the user blocked the bot"
        if chat.type == ChatType.PRIVATE
        else "the bot was removed from the group"
    )
    await services_of(context).recipients.unreachable(Channel.TELEGRAM, str(chat.id), reason)


async def on_error(update: object, context: Context) -> None:
    """Logs the failure with what was asked, then apologises in the chat; never shows a trace."""
    error = context.error
    where = f"job '{context.job.name}'" if context.job is not None else _describe(update)
    chat_id = None
    if isinstance(update, Update) and update.effective_chat is not None:
        chat_id = update.effective_chat.id
    services: Services | None = context.bot_data.get(SERVICES)
    if isinstance(error, Forbidden) and chat_id is not None:
        log.warning("Cannot answer %s: %s", where, error.message)
        if services is not None:
            await services.recipients.unreachable(Channel.TELEGRAM, str(chat_id), error.message)
        return
    if isinstance(error, ChatMigrated) and chat_id is not None:
        log.warning("Cannot answer %s: the chat is now %s", where, error.new_chat_id)
        if services is not None:
            await services.recipients.moved(Channel.TELEGRAM, str(chat_id), str(error.new_chat_id))
        return
    if isinstance(error, Conflict):  # e.g. a leader that lost the lead and is still stopping
        log.warning(
            "Telegram ended this bot's poll for updates (%s): another process polls Telegram "
            "with this bot's token; only one may (the leader, see docs/running.md)",
            error.message,
        )
        return
    log.error("Failed to handle %s", where, exc_info=error)
    if chat_id is None:
        return
    try:
        await context.bot.send_message(chat_id, APOLOGY)
    except TelegramError as failure:
        log.warning("Could not apologise in chat %s either: %s", chat_id, failure)


async def _caller(update: Update, context: Context) -> Caller | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    name = user.full_name + (f" (@{user.username})" if user.username else "")
    return Caller(
        user_id=user.id,
        role=await services_of(context).access.role_of(user.id),
        chat_id=chat.id,
        is_group=chat.type in (ChatType.GROUP, ChatType.SUPERGROUP),
        name=name,
        channel=Channel.TELEGRAM,
    )


async def _answer(
    context: Context,
    caller: Caller,
    name: str,
    args: tuple[str, ...],
    *,
    message: Message | None = None,
    pressed: Message | None = None,
    pressed_data: str | None = None,
    update: UpdateRef | None = None,
) -> None:
    """Runs one command and sends its reply; logs one line with how long it took."""
    started = time.perf_counter()
    thread_id = (
        message.message_thread_id if message is not None and message.is_topic_message else None
    )
    action = None
    command = COMMANDS.get(name)
    if caller.role is not None and command is not None:
        kind = ChatAction.UPLOAD_PHOTO if command.draws_chart(args) else ChatAction.TYPING
        action = asyncio.create_task(_chat_action(context, caller.chat_id, kind, thread_id))
    outcome = "failed"
    try:
        reply = await execute(
            name,
            args,
            caller,
            services_of(context),
            context.bot_data[RENDER],
            context.bot.username,
            update,
        )
        if action is not None:
            await action  # so that "typing..." never shows after the answer
        edit = pressed if pressed_data is not None and pressed_data == reply.refresh else None
        await send_reply(
            context,
            caller.chat_id,
            reply,
            reply_to=message.message_id if message is not None and caller.is_group else None,
            thread_id=thread_id,
            edit=edit,
        )
        redeeming = name == "start" and bool(args)
        outcome = "answered" if caller.role is not None or redeeming else "refused"
    finally:
        if action is not None and not action.done():
            action.cancel()
        metrics: Metrics | None = context.bot_data.get(METRICS)
        if metrics is not None:
            metrics.command(name, command is not None, outcome, time.perf_counter() - started)
        log.info(
            "user=%s chat=%s command=%s %s in %d ms",
            caller.user_id,
            caller.chat_id,
            _shown(name, args),
            outcome,
            (time.perf_counter() - started) * 1000,
        )


async def _chat_action(context: Context, chat_id: int, action: str, thread_id: int | None) -> None:
    try:
        await context.bot.send_chat_action(chat_id, action, message_thread_id=thread_id)
    except TelegramError as error:  # only a courtesy: the answer itself reports real trouble
        log.debug("Chat action to %s failed: %s", chat_id, error)


def _addressee(text: str) -> str | None:
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    _, at, bot_name = first.partition("@")
    return bot_name if at else None


def _shown(name: str, args: tuple[str, ...]) -> str:
    """The command as logged: an invite code is a secret until used, so it is left out."""
    if name == "start" and args:
        return "/start [invite code]"
    shown = " ".join((f"/{name}", *args))
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _describe(update: object) -> str:
    if not isinstance(update, Update):
        return "the polling loop"
    user = update.effective_user.id if update.effective_user else None
    chat = update.effective_chat.id if update.effective_chat else None
    asked = ""
    if update.callback_query is not None:
        asked = f"button {update.callback_query.data!r}"
    elif update.effective_message is not None and update.effective_message.text:
        name, args = parse(update.effective_message.text)
        asked = _shown(name, args)
    return f"update {update.update_id} from user {user} in chat {chat} ({asked})"
