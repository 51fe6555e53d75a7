"""Who may use the bot, over real HTTP: a stranger gets nothing but their own id, admins invite
people and take access back, and groups answer allowed users only."""

import re

import pytest

from bot.commands import COMMANDS
from core.models import Channel
from tests.bot.telegram import ADMIN_ID, BUYER_ID, STRANGER_ID, RunningBot, Turn
from tests.fake_telegram import FakeChat, FakeUser

INVITE_LINK = re.compile(r"https://t\.me/ProcureTestBot\?start=([A-Za-z0-9_-]{16,64})")


def assert_refused(turn: Turn, user_id: int) -> None:
    """A refusal with the user's own id and no data: no prices, no chart, no buttons."""
    assert len(turn.messages) == 1, turn.messages
    message = turn.last
    assert message.photo is None and not message.buttons
    assert f"Your Telegram user id is {user_id}" in message.reads
    for data in ("USD", "Copper", "Aluminium", "13,950", "/price", "on hand", "Best pick"):
        assert data not in message.reads


async def invite_code(bot: RunningBot, admin: FakeUser) -> str:
    turn = await bot.say(admin, "/invite")
    match = INVITE_LINK.search(turn.text)
    assert match is not None, turn.text
    return match.group(1)


@pytest.mark.parametrize(
    "text",
    [
        *(f"/{name}" for name in COMMANDS),
        "/price copper",
        "/stock",
        "/vendors steel",
        "/alerts 5",
        "/users revoke 1001",
        "/start not-a-real-invite",
        "/frobnicate",
        "copper please",
    ],
)
async def test_a_stranger_gets_only_their_id_whatever_they_send(
    telegram_bot: RunningBot, stranger: FakeUser, text: str
) -> None:
    assert_refused(await telegram_bot.say(stranger, text), STRANGER_ID)
    assert not telegram_bot.api.calls_to("sendChatAction")
    assert not telegram_bot.api.calls_to("sendPhoto")


async def test_a_stranger_pressing_a_button_gets_a_private_refusal_and_no_data(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    stranger = telegram_bot.api.user(7123456789, "Eve")  # ids run to 10 digits and more
    group = telegram_bot.api.group(-500, "Purchasing")
    prices = (await telegram_bot.say(buyer, "/price", group)).last
    sent_before = len(telegram_bot.api.sent_to(group.id))
    turn = await telegram_bot.press(stranger, prices, "Copper")
    assert turn.messages == [] and len(telegram_bot.api.sent_to(group.id)) == sent_before
    assert turn.answer is not None and turn.answer["show_alert"] is True
    assert "Your Telegram user id is 7123456789" in turn.answer["text"]


async def test_an_invite_link_lets_one_person_in_once(
    telegram_bot: RunningBot, admin: FakeUser, stranger: FakeUser
) -> None:
    turn = await telegram_bot.say(admin, "/invite")
    assert "works once, until 1 Dec 12:00 UTC" in turn.text
    code = await invite_code(telegram_bot, admin)

    welcome = await telegram_bot.say(stranger, f"/start {code}")
    assert welcome.text.startswith("Welcome aboard: the invite worked and you have access now.")
    assert "/price [MATERIAL]" in welcome.text
    assert (await telegram_bot.say(stranger, "/price copper")).last.photo is not None

    latecomer = telegram_bot.api.user(4004, "Mallory")
    reused = await telegram_bot.say(latecomer, f"/start {code}")
    assert reused.text == (
        "This invite link has been used already: each link works once. Ask an admin for a new "
        "one. Your Telegram user id is 4004."
    )
    assert_refused(await telegram_bot.say(latecomer, "/price"), 4004)


async def test_an_invite_expires_after_seven_days(
    telegram_bot: RunningBot, admin: FakeUser, stranger: FakeUser
) -> None:
    code = await invite_code(telegram_bot, admin)
    telegram_bot.clock.advance(days=7, seconds=1)
    turn = await telegram_bot.say(stranger, f"/start {code}")
    assert turn.text.startswith("This invite link expired on 01 Dec 2026 12:00 UTC")
    assert "Your Telegram user id is 3003." in turn.text
    assert_refused(await telegram_bot.say(stranger, "/stock"), STRANGER_ID)


async def test_someone_with_access_keeps_the_invite_unused(
    telegram_bot: RunningBot, admin: FakeUser, buyer: FakeUser, stranger: FakeUser
) -> None:
    code = await invite_code(telegram_bot, admin)
    turn = await telegram_bot.say(buyer, f"/start {code}")
    assert turn.text.startswith("You had access already; the invite link stays unused")
    assert (await telegram_bot.say(stranger, f"/start {code}")).text.startswith("Welcome aboard")


async def test_the_invite_code_is_never_logged(
    telegram_bot: RunningBot,
    admin: FakeUser,
    stranger: FakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    code = await invite_code(telegram_bot, admin)
    await telegram_bot.say(stranger, f"/start {code}")
    assert code not in caplog.text
    assert "command=/start [invite code] answered" in caplog.text


async def test_admins_list_grant_and_revoke_access(
    telegram_bot: RunningBot, admin: FakeUser, stranger: FakeUser
) -> None:
    await telegram_bot.say(stranger, f"/start {await invite_code(telegram_bot, admin)}")
    listing = (await telegram_bot.say(admin, "/users")).text
    assert f"Admins (ADMIN_USER_IDS): {ADMIN_ID}" in listing
    assert f"Buyers (ALLOWED_USER_IDS): {BUYER_ID}" in listing
    assert f"{STRANGER_ID} Eve: buyer since 24 Nov by {ADMIN_ID}" in listing

    revoked = await telegram_bot.say(admin, f"/users revoke {STRANGER_ID}")
    assert revoked.text == f"User {STRANGER_ID} no longer has access."
    assert_refused(await telegram_bot.say(stranger, "/price"), STRANGER_ID)

    added = await telegram_bot.say(admin, f"/users add {STRANGER_ID}")
    assert added.text == f"User {STRANGER_ID} has buyer access now."
    assert "Copper" in (await telegram_bot.say(stranger, "/price")).text


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/users revoke 1001", "User 1001 is an admin from ADMIN_USER_IDS: remove them there"),
        ("/users revoke 2002", "User 2002 is allowed by ALLOWED_USER_IDS: remove them there"),
        ("/users revoke 999", "User 999 has no access to revoke. /users lists who has."),
        ("/users add 2002", "User 2002 has access already. /users role 2002 ROLE changes it"),
        ("/users revoke abc", "The user id must be a Telegram user id (a whole number above 0)"),
        (
            "/users add ²",
            "The user id must be a Telegram user id (a whole number above 0), got '²'",
        ),
        (
            "/users add 0",
            "The user id must be a Telegram user id (a whole number above 0), got '0'",
        ),
        ("/users add -5", "The user id must be a Telegram user id (a whole number above 0)"),
        ("/users add 9007199254740992", "The user id must be a Telegram user id"),
        ("/users add 99999999999999999999999", "The user id must be a Telegram user id"),
        ("/users kick 5", "Usage: /users, /users add ID [ROLE], /users role ID ROLE or /users"),
        ("/users role 999 buyer", "User 999 has no access: /users add 999 buyer lets them in."),
        ("/users role 2002 boss", "'boss' is not a role: use one of viewer, buyer, approver"),
        ("/invite now", "'now' is not a role: use one of viewer, buyer, approver, admin."),
    ],
)
async def test_admin_commands_with_bad_arguments_say_what_would_work(
    telegram_bot: RunningBot, admin: FakeUser, command: str, expected: str
) -> None:
    turn = await telegram_bot.say(admin, command)
    assert len(turn.messages) == 1 and turn.text.startswith(expected)


async def test_admins_see_their_commands_in_help(telegram_bot: RunningBot, admin: FakeUser) -> None:
    text = (await telegram_bot.say(admin, "/help")).text
    assert "/invite [ROLE]: a one-time invite link" in text
    assert "/users [add ID [ROLE] | role ID ROLE | revoke ID]" in text
    assert "/material add KEY" in text


# --- groups -----------------------------------------------------------------------------------


@pytest.fixture
def group(telegram_bot: RunningBot) -> FakeChat:
    return telegram_bot.api.group(-4242, "Purchasing team")


async def test_in_a_group_allowed_users_ask_and_the_answer_quotes_them(
    telegram_bot: RunningBot, buyer: FakeUser, group: FakeChat
) -> None:
    asked = telegram_bot.api.send(buyer, "/price@ProcureTestBot copper", group)
    assert asked.update_id is not None
    await telegram_bot.answered(asked.update_id)
    answer = telegram_bot.api.sent_to(group.id)[-1]
    assert answer.photo is not None and answer.reply_to == asked.message_id
    assert answer.reads.startswith("Copper: 13,950 USD/t")


async def test_in_a_group_other_bots_commands_are_left_alone(
    telegram_bot: RunningBot, buyer: FakeUser, group: FakeChat
) -> None:
    for text in ("/price@SomeOtherBot copper", "/weather", "/roll@dice_bot 6"):
        assert (await telegram_bot.say(buyer, text, group)).messages == []
    misspelt = await telegram_bot.say(buyer, "/prise@ProcureTestBot", group)
    assert misspelt.text.startswith("Unknown command /prise. Did you mean /price?")


async def test_in_a_group_a_stranger_gets_only_their_id(
    telegram_bot: RunningBot, stranger: FakeUser, group: FakeChat
) -> None:
    assert_refused(await telegram_bot.say(stranger, "/stock", group), STRANGER_ID)


async def test_only_admins_subscribe_a_group(
    telegram_bot: RunningBot, admin: FakeUser, buyer: FakeUser, group: FakeChat
) -> None:
    refused = await telegram_bot.say(buyer, "/subscribe", group)
    assert refused.text.startswith("Only admins may subscribe or unsubscribe a group")
    assert await telegram_bot.services.subscriptions.active() == []

    subscribed = await telegram_bot.say(admin, "/subscribe", group)
    assert subscribed.text.startswith("Subscribed. This group will get alerts as they happen")
    [subscription] = await telegram_bot.services.subscriptions.active()
    assert (subscription.channel, subscription.address) == (Channel.TELEGRAM, str(group.id))
    assert subscription.added_by == ADMIN_ID

    refused = await telegram_bot.say(buyer, "/unsubscribe", group)
    assert refused.text.startswith("Only admins may subscribe or unsubscribe a group")
    assert (await telegram_bot.say(admin, "/unsubscribe", group)).text.startswith("Unsubscribed")
    assert await telegram_bot.services.subscriptions.active() == []


async def test_admin_commands_that_show_access_stay_out_of_groups(
    telegram_bot: RunningBot, admin: FakeUser, group: FakeChat
) -> None:
    for command in ("/invite", "/users"):
        turn = await telegram_bot.say(admin, command, group)
        assert turn.text.startswith(f"Send {command} to me in a private chat")
        assert "t.me" not in turn.text and str(ADMIN_ID) not in turn.text


async def test_in_a_forum_topic_the_answer_stays_in_the_topic(
    telegram_bot: RunningBot, buyer: FakeUser
) -> None:
    forum = telegram_bot.api.group(-100777, "Procurement forum", supergroup=True)
    turn = await telegram_bot.say(buyer, "/price", forum, thread_id=12)
    assert turn.last.thread_id == 12 and turn.last.reads.startswith("Prices")
