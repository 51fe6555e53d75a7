"""Every setting of PRODUCT.md, typed, read once from the environment and `.env`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from core.adapters.http_feed import PricePath
from core.recipients import E164

DASK_ADDRESS = re.compile(r"^tcp://[^\s/:]+:\d{1,5}$")


class SettingsError(Exception):
    """A setting has a value the program cannot use; the message names it and what is expected."""


@dataclass(frozen=True)
class PriceSource:
    """Where prices come from: `simulated`, `csv:PATH` or `http:URL`."""

    kind: Literal["simulated", "csv", "http"]
    location: str = ""

    @classmethod
    def parse(cls, text: str) -> PriceSource:
        kind, _, location = text.strip().partition(":")
        if kind == "simulated" and not location:
            return cls("simulated")
        if kind == "csv" and location:
            return cls("csv", location)
        if kind == "http" and location.startswith(("http://", "https://")):
            return cls("http", location)
        raise ValueError(text)

    def __str__(self) -> str:
        return self.kind if self.kind == "simulated" else f"{self.kind}:{self.location}"


def _split(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


def _pairs(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return value
    pairs = {}
    for part in _split(value):
        key, sep, item = part.partition("=")
        if not sep or not key.strip() or not item.strip():
            raise ValueError(part)
        pairs[key.strip()] = item.strip()
    return pairs


IdList = Annotated[frozenset[int], NoDecode]
NumberList = Annotated[tuple[str, ...], NoDecode]
PairMap = Annotated[dict[str, str], NoDecode]


class Settings(BaseSettings):
    """The program's settings; each field's description says what a valid value looks like."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    telegram_bot_token: SecretStr | None = Field(None, description="the bot token from @BotFather")
    telegram_base_url: str = Field(
        "https://api.telegram.org/bot", description="an http(s) URL of a Bot API server"
    )
    telegram_base_file_url: str | None = Field(
        None, description="an http(s) URL the Bot API serves files from"
    )
    database_path: Path = Field(Path("var/procurement.db"), description="a file path")
    database_url: str | None = Field(
        None,
        description="sqlite:///PATH or postgresql://user:password@host:5432/dbname",
    )
    admin_user_ids: IdList = Field(
        frozenset(), description="comma-separated numeric Telegram user ids, e.g. 12345,67890"
    )
    allowed_user_ids: IdList = Field(
        frozenset(), description="comma-separated numeric Telegram user ids, e.g. 12345,67890"
    )
    viewer_user_ids: IdList = Field(
        frozenset(), description="comma-separated numeric Telegram user ids, e.g. 12345,67890"
    )
    approver_user_ids: IdList = Field(
        frozenset(), description="comma-separated numeric Telegram user ids, e.g. 12345,67890"
    )
    twilio_account_sid: str | None = Field(None, description="an account SID starting with AC")
    twilio_auth_token: SecretStr | None = Field(None, description="the Twilio auth token")
    twilio_whatsapp_from: str | None = Field(
        None, description="the WhatsApp sender as whatsapp:+E164, e.g. whatsapp:+14155238886"
    )
    twilio_content_sid: str | None = Field(
        None, description="an approved template's Content SID starting with HX"
    )
    whatsapp_recipients: NumberList = Field(
        (), description="comma-separated +E164 numbers, e.g. +4915112345678,+14155550100"
    )
    twilio_base_url: str = Field(
        "https://api.twilio.com", description="an http(s) URL of the Twilio API"
    )
    price_source: Annotated[PriceSource, NoDecode] = Field(
        PriceSource("simulated"), description="simulated, csv:PATH or http:URL"
    )
    price_http_paths: PairMap = Field(
        {},
        description="material=[1/]json.path[*FACTOR] pairs, e.g. "
        "copper=rates.XCU,aluminium=1/rates.ALU*32150.7466",
    )
    price_http_headers: PairMap = Field({}, description="Header=value pairs, e.g. X-Api-Key=abc123")
    price_update_seconds: int = Field(300, gt=0, description="a whole number of seconds > 0")
    forecast_retrain_seconds: int = Field(3600, gt=0, description="a whole number of seconds > 0")
    forecast_horizon_days: int = Field(7, ge=1, le=30, description="a whole number of days, 1-30")
    forecast_cluster: str | None = Field(
        None, description="a Dask scheduler address, tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786"
    )
    price_alert_pct: float = Field(5.0, gt=0, le=100, description="a percentage > 0, e.g. 5")
    buy_threshold_pct: float = Field(2.0, gt=0, le=100, description="a percentage > 0, e.g. 2")
    price_max_jump_pct: float = Field(
        50.0, gt=0, description="a percentage > 0, e.g. 50 (a larger move is held as suspect)"
    )
    alert_cooldown_minutes: int = Field(360, ge=0, description="a whole number of minutes >= 0")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="DEBUG, INFO, WARNING or ERROR"
    )
    chart_cache_size: int = Field(
        32, ge=0, le=1000, description="a whole number of charts, 0-1000 (0 turns the cache off)"
    )
    loop_monitor_file: Path | None = Field(
        None, description="a file path (the bot writes its event loop's worst stall there)"
    )
    # Operations (issue 13): metrics, backups, retention, log format.
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="a TCP port, 1-65535, e.g. 9108 (unset: no metrics)"
    )
    metrics_host: str = Field("127.0.0.1", description="an address to listen on, e.g. 0.0.0.0")
    backup_dir: Path | None = Field(
        None, description="a directory for the daily backups (unset: no automatic backups)"
    )
    backup_keep: int = Field(7, ge=1, le=1000, description="a whole number of backups, 1-1000")
    price_retention_days: int = Field(
        90, ge=31, description="a whole number of days >= 31 (the /price chart shows 30)"
    )
    log_format: Literal["text", "json"] = Field("text", description="text or json")
    # Purchasing (issue 10).
    approval_limit: float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="an amount >= 0 in each material's currency, e.g. 50000 (0: every "
        "purchase needs an approver)",
    )
    approval_remind_hours: int = Field(
        24, ge=1, le=720, description="a whole number of hours, 1-720"
    )
    order_review_days: int = Field(7, ge=0, le=365, description="a whole number of days, 0-365")

    @property
    def database(self) -> str:
        """The database's URL: DATABASE_URL, or the SQLite file DATABASE_PATH."""
        return self.database_url or f"sqlite:///{self.database_path}"

    @property
    def file_url(self) -> str:
        """Where the Bot API serves files: TELEGRAM_BASE_FILE_URL, or TELEGRAM_BASE_URL with
        its final /bot made /file/bot."""
        if self.telegram_base_file_url:
            return self.telegram_base_file_url
        base = self.telegram_base_url
        return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"

    @field_validator(
        "admin_user_ids",
        "allowed_user_ids",
        "viewer_user_ids",
        "approver_user_ids",
        mode="before",
    )
    @classmethod
    def _ids(cls, value: Any) -> frozenset[int]:
        return frozenset(int(part) for part in _split(value))

    @field_validator("whatsapp_recipients", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> tuple[str, ...]:
        numbers = tuple(_split(value))
        if not all(E164.match(n) for n in numbers):
            raise ValueError(numbers)
        return numbers

    @field_validator("price_http_paths", "price_http_headers", mode="before")
    @classmethod
    def _pair_map(cls, value: Any) -> dict[str, str]:
        return _pairs(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("price_http_paths")
    @classmethod
    def _price_paths(cls, value: dict[str, str]) -> dict[str, str]:
        for path in value.values():
            PricePath.parse(path)
        return value

    @field_validator("price_source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> PriceSource:
        return value if isinstance(value, PriceSource) else PriceSource.parse(str(value))

    @field_validator("telegram_base_file_url")
    @classmethod
    def _file_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(value)
        return value.rstrip("/") if value else value

    @field_validator("telegram_base_url", "twilio_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(value)
        return value.rstrip("/")

    @field_validator("forecast_cluster")
    @classmethod
    def _cluster(cls, value: str | None) -> str | None:
        if value is not None and not DASK_ADDRESS.match(value.strip()):
            raise ValueError(value)
        return None if value is None else value.strip()

    @field_validator("twilio_whatsapp_from")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        if value is not None and not (
            value.startswith("whatsapp:") and E164.match(value.removeprefix("whatsapp:"))
        ):
            raise ValueError(value)
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def whatsapp_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)


_SECRETS = {"telegram_bot_token", "twilio_auth_token", "price_http_headers"}


def load_settings(**overrides: Any) -> Settings:
    """Reads the settings; a bad value raises SettingsError naming the setting and what fits."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            field = str(problem["loc"][0])
            info = Settings.model_fields.get(field)
            expected = info.description if info else "a valid value"
            shown = "" if field in _SECRETS else f" {problem.get('input')!r}"
            lines.append(f"Invalid setting {field.upper()}={shown.strip()}: expected {expected}.")
        raise SettingsError("\n".join(lines)) from None
    except SourceError as error:
        raise SettingsError(f"Invalid settings: {error}") from None
