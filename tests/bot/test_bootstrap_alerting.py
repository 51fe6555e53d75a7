"""The composition root builds the alert machinery the settings ask for, or says what is
missing."""

from pathlib import Path

import pytest

from bot.bootstrap import build_alerting, build_services, open_database
from bot.settings import Settings, SettingsError, load_settings
from core.models import Channel
from tests.fakes import FakeClock


async def build(tmp_path: Path, **settings: object) -> list[Channel]:
    loaded: Settings = load_settings(_env_file=None, database_path=tmp_path / "b.db", **settings)
    clock = FakeClock()
    async with open_database(loaded, clock) as db:
        services = await build_services(db, loaded, clock)
        alerting = build_alerting(db, loaded, services)
        await alerting.aclose()
        return list(alerting.notifiers)


async def test_whatsapp_is_on_only_with_credentials_and_a_sender(tmp_path: Path) -> None:
    assert await build(tmp_path) == []
    channels = await build(
        tmp_path,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="token",
        twilio_whatsapp_from="whatsapp:+14155238886",
    )
    assert channels == [Channel.WHATSAPP]


async def test_credentials_without_a_sender_name_the_missing_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="TWILIO_WHATSAPP_FROM is not"):
        await build(tmp_path, twilio_account_sid="AC" + "0" * 32, twilio_auth_token="token")


async def test_an_http_feed_without_paths_names_the_missing_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="PRICE_HTTP_PATHS is empty"):
        await build(tmp_path, price_source="http:http://prices.test/latest")


async def test_an_http_feed_path_for_no_material_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="PRICE_HTTP_PATHS: Unknown material 'gold'"):
        await build(
            tmp_path,
            price_source="http:http://prices.test/latest",
            price_http_paths="Copper=rates.XCU,aluminum=rates.ALU,gold=rates.XAU",
        )


def test_a_malformed_price_path_is_a_bad_setting() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, price_http_paths="copper=1/rates.XCU*ounce")
    assert str(raised.value).startswith("Invalid setting PRICE_HTTP_PATHS=")
    assert "material=[1/]json.path[*FACTOR] pairs" in str(raised.value)
