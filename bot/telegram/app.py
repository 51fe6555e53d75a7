"""The Telegram bot's wiring: a python-telegram-bot Application running the shared chat
commands, started and stopped with what it needs, and its command menu.

Wiring after python-telegram-bot/rules-bot: the services go into `bot_data` (keys in
context.py), opened in `post_init` and closed in `post_shutdown` (BotRuntime); the handlers
(handlers.py) stay thin, and one error handler logs first, then answers.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from contextlib import AsyncExitStack

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    Defaults,
    MessageHandler,
    filters,
)

from bot.bootstrap import build_alerting, build_services, check_alert_settings, open_database
from bot.chat.commands.digests import overview_chart
from bot.chat.registry import COMMANDS
from bot.lead import Lead
from bot.loop_monitor import LoopMonitor
from bot.operations import Upkeep
from bot.rendering import Renderer
from bot.settings import Settings
from bot.telegram.context import ALERTING, METRICS, NOTIFIER, RENDER, SERVICES, App
from bot.telegram.handlers import (
    on_attachment,
    on_button,
    on_command,
    on_document,
    on_error,
    on_membership,
    on_migration,
    on_reply,
    on_text,
)
from bot.telegram.jobs import register_forecast_jobs, register_jobs
from bot.telegram.notifier import ChartSource, TelegramNotifier
from bot.telegram.rate_limit import MessageRateLimiter
from core.access import Permission
from core.adapters.db.leader import Leadership, leadership_for
from core.adapters.import_workers import ImportWorkers
from core.adapters.prophet_model import ProphetEngine
from core.models import Alert
from core.ports import AdviceSource, Clock, SystemClock
from core.services import Services

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
# Flood control (429): PTB's rate limiter waits `retry_after` and tries again this many times.
FLOOD_RETRIES = 3


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
