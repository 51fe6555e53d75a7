"""The Telegram front end: a python-telegram-bot Application running the shared chat commands.

Wiring after python-telegram-bot/rules-bot: the services go into `bot_data`, opened in
`post_init` and closed in `post_shutdown`; one error handler logs first, then answers. Handlers
stay thin: who asks (a `Caller`), the shared `execute` in bot/commands.py, and the `Reply` sent
as Telegram messages (a photo with its caption, text split under Telegram's limits, buttons).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot.bootstrap import build_alerting, build_services, check_alert_settings, open_database
from bot.chat.commands.digests import overview_chart
from bot.chat.commands.files import receive_document
from bot.commands import COMMANDS, Caller, execute, parse, refusal, short_refusal
from bot.formatting import CAPTION_LIMIT, Reply, split_message
from bot.jobs import register_forecast_jobs, register_jobs
from bot.lead import Lead
from bot.loop_monitor import LoopMonitor
from bot.metrics import Metrics
from bot.operations import Upkeep
from bot.rate_limit import MessageRateLimiter
from bot.rendering import Renderer
from bot.settings import Settings
from bot.telegram_notifier import ChartSource, TelegramNotifier
from core.access import Permission
from core.adapters.db.leader import Leadership, leadership_for
from core.adapters.import_workers import ImportWorkers
from core.adapters.prophet_model import ProphetEngine
from core.models import Alert, Channel
from core.ports import AdviceSource, Clock, SystemClock
from core.services import Services
from core.services.once import UpdateRef

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]
Context = ContextTypes.DEFAULT_TYPE

# Keys in application.bot_data.
SERVICES = "services"
RENDER = "render"
NOTIFIER = "notifier"  # the Telegram Notifier, which the alert delivery worker sends through
ALERTING = "alerting"  # bot.bootstrap.Alerting: the alert jobs (jobs.check_advice after retrains)
METRICS = "metrics"  # bot.metrics.Metrics: what /metrics serves

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
# Flood control (429): PTB's rate limiter waits `retry_after` and tries again this many times.
FLOOD_RETRIES = 3
CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit
BUTTONS_PER_ROW = 3
REFRESH_LABEL = "🔄 Refresh"
HEADLINE_LIMIT = 200
APOLOGY = (
    "Sorry, something went wrong on our side while answering that. It has been logged; "
    "please try again in a minute."
)
NOT_A_COMMAND = "Send me a command, for example /price copper. /help lists them all."
NOT_USABLE = (
    "I read commands and CSV or XLSX files, not photos, voice messages or stickers: send a "
    "command, for example /price copper. /help lists them all."
)


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    renderer: Renderer | None = None,
    advice: AdviceSource | None = None,
    leadership: Leadership | None = None,
) -> App:
    """The bot, ready for `run_polling`; `renderer` defaults to a pool of chart processes
    that the bot starts and stops itself. `advice` gives the current recommendations for
    BUY_SIGNAL alerts (default: the bot's own forecasting service). `leadership` decides
    whether this instance may poll and run the jobs (default: the database's kind, see
    core/adapters/db/leader.py).

    Raises SettingsError for alert settings that cannot work together, before anything
    connects anywhere."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is needed to build the Telegram bot")
    check_alert_settings(settings)
    runtime = BotRuntime(settings, clock, renderer, advice, leadership)
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.file_url)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .rate_limiter(MessageRateLimiter(max_retries=FLOOD_RETRIES))
        .concurrent_updates(True)
        .post_init(runtime.start)
        .post_shutdown(runtime.stop)
        .build()
    )
    message = filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(message & filters.StatusUpdate.MIGRATE, on_migration))
    application.add_handler(MessageHandler(message & filters.COMMAND, on_command))
    application.add_handler(
        MessageHandler(message & filters.ChatType.PRIVATE & filters.TEXT, on_text)
    )
    application.add_handler(
        MessageHandler(
            message & filters.ChatType.GROUPS & filters.REPLY & filters.TEXT & ~filters.COMMAND,
            on_reply,
        )
    )
    application.add_handler(
        MessageHandler(message & filters.ChatType.PRIVATE & filters.Document.ALL, on_document)
    )
    application.add_handler(
        MessageHandler(message & filters.ChatType.PRIVATE & filters.ATTACHMENT, on_attachment)
    )
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(ChatMemberHandler(on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_error_handler(on_error)
    return application


def run(settings: Settings) -> int:
    """Runs the bot with long polling until SIGINT or SIGTERM; 0 after a clean stop, 2 when
    Telegram refuses the token, 1 when the Bot API cannot be reached at start."""
    application = build_application(settings)
    # What is loaded by now (the libraries) lives as long as the bot: moved out of the garbage
    # collector's sight, a full collection (which a large import's allocations set off) walks
    # only what came later, and holds the event loop up that much less.
    gc.collect()
    gc.freeze()
    try:
        _initialize(application)
        application.run_polling(
            allowed_updates=ALLOWED_UPDATES, stop_signals=(signal.SIGINT, signal.SIGTERM)
        )
    except InvalidToken:
        print(
            "Telegram refused TELEGRAM_BOT_TOKEN: copy the token again from @BotFather "
            f"(and check TELEGRAM_BASE_URL={settings.telegram_base_url}).",
            file=sys.stderr,
        )
        return 2
    except NetworkError as error:
        print(
            f"Could not reach the Bot API at {settings.telegram_base_url} ({error.message}): "
            "check the network, or TELEGRAM_BASE_URL.",
            file=sys.stderr,
        )
        return 1
    log.info("Bot stopped")
    return 0


def _initialize(application: App) -> None:
    """Meets the Bot API (getMe) on the event loop run_polling then uses, so that a refused
    token or an unreachable server is raised here, for `run` to say in one line, rather than
    logged with its traceback by PTB's own start-up retry loop."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(application.initialize())


class BotRuntime:
    """What the bot opens when it starts (database, chart processes, the alert machinery) and
    closes when it stops."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock | None,
        renderer: Renderer | None,
        advice: AdviceSource | None,
        leadership: Leadership | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock or SystemClock()
        self._renderer = renderer
        self._advice = advice
        self._lead = Lead(leadership or leadership_for(settings.database))
        self._upkeep = Upkeep(settings, self._clock)
        self._stack = AsyncExitStack()

    async def start(self, application: App) -> None:
        """post_init: the lead taken (a standby waits here), services into bot_data, chart
        workers warm, the alert jobs scheduled, the command menu set."""
        await self._upkeep.start(self._stack)  # heartbeat and /metrics, a standby's too
        await self._lead.take(application, self._stack)  # a standby waits here
        settings = self._settings
        db = await self._stack.enter_async_context(open_database(settings, self._clock))
        # Its workers start at the first fit; with FORECAST_CLUSTER it connects at the first fit.
        engine = ProphetEngine.in_processes(cluster=settings.forecast_cluster)
        self._stack.push_async_callback(asyncio.to_thread, engine.close)
        import_workers = ImportWorkers()  # started at the first file
        self._stack.push_async_callback(asyncio.to_thread, import_workers.close)
        services = await build_services(db, settings, self._clock, engine, import_workers)
        assert services.forecasts is not None
        # Records still being built in the background stop before the engine and database.
        self._stack.push_async_callback(services.forecasts.aclose)
        renderer = self._renderer
        if renderer is None:
            renderer = Renderer.in_processes(cache_size=settings.chart_cache_size)
            self._stack.push_async_callback(asyncio.to_thread, renderer.close)
            await renderer.warm_up()
        advice = self._advice or services.forecasts
        if services.digests is not None:
            services.digests.advice = advice
        notifier = TelegramNotifier(
            application.bot, services.catalog, charts=_digest_chart(services, renderer)
        )
        alerting = build_alerting(db, settings, services, telegram=notifier, advice=advice)
        self._stack.push_async_callback(alerting.aclose)  # after the jobs stopped, before the db
        metrics = self._upkeep.metrics
        register_jobs(application, alerting.jobs, settings, metrics)
        register_forecast_jobs(
            application,
            services.forecasts,
            settings,
            then=alerting.jobs.check_advice,
            health=alerting.jobs.health,
            metrics=metrics,
        )
        await self._upkeep.lead(application, db, services)
        application.bot_data.update(
            {
                SERVICES: services,
                RENDER: renderer,
                NOTIFIER: notifier,
                ALERTING: alerting,
                METRICS: metrics,
            }
        )
        await set_command_menu(application, settings.admin_user_ids)
        if settings.loop_monitor_file is not None:
            monitor = LoopMonitor()
            monitor.start()
            self._stack.push_async_callback(monitor.stop_and_write, settings.loop_monitor_file)
        log.info(
            "Bot @%s is up: %d admins and %d allowed users from the settings",
            application.bot.username,
            len(settings.admin_user_ids),
            len(settings.allowed_user_ids),
        )

    async def stop(self, application: App) -> None:
        """post_shutdown: closes what `start` opened, the database last and then the lead.
        Raises LeadershipLost when the bot stopped because it lost the lead."""
        await self._lead.stop_waiting()
        await self._stack.aclose()
        self._lead.raise_if_lost()


def _digest_chart(services: Services, renderer: Renderer) -> ChartSource:
    async def chart(alert: Alert) -> bytes | None:
        return await overview_chart(services, renderer)

    return chart


async def set_command_menu(application: App, admin_ids: frozenset[int]) -> None:
    """The "/" menu: the buyer's commands in private chats and groups, and for each admin's
    private chat the admin commands too."""
    bot = application.bot
    listed = [c for c in COMMANDS.values() if not c.hidden]
    everyone = [BotCommand(c.name, _menu_text(c.summary)) for c in listed]
    buyers = [
        b for b, c in zip(everyone, listed, strict=True) if c.permission is not Permission.ADMIN
    ]
    await bot.set_my_commands(buyers, scope=BotCommandScopeAllPrivateChats())
    in_groups = [b for b in buyers if b.command != "start"]
    await bot.set_my_commands(in_groups, scope=BotCommandScopeAllGroupChats())
    for admin in sorted(admin_ids):
        try:
            await bot.set_my_commands(everyone, scope=BotCommandScopeChat(admin))
        except BadRequest as error:  # the admin has not opened a chat with the bot yet
            log.info("No admin command menu for user %s yet: %s", admin, error.message)


def _menu_text(summary: str) -> str:
    return summary[:1].upper() + summary[1:].rstrip(".")


# --- handlers ---------------------------------------------------------------------------------


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
    purchasing = _services(context).purchasing
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
        _services(context),
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
    await _services(context).recipients.moved(Channel.TELEGRAM, str(old), str(new))


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
    await _services(context).recipients.unreachable(Channel.TELEGRAM, str(chat.id), reason)


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


# --- answering --------------------------------------------------------------------------------


async def _caller(update: Update, context: Context) -> Caller | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    name = user.full_name + (f" (@{user.username})" if user.username else "")
    return Caller(
        user_id=user.id,
        role=await _services(context).access.role_of(user.id),
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
            _services(context),
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
    rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    if reply.refresh is not None and _fits_button(reply.refresh):
        rows.append([InlineKeyboardButton(REFRESH_LABEL, callback_data=reply.refresh)])
    return InlineKeyboardMarkup(rows) if rows else None


def _fits_button(command: str) -> bool:
    if len(command.encode()) <= CALLBACK_DATA_LIMIT:
        return True
    log.warning("No button for %r: longer than Telegram's 64 bytes of callback data", command)
    return False


def _headline(reply: Reply) -> str:
    first = reply.text.split("\n", 1)[0]
    return first if len(first) <= HEADLINE_LIMIT else reply.chart_name


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


def _services(context: Context) -> Services:
    services: Services = context.bot_data[SERVICES]
    return services
