"""A fake Telegram Bot API server on loopback, for running the real python-telegram-bot stack
over real HTTP in tests and benchmarks.

It holds every call to the Bot API method list (`BotApiSpec`) and answers violations the way
Telegram does (`{"ok": false, "error_code": 400, "description": ...}`); it keeps a small world of
users, chats and messages so that it can answer like Telegram (a chat that blocked the bot gets
403, a group that became a supergroup gets 400 with `migrate_to_chat_id`, an unknown chat "chat
not found"); it serves `getUpdates` (long polling) from updates the test queues; and it can be
told to fail: 429 with `retry_after`, 5xx, slow answers, any error body.

    async with FakeBotApi.running(TOKEN) as api:
        buyer = api.user(42, "Anna")
        ...  # start the bot with TELEGRAM_BASE_URL=api.base_url
        api.send(buyer, "/price copper")
        await api.wait_for(lambda: api.sent_to(buyer.id))

Several bot processes may share one fake (a leader and its standby): each gets its own base
URL, `api.url_for("standby")`, and every call it makes records that name as its `instance`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import struct
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fake_telegram.html import EntityError, parse_html, telegram_length
from tests.fake_telegram.spec import BotApiSpec

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
SEND_METHODS = {"sendMessage", "sendPhoto", "sendDocument"}
# Bots may download files up to this size (getFile refuses larger ones).
DOWNLOAD_LIMIT = 20 * 1024 * 1024


@dataclass(frozen=True)
class FakeUser:
    id: int
    first_name: str
    username: str | None = None
    is_bot: bool = False

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class FakeChat:
    id: int
    type: str  # private, group, supergroup
    title: str | None = None
    user: FakeUser | None = None
    blocked: bool = False  # a private chat whose user blocked the bot
    kicked: bool = False  # a group the bot was removed from
    migrated_to: int | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.title:
            data["title"] = self.title
        if self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.username:
                data["username"] = self.user.username
        return data


@dataclass
class Failure:
    """An answer the fake gives instead of the normal one (after `delay` seconds); a failure
    with `status` None only delays the normal answer."""

    status: int | None
    body: dict[str, Any] | str = ""
    delay: float = 0.0

    @classmethod
    def error(cls, status: int, description: str, **parameters: Any) -> Failure:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return cls(status, body)

    @classmethod
    def too_many_requests(cls, retry_after: int) -> Failure:
        return cls.error(
            429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
        )

    @classmethod
    def bot_blocked(cls) -> Failure:
        return cls.error(403, "Forbidden: bot was blocked by the user")

    @classmethod
    def chat_migrated(cls, new_chat_id: int) -> Failure:
        return cls.error(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=new_chat_id,
        )

    @classmethod
    def server_error(cls, status: int = 500) -> Failure:
        names = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        return cls.error(status, names.get(status, "Server Error"))

    @classmethod
    def gateway_page(cls, status: int = 502) -> Failure:
        """What a proxy in front of the Bot API answers when it is down: HTML, not JSON."""
        return cls(status, "<html><body><h1>502 Bad Gateway</h1></body></html>")

    @classmethod
    def slow(cls, seconds: float) -> Failure:
        return cls(None, delay=seconds)


@dataclass
class _Injection:
    method: str
    failure: Failure
    times: int
    chat_id: int | None
    containing: str | None


@dataclass
class ApiCall:
    """One request the bot made, and how the fake answered it."""

    method: str
    params: dict[str, str]
    files: dict[str, bytes] = field(repr=False)
    at: float = 0.0  # time.monotonic()
    status: int = 0
    description: str = ""
    instance: str = ""  # which bot process called, when it uses `url_for(instance)`
    file_names: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        """A parameter decoded from its form text (JSON where it is JSON)."""
        text = self.params[name]
        try:
            return json.loads(text)
        except ValueError:
            return text

    @property
    def chat_id(self) -> int | None:
        text = self.params.get("chat_id")
        return int(text) if text is not None and text.lstrip("-").isdigit() else None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class Button:
    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass
class Message:
    """A message in the fake's world, as its chat shows it."""

    message_id: int
    chat: FakeChat
    date: int
    sender: FakeUser
    text: str | None = None  # what the reader sees (entities parsed), of a text message
    html: str | None = None  # what the bot sent, before parsing
    caption: str | None = None
    document: tuple[str, bytes] | None = field(default=None, repr=False)  # name, content
    photo: bytes | None = field(default=None, repr=False)
    photo_size: tuple[int, int] | None = None
    buttons: list[list[Button]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    reply_to: int | None = None
    thread_id: int | None = None
    edits: int = 0
    update_id: int | None = None  # of a message a user sent
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def reads(self) -> str:
        """The text a user reads: the message text, or the photo's caption."""
        return self.text if self.text is not None else (self.caption or "")

    def button(self, label: str) -> Button:
        for row in self.buttons:
            for button in row:
                if button.text == label:
                    return button
        labels = [b.text for row in self.buttons for b in row]
        raise AssertionError(f"no button {label!r} on message {self.message_id}: {labels}")

    @property
    def labels(self) -> list[str]:
        return [b.text for row in self.buttons for b in row]

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": self.chat.as_json(),
            "from": self.sender.as_json(),
        }
        if self.thread_id is not None:
            data["message_thread_id"] = self.thread_id
            data["is_topic_message"] = True
        if self.text is not None:
            data["text"] = self.text
        if self.photo is not None and self.photo_size is not None:
            width, height = self.photo_size
            data["photo"] = [
                _photo_size(self.message_id, "s", width // 8, height // 8),
                _photo_size(self.message_id, "x", width, height, len(self.photo)),
            ]
        if self.caption is not None:
            data["caption"] = self.caption
        if self.document is not None:
            name, content = self.document
            data["document"] = {
                "file_id": f"document-{self.message_id}",
                "file_unique_id": f"d{self.message_id}",
                "file_name": name,
                "file_size": len(content),
            }
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            # A message carries only its inline keyboard: a ForceReply asked of its readers is
            # not part of it.
            data["reply_markup"] = self.reply_markup
        if self.edits:
            data["edit_date"] = self.date
        data.update(self.extra)
        return data


def _photo_size(
    message_id: int, kind: str, width: int, height: int, size: int = 0
) -> dict[str, Any]:
    data = {
        "file_id": f"photo-{message_id}-{kind}",
        "file_unique_id": f"p{message_id}{kind}",
        "width": max(1, width),
        "height": max(1, height),
    }
    if size:
        data["file_size"] = size
    return data


class ApiError(Exception):
    def __init__(self, status: int, description: str, violation: bool = False, **parameters: Any):
        super().__init__(description)
        self.status = status
        self.description = description
        self.violation = violation
        self.parameters = parameters


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG, None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:2] == b"\xff\xd8":
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                return None
            marker, length = data[index + 1], struct.unpack(">H", data[index + 2 : index + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[index + 5 : index + 9])
                return width, height
            index += 2 + length
    return None


class FakeBotApi:
    """The fake server: start it with `running()` (or `start()`/`close()`)."""

    def __init__(
        self,
        token: str,
        *,
        spec: BotApiSpec | None = None,
        bot_username: str = "ProcureTestBot",
        bot_id: int = 7000000001,
        strict_chats: bool = True,
        flood_limit: int | None = None,
    ) -> None:
        self.token = token
        self.spec = spec or BotApiSpec()
        self.bot = FakeUser(bot_id, "Procure Test Bot", bot_username, is_bot=True)
        self.strict_chats = strict_chats
        self.flood_limit = flood_limit
        self.calls: list[ApiCall] = []
        self.violations: list[ApiCall] = []
        self.chats: dict[int, FakeChat] = {}
        self.messages: dict[tuple[int, int], Message] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        # Called with each message the bot sends, as it arrives (benchmarks count on these
        # rather than scanning `messages`).
        self.listeners: list[Callable[[Message], None]] = []
        self.base_url = ""
        self._updates: deque[dict[str, Any]] = deque()
        self._queued_at: dict[int, float] = {}
        self.delivered_at: dict[int, float] = {}
        self._update_ids = itertools.count(1)
        self._last_queued = 0
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._new_updates = asyncio.Event()
        self._activity = asyncio.Event()
        self._closing = asyncio.Event()
        self._poller: asyncio.Future[None] | None = None
        self._injections: list[_Injection] = []
        self._sent_times: deque[float] = deque()
        self._runner: web.AppRunner | None = None
        # files users sent, by file_id: (name, content, mime type, size Telegram reports)
        self.files: dict[str, tuple[str, bytes, str, int]] = {}
        self.downloads: list[str] = []  # file paths the bot downloaded
        self._sent_updates: dict[int, dict[str, Any]] = {}
        # True: the polls that confirm updates never reach "Telegram" (the bot died first), so
        # updates are kept and handed out again to a poll that asks from an earlier offset.
        self.confirmations_lost = False

    # --- running -------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def running(cls, token: str, **options: Any) -> AsyncIterator[FakeBotApi]:
        api = cls(token, **options)
        await api.start()
        try:
            yield api
        finally:
            await api.close()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._download)
        app.router.add_route("*", "/{instance}/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self.base_url = f"http://{bound[0]}:{bound[1]}/bot"
        self.base_file_url = f"http://{bound[0]}:{bound[1]}/file/bot"

    def url_for(self, instance: str) -> str:
        """A base URL of this fake for one of several bot processes: its calls record
        `instance`, so that a test can tell which process made them."""
        return f"{self.base_url.removesuffix('/bot')}/{instance}/bot"

    async def close(self) -> None:
        self._closing.set()
        self._new_updates.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- the world -------------------------------------------------------------------------

    def user(self, user_id: int, first_name: str, username: str | None = None) -> FakeUser:
        """A user who has opened a private chat with the bot (its id is the user's)."""
        user = FakeUser(user_id, first_name, username)
        self.chats[user_id] = FakeChat(user_id, "private", user=user)
        return user

    def group(self, chat_id: int, title: str, supergroup: bool = False) -> FakeChat:
        """A group the bot is a member of."""
        chat = FakeChat(chat_id, "supergroup" if supergroup else "group", title)
        self.chats[chat_id] = chat
        return chat

    def private_chat(self, user: FakeUser) -> FakeChat:
        return self.chats[user.id]

    # --- updates ---------------------------------------------------------------------------

    def queue_update(self, kind: str, payload: dict[str, Any]) -> int:
        """Queues an update for getUpdates; returns its update_id."""
        update_id = self._last_queued = next(self._update_ids)
        update = {"update_id": update_id, kind: payload}
        self._updates.append(update)
        self._sent_updates[update_id] = update
        self._queued_at[update_id] = time.monotonic()
        self._new_updates.set()
        return update_id

    def send(
        self,
        user: FakeUser,
        text: str,
        chat: FakeChat | None = None,
        thread_id: int | None = None,
        reply_to: Message | None = None,
    ) -> Message:
        """`user` sends `text` to the bot (in their private chat, or in `chat`), maybe as a
        reply to `reply_to`: queued as a message update, a leading /command marked with a
        bot_command entity like Telegram's."""
        chat = chat or self.chats[user.id]
        message = Message(
            next(self._message_ids), chat, int(time.time()), user, text=text, thread_id=thread_id
        )
        if reply_to is not None:
            assert reply_to.chat.id == chat.id, "a reply is to a message in the same chat"
            message.reply_to = reply_to.message_id
            message.extra["reply_to_message"] = reply_to.as_json()
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message.extra["entities"] = [
                {"type": "bot_command", "offset": 0, "length": telegram_length(command)}
            ]
        self.messages[(chat.id, message.message_id)] = message
        message.update_id = self.queue_update("message", message.as_json())
        return message

    def send_document(
        self,
        user: FakeUser,
        file_name: str,
        content: bytes,
        mime_type: str = "text/csv",
        size: int | None = None,
        chat: FakeChat | None = None,
    ) -> Message:
        """`user` sends a file (a document message, as Telegram gives it: file_id, name, MIME
        type, size; `size` overrides the size Telegram reports)."""
        chat = chat or self.chats[user.id]
        message = Message(next(self._message_ids), chat, int(time.time()), user)
        file_id = f"BQACAgI-{message.message_id}-{len(self.files)}"
        reported = len(content) if size is None else size
        self.files[file_id] = (file_name, content, mime_type, reported)
        message.extra["document"] = {
            "file_id": file_id,
            "file_unique_id": f"AgAD{message.message_id}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": reported,
        }
        self.messages[(chat.id, message.message_id)] = message
        message.update_id = self.queue_update("message", message.as_json())
        return message

    def redeliver(self, update_id: int) -> None:
        """Hands an update out again, as Telegram does when the bot never confirmed it (it
        died before asking for an offset past it)."""
        update = self._sent_updates[update_id]
        self._updates.append(update)
        self._updates = deque(sorted(self._updates, key=lambda u: u["update_id"]))
        self._queued_at[update_id] = time.monotonic()
        self._new_updates.set()

    def press(self, user: FakeUser, message: Message, label: str) -> str:
        """`user` presses the button labelled `label` under `message`; returns the query id."""
        button = message.button(label)
        assert button.callback_data is not None, f"button {label!r} has no callback data"
        query_id = f"q{next(self._query_ids)}"
        self.callback_answers.pop(query_id, None)
        self.queue_update(
            "callback_query",
            {
                "id": query_id,
                "from": user.as_json(),
                "message": message.as_json(),
                "chat_instance": f"ci{message.chat.id}",
                "data": button.callback_data,
            },
        )
        return query_id

    def migrate(self, group: FakeChat, by: FakeUser, new_chat_id: int | None = None) -> FakeChat:
        """The group becomes a supergroup: Telegram announces it in both chats."""
        new_id = new_chat_id or -(1000000000000 + abs(group.id))
        supergroup = FakeChat(new_id, "supergroup", group.title)
        self.chats[new_id] = supergroup
        group.migrated_to = new_id
        date = int(time.time())
        old_side = Message(next(self._message_ids), group, date, by)
        old_side.extra["migrate_to_chat_id"] = new_id
        new_side = Message(next(self._message_ids), supergroup, date, by)
        new_side.extra["migrate_from_chat_id"] = group.id
        self.queue_update("message", old_side.as_json())
        self.queue_update("message", new_side.as_json())
        return supergroup

    def block(self, user: FakeUser) -> None:
        """`user` blocks the bot: sends to them get 403, and the bot is told (my_chat_member)."""
        chat = self.chats[user.id]
        chat.blocked = True
        self.queue_update(
            "my_chat_member",
            {
                "chat": chat.as_json(),
                "from": user.as_json(),
                "date": int(time.time()),
                "old_chat_member": {"status": "member", "user": self.bot.as_json()},
                "new_chat_member": {
                    "status": "kicked",
                    "user": self.bot.as_json(),
                    "until_date": 0,
                },
            },
        )

    # --- failures --------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        failure: Failure,
        times: int = 1,
        chat_id: int | None = None,
        containing: str | None = None,
    ) -> None:
        """The next `times` calls of `method` (to `chat_id`, and with `containing` in their
        text, if given) get `failure`."""
        self._injections.append(_Injection(method, failure, times, chat_id, containing))

    def heal(self) -> None:
        """Telegram is healthy again: the failures not used up yet are dropped."""
        self._injections.clear()

    def _take_failure(self, method: str, params: Mapping[str, str]) -> Failure | None:
        for injection in self._injections:
            if injection.method != method or injection.times <= 0:
                continue
            if injection.chat_id is not None and params.get("chat_id") != str(injection.chat_id):
                continue
            text = params.get("text", params.get("caption", ""))
            if injection.containing is not None and injection.containing not in text:
                continue
            injection.times -= 1
            return injection.failure
        return None

    # --- what the bot did ------------------------------------------------------------------

    def calls_to(self, method: str, instance: str | None = None) -> list[ApiCall]:
        """The calls of `method` (by the bot process `instance`, if given), oldest first."""
        return [
            c
            for c in self.calls
            if c.method.lower() == method.lower() and instance in (None, c.instance)
        ]

    def sent_to(self, chat_id: int) -> list[Message]:
        """Messages the bot sent to a chat, oldest first (as they read now, after edits)."""
        return sorted(
            (m for (c, _), m in self.messages.items() if c == chat_id and m.sender.is_bot),
            key=lambda m: m.message_id,
        )

    def messages_from_bot(self) -> list[Message]:
        """Every message the bot sent, in any chat, oldest first."""
        return sorted(
            (m for m in self.messages.values() if m.sender.is_bot), key=lambda m: m.message_id
        )

    @property
    def last_update_id(self) -> int:
        """The id of the update queued last."""
        return self._updates[-1]["update_id"] if self._updates else self._last_queued

    def queued_at(self, update_id: int) -> float:
        return self._queued_at[update_id]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Waits until `condition()` is truthy (checked after each call the bot makes) and
        returns it; the timeout only stops a broken test from hanging."""
        deadline = time.monotonic() + timeout
        while True:
            self._activity.clear()
            result = condition()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout} s waiting for the bot")
            with suppress(TimeoutError):
                await asyncio.wait_for(self._activity.wait(), remaining)

    # --- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            params, files, names = await _read(request)
        except ConnectionResetError:  # the bot went away mid-request (it was stopped)
            return web.Response(status=499)
        call = ApiCall(
            request.match_info["method"],
            params,
            files,
            time.monotonic(),
            instance=request.match_info.get("instance", ""),
        )
        call.file_names = names
        self.calls.append(call)
        self._activity.set()  # a long poll is seen when it starts, not when it ends
        try:
            return await self._answer(request, call)
        finally:
            self._activity.set()

    async def _answer(self, request: web.Request, call: ApiCall) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error(call, ApiError(401, "Unauthorized"))
        method = self.spec.method(call.method)
        if method is None:
            return self._error(call, ApiError(404, "Not Found", violation=True))
        call.method = method
        problems = self.spec.check_call(method, call.params, call.files)
        if problems:
            return self._error(call, ApiError(400, problems[0], violation=True))
        failure = self._take_failure(method, call.params)
        if failure is not None:
            await asyncio.sleep(failure.delay)
            if failure.status is not None:
                call.status = failure.status
                if isinstance(failure.body, str):
                    call.description = failure.body
                    return web.Response(
                        status=failure.status, text=failure.body, content_type="text/html"
                    )
                call.description = str(failure.body.get("description", ""))
                return web.json_response(failure.body, status=failure.status)
        try:
            if method in SEND_METHODS:
                self._check_flood()
            result = await self._method(method, call)
        except ApiError as error:
            return self._error(call, error)
        call.status = 200
        return web.json_response({"ok": True, "result": result})

    def _error(self, call: ApiCall, error: ApiError) -> web.Response:
        call.status, call.description = error.status, error.description
        if error.violation:
            self.violations.append(call)
        body: dict[str, Any] = {
            "ok": False,
            "error_code": error.status,
            "description": error.description,
        }
        if error.parameters:
            body["parameters"] = error.parameters
        return web.json_response(body, status=error.status)

    def _check_flood(self) -> None:
        if self.flood_limit is None:
            return
        now = time.monotonic()
        while self._sent_times and now - self._sent_times[0] >= 1.0:
            self._sent_times.popleft()
        if len(self._sent_times) >= self.flood_limit:
            raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
        self._sent_times.append(now)

    async def _method(self, method: str, call: ApiCall) -> Any:
        handler = getattr(self, f"_api_{method}", None)
        if handler is not None:
            return await handler(call)
        if self.spec.methods[method].get("returns") in (["Boolean"], ["True"]):
            return True
        raise ApiError(501, f"the fake Bot API does not implement {method}", violation=True)

    # --- methods ---------------------------------------------------------------------------

    async def _api_getMe(self, call: ApiCall) -> dict[str, Any]:
        return self.bot.as_json() | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _api_getUpdates(self, call: ApiCall) -> list[dict[str, Any]]:
        offset = int(call.params.get("offset", "0"))
        limit = int(call.params.get("limit", "100"))
        timeout = float(call.params.get("timeout", "0"))
        if self._poller is not None and not self._poller.done():
            self._poller.set_result(None)  # Telegram ends the older request with 409
        poller: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._poller = poller
        deadline = time.monotonic() + timeout
        while True:
            self._new_updates.clear()
            while (
                self._updates
                and self._updates[0]["update_id"] < offset
                and not self.confirmations_lost
            ):
                self._updates.popleft()  # confirmed: Telegram forgets it
            waiting = [u for u in self._updates if u["update_id"] >= offset]
            if waiting or self._closing.is_set():
                batch = waiting[:limit]
                now = time.monotonic()
                for update in batch:
                    self.delivered_at.setdefault(update["update_id"], now)
                return batch
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            waiter: asyncio.Future[Any] = asyncio.ensure_future(self._new_updates.wait())
            ended: set[asyncio.Future[Any]] = {waiter, poller}
            await asyncio.wait(ended, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if poller.done() and self._poller is not poller:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )

    async def _api_setMyCommands(self, call: ApiCall) -> bool:
        commands = call.value("commands")
        for command in commands:
            if not (1 <= len(command["command"]) <= 32) or not all(
                ch.islower() or ch.isdigit() or ch == "_" for ch in command["command"]
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID", violation=True)
            if not 1 <= len(command["description"]) <= 256:
                raise ApiError(400, "Bad Request: command description is too long", violation=True)
        scope = call.value("scope") if "scope" in call.params else {"type": "default"}
        if "chat_id" in scope and scope["chat_id"] not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        key = scope["type"] + (f":{scope['chat_id']}" if "chat_id" in scope else "")
        self.commands[key] = commands
        return True

    async def _api_getMyCommands(self, call: ApiCall) -> list[dict[str, Any]]:
        scope = call.value("scope") if "scope" in call.params else {"type": "default"}
        key = scope["type"] + (f":{scope['chat_id']}" if "chat_id" in scope else "")
        return self.commands.get(key, [])

    async def _api_sendChatAction(self, call: ApiCall) -> bool:
        self._chat(call)
        if call.params["action"] not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request", violation=True)
        return True

    async def _api_answerCallbackQuery(self, call: ApiCall) -> bool:
        query_id = call.params["callback_query_id"]
        if query_id in self.callback_answers or not query_id.startswith("q"):
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        text = call.params.get("text", "")
        if telegram_length(text) > CALLBACK_ANSWER_LIMIT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG", violation=True)
        self.callback_answers[query_id] = {
            "text": text,
            "show_alert": call.params.get("show_alert") == "true",
        }
        return True

    async def _api_sendMessage(self, call: ApiCall) -> dict[str, Any]:
        chat = self._chat(call)
        text = self._parse(call, "text", MESSAGE_LIMIT, "message is too long")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty", violation=True)
        message = self._new_message(chat, call)
        message.text, message.html = text, call.params["text"]
        self._announce(message)
        return message.as_json()

    async def _api_sendPhoto(self, call: ApiCall) -> dict[str, Any]:
        chat = self._chat(call)
        photo = call.files.get("photo")
        if photo is None:
            reference = call.params.get("photo", "")
            photo = call.files.get(reference.removeprefix("attach://"))
        if photo is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified", True)
        size = image_size(photo)
        if size is None:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED", violation=True)
        caption = self._parse(call, "caption", CAPTION_LIMIT, "message caption is too long")
        message = self._new_message(chat, call)
        message.photo, message.photo_size = photo, size
        message.caption = caption if "caption" in call.params else None
        message.html = call.params.get("caption")
        self._announce(message)
        return message.as_json()

    async def _api_sendDocument(self, call: ApiCall) -> dict[str, Any]:
        chat = self._chat(call)
        part = "document"
        if part not in call.files:
            part = call.params.get("document", "").removeprefix("attach://")
        content = call.files.get(part)
        if content is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified", True)
        caption = self._parse(call, "caption", CAPTION_LIMIT, "message caption is too long")
        message = self._new_message(chat, call)
        message.document = (call.file_names.get(part, "document"), content)
        message.caption = caption if "caption" in call.params else None
        message.html = call.params.get("caption")
        self._announce(message)
        return message.as_json()

    async def _api_getFile(self, call: ApiCall) -> dict[str, Any]:
        file_id = call.params["file_id"]
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        name, _, _, size = self.files[file_id]
        if size > DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": size,
            "file_path": f"documents/{file_id}/{name}",
        }

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """The file download route, `<base file url><token>/<file_path>`."""
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        parts = path.split("/")
        if len(parts) < 3 or parts[0] != "documents" or parts[1] not in self.files:
            return web.Response(status=404, text="Not Found")
        self.downloads.append(path)
        self._activity.set()
        return web.Response(body=self.files[parts[1]][1])

    async def _api_editMessageText(self, call: ApiCall) -> dict[str, Any]:
        chat = self._chat(call)
        message = self.messages.get((chat.id, int(call.params.get("message_id", "0"))))
        if message is None or not message.sender.is_bot:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = self._parse(call, "text", MESSAGE_LIMIT, "message is too long")
        markup = call.value("reply_markup") if "reply_markup" in call.params else None
        if text == message.text and markup == message.reply_markup:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message.text, message.html = text, call.params["text"]
        self._set_markup(message, markup)
        message.edits += 1
        return message.as_json()

    async def _api_deleteMessage(self, call: ApiCall) -> bool:
        chat = self._chat(call)
        if self.messages.pop((chat.id, int(call.params["message_id"])), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    # --- helpers ---------------------------------------------------------------------------

    def _chat(self, call: ApiCall) -> FakeChat:
        chat_id = call.chat_id
        chat = self.chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            if self.strict_chats or chat_id is None:
                raise ApiError(400, "Bad Request: chat not found")
            chat = self.chats[chat_id] = FakeChat(chat_id, "private" if chat_id > 0 else "group")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat.kicked:
            raise ApiError(403, "Forbidden: bot was kicked from the group chat")
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=chat.migrated_to,
            )
        return chat

    def _parse(self, call: ApiCall, name: str, limit: int, too_long: str) -> str:
        source = call.params.get(name, "")
        if call.params.get("parse_mode", "").lower() == "html":
            try:
                text = parse_html(source)
            except EntityError as error:
                raise ApiError(
                    400, f"Bad Request: can't parse entities: {error}", violation=True
                ) from None
        elif "parse_mode" in call.params:
            raise ApiError(400, "Bad Request: unsupported parse_mode in this fake", violation=True)
        else:
            text = source
        if telegram_length(text) > limit:
            raise ApiError(400, f"Bad Request: {too_long}", violation=True)
        return text

    def _new_message(self, chat: FakeChat, call: ApiCall) -> Message:
        message = Message(next(self._message_ids), chat, int(time.time()), self.bot)
        if "reply_parameters" in call.params:
            replied = call.value("reply_parameters")["message_id"]
            if (chat.id, replied) not in self.messages and not call.value("reply_parameters").get(
                "allow_sending_without_reply"
            ):
                raise ApiError(400, "Bad Request: message to be replied not found")
            message.reply_to = replied
        if "message_thread_id" in call.params:
            message.thread_id = int(call.params["message_thread_id"])
        self._set_markup(
            message, call.value("reply_markup") if "reply_markup" in call.params else None
        )
        self.messages[(chat.id, message.message_id)] = message
        return message

    def _announce(self, message: Message) -> None:
        for listener in self.listeners:
            listener(message)

    def _set_markup(self, message: Message, markup: dict[str, Any] | None) -> None:
        message.reply_markup = markup
        message.buttons = []
        if not markup or "inline_keyboard" not in markup:
            return
        for row in markup["inline_keyboard"]:
            buttons = []
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID", violation=True)
                buttons.append(Button(button["text"], data, button.get("url")))
            message.buttons.append(buttons)


async def _read(
    request: web.Request,
) -> tuple[dict[str, str], dict[str, bytes], dict[str, str]]:
    """Form fields (as text), file parts and the files' names of a Bot API request, however
    it was encoded."""
    params = dict(request.query)
    files: dict[str, bytes] = {}
    names: dict[str, str] = {}
    if request.content_type == "application/json":
        for name, value in (await request.json()).items():
            params[name] = value if isinstance(value, str) else json.dumps(value)
    elif request.can_read_body:
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[name] = value.file.read()
                names[name] = value.filename
            else:
                params[name] = str(value)
    return params, files, names
