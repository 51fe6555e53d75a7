"""The bot's rate limiter: never more than Telegram's 30 messages in any one second, however
the answers are delayed, so a broadcast meets no 429."""

import asyncio
import time
from pathlib import Path

from bot.rendering import Renderer
from bot.telegram.rate_limit import SendWindow
from core.models import Alert, AlertType, Channel, Severity
from tests.bot.telegram import TOKEN, running_bot
from tests.fake_telegram import FakeBotApi


async def test_a_place_is_free_again_one_period_after_its_request_ended() -> None:
    window = SendWindow(limit=3, period=0.2)
    spans: list[tuple[float, float]] = []

    async def request(answer_after: float) -> None:
        async with window.slot():
            started = time.monotonic()
            await asyncio.sleep(answer_after)
            spans.append((started, time.monotonic()))

    await asyncio.gather(*(request(0.05 * (n % 3)) for n in range(7)))
    starts = sorted(start for start, _ in spans)
    ends = sorted(end for _, end in spans)
    assert len(spans) == 7
    # The 4th request starts no sooner than a period after the 1st one's answer, and so on.
    assert all(starts[n + 3] >= ends[n] + 0.2 for n in range(4))


async def test_requests_waiting_for_their_answer_hold_their_places() -> None:
    window = SendWindow(limit=2, period=0.01)
    answer = asyncio.Event()
    held: list[int] = []

    async def slow(n: int) -> None:
        async with window.slot():
            held.append(n)
            await answer.wait()

    first = [asyncio.create_task(slow(n)) for n in range(2)]
    third = asyncio.create_task(slow(2))
    while len(held) < 2:
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    assert held == [0, 1] and not third.done()  # no place while both wait for Telegram
    answer.set()
    await asyncio.wait_for(asyncio.gather(*first, third), 10)
    assert held == [0, 1, 2]


async def test_a_broadcast_through_the_bot_stays_within_telegrams_limit(
    database: Path, chart_renderer: Renderer
) -> None:
    chats = [str(70_000 + n) for n in range(45)]
    async with FakeBotApi.running(TOKEN, flood_limit=30) as api:
        for chat in chats:
            api.user(int(chat), f"Buyer {chat}")
        async with running_bot(api, database, chart_renderer) as bot:
            for chat in chats:
                await bot.services.subscriptions.subscribe(Channel.TELEGRAM, chat, None)
            alert = Alert(
                AlertType.PRICE_DROP,
                Severity.WARNING,
                "copper",
                "Copper fell 9%",
                bot.clock.now(),
                "d",
            )
            await bot.alerting.outbox.record(alert, await bot.services.recipients.for_alerts())
            assert (await bot.deliver()).sent == len(chats)
    assert [c.status for c in api.calls_to("sendMessage")] == [200] * len(chats)  # no 429
    assert sorted(str(m.chat.id) for m in api.messages_from_bot()) == chats
