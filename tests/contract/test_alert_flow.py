"""End to end without Telegram: a drop appended to the CSV feed becomes an alert, goes out on
WhatsApp in a request Twilio's contract (Prism) accepts, and /alerts shows it delivered.
Built by the real composition root over a real SQLite file with the demo data."""

from pathlib import Path

from bot.bootstrap import build_alerting, build_services, open_database
from bot.commands import Caller, Renderer, execute
from bot.settings import load_settings
from core.models import AlertType, Role, Severity
from tests.contract.test_twilio_contract import ACCOUNT_SID, AUTH_TOKEN, SENDER
from tests.fakes import FakeClock

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
