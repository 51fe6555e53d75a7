"""The `procurebot` command line: run, console, seed, import, export, db, backtest."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from bot import telegram_app
from bot.backtest import (
    InputOptions,
    check_output,
    describe,
    describe_input,
    load_series,
    run_backtest,
    write_csv,
)
from bot.bootstrap import (
    build_services,
    check_alert_settings,
    check_feed_materials,
    open_services,
)
from bot.chat.commands.status import status_text
from bot.console import console_user, run_console
from bot.settings import Settings, SettingsError, load_settings
from core.adapters.db.backup import (
    BackupError,
    backup_kind,
    default_name,
    find_pg_dump,
    make_backup,
    restore_backup,
)
from core.adapters.db.copy import TableCount, copy_database
from core.adapters.db.engine import Database, DatabaseError, database_password
from core.adapters.db.leader import AnotherInstance, LeadershipLost
from core.adapters.db.migrate import SchemaTooNew, current_revision, head
from core.adapters.processes import default_workers, worker_pool
from core.domain.actors import COMMAND_LINE
from core.errors import UserError
from core.forecast_model import ForecastConfig
from core.ports import Clock, SystemClock
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


class JsonFormatter(RedactingFormatter):
    """One JSON object per line (LOG_FORMAT=json, for log shippers), with the same redaction:
    time, level, logger, message and, when there is one, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": self._redact(record.getMessage()),
        }
        if record.exc_info:
            entry["traceback"] = self._redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def configure_logging(level: str, secrets: Iterable[str] = (), json_lines: bool = False) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT)
    formatter = (JsonFormatter if json_lines else RedactingFormatter)(LOG_FORMAT, secrets)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
    # httpx logs each request URL at INFO, and the bot token is part of that URL; the twilio
    # client logs every request's headers and URL at INFO.
    noisy_loggers = ("httpx", "httpcore", "cmdstanpy", "prophet", "matplotlib", "apscheduler")
    # Dask (FORECAST_CLUSTER) logs every connection at INFO.
    for noisy in (*noisy_loggers, "twilio", "aiohttp", "alembic", "aiosqlite", "distributed"):
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
    console = commands.add_parser("console", help="the chat commands in this terminal, as an admin")
    console.add_argument(
        "--chat",
        type=int,
        metavar="CHAT_ID",
        help="act in this Telegram chat (its subscription, watches, digest and quiet hours)",
    )
    commands.add_parser("status", help="the bot's health: exit status 0 when healthy, 1 when not")
    seed = commands.add_parser("seed", help="load the demo data; safe to run twice")
    seed.add_argument("--force", action="store_true", help="reload the demo data over it")
    db = commands.add_parser("db", help="the database: check it, or copy it elsewhere")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_commands.add_parser("check", help="which backend and schema version are in use")
    backup = db_commands.add_parser("backup", help="a consistent backup, while the bot runs")
    backup.add_argument(
        "--output", metavar="FILE", help="default: BACKUP_DIR (or var/backups)/procurebot-TIME.*"
    )
    restore = db_commands.add_parser("restore", help="load a backup into an empty database")
    restore.add_argument("file", metavar="FILE", help="a file made by `procurebot db backup`")
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
    backtest.add_argument(
        "--dayfirst", action="store_true", help="dates like 03/01/2022 are day/month/year"
    )
    backtest.add_argument(
        "--date-format", metavar="FORMAT", help="the dates' strftime format, e.g. %%m/%%d/%%Y"
    )
    backtest.add_argument(
        "--decimal", choices=(".", ","), help="the decimal mark (default: as the file shows)"
    )
    return parser


async def _console(settings: Settings, chat: int | None = None) -> int:
    async with open_services(settings) as services:
        await run_console(
            services,
            settings.database_path.parent / "charts",
            sys.stdin,
            sys.stdout,
            prompt=sys.stdin.isatty(),
            caller=console_user(chat),
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
    print(f"Copied {source.describe()} to {target.describe()}:")
    if _print_counts(counts, "source", "target"):
        return 0
    print("The row counts differ: the copy is incomplete.", file=sys.stderr)
    return 1


def _print_counts(counts: list[TableCount], source: str, target: str) -> bool:
    width = max(len(c.table) for c in counts)
    print(f"{'table':<{width}}  {source:>9}  {target:>9}")
    for count in counts:
        mark = "" if count.matches else "  DIFFERS"
        print(f"{count.table:<{width}}  {count.source:>9,}  {count.target:>9,}{mark}")
    return all(c.matches for c in counts)


async def _db_backup(settings: Settings, output: str | None) -> int:
    db = await Database.open(settings.database, migrate=False)
    try:
        pg_dump = find_pg_dump() if db.backend == "postgresql" else None
        if output is None:
            directory = settings.backup_dir or settings.database_path.parent / "backups"
            path = directory / default_name(db, SystemClock().now(), pg_dump)
        else:
            path = Path(output)
        made = await make_backup(db, path, pg_dump)
    except BackupError as error:
        print(f"Backup failed: {error}", file=sys.stderr)
        return 1
    finally:
        await db.close()
    print(f"Backed up {db.describe()} to {made.describe()}")
    return 0


async def _db_restore(settings: Settings, file: str) -> int:
    try:
        backup_kind(Path(file))  # before the target is touched
    except BackupError as error:
        print(f"Nothing restored: {error}", file=sys.stderr)
        return USAGE_ERROR
    db = await Database.open(settings.database)
    try:
        counts = await restore_backup(Path(file), db, shutil.which("pg_restore"))
    except BackupError as error:
        print(f"Nothing restored: {error}", file=sys.stderr)
        return USAGE_ERROR
    finally:
        await db.close()
    print(f"Restored {file} into {db.describe()}:")
    if _print_counts(counts, "backup", "restored"):
        return 0
    print("The row counts differ: the restore is incomplete.", file=sys.stderr)
    return 1


async def _status(settings: Settings, clock: Clock | None = None) -> int:
    """Prints the health report; 0 when healthy, 1 when not (every problem on its own line)."""
    try:
        db = await Database.open(settings.database, migrate=False)
    except DatabaseError as error:
        print(f"procurebot: 1 problem\nPROBLEM: {error}")
        return 1
    try:
        revision, newest = await current_revision(db), head()
        if revision != newest:
            print(
                f"procurebot: 1 problem\nPROBLEM: the database {db.describe()} is at schema "
                f"{revision or 'none'}, this procurebot expects {newest}: `procurebot run` "
                "brings it up to date"
            )
            return 1
        services = await build_services(db, settings, clock or SystemClock())
        assert services.health is not None
        health = await services.health.report()
    finally:
        await db.close()
    print(status_text(health))
    return 0 if health.healthy else 1


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
    """Raises DatabaseError when DATABASE_URL cannot be used, and SettingsError when the feed
    names no material, before Telegram is asked anything (the schema is brought up to date
    later, by the leader)."""
    db = await Database.open(settings.database, migrate=False)
    try:
        await check_feed_materials(settings, db)
    finally:
        await db.close()


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
    options = InputOptions(
        args.date_column, args.price_column, args.dayfirst, args.date_format, args.decimal
    )
    try:
        path = Path(args.csv)
        if args.output:
            check_output(Path(args.output))
        loaded = load_series(path, options)
        series = loaded.series
        with worker_pool(default_workers(), ["core.adapters.prophet_model"]) as pool:
            run = run_backtest(series, args.horizon, args.origins, config, pool)
    except UserError as error:
        print(error, file=sys.stderr)
        return USAGE_ERROR
    print(describe(f"{path.name} ({series.name})", run, args.horizon))
    print(describe_input(loaded))
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
    configure_logging(settings.log_level, secrets_of(settings), settings.log_format == "json")
    try:
        if args.command == "console":
            return asyncio.run(_console(settings, args.chat))
        if args.command == "seed":
            return asyncio.run(_seed(settings, args.force))
        if args.command == "run":
            return _run(settings)
        if args.command == "status":
            return asyncio.run(_status(settings))
        if args.command == "import":
            return asyncio.run(_import(settings, args.file, args.dry_run))
        if args.command == "export":
            return asyncio.run(_export(settings, args.output))
        if args.command == "db":
            if args.db_command == "check":
                return asyncio.run(_db_check(settings))
            if args.db_command == "backup":
                return asyncio.run(_db_backup(settings, args.output))
            if args.db_command == "restore":
                return asyncio.run(_db_restore(settings, args.file))
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
