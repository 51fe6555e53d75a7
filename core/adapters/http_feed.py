"""`PRICE_SOURCE=http:URL`: a JSON API such as a metals-price service.

Each material's price is read at a dotted path of the JSON (`PRICE_HTTP_PATHS`, e.g.
`copper=rates.XCU`; a number in a path indexes a list), stamped with the time of the poll.
Extra request headers (`PRICE_HTTP_HEADERS`, typically an API key) are secret: they never
appear in a log line or an error message, and neither does the URL's query string (API keys
often travel there too). Each request has a timeout; connection failures, timeouts, 429 and 5xx
answers are retried a few times with a growing pause before the poll counts as failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.errors import FeedError
from core.models import FeedRow
from core.ports import FeedBatch

TIMEOUT_SECONDS = 10.0
RETRY_DELAYS = (1.0, 3.0)  # pauses before the 2nd and 3rd try of one poll
_MISSING = object()
_HINTS = {
    300: " (redirects are not followed: put the final URL in PRICE_SOURCE)",
    400: " (check the URL and PRICE_HTTP_HEADERS)",
}


def redacted(url: str) -> str:
    """The URL without credentials or query string, fit for a log line."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = "?…" if parts.query else ""
    return f"{parts.scheme}://{host}{parts.path}{query}"


def value_at(document: object, path: str) -> object:
    """The value at a dotted path ("rates.XCU", "data.0.price"), or _MISSING."""
    node = document
    for step in path.split("."):
        if isinstance(node, Mapping) and step in node:
            node = node[step]
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return _MISSING
    return node


class HttpPriceFeed:
    """Reads one price per configured material from a JSON document over HTTP(S)."""

    def __init__(
        self,
        url: str,
        paths: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
        timeout: float = TIMEOUT_SECONDS,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not paths:
            raise ValueError(
                "PRICE_HTTP_PATHS is empty: say where each price sits in the JSON, "
                "e.g. copper=rates.XCU,aluminium=rates.ALU"
            )
        self._url = url
        self._paths = dict(paths)
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._retry_delays = tuple(retry_delays)
        self._sleep = sleep
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.name = f"http:{redacted(url)}"

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self) -> FeedBatch:
        document = await self._get_json()
        rows = []
        for material, path in self._paths.items():
            key = f"{material} at {path}"
            value = value_at(document, path)
            if value is _MISSING:
                rows.append(FeedRow(material, None, None, key, problem=f"nothing at {path}"))
            else:
                rows.append(FeedRow(material, value, None, key))
        return FeedBatch(rows)

    async def _get_json(self) -> Any:
        response = await self._get()
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "unknown type").split(";")[0]
            raise FeedError(f"the answer is not JSON ({kind})") from None

    async def _get(self) -> httpx.Response:
        client = self._client_for_loop()
        problem = ""
        for attempt in range(len(self._retry_delays) + 1):
            if attempt:
                await self._sleep(self._retry_delays[attempt - 1])
            try:
                response = await client.get(self._url)
            except httpx.TimeoutException:
                problem = f"no answer within {self._timeout:g} s"
                continue
            except httpx.TransportError as error:
                # The exception text may carry the URL (and so a key in its query): name the
                # kind of failure only.
                problem = f"cannot connect ({type(error).__name__})"
                continue
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 300:
                hint = _HINTS.get(response.status_code // 100 * 100, "")
                raise FeedError(f"HTTP {response.status_code}{hint}")
            return response
        tries = len(self._retry_delays) + 1
        raise FeedError(f"{problem}, {tries} tries")

    def _client_for_loop(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                headers=self._headers,
                timeout=self._timeout,
                # Redirects are not followed: the secret headers would go wherever they point.
                follow_redirects=False,
                transport=self._transport,
            )
        return self._client
