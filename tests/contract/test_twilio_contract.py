"""WhatsApp alerts through the real twilio client, checked by Prism against Twilio's own
OpenAPI description (form body, To required, SID patterns, basic auth)."""

import logging
from collections.abc import AsyncIterator

import pytest
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from core.adapters.twilio_whatsapp import TwilioWhatsAppNotifier
from core.models import SendStatus
from tests.fakes import COPPER_DROP as ALERT

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "contract-test-token-0b5e"
CONTENT_SID = "HX" + "fedcba9876543210" * 2
SENDER = "whatsapp:+14155238886"


@pytest.fixture
async def notifiers(prism_url: str) -> AsyncIterator[list[TwilioWhatsAppNotifier]]:
    made: list[TwilioWhatsAppNotifier] = []
    yield made
    for notifier in made:
        await notifier.aclose()


def make(
    made: list[TwilioWhatsAppNotifier], base_url: str, **options: str | None
) -> TwilioWhatsAppNotifier:
    settings = {"account_sid": ACCOUNT_SID, "content_sid": None, **options}
    notifier = TwilioWhatsAppNotifier(
        settings["account_sid"] or ACCOUNT_SID,
        AUTH_TOKEN,
        SENDER,
        base_url,
        settings["content_sid"],
    )
    made.append(notifier)
    return notifier


async def test_a_plain_alert_is_a_request_twilio_accepts(
    prism_url: str, notifiers: list[TwilioWhatsAppNotifier]
) -> None:
    result = await make(notifiers, prism_url).send("+4915112345678", ALERT)
    assert result.status is SendStatus.SENT, result.detail
    assert result.detail.startswith("SM")  # the message SID from Twilio's example answer


async def test_a_template_alert_is_a_request_twilio_accepts(
    prism_url: str, notifiers: list[TwilioWhatsAppNotifier]
) -> None:
    notifier = make(notifiers, prism_url, content_sid=CONTENT_SID)
    result = await notifier.send("+4915112345678", ALERT)
    assert result.status is SendStatus.SENT, result.detail


async def test_a_request_outside_the_contract_is_refused_and_not_retried(
    prism_url: str, notifiers: list[TwilioWhatsAppNotifier]
) -> None:
    notifier = make(notifiers, prism_url, account_sid="AC-not-an-account-sid")
    result = await notifier.send("+4915112345678", ALERT)
    assert result.status is SendStatus.FAILED and "422" in result.detail


async def test_the_auth_token_never_reaches_a_log_line(
    prism_url: str, notifiers: list[TwilioWhatsAppNotifier], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await make(notifiers, prism_url).send("+4915112345678", ALERT)
        await make(notifiers, prism_url, account_sid="ACbad").send("+4915112345678", ALERT)
    assert "Twilio API Request" in caplog.text  # the client did log its requests
    assert AUTH_TOKEN not in caplog.text
    assert AUTH_TOKEN not in repr(notifiers[0])


async def test_one_media_url_passes_the_lenient_copy_of_the_spec(prism_url: str) -> None:
    """The fixture's copy accepts a single MediaUrl (stoplightio/prism#2473); the client sends
    one as a plain form field."""
    http = AsyncTwilioHttpClient()
    try:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http, environment={"_": ""})
        client.api.base_url = prism_url
        message = await client.messages.create_async(
            to="whatsapp:+4915112345678", from_=SENDER, media_url=["https://example.com/c.png"]
        )
        assert message.sid.startswith("SM")
    finally:
        await http.close()
