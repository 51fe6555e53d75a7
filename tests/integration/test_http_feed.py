"""The HTTP JSON feed against a local HTTP server: good answers, garbage, outages, secrets."""

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from core.adapters.http_feed import HttpPriceFeed, PricePath, redacted, value_at
from core.feeds import PricePoller
from core.materials import MaterialCatalog
from tests.fakes import MATERIALS, NOW, FakeClock, FakePriceRepo

SECRET = "s3cr3t-api-key"
PATHS = {"copper": "rates.XCU", "aluminum": "rates.ALU", "steel": "data.0.close"}
GOOD = {"rates": {"XCU": 9000.5, "ALU": "2500"}, "data": [{"close": 540}]}


@dataclass
class FakePriceApi:
    """A metals API: answers from a script (JSON, a status, raw text, or "hang")."""

    script: list[object] = field(default_factory=list)
    seen_keys: list[str | None] = field(default_factory=list)
    url: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen_keys.append(request.headers.get("X-Api-Key"))
        answer = self.script.pop(0) if self.script else GOOD
        if answer == "hang":
            await self.release.wait()
        if isinstance(answer, int):
            return web.Response(status=answer, text="<html>error</html>", content_type="text/html")
        if isinstance(answer, str):
            return web.Response(text=answer, content_type="text/html")
        return web.json_response(answer)


@pytest.fixture
async def api() -> AsyncIterator[FakePriceApi]:
    fake = FakePriceApi()
    app = web.Application()
    app.router.add_get("/v1/latest", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}/v1/latest?access_key={SECRET}&base=USD"
    yield fake
    fake.release.set()
    await runner.cleanup()


def poller_for(url: str, **options: object) -> tuple[PricePoller, FakePriceRepo]:
    feed = HttpPriceFeed(
        url,
        PATHS,
        {"X-Api-Key": SECRET},
        retry_delays=options.pop("retry_delays", (0, 0)),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )
    prices = FakePriceRepo()
    return PricePoller(feed, MaterialCatalog(MATERIALS), prices, FakeClock()), prices


async def test_each_price_is_read_at_its_path_with_the_headers_sent(api: FakePriceApi) -> None:
    polling, prices = poller_for(api.url)
    result = await polling.poll()
    assert (result.stored, result.refused, result.error) == (3, [], None)
    assert {p.material: p.price for p in prices.points} == {
        "copper": 9000.5,
        "aluminium": 2500.0,
        "steel": 540.0,
    }
    assert all(p.at == NOW for p in prices.points)  # stamped with the poll's time
    assert api.seen_keys == [SECRET]


async def test_server_errors_are_retried_within_one_poll(api: FakePriceApi) -> None:
    api.script = [503, 502]
    polling, _ = poller_for(api.url)
    assert (await polling.poll()).stored == 3
    assert len(api.seen_keys) == 3


async def test_an_outage_is_one_warning_with_no_secret_in_any_log_line(
    api: FakePriceApi, caplog: pytest.LogCaptureFixture
) -> None:
    api.script = [503] * 9
    polling, _ = poller_for(api.url)
    with caplog.at_level(logging.DEBUG):
        results = [await polling.poll() for _ in range(3)]
        back = await polling.poll()
    assert [r.error for r in results] == ["HTTP 503, 3 tries"] * 3 and back.stored == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Price feed http:http://127.0.0.1:" in warnings[0].getMessage()
    assert "/v1/latest?… is down: HTTP 503, 3 tries" in warnings[0].getMessage()
    # httpx's own request log (which shows the URL) is silenced by bot.cli.configure_logging.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("core"))
    assert ours and SECRET not in ours and "access_key" not in ours


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("<html>Gateway</html>", "the answer is not JSON (text/html)"),
        (401, "HTTP 401 (check the URL and PRICE_HTTP_HEADERS)"),
        (302, "HTTP 302 (redirects are not followed"),
    ],
)
async def test_garbage_and_refusals_are_outages_with_a_reason(
    api: FakePriceApi, answer: object, error: str
) -> None:
    api.script = [answer]
    polling, prices = poller_for(api.url)
    result = await polling.poll()
    assert result.error is not None and result.error.startswith(error)
    assert prices.points == [] and polling.is_down
    assert len(api.seen_keys) == 1  # not retried: it would not get better


async def test_missing_or_bad_values_are_refused_and_the_rest_stored(api: FakePriceApi) -> None:
    api.script = [{"rates": {"XCU": "N/A"}, "data": [{"close": 0}]}]
    polling, prices = poller_for(api.url)
    result = await polling.poll()
    assert sorted(r.describe() for r in result.refused) == [
        "aluminum at rates.ALU: nothing at rates.ALU",
        "copper at rates.XCU: price 'N/A' is not a number",
        "steel at data.0.close: price 0 is not above zero",
    ]
    assert prices.points == [] and polling.is_down  # nothing usable at all: down


async def test_a_server_that_does_not_answer_times_out(api: FakePriceApi) -> None:
    api.script = ["hang"]
    polling, _ = poller_for(api.url, timeout=0.2, retry_delays=())
    assert (await polling.poll()).error == "no answer within 0.2 s, 1 tries"


async def test_a_server_that_is_not_there_is_an_outage() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    polling, _ = poller_for(f"http://127.0.0.1:{port}/latest")
    assert (await polling.poll()).error == "cannot connect (ConnectError), 3 tries"


def test_urls_are_shown_without_credentials_or_query() -> None:
    assert redacted("https://user:pw@api.test:8443/v1/latest?key=abc") == (
        "https://api.test:8443/v1/latest?…"
    )
    assert redacted("http://api.test/latest") == "http://api.test/latest"


def test_dotted_paths_reach_into_objects_and_lists() -> None:
    document = {"a": {"b": [{"c": 1}, {"c": 2}]}}
    assert value_at(document, "a.b.1.c") == 2
    assert value_at(document, "a.b.2.c") is value_at(document, "a.x")


def test_an_http_feed_needs_paths() -> None:
    with pytest.raises(ValueError, match="PRICE_HTTP_PATHS is empty"):
        HttpPriceFeed("http://api.test", {})


# A metals API answering with base USD quotes each metal in troy ounces per US dollar, the
# inverse of a price: copper at 9,000 USD/t is 32,150.7466 oz/t / 9,000 USD/t = 3.5723 oz/USD.
INVERTED = {"base": "USD", "rates": {"XCU": 32150.7466 / 9000, "ALU": 32150.7466 / 2500}}


async def test_inverted_rates_per_troy_ounce_become_prices_per_tonne(api: FakePriceApi) -> None:
    api.script = [INVERTED]
    feed = HttpPriceFeed(
        api.url,
        {"copper": "1/rates.XCU*32150.7466", "aluminium": "1/rates.ALU*32150.7466"},
        retry_delays=(),
    )
    prices = FakePriceRepo()
    result = await PricePoller(feed, MaterialCatalog(MATERIALS), prices, FakeClock()).poll()
    assert result.refused == []
    assert {p.material: round(p.price, 6) for p in prices.points} == {
        "copper": 9000.0,
        "aluminium": 2500.0,
    }


async def test_a_zero_rate_that_cannot_be_inverted_is_refused(api: FakePriceApi) -> None:
    api.script = [{"rates": {"XCU": 0}}]
    feed = HttpPriceFeed(api.url, {"copper": "1/rates.XCU*32150.7466"}, retry_delays=())
    prices = FakePriceRepo()
    result = await PricePoller(feed, MaterialCatalog(MATERIALS), prices, FakeClock()).poll()
    assert [r.describe() for r in result.refused] == [
        "copper at 1/rates.XCU*32150.7: price 0 is not above zero"
    ]
    assert prices.points == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rates.XCU", PricePath("rates.XCU")),
        ("1/rates.XCU", PricePath("rates.XCU", invert=True)),
        ("rates.XAU*0.0311035", PricePath("rates.XAU", factor=0.0311035)),
        (" 1/rates.XCU*32150.7466 ", PricePath("rates.XCU", True, 32150.7466)),
    ],
)
def test_a_price_path_may_invert_and_scale(text: str, expected: PricePath) -> None:
    assert PricePath.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1/", "has no JSON path"),
        ("rates..XCU", "has no JSON path"),
        ("rates.XCU*ounce", "is not a number"),
        ("rates.XCU*0", "must be a number above zero"),
        ("rates.XCU*-2", "must be a number above zero"),
    ],
)
def test_a_malformed_price_path_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        PricePath.parse(text)
