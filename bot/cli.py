"""The `procurebot` command line: run, console, seed, import, export, db, backtest."""

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
from bot.bootstrap import check_alert_settings, open_services
from bot.console import run_console
from bot.settings import Settings, SettingsError, load_settings
from core.adapters.db.copy import copy_database
from core.adapters.db.engine import Database, DatabaseError, database_password
from core.adapters.db.leader import AnotherInstance, LeadershipLost
from core.adapters.db.migrate import SchemaTooNew, current_revision, head
from core.adapters.processes import default_workers, worker_pool
from core.domain.actors import COMMAND_LINE
from core.errors import UserError
from core.forecast_model import ForecastConfig
from core.ports import SystemClock
from core.services.imports import Imported, Preview
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
    for noisy in (*noisy_loggers, "twilio", "aiohttp", "alembic", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def secrets_of(settings: Settings) -> list[str]:
    """The setting values that must never be logged."""
    values = [
        settings.twilio_account_sid or "",
        *settings.price_http_headers.values(),
        database_password(settings.database) or "",
    ]
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
    db = commands.add_parser("db", help="the database: check it, or copy it elsewhere")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_commands.add_parser("check", help="which backend and schema version are in use")
    copy = db_commands.add_parser("copy", help="copy every table into an empty database")
    copy.add_argument(
        "--to", required=True, metavar="URL", help="postgresql://... or sqlite:///..."
    )
    imports = commands.add_parser(
        "import", help="import a CSV or XLSX file (materials, stock moves, quotes or prices)"
    )
    imports.add_argument("file", metavar="FILE", help="a .csv or .xlsx file")
    imports.add_argument(
        "--dry-run", action="store_true", help="check every row and say what would change"
    )
    export = commands.add_parser("export", help="everything as an XLSX file that imports again")
    export.add_argument("--output", metavar="FILE.xlsx", help="default: procurement-DATE.xlsx")
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
    db = await Database.open(settings.database)
    try:
        result = await demo.seed(db, SystemClock().now().date(), force=force)
    finally:
        await db.close()
    print(result.describe(db.describe()))
    return 0


async def _db_check(settings: Settings) -> int:
    db = await Database.open(settings.database, migrate=False)
    try:
        revision, newest = await current_revision(db), head()
    finally:
        await db.close()
    backend = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[db.backend]
    if revision == newest:
        state = "up to date"
    elif revision is None:
        state = f"empty: `procurebot run` or `seed` creates schema {newest}"
    else:
        state = f"`procurebot run` upgrades it to {newest}"
    print(f"Database: {db.describe()} ({backend}), schema version {revision or 'none'} ({state})")
    return 0


async def _db_copy(settings: Settings, to: str) -> int:
    source = await Database.open(settings.database)
    try:
        target = await Database.open(to)
        try:
            counts = await copy_database(source, target)
        finally:
            await target.close()
    finally:
        await source.close()
    width = max(len(c.table) for c in counts)
    print(f"Copied {source.describe()} to {target.describe()}:")
    print(f"{'table':<{width}}  {'source':>9}  {'target':>9}")
    for count in counts:
        mark = "" if count.matches else "  DIFFERS"
        print(f"{count.table:<{width}}  {count.source:>9,}  {count.target:>9,}{mark}")
    if all(c.matches for c in counts):
        return 0
    print("The row counts differ: the copy is incomplete.", file=sys.stderr)
    return 1


async def _import(settings: Settings, file: str, dry_run: bool) -> int:
    path = Path(file)
    try:
        data = path.read_bytes()
    except OSError as error:
        print(f"Cannot read {path}: {error.strerror or error}.", file=sys.stderr)
        return USAGE_ERROR
    async with open_services(settings, seed_demo=False) as services:
        try:
            checked = await services.imports.check(path.name, data)
            if dry_run:
                outcome: Imported | Preview = await services.imports.preview(
                    COMMAND_LINE, path.name, checked, keep=False
                )
            else:
                outcome = await services.imports.import_file(COMMAND_LINE, path.name, checked)
        except UserError as error:
            print(error, file=sys.stderr)
            return USAGE_ERROR
    if isinstance(outcome, Imported):
        print(f"Imported {outcome.record.summary}.")
        return 0
    if outcome.problems:
        print(f"{path.name} was not imported; nothing was stored:", file=sys.stderr)
        for problem in outcome.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if outcome.imported_before is not None:
        before = outcome.imported_before
        print(
            f"{path.name} holds the same rows as {before.file_name}, imported on "
            f"{before.at:%Y-%m-%d %H:%M} UTC: nothing to import, nothing changed."
        )
        return 0
    print(f"Checked, nothing stored (--dry-run): {outcome.summary}.")
    return 0


async def _export(settings: Settings, output: str | None) -> int:
    async with open_services(settings, seed_demo=False) as services:
        name, data = await services.imports.export()
    path = Path(output or name)
    try:
        path.write_bytes(data)
    except OSError as error:
        print(f"Cannot write {path}: {error.strerror or error}.", file=sys.stderr)
        return USAGE_ERROR
    print(f"Exported everything to {path} ({len(data) / 1024:,.0f} KB).")
    return 0


async def _reach_database(settings: Settings) -> None:
    """Raises DatabaseError when DATABASE_URL cannot be used, before Telegram is asked anything
    (the schema is brought up to date later, by the leader)."""
    await (await Database.open(settings.database, migrate=False)).close()


def _run(settings: Settings) -> int:
    if settings.telegram_bot_token is not None:
        check_alert_settings(settings)
        asyncio.run(_reach_database(settings))
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
        if args.command == "import":
            return asyncio.run(_import(settings, args.file, args.dry_run))
        if args.command == "export":
            return asyncio.run(_export(settings, args.output))
        if args.command == "db":
            if args.db_command == "check":
                return asyncio.run(_db_check(settings))
            return asyncio.run(_db_copy(settings, args.to))
        return _backtest(args, settings)
    # SettingsError: alert settings at `run`; AnotherInstance: `run` on a SQLite file in use
    except (AnotherInstance, DatabaseError, SchemaTooNew, SettingsError) as error:
        print(error, file=sys.stderr)
        return USAGE_ERROR
    except LeadershipLost:  # logged when it happened; systemd starts it again, as a standby
        return 1
    except KeyboardInterrupt:
        return 130
