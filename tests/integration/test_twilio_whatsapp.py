"""The WhatsApp notifier with Twilio's errors and timeouts injected through a recording fake
AsyncHttpClient (the Holodeck pattern of twilio-python's own tests): the real client builds
the request and parses the answer; only the network is replaced."""

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from twilio.http import AsyncHttpClient
from twilio.http.response import Response

from core.adapters.twilio_whatsapp import TwilioWhatsAppNotifier, classify
from core.models import Alert, AlertFacts, AlertType, SendStatus, Severity
from tests.fakes import NOW

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "holodeck-token-77f1"
BASE_URL = "http://twilio.test:8080"
ALERT = Alert(
    AlertType.PRICE_DROP,
    Severity.CRITICAL,
    "copper",
    "Copper fell 12.0% in 24 h to 8,000 USD/t (14:05 UTC). Forecast: WAIT.",
    NOW,
    "PRICE_DROP:copper",
    magnitude=-12.0,
    facts=AlertFacts("Copper", "-12.0% in 24 h", "8,000 USD/t", "Forecast: WAIT"),
)
CREATED = {"sid": "SM" + "a" * 32, "status": "queued", "account_sid": ACCOUNT_SID}


@dataclass
class Sent:
    method: str
    url: str
    data: dict[str, Any]
    auth: tuple[str, str] | None


class Holodeck(AsyncHttpClient):
    """Records each request; answers from a script: a Response, an exception, or 'hang'."""

    def __init__(self, *answers: object) -> None:
        super().__init__(logging.getLogger("tests.holodeck"), is_async=True)
        self.answers = list(answers)
        self.requests: list[Sent] = []

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        self.requests.append(Sent(method, uri, dict(data or {}), auth))
        answer = self.answers.pop(0) if self.answers else Response(201, json.dumps(CREATED))
        if answer == "hang":
            await asyncio.Event().wait()
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, Response)
        return answer


def twilio_error(status: int, code: int, message: str) -> Response:
    body = {"code": code, "message": message, "status": status}
    return Response(status, json.dumps(body | {"more_info": f"https://twil.io/{code}"}))


def notifier(http: Holodeck, **options: Any) -> TwilioWhatsAppNotifier:
    return TwilioWhatsAppNotifier(
        ACCOUNT_SID, AUTH_TOKEN, "whatsapp:+14155238886", BASE_URL, http_client=http, **options
    )


async def test_a_plain_alert_goes_to_the_configured_base_url_as_a_body() -> None:
    http = Holodeck()
    result = await notifier(http).send("+4915112345678", ALERT)
    assert result.status is SendStatus.SENT and result.detail == CREATED["sid"]
    (sent,) = http.requests
    assert (sent.method, sent.url) == (
        "POST",
        f"{BASE_URL}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
    )
    assert sent.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert sent.data == {
        "To": "whatsapp:+4915112345678",
        "From": "whatsapp:+14155238886",
        "Body": f"Procurement alert (CRITICAL): {ALERT.message}",
    }


async def test_with_a_content_sid_the_alert_goes_out_as_the_template() -> None:
    http = Holodeck()
    await notifier(http, content_sid="HX" + "b" * 32).send("+4915112345678", ALERT)
    (sent,) = http.requests
    assert "Body" not in sent.data and sent.data["ContentSid"] == "HX" + "b" * 32
    assert json.loads(str(sent.data["ContentVariables"])) == {
        "material": "Copper",
        "change": "-12.0% in 24 h",
        "price": "8,000 USD/t",
        "advice": "Forecast: WAIT",
    }


async def test_twilio_edge_and_region_in_the_environment_do_not_move_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    http = Holodeck()
    await notifier(http).send("+4915112345678", ALERT)
    assert http.requests[0].url.startswith(f"{BASE_URL}/2010-04-01/")


@pytest.mark.parametrize(
    ("answer", "status", "disable", "detail"),
    [
        (twilio_error(429, 20429, "Too Many Requests"), SendStatus.RETRY, False, "rate limit"),
        (Response(429, "slow down"), SendStatus.RETRY, False, "Twilio rate limit (429)"),
        (twilio_error(500, 20500, "Internal Server Error"), SendStatus.RETRY, False, "500"),
        (Response(503, "<html>unavailable</html>"), SendStatus.RETRY, False, "503"),
        (
            twilio_error(400, 21211, "The 'To' number is not a valid phone number."),
            SendStatus.FAILED,
            True,
            "invalid number (Twilio 21211)",
        ),
        (
            twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"),
            SendStatus.FAILED,
            True,
            "opted out",
        ),
        (
            twilio_error(400, 63003, "Channel could not find To address"),
            SendStatus.FAILED,
            True,
            "not reachable on WhatsApp (Twilio 63003)",
        ),
        (
            twilio_error(400, 63016, "Failed to send freeform message outside the window"),
            SendStatus.FAILED,
            False,
            "a template is needed (set TWILIO_CONTENT_SID) (Twilio 63016)",
        ),
        (
            twilio_error(401, 20003, "Authenticate"),
            SendStatus.FAILED,
            False,
            "Twilio 20003: Authenticate",
        ),
        (
            Response(
                400,
                json.dumps(
                    {
                        "type": "https://twilio.com/errors/21211",
                        "title": "Invalid 'To' Phone Number",
                        "status": 400,
                        "code": 21211,
                    }
                ),
            ),
            SendStatus.FAILED,
            True,
            "invalid number (Twilio 21211)",
        ),
    ],
)
async def test_twilio_errors_become_send_results(
    answer: Response, status: SendStatus, disable: bool, detail: str
) -> None:
    result = await notifier(Holodeck(answer)).send("+4915112345678", ALERT)
    assert result.status is status and result.disable is disable
    assert detail in result.detail


async def test_a_twilio_that_does_not_answer_is_a_retry_not_a_hang() -> None:
    http = Holodeck("hang")
    result = await notifier(http, timeout=0.05).send("+4915112345678", ALERT)
    assert result.status is SendStatus.RETRY
    assert result.detail == "Twilio did not answer within 0.05 s"


async def test_a_network_failure_is_a_retry() -> None:
    http = Holodeck(aiohttp.ClientConnectionError("refused"))
    result = await notifier(http).send("+4915112345678", ALERT)
    assert result.status is SendStatus.RETRY
    assert result.detail == "cannot reach Twilio (ClientConnectionError)"


async def test_no_log_line_carries_the_auth_token(caplog: pytest.LogCaptureFixture) -> None:
    answers = [twilio_error(400, 21211, "bad"), "hang", Response(500, "x")]
    with caplog.at_level(logging.DEBUG):
        for answer in answers:
            await notifier(Holodeck(answer), timeout=0.05).send("+4915112345678", ALERT)
    assert AUTH_TOKEN not in caplog.text


def test_an_unknown_failure_keeps_twilios_code_and_message() -> None:
    result = classify(400, 21617, "Unable to create record: The concatenated body is too long")
    assert result.status is SendStatus.FAILED and not result.disable
    assert result.detail == "Twilio 21617: The concatenated body is too long"
