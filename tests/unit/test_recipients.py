"""Who gets alerts, and the WhatsApp list admins keep."""

import logging

import pytest

from core.errors import UserError
from core.models import (
    Alert,
    AlertType,
    Channel,
    DeliveryStatus,
    Recipient,
    Severity,
    Subscription,
)
from core.recipients import RecipientDirectory, mask, parse_e164
from tests.fakes import NOW, FakeClock, FakeOutbox, FakeSubscriptionRepo

SETTINGS_NUMBER = "+4915112345678"


def directory(enabled: bool = True) -> RecipientDirectory:
    return RecipientDirectory(
        FakeSubscriptionRepo(), FakeClock(), (SETTINGS_NUMBER,), enabled, FakeOutbox()
    )


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("+4915112345678", "+4915112345678"),
        ("+49 151 1234-5678", "+4915112345678"),
        ("whatsapp:+14155550100", "+14155550100"),
        ("+1 (415) 555.0100", "+14155550100"),
    ],
)
def test_numbers_are_read_in_e164(text: str, number: str) -> None:
    assert parse_e164(text) == number


@pytest.mark.parametrize(
    "text", ["015112345678", "+0151123", "+49", "+49151abc", "", "+1234567890123456"]
)
def test_a_number_not_in_e164_gets_one_line_saying_what_fits(text: str) -> None:
    with pytest.raises(UserError) as error:
        parse_e164(text)
    message = str(error.value)
    assert "\n" not in message and "E.164" in message and "+4915112345678" in message


def test_numbers_are_masked_in_logs() -> None:
    assert mask("+4915112345678") == "+49151…678"
    assert mask("-1001234") == "-1001234"


async def test_the_list_shows_settings_numbers_first_and_they_cannot_be_removed() -> None:
    numbers = directory()
    added = await numbers.add_whatsapp("+1 415 555 0100", added_by=7)
    assert added.done and added.message == "+14155550100 will get alerts on WhatsApp."
    again = await numbers.add_whatsapp("+14155550100", added_by=7)
    assert not again.done and again.message == "+14155550100 gets alerts already."
    from_settings = await numbers.add_whatsapp(SETTINGS_NUMBER, added_by=7)
    assert not from_settings.done and "(from settings)" in from_settings.message

    listed = await numbers.whatsapp()
    assert [(n.number, n.from_settings, n.added_by) for n in listed] == [
        (SETTINGS_NUMBER, True, None),
        ("+14155550100", False, 7),
    ]
    refused = await numbers.remove_whatsapp(SETTINGS_NUMBER)
    assert not refused.done and "WHATSAPP_RECIPIENTS" in refused.message
    assert (await numbers.remove_whatsapp("+14155550100")).done
    assert not (await numbers.remove_whatsapp("+14155550100")).done
    assert [n.number for n in await numbers.whatsapp()] == [SETTINGS_NUMBER]


async def test_alert_recipients_are_active_chats_and_numbers_when_whatsapp_is_on() -> None:
    subscriptions = FakeSubscriptionRepo()
    await subscriptions.add(Subscription(Channel.TELEGRAM, "-100", NOW))
    await subscriptions.add(Subscription(Channel.TELEGRAM, "5", NOW, disabled_reason="blocked"))
    on = RecipientDirectory(subscriptions, FakeClock(), (SETTINGS_NUMBER,), True)
    off = RecipientDirectory(subscriptions, FakeClock(), (SETTINGS_NUMBER,), False)
    assert await on.for_alerts() == [
        Recipient(Channel.TELEGRAM, "-100"),
        Recipient(Channel.WHATSAPP, SETTINGS_NUMBER),
    ]
    assert await off.for_alerts() == [Recipient(Channel.TELEGRAM, "-100")]


async def test_a_disabled_number_comes_back_when_an_admin_adds_it_again() -> None:
    numbers = directory()
    await numbers.unreachable(Channel.WHATSAPP, SETTINGS_NUMBER, "opted out (Twilio 21610)")
    (listed,) = await numbers.whatsapp()
    assert listed.disabled_reason == "opted out (Twilio 21610)"
    assert await numbers.for_alerts() == []
    back = await numbers.add_whatsapp(SETTINGS_NUMBER, added_by=1)
    assert back.done and "it was off: opted out (Twilio 21610)" in back.message
    assert await numbers.for_alerts() == [Recipient(Channel.WHATSAPP, SETTINGS_NUMBER)]


async def test_removing_a_number_drops_its_pending_deliveries() -> None:
    outbox = FakeOutbox()
    numbers = RecipientDirectory(FakeSubscriptionRepo(), FakeClock(), (), True, outbox)
    await numbers.add_whatsapp("+14155550100", added_by=1)
    alert = Alert(AlertType.PRICE_DROP, Severity.WARNING, "copper", "fell", NOW, "drop:copper")
    await outbox.record(alert, await numbers.for_alerts())
    await numbers.remove_whatsapp("+14155550100")
    (delivery,) = outbox.deliveries.values()
    assert delivery.detail == "removed from the WhatsApp list"


class World:
    """A directory over an outbox holding one alert for each of `recipients`."""

    def __init__(self) -> None:
        self.subscriptions = FakeSubscriptionRepo()
        self.outbox = FakeOutbox()
        self.directory = RecipientDirectory(
            self.subscriptions, FakeClock(), (SETTINGS_NUMBER,), True, self.outbox
        )

    async def subscribe(self, *chats: str) -> None:
        for chat in chats:
            await self.subscriptions.add(Subscription(Channel.TELEGRAM, chat, NOW))

    async def alert(self) -> None:
        drop = Alert(AlertType.PRICE_DROP, Severity.WARNING, "copper", "fell", NOW, "drop")
        await self.outbox.record(drop, await self.directory.for_alerts())

    def pending(self) -> list[str]:
        return sorted(d.address for d in self.outbox.by_status(DeliveryStatus.PENDING))


async def test_a_chat_that_blocked_the_bot_is_unsubscribed_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World()
    await world.subscribe("42", "43")
    await world.alert()
    await world.alert()
    await world.directory.unreachable(Channel.TELEGRAM, "42", "Forbidden: blocked")
    assert world.pending() == sorted(["43", "43", SETTINGS_NUMBER, SETTINGS_NUMBER])
    dropped = [d.detail for d in world.outbox.by_status(DeliveryStatus.FAILED)]
    assert dropped == ["Forbidden: blocked"] * 2
    subscription = await world.subscriptions.get(Channel.TELEGRAM, "42")
    assert subscription is not None and subscription.disabled_reason == "Forbidden: blocked"
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["Unsubscribed telegram 42: Forbidden: blocked (2 pending deliveries dropped)"]

    caplog.clear()  # told again (the bot's update, after the delivery's 403): nothing new
    await world.directory.unreachable(Channel.TELEGRAM, "42", "the user blocked the bot")
    assert caplog.records == []
    await world.directory.unreachable(Channel.TELEGRAM, "777", "never subscribed")
    assert caplog.records == [] and await world.subscriptions.get(Channel.TELEGRAM, "777") is None


async def test_a_moved_group_keeps_its_subscription_and_its_pending_alerts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    world = World()
    await world.subscribe("-42")
    await world.alert()
    await world.directory.moved(Channel.TELEGRAM, "-42", "-10042")
    assert next(r.address for r in await world.directory.for_alerts()) == "-10042"
    assert world.pending() == sorted(["-10042", SETTINGS_NUMBER])
    assert "Subscription of telegram -42 moved to -10042 (1 pending delivery moved with it)" in (
        caplog.text
    )
    await world.directory.moved(Channel.TELEGRAM, "-42", "-10042")  # told twice: no change
    assert world.pending() == sorted(["-10042", SETTINGS_NUMBER])
