"""The real bot (python-telegram-bot Application, SQLite file, chart processes) running in the
test's event loop against the fake Bot API, with helpers to talk to it as a user would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

from bot.bootstrap import Alerting
from bot.rendering import Renderer
from bot.settings import Settings, load_settings
from bot.telegram.app import ALLOWED_UPDATES, build_application
from bot.telegram.context import ALERTING, NOTIFIER, SERVICES, App
from core.adapters.db.leader import Leadership
from core.delivery import DeliveryReport
from core.ports import Notifier
from core.services import Services
from tests.fake_telegram import TEST_TOKEN, FakeBotApi, FakeChat, FakeUser, Message
from tests.fakes import FakeClock

TOKEN = TEST_TOKEN
ADMIN_ID = 1001
BUYER_ID = 2002
STRANGER_ID = 3003
DONE_GROUP = 99  # a handler group after the bot's own: an update is answered when it runs


def bot_settings(api: FakeBotApi, database: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "telegram_bot_token": TOKEN,
        "telegram_base_url": api.base_url,
        "database_path": database,
        "admin_user_ids": {ADMIN_ID},
        "allowed_user_ids": {BUYER_ID},
    }
    return load_settings(**(values | overrides))


@dataclass
class Turn:
    """What one user action produced in its chat."""

    messages: list[Message]  # new messages from the bot, oldest first
    answer: dict[str, Any] | None = None  # the answer to a pressed button

    @property
    def text(self) -> str:
        """Everything the user reads, message after message."""
        return "\n".join(m.reads for m in self.messages)

    @property
    def last(self) -> Message:
        return self.messages[-1]


@dataclass
class RunningBot:
    application: App
    api: FakeBotApi
    clock: FakeClock
    _answered: dict[int, asyncio.Event] = field(default_factory=dict)

    @property
    def services(self) -> Services:
        services: Services = self.application.bot_data[SERVICES]
        return services

    @property
    def notifier(self) -> Notifier:
        notifier: Notifier = self.application.bot_data[NOTIFIER]
        return notifier

    @property
    def alerting(self) -> Alerting:
        alerting: Alerting = self.application.bot_data[ALERTING]
        return alerting

    async def deliver(self) -> DeliveryReport:
        """One run of the delivery worker that starts now (after a scheduled one going
        already, if any)."""
        while (report := await self.alerting.jobs.deliver()) is None:
            await asyncio.sleep(0.05)
        return report

    def _event(self, update_id: int) -> asyncio.Event:
        return self._answered.setdefault(update_id, asyncio.Event())

    async def mark_answered(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update):
            self._event(update.update_id).set()

    async def answered(self, update_id: int) -> None:
        await asyncio.wait_for(self._event(update_id).wait(), 30)

    async def say(
        self,
        user: FakeUser,
        text: str,
        chat: FakeChat | None = None,
        thread_id: int | None = None,
        reply_to: Message | None = None,
    ) -> Turn:
        """`user` sends `text` (maybe as a reply to `reply_to`); returns once the bot has dealt
        with it."""
        chat = chat or self.api.private_chat(user)
        message = self.api.send(user, text, chat, thread_id, reply_to)
        assert message.update_id is not None
        await self.answered(message.update_id)
        return Turn([m for m in self.api.sent_to(chat.id) if m.message_id > message.message_id])

    async def send_file(
        self,
        user: FakeUser,
        file_name: str,
        content: bytes,
        mime_type: str = "text/csv",
        size: int | None = None,
    ) -> Turn:
        """`user` sends a file in their private chat; returns once the bot has dealt with it."""
        chat = self.api.private_chat(user)
        message = self.api.send_document(user, file_name, content, mime_type, size)
        assert message.update_id is not None
        await self.answered(message.update_id)
        return Turn([m for m in self.api.sent_to(chat.id) if m.message_id > message.message_id])

    async def press(self, user: FakeUser, message: Message, label: str) -> Turn:
        """`user` presses a button under `message`; returns once the bot has dealt with it."""
        before = {m.message_id for m in self.api.sent_to(message.chat.id)}
        edits = message.edits
        query_id = self.api.press(user, message, label)
        await self.answered(self.api.last_update_id)
        fresh = [m for m in self.api.sent_to(message.chat.id) if m.message_id not in before]
        if message.edits > edits:
            fresh.insert(0, message)
        return Turn(fresh, self.api.callback_answers.get(query_id))


@asynccontextmanager
async def running_bot(
    api: FakeBotApi,
    database: Path,
    renderer: Renderer,
    clock: FakeClock | None = None,
    scheduled_jobs: bool = False,
    leadership: Leadership | None = None,
    **settings: Any,
) -> AsyncIterator[RunningBot]:
    """Starts the bot as `run_polling` does (initialize, post_init, polling, start) and stops
    it the same way. The alert jobs run on their schedule only with `scheduled_jobs`;
    otherwise a test runs them itself when it wants them (`bot.deliver()`)."""
    clock = clock or FakeClock()
    application = build_application(
        bot_settings(api, database, **settings),
        clock=clock,
        renderer=renderer,
        leadership=leadership,
    )
    bot = RunningBot(application, api, clock)
    application.add_handler(TypeHandler(Update, bot.mark_answered), group=DONE_GROUP)
    await application.initialize()
    try:
        assert application.post_init is not None
        await application.post_init(application)
        if not scheduled_jobs:
            assert application.job_queue is not None
            for job in application.job_queue.jobs():
                job.schedule_removal()
        assert application.updater is not None
        await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        await application.start()
        yield bot
    finally:
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        assert application.post_shutdown is not None
        await application.post_shutdown(application)
