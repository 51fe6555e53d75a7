"""The fake Bot API itself: it refuses what Telegram refuses and serves only valid Bot API."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fake_telegram import BotApiSpec, Failure, FakeBotApi
from tests.fake_telegram.server import image_size

TOKEN = "42:fake-token-for-the-fake"
PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082"
)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi.running(TOKEN) as fake:
        fake.user(5, "Fay")
        yield fake


async def call(api: FakeBotApi, method: str, token: str = TOKEN, **fields: Any) -> httpx.Response:
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    base = api.base_url.removesuffix("/bot")
    async with httpx.AsyncClient() as client:
        return await client.post(f"{base}/bot{token}/{method}", data=form)


def test_the_contract_is_bot_api_10_1() -> None:
    spec = BotApiSpec()
    assert spec.version.startswith("Bot API 10.1")
    assert {"sendMessage", "sendPhoto", "getUpdates", "setMyCommands"} <= set(spec.methods)


@pytest.mark.parametrize(
    ("method", "fields", "status", "description"),
    [
        ("sendMesage", {"chat_id": 5, "text": "hi"}, 404, "Not Found"),
        ("sendMessage", {"text": "hi"}, 400, 'Bad Request: parameter "chat_id" is required'),
        ("sendMessage", {"chat_id": 5, "txt": "hi", "text": "hi"}, 400, 'unknown parameter "txt"'),
        (
            "sendMessage",
            {"chat_id": 5, "text": "hi", "disable_notification": "maybe"},
            400,
            'parameter "disable_notification"',
        ),
        (
            "sendChatAction",
            {"chat_id": 5, "action": "typing", "message_thread_id": "x"},
            400,
            "'x' is not an integer",
        ),
        (
            "sendMessage",
            {
                "chat_id": 5,
                "text": "hi",
                "reply_markup": {"inline_keyboard": [[{"text": "x", "callback": "/a"}]]},
            },
            400,
            'InlineKeyboardButton has no field "callback"',
        ),
        (
            "sendMessage",
            {"chat_id": 5, "text": "1 <script> 2", "parse_mode": "HTML"},
            400,
            'can\'t parse entities: Unsupported start tag "script"',
        ),
        (
            "sendMessage",
            {"chat_id": 5, "text": "<b>bold", "parse_mode": "HTML"},
            400,
            'Can\'t find end tag corresponding to start tag "b"',
        ),
        ("sendMessage", {"chat_id": 5, "text": "x" * 4097}, 400, "message is too long"),
        (
            "sendMessage",
            {
                "chat_id": 5,
                "text": "hi",
                "reply_markup": {"inline_keyboard": [[{"text": "x", "callback_data": "y" * 65}]]},
            },
            400,
            "BUTTON_DATA_INVALID",
        ),
        (
            "setMyCommands",
            {"commands": [{"command": "Price", "description": "x"}]},
            400,
            "BOT_COMMAND_INVALID",
        ),
        (
            "setMyCommands",
            {"commands": [{"command": "price", "description": "x"}], "scope": {"type": "everyone"}},
            400,
            "matches no kind of BotCommandScope",
        ),
    ],
)
async def test_calls_telegram_would_refuse_are_refused_like_telegram(
    api: FakeBotApi, method: str, fields: dict[str, Any], status: int, description: str
) -> None:
    response = await call(api, method, **fields)
    body = response.json()
    assert response.status_code == status and body["ok"] is False
    assert body["error_code"] == status and description in body["description"]
    assert api.violations == api.calls


async def test_a_wrong_token_is_unauthorized_and_an_unknown_chat_not_found(api: FakeBotApi) -> None:
    response = await call(api, "getMe", token="42:wrong")
    assert response.status_code == 401 and response.json()["description"] == "Unauthorized"
    response = await call(api, "sendMessage", chat_id=77, text="hi")
    assert response.json()["description"] == "Bad Request: chat not found"
    assert api.violations == []  # states of the world, not contract violations


async def test_a_photo_upload_is_kept_with_its_size(api: FakeBotApi) -> None:
    base = api.base_url.removesuffix("/bot")
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{base}/bot{TOKEN}/sendPhoto",
            data={"chat_id": "5", "caption": "<b>Copper</b> &lt;3", "parse_mode": "HTML"},
            files={"photo": ("chart.png", PNG_1x1, "image/png")},
        )
    result = response.json()["result"]
    assert result["photo"][-1]["width"] == 1 and result["caption"] == "Copper <3"
    [message] = api.sent_to(5)
    assert message.photo == PNG_1x1 and image_size(PNG_1x1) == (1, 1)
    bad = await call(api, "sendPhoto", chat_id=5, photo="attach://nothing")
    assert bad.status_code == 400


async def test_updates_are_long_polled_and_confirmed_by_offset(api: FakeBotApi) -> None:
    fay = api.user(5, "Fay")
    sent = api.send(fay, "/price copper")
    first = (await call(api, "getUpdates", timeout=5)).json()["result"]
    assert [u["message"]["text"] for u in first] == ["/price copper"]
    assert first[0]["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    again = (await call(api, "getUpdates", offset=sent.update_id, timeout=0)).json()["result"]
    assert len(again) == 1
    confirmed = await call(api, "getUpdates", offset=(sent.update_id or 0) + 1, timeout=0)
    assert confirmed.json()["result"] == []


async def test_each_bot_process_can_have_its_own_url_and_its_calls_say_which(
    api: FakeBotApi,
) -> None:
    async with httpx.AsyncClient() as client:
        for instance in ("leader", "standby"):
            base = api.url_for(instance)
            answer = await client.post(f"{base}{TOKEN}/getMe")
            assert answer.json()["ok"] is True
    await call(api, "getMe")
    assert [c.instance for c in api.calls_to("getMe")] == ["leader", "standby", ""]
    assert len(api.calls_to("getMe", instance="standby")) == 1
    assert api.calls_to("getUpdates", instance="standby") == []


async def test_a_failure_can_be_kept_for_the_message_that_contains_a_text(
    api: FakeBotApi,
) -> None:
    api.fail("sendMessage", Failure.server_error(503), containing="Copper fell")
    assert (await call(api, "sendMessage", chat_id=5, text="Daily digest")).status_code == 200
    assert (await call(api, "sendMessage", chat_id=5, text="Copper fell 9%")).status_code == 503
    assert (await call(api, "sendMessage", chat_id=5, text="Copper fell 9%")).status_code == 200


async def test_everything_the_fake_serves_is_valid_bot_api(api: FakeBotApi) -> None:
    spec = BotApiSpec()
    fay = api.user(5, "Fay")
    group = api.group(-9, "Buyers")
    api.send(fay, "/stock", group)
    reply = await call(
        api,
        "sendMessage",
        chat_id=5,
        text="pick",
        reply_markup={"inline_keyboard": [[{"text": "Copper", "callback_data": "/price copper"}]]},
    )
    assert spec.check_value(reply.json()["result"], "Message") == ""
    api.press(fay, api.sent_to(5)[0], "Copper")
    api.migrate(group, by=fay)
    api.block(fay)
    updates = (await call(api, "getUpdates", timeout=0)).json()["result"]
    assert {next(k for k in u if k != "update_id") for u in updates} == {
        "message",
        "callback_query",
        "my_chat_member",
    }
    for update in updates:
        assert spec.check_value(update, "Update") == "", update
    me = (await call(api, "getMe")).json()["result"]
    assert spec.check_value(me, "User") == ""


async def test_files_are_served_by_get_file_and_the_download_route(api: FakeBotApi) -> None:
    spec = BotApiSpec()
    fay = api.user(5, "Fay")
    sent = api.send_document(fay, "moves.csv", b"date,material\n")
    [update] = (await call(api, "getUpdates", timeout=0)).json()["result"]
    assert spec.check_value(update, "Update") == ""
    document = update["message"]["document"]
    assert (document["file_name"], document["file_size"]) == ("moves.csv", 14)
    file = (await call(api, "getFile", file_id=document["file_id"])).json()["result"]
    assert spec.check_value(file, "File") == ""
    base = api.base_file_url
    async with httpx.AsyncClient() as client:
        downloaded = await client.get(f"{base}{TOKEN}/{file['file_path']}")
        wrong_token = await client.get(f"{base}42:wrong/{file['file_path']}")
    assert downloaded.content == b"date,material\n" and wrong_token.status_code == 401
    assert sent.message_id and api.downloads == [file["file_path"]]
    unknown = await call(api, "getFile", file_id="nope")
    assert unknown.json()["description"] == "Bad Request: invalid file_id"
    api.send_document(fay, "huge.csv", b"x", size=21 * 1024 * 1024)
    huge_id = list(api.files)[-1]
    too_big = await call(api, "getFile", file_id=huge_id)
    assert too_big.json()["description"] == "Bad Request: file is too big"


async def test_a_document_sent_by_the_bot_is_kept_with_its_name(api: FakeBotApi) -> None:
    base = api.base_url.removesuffix("/bot")
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{base}/bot{TOKEN}/sendDocument",
            data={"chat_id": "5", "caption": "everything"},
            files={"document": ("export.xlsx", b"PK\x03\x04", "application/octet-stream")},
        )
    assert BotApiSpec().check_value(response.json()["result"], "Message") == ""
    [message] = api.sent_to(5)
    assert message.document == ("export.xlsx", b"PK\x03\x04") and message.caption == "everything"


async def test_updates_whose_confirmation_was_lost_are_handed_out_again(api: FakeBotApi) -> None:
    fay = api.user(5, "Fay")
    api.confirmations_lost = True
    sent = api.send(fay, "/use copper 5")
    assert len((await call(api, "getUpdates", timeout=0)).json()["result"]) == 1
    after = (sent.update_id or 0) + 1
    assert (await call(api, "getUpdates", offset=after, timeout=0)).json()["result"] == []
    again = (await call(api, "getUpdates", timeout=0)).json()["result"]  # a restarted bot
    assert [u["update_id"] for u in again] == [sent.update_id]
    api.confirmations_lost = False
    await call(api, "getUpdates", offset=after, timeout=0)
    assert (await call(api, "getUpdates", timeout=0)).json()["result"] == []
