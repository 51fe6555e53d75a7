"""End to end: a drop appended to the CSV feed becomes an alert, goes out on WhatsApp in a
request Twilio's contract (Prism) accepts and, through the running bot, to a subscribed Telegram
chat; /alerts shows it delivered. Built by the real composition root over a real SQLite file
with the demo data."""

import asyncio
import time
from pathlib import Path

from bot.bootstrap import build_alerting, build_services, open_database
from bot.chat.registry import execute
from bot.chat.request import Caller
from bot.rendering import Renderer
from bot.settings import load_settings
from core.models import AlertType, Channel, DeliveryStatus, Role, Severity
from tests.bot.telegram import BUYER_ID, running_bot
from tests.contract.test_twilio_contract import ACCOUNT_SID, AUTH_TOKEN, SENDER
from tests.fake_telegram import FakeBotApi
from tests.fakes import NOW, FakeClock

NUMBER = "+4915112345678"


async def test_a_drop_in_the_csv_reaches_whatsapp_and_the_alert_history(
    prism_url: str, tmp_path: Path
) -> None:
    feed = tmp_path / "prices.csv"
    feed.write_text("timestamp,material,price\n")
    settings = load_settings(
        _env_file=None,
        database_path=tmp_path / "bot.db",
        price_source=f"csv:{feed}",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_whatsapp_from=SENDER,
        twilio_base_url=prism_url,
        whatsapp_recipients=NUMBER,
    )
    clock = FakeClock()  # 24 Nov 12:00 UTC; the demo prices end on 23 Nov
    async with open_database(settings, clock) as db:
        services = await build_services(db, settings, clock)
        alerting = build_alerting(db, settings, services)
        try:
            summary = await services.prices.summary(services.catalog.get("copper"))
            assert summary.latest is not None
            drop = round(summary.latest.price * 0.8, 1)
            with feed.open("a") as file:
                file.write(f"2026-11-24T11:55:00Z,copper,{drop}\n")

            polled = await alerting.jobs.poll_prices()
            assert polled is not None
            (alert,) = polled[1]
            assert (alert.type, alert.severity) == (AlertType.PRICE_DROP, Severity.CRITICAL)
            assert alert.message.startswith("Copper fell 2")

            delivered = await alerting.jobs.deliver()
            assert delivered is not None and delivered.sent == 1

            admin = Caller(
                user_id=next(iter(settings.admin_user_ids), 0), role=Role.ADMIN, chat_id=0
            )
            reply = await execute("alerts", (), admin, services, Renderer())
            assert "<b>CRITICAL</b> PRICE_DROP" in reply.text
            assert "sent to 1 of 1" in reply.text
        finally:
            await alerting.aclose()


async def test_done_when_a_20_percent_drop_reaches_telegram_and_whatsapp_and_shows_in_alerts(
    prism_url: str, telegram_api: FakeBotApi, tmp_path: Path
) -> None:
    """Issue 5's "done when": PRICE_SOURCE=csv with a 2-second poll, the bot running with its
    own schedule; the drop reaches the chat (target: within 15 s; the time is printed, and
    only a generous timeout is asserted) and WhatsApp, and /alerts shows how delivery went."""
    buyer = telegram_api.user(BUYER_ID, "Bob")
    feed = tmp_path / "prices.csv"
    feed.write_text("timestamp,material,price\n")
    async with running_bot(
        telegram_api,
        tmp_path / "var" / "bot.db",  # created and seeded with the demo data at start
        Renderer(),
        scheduled_jobs=True,
        price_source=f"csv:{feed}",
        price_update_seconds=2,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_whatsapp_from=SENDER,
        twilio_base_url=prism_url,
        whatsapp_recipients=NUMBER,
    ) as bot:
        assert (await bot.say(buyer, "/subscribe")).text.startswith("Subscribed.")
        summary = await bot.services.prices.summary(bot.services.catalog.get("copper"))
        assert summary.latest is not None
        with feed.open("a") as file:
            file.write(f"{NOW.date()}T11:55:00Z,copper,{summary.latest.price * 0.8:.1f}\n")
        appended = time.monotonic()

        def drop_arrived() -> bool:
            return any("Copper fell 2" in m.reads for m in telegram_api.sent_to(buyer.id))

        await telegram_api.wait_for(drop_arrived, timeout=60)
        seconds = time.monotonic() - appended
        print(f"\n20% drop appended to the CSV -> Telegram chat in {seconds:.1f} s (target 15 s)")

        [drop] = await bot.services.alerts.report(1, bot.services.catalog.get("copper"))
        assert drop.alert.id is not None
        deliveries = {}
        for _ in range(600):  # up to 60 s for WhatsApp through Prism
            deliveries = {
                d.channel: d.status for d in await bot.alerting.outbox.deliveries(drop.alert.id)
            }
            if deliveries.get(Channel.WHATSAPP) is DeliveryStatus.SENT:
                break
            await asyncio.sleep(0.1)
        assert deliveries == {
            Channel.TELEGRAM: DeliveryStatus.SENT,
            Channel.WHATSAPP: DeliveryStatus.SENT,
        }

        history = (await bot.say(buyer, "/alerts copper")).text
        assert "CRITICAL PRICE_DROP" in history and "Copper fell 2" in history
        assert "sent to 2 of 2" in history
