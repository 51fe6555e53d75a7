"""WhatsApp alerts through Twilio's Messages API, with the official twilio client (async).

- Base URL from TWILIO_BASE_URL (`client.api.base_url`), so tests can point it at Prism or a
  fake. The client rewrites the host when an edge or region is set, and ClientBase reads them
  with `environment or os.environ`: an empty dict is falsy and would still read TWILIO_EDGE and
  TWILIO_REGION from the process environment. So a non-empty mapping without them is passed.
- AsyncTwilioHttpClient ignores its timeout (twilio/twilio-python#925): every call is bounded
  with asyncio.wait_for.
- With TWILIO_CONTENT_SID the alert goes out as that approved template with the variables
  `material`, `change`, `price` and `advice` (JSON in ContentVariables); without it, as a plain
  body, which WhatsApp delivers only inside a 24-hour session (else error 63016).
- Twilio's errors become SendResults: 20429 / HTTP 429, 5xx, timeouts and network errors are
  RETRY; 21211 (invalid number), 21610 (opted out) and 63003 (not reachable on WhatsApp) are
  FAILED and disable the number; 63016 says a template is needed; others are FAILED with their
  code and message. The auth token is never logged (the client's own request log leaves the
  Authorization header out, and this module logs neither).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import AsyncHttpClient
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from core.models import Alert, AlertFacts, Channel, SendResult, SendStatus

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15.0
BODY_LIMIT = 1600
# Error codes that mean this number can never get our messages: stop sending to it.
UNREACHABLE = {
    21211: "invalid number",
    21610: "the number opted out (replied STOP)",
    63003: "the number is not reachable on WhatsApp",
}
TEMPLATE_NEEDED = 63016
RATE_LIMITED = 20429
# Non-empty on purpose, see the module docstring.
_NO_EDGE_OR_REGION = {"TWILIO_EDGE": "", "TWILIO_REGION": ""}


def template_variables(alert: Alert) -> dict[str, str]:
    """The template's variables; an alert without facts still fills every one."""
    facts = alert.facts or AlertFacts(alert.material or "n/a", alert.message, "n/a", "n/a")
    return {
        "material": facts.material,
        "change": facts.change,
        "price": facts.price,
        "advice": facts.advice,
    }


def plain_body(alert: Alert) -> str:
    return f"Procurement alert ({alert.severity}): {alert.message}"[:BODY_LIMIT]


def classify(status: int, code: int | None, message: str) -> SendResult:
    """A Twilio error answer as a SendResult."""
    if code == RATE_LIMITED or status == 429:
        return SendResult(SendStatus.RETRY, f"Twilio rate limit ({code or status})")
    if status >= 500:
        return SendResult(SendStatus.RETRY, f"Twilio answered {status}")
    if code in UNREACHABLE:
        return SendResult(SendStatus.FAILED, f"{UNREACHABLE[code]} (Twilio {code})", disable=True)
    if code == TEMPLATE_NEEDED:
        return SendResult(
            SendStatus.FAILED, f"a template is needed (set TWILIO_CONTENT_SID) (Twilio {code})"
        )
    reason = message.removeprefix("Unable to create record: ").strip() or f"HTTP {status}"
    return SendResult(SendStatus.FAILED, f"Twilio {code or status}: {reason}")


class TwilioWhatsAppNotifier:
    """Notifier for Channel.WHATSAPP; addresses are E.164 numbers ('+4915112345678')."""

    channel = Channel.WHATSAPP

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        base_url: str = "https://api.twilio.com",
        content_sid: str | None = None,
        http_client: AsyncHttpClient | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._sender = sender if sender.startswith("whatsapp:") else f"whatsapp:{sender}"
        self._base_url = base_url.rstrip("/")
        self._content_sid = content_sid
        self._http = http_client
        self._timeout = timeout
        self._client: Any = None

    def __repr__(self) -> str:  # no credentials, even in a traceback's locals
        return f"TwilioWhatsAppNotifier(base_url={self._base_url!r})"

    def _twilio(self) -> Any:
        # Built on first use, inside the event loop: AsyncTwilioHttpClient opens an aiohttp
        # session when constructed.
        if self._client is None:
            if self._http is None:
                self._http = AsyncTwilioHttpClient()
            client = Client(
                self._account_sid,
                self._auth_token,
                http_client=self._http,
                environment=_NO_EDGE_OR_REGION,
            )
            client.api.base_url = self._base_url
            self._client = client
        return self._client

    def message_parameters(self, address: str, alert: Alert) -> dict[str, str]:
        """The Messages.create parameters for one alert to one number."""
        parameters = {"to": f"whatsapp:{address}", "from_": self._sender}
        if self._content_sid:
            parameters["content_sid"] = self._content_sid
            parameters["content_variables"] = json.dumps(template_variables(alert))
        else:
            parameters["body"] = plain_body(alert)
        return parameters

    async def send(self, address: str, alert: Alert) -> SendResult:
        messages = self._twilio().messages
        try:
            message = await asyncio.wait_for(
                messages.create_async(**self.message_parameters(address, alert)), self._timeout
            )
        except TimeoutError:
            return SendResult(SendStatus.RETRY, f"Twilio did not answer within {self._timeout:g} s")
        except TwilioRestException as error:
            return classify(error.status, error.code, str(error.msg or ""))
        except TwilioServiceException as error:
            return classify(error.status, error.code, str(error.detail or error.title or ""))
        except (aiohttp.ClientError, OSError) as error:
            return SendResult(SendStatus.RETRY, f"cannot reach Twilio ({type(error).__name__})")
        return SendResult(SendStatus.SENT, detail=str(getattr(message, "sid", "") or ""))

    async def aclose(self) -> None:
        """Closes the HTTP session (the twilio client opens one)."""
        if self._http is not None and hasattr(self._http, "close"):
            await self._http.close()
