"""/alerts with how delivery went, and the admins' /whatsapp list."""

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.chat.registry import execute, parse
from bot.chat.request import Caller
from bot.formatting import Reply
from bot.rendering import Renderer
from core.delivery import DeliveryWorker
from core.models import (
    Alert,
    AlertType,
    Channel,
    Role,
    SendResult,
    SendStatus,
    Severity,
    Subscription,
)
from core.services import Services
from tests.fakes import (
    NOW,
    FakeClock,
    FakeNotifier,
    FakeOutbox,
    FakeSubscriptionRepo,
    make_services,
)

ADMIN = Caller(user_id=1, role=Role.ADMIN, chat_id=1)
BUYER = Caller(user_id=2, role=Role.BUYER, chat_id=2)
SETTINGS_NUMBER = "+4915112345678"


class World:
    def __init__(self, whatsapp_enabled: bool = True) -> None:
        self.clock = FakeClock()
        self.outbox = FakeOutbox()
        self.subscriptions = FakeSubscriptionRepo()
        self.services: Services = make_services(
            clock=self.clock,
            outbox=self.outbox,
            subscriptions=self.subscriptions,
            whatsapp_numbers=(SETTINGS_NUMBER,),
            whatsapp_enabled=whatsapp_enabled,
        )

    async def ask(self, line: str, caller: Caller = ADMIN) -> Reply:
        name, args = parse(line)
        return await execute(name, args, caller, self.services, Renderer())


@pytest.fixture
def world() -> World:
    return World()


async def test_alerts_say_how_delivery_went(world: World) -> None:
    for chat in ("10", "11", "12"):
        await world.subscriptions.add(Subscription(Channel.TELEGRAM, chat, NOW))
    recipients = world.services.recipients
    assert recipients is not None
    alert = Alert(
        AlertType.PRICE_DROP,
        Severity.CRITICAL,
        "copper",
        "Copper fell 12.0% in 24 h to 8,000 USD/t (12:00 UTC). Forecast: WAIT.",
        NOW,
        "PRICE_DROP:copper",
    )
    await world.outbox.record(alert, await recipients.for_alerts())
    telegram = FakeNotifier(Channel.TELEGRAM)
    telegram.script["12"] = [SendResult(SendStatus.FAILED, "blocked by the user", disable=True)]
    whatsapp = FakeNotifier(Channel.WHATSAPP)
    worker = DeliveryWorker(
        world.outbox,
        {Channel.TELEGRAM: telegram, Channel.WHATSAPP: whatsapp},
        recipients,
        world.clock,
    )
    await worker.run()

    reply = await world.ask("/alerts")
    assert "24 Nov 12:00 UTC · <b>CRITICAL</b> PRICE_DROP" in reply.text
    assert "Copper fell 12.0% in 24 h" in reply.text
    assert "sent to 3 of 4; 1 failed: blocked by the user" in reply.text
    assert "sent to 3 of 4" in (await world.ask("/alerts copper")).text
    assert "No alerts for Steel rebar yet" in (await world.ask("/alerts steel")).text


async def test_an_alert_still_being_sent_says_so(world: World) -> None:
    await world.subscriptions.add(Subscription(Channel.TELEGRAM, "10", NOW))
    assert world.services.recipients is not None
    alert = Alert(AlertType.LOW_INVENTORY, Severity.WARNING, "steel", "Low", NOW, "low")
    await world.outbox.record(alert, await world.services.recipients.for_alerts())
    later = Alert(AlertType.LOW_INVENTORY, Severity.WARNING, "steel", "Low", NOW, "x")
    await world.outbox.record(replace(later, created_at=NOW + timedelta(hours=1)), [])
    text = (await world.ask("/alerts 5")).text
    assert "sent to 0 of 2; 2 still being sent" in text
    assert "no recipients were subscribed" in text


async def test_whatsapp_numbers_are_added_listed_and_removed_by_admins(world: World) -> None:
    reply = await world.ask("/whatsapp add +1 415 555 0100")
    assert reply.text == "+14155550100 will get alerts on WhatsApp."
    listed = (await world.ask("/whatsapp list")).text
    assert f"{SETTINGS_NUMBER} · from settings" in listed
    assert "+14155550100 · added by 1" in listed
    assert (await world.ask("/whatsapp")).text == listed

    refused = (await world.ask(f"/whatsapp remove {SETTINGS_NUMBER}")).text
    assert "comes from the WHATSAPP_RECIPIENTS setting" in refused
    assert (await world.ask("/whatsapp remove +14155550100")).text == (
        "+14155550100 gets no more alerts."
    )
    assert "+14155550100" not in (await world.ask("/whatsapp list")).text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/whatsapp add 0151 1234567", "'01511234567' is not a phone number in international"),
        ("/whatsapp add", "Which number? Usage: /whatsapp list, /whatsapp add +E164"),
        ("/whatsapp delete +4915112345678", "Unknown /whatsapp action 'delete'."),
        ("/whatsapp list +4915112345678", "/whatsapp list takes no number."),
        # The rule the refusal states: a +, then 8 to 15 digits (ASCII digits, that is).
        ("/whatsapp add +1234567", "'+1234567' is not a phone number in international"),
        ("/whatsapp add +1234567890123456", "8 to 15 digits"),
        ("/whatsapp add +٤٩١٥١١٢٣٤٥٦٧٨", "'+٤٩١٥١١٢٣٤٥٦٧٨' is not a phone number"),
    ],
)
async def test_whatsapp_mistakes_get_one_line_saying_what_works(
    world: World, line: str, expected: str
) -> None:
    reply = await world.ask(line)
    assert reply.text.count("\n") == 0 and expected in reply.text


async def test_whatsapp_numbers_of_8_and_15_digits_are_taken(world: World) -> None:
    assert (await world.ask("/whatsapp add +12345678")).text.startswith("+12345678 will get")
    assert (await world.ask("/whatsapp add +123456789012345")).text.startswith("+1234567890")


async def test_whatsapp_works_only_in_a_private_chat(world: World) -> None:
    in_group = Caller(user_id=1, role=Role.ADMIN, chat_id=-100, is_group=True)
    reply = await world.ask("/whatsapp add +4915112345678", in_group)
    assert reply.text.startswith("Send /whatsapp to me in a private chat")
    assert "added by" not in (await world.ask("/whatsapp list")).text


async def test_whatsapp_is_for_admins_only(world: World) -> None:
    reply = await world.ask("/whatsapp list", BUYER)
    assert reply.text == "Only admins may use /whatsapp."
    assert "/whatsapp" not in (await world.ask("/help", BUYER)).text
    assert "/whatsapp add +4915112345678" in (await world.ask("/help")).text


async def test_the_list_says_when_whatsapp_is_off_and_which_numbers_are_off() -> None:
    world = World(whatsapp_enabled=False)
    recipients = world.services.recipients
    await recipients.unreachable(Channel.WHATSAPP, SETTINGS_NUMBER, "opted out (Twilio 21610)")
    text = (await world.ask("/whatsapp list")).text
    assert "WhatsApp is off: set TWILIO_ACCOUNT_SID" in text
    assert "<b>off</b>: opted out (Twilio 21610)" in text
