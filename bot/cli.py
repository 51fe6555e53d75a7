"""The `procurebot` command line: run, console, seed, backtest."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from bot import telegram_app
from bot.backtest import describe, load_series, run_backtest, write_csv
from bot.bootstrap import open_services
from bot.console import run_console
from bot.settings import Settings, SettingsError, load_settings
from core.adapters.processes import default_workers, worker_pool
from core.adapters.sqlite import Database, SchemaTooNew
from core.errors import UserError
from core.forecast_model import ForecastConfig
from core.ports import SystemClock
from data import demo

log = logging.getLogger("procurebot")

USAGE_ERROR = 2


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    """Formats log records with every secret replaced, tracebacks included: a last line of
    defence behind keeping the loggers that print URLs quiet."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._secrets = sorted(
            {form for s in secrets if len(s) >= 6 for form in (s, quote(s, safe=""))},
            key=len,
            reverse=True,
        )

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT)
    formatter = RedactingFormatter(LOG_FORMAT, secrets)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
    # httpx logs each request URL at INFO, and the bot token is part of that URL; the twilio
    # client logs every request's headers and URL at INFO.
    noisy_loggers = ("httpx", "httpcore", "cmdstanpy", "prophet", "matplotlib", "apscheduler")
    # Dask (FORECAST_CLUSTER) logs every connection at INFO.
    for noisy in (*noisy_loggers, "twilio", "aiohttp", "distributed"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def secrets_of(settings: Settings) -> list[str]:
    """The setting values that must never be logged."""
    values = [settings.twilio_account_sid or "", *settings.price_http_headers.values()]
    for secret in (settings.telegram_bot_token, settings.twilio_auth_token):
        if secret is not None:
            values.append(secret.get_secret_value())
    return [v for v in values if v]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="procurebot",
        description="Smart Procurement Bot: raw-material prices, forecasts, stock and vendors.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="start the Telegram bot (the console without a token)")
    commands.add_parser("console", help="the chat commands in this terminal, as an admin")
    seed = commands.add_parser("seed", help="load the demo data; safe to run twice")
    seed.add_argument("--force", action="store_true", help="reload the demo data over it")
    backtest = commands.add_parser("backtest", help="rolling-origin evaluation of the forecaster")
    backtest.add_argument("--csv", required=True, metavar="FILE", help="price history CSV")
    backtest.add_argument("--date-column", default="date", metavar="COL")
    backtest.add_argument("--price-column", metavar="COL", help="default: the first numeric column")
    backtest.add_argument("--horizon", type=int, default=7, metavar="N", help="rows ahead")
    backtest.add_argument(
        "--origins", type=int, default=250, metavar="N", help="forecasts scored, a week apart"
    )
    backtest.add_argument("--output", metavar="OUT.csv", help="per-origin results")
    return parser


async def _console(settings: Settings) -> int:
    async with open_services(settings) as services:
        await run_console(
            services,
            settings.database_path.parent / "charts",
            sys.stdin,
            sys.stdout,
            prompt=sys.stdin.isatty(),
        )
    return 0


async def _seed(settings: Settings, force: bool) -> int:
    db = await Database.open(settings.database_path)
    try:
        result = await demo.seed(db, SystemClock().now().date(), force=force)
    finally:
        await db.close()
    print(result.describe(settings.database_path))
    return 0


def _run(settings: Settings) -> int:
    if settings.telegram_bot_token is not None:
        return telegram_app.run(settings)
    if sys.stdin.isatty() and sys.stdout.isatty():
        print(
            "TELEGRAM_BOT_TOKEN is not set, so the bot cannot reach Telegram: starting the "
            "local console instead (put the token from @BotFather in .env to run the bot)."
        )
        return asyncio.run(_console(settings))
    print(
        "TELEGRAM_BOT_TOKEN is not set: put the token from @BotFather in .env "
        "(TELEGRAM_BOT_TOKEN=...) or in the environment, or use `procurebot console`.",
        file=sys.stderr,
    )
    return USAGE_ERROR


def _backtest(args: argparse.Namespace, settings: Settings) -> int:
    config = ForecastConfig(threshold=settings.buy_threshold_pct / 100)
    try:
        path = Path(args.csv)
        series = load_series(path, args.date_column, args.price_column)
        with worker_pool(default_workers(), ["core.adapters.prophet_model"]) as pool:
            run = run_backtest(series, args.horizon, args.origins, config, pool)
    except UserError as error:
        print(error, file=sys.stderr)
        return USAGE_ERROR
    print(describe(f"{path.name} ({series.name})", run, args.horizon))
    if args.output:
        write_csv(run.frame, Path(args.output))
        print(f"Per-origin results: {args.output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return USAGE_ERROR
    configure_logging(settings.log_level, secrets_of(settings))
    try:
        if args.command == "console":
            return asyncio.run(_console(settings))
        if args.command == "seed":
            return asyncio.run(_seed(settings, args.force))
        if args.command == "run":
            return _run(settings)
        return _backtest(args, settings)
    except (SchemaTooNew, SettingsError) as error:  # SettingsError: alert settings at `run`
        print(error, file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130
