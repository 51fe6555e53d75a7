"""`PRICE_SOURCE=http:URL`: a JSON API such as a metals-price service.

Each material's price is read at a dotted path of the JSON (`PRICE_HTTP_PATHS`, e.g.
`copper=rates.XCU`; a number in a path indexes a list), stamped with the time of the poll.
Many metals APIs quote inverted rates (troy ounces of metal per USD): `1/` before a path
inverts the number found there and `*FACTOR` after it scales it, so
`copper=1/rates.XCU*32150.7466` turns ounces per USD into USD per tonne.
Extra request headers (`PRICE_HTTP_HEADERS`, typically an API key) are secret: they never
appear in a log line or an error message, and neither does the URL's query string (API keys
often travel there too). Each request has a timeout; connection failures, timeouts, 429 and 5xx
answers are retried a few times with a growing pause before the poll counts as failed.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.errors import FeedError
from core.feeds import parse_price
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


@dataclass(frozen=True)
class PricePath:
    """Where one material's price sits in the JSON (`rates.XCU`), and how the number found
    there becomes the price: inverted (`1/rates.XCU`, a rate in metal per USD) and scaled
    (`rates.XCU*32150.7466`, per troy ounce to per tonne)."""

    path: str
    invert: bool = False
    factor: float = 1.0

    @classmethod
    def parse(cls, text: str) -> PricePath:
        """`[1/]dotted.path[*FACTOR]`; raises ValueError saying what is wrong."""
        spec = text.strip()
        invert = spec.startswith("1/")
        path, star, factor_text = spec.removeprefix("1/").partition("*")
        path = path.strip()
        if not path or any(not step.strip() for step in path.split(".")):
            raise ValueError(f"{text!r} has no JSON path (expected e.g. rates.XCU)")
        factor = 1.0
        if star:
            try:
                factor = float(factor_text)
            except ValueError:
                raise ValueError(f"the factor in {text!r} is not a number") from None
            if not (math.isfinite(factor) and factor > 0):
                raise ValueError(f"the factor in {text!r} must be a number above zero")
        return cls(path, invert, factor)

    @property
    def converts(self) -> bool:
        return self.invert or self.factor != 1.0

    def price(self, value: object) -> object:
        """The price from the value found at the path (as it is when nothing converts it)."""
        if not self.converts:
            return value
        number = parse_price(value)
        return (1.0 / number if self.invert else number) * self.factor

    def __str__(self) -> str:
        factor = f"*{self.factor:g}" if self.factor != 1.0 else ""
        return f"{'1/' if self.invert else ''}{self.path}{factor}"


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
        paths: Mapping[str, str | PricePath],
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
        self._paths = {
            material: path if isinstance(path, PricePath) else PricePath.parse(path)
            for material, path in paths.items()
        }
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
        for material, spec in self._paths.items():
            key = f"{material} at {spec}"
            value = value_at(document, spec.path)
            if value is _MISSING:
                rows.append(FeedRow(material, None, None, key, problem=f"nothing at {spec.path}"))
                continue
            try:
                rows.append(FeedRow(material, spec.price(value), None, key))
            except ValueError as error:
                rows.append(FeedRow(material, value, None, key, problem=str(error)))
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
