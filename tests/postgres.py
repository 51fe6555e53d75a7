"""A real PostgreSQL server for the tests: started by the tests in a temporary directory on a
free loopback port, stopped (and its directory removed) when they end. No container.

Where the server comes from, in this order:
1. PostgreSQL's own binaries: `initdb` on PATH, or under /usr/lib/postgresql/*/bin (Debian).
2. The binaries the `pgserver` package ships (a dev dependency), for a machine without them;
   not as root (SCALING.md: pgserver's own start-up changes directory modes up to / as root, so
   only its binaries are used here, and only as an ordinary user).

PostgreSQL refuses to run as root, and CI runs as root: then the server runs as the unprivileged
system user `postgres` (`runuser -u postgres --`), created with `useradd --system` if missing, in
a directory it owns. Clients connect over TCP as the server's superuser, with no password.

When no server can be started, `start_server` says why in one line, and the PostgreSQL tests are
skipped with it as their reason (printed by `pytest -ra`).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

SUPERUSER = "procurebot"
SERVER_ACCOUNT = "postgres"  # the system user the server runs as when the tests run as root
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
START_ATTEMPTS = 3  # a free port may be taken by another process before the server binds it
COMMAND_TIMEOUT = 60.0
LISTEN_OPTIONS = "-c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
# For tests only: durability is worth nothing in a directory deleted at the end.
SERVER_OPTIONS = (
    f"{LISTEN_OPTIONS} -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=300"
)
# For benchmarks: PostgreSQL's own defaults, every commit flushed to disk as in production.
DURABLE_OPTIONS = f"{LISTEN_OPTIONS} -c max_connections=300"


class NoServer(Exception):
    """No PostgreSQL server can be started here; the message says why, in one line."""


@dataclass(frozen=True)
class Binaries:
    """A directory holding initdb, pg_ctl and the client tools, and where it was found."""

    directory: Path
    origin: str

    def __getitem__(self, name: str) -> str:
        return str(self.directory / name)


def async_engine(url: str) -> AsyncEngine:
    """An engine over the async driver of the URL's backend, with no pool (a test's own
    connections, closed when it is done)."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
    return create_async_engine(
        parsed.set(drivername=driver[parsed.get_backend_name()]), poolclass=NullPool
    )


def find_binaries(as_root: bool) -> Binaries:
    """PostgreSQL's binaries: on PATH, Debian's newest, or pgserver's (not as root)."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        directory = Path(on_path).resolve().parent
        if (directory / "pg_ctl").exists():
            return Binaries(directory, f"{directory}, from PATH")
    debian = sorted(
        DEBIAN_BINARIES.glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if debian:
        return Binaries(debian[-1].parent, str(debian[-1].parent))
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise NoServer(
            "no initdb on PATH or under /usr/lib/postgresql/*/bin, and no pgserver package "
            "(apt-get install postgresql, or make install for pgserver)"
        )
    if as_root:
        raise NoServer(
            "no initdb on PATH or under /usr/lib/postgresql/*/bin (apt-get install "
            "postgresql); pgserver's server is not run as root"
        )
    return Binaries(Path(spec.origin).parent / "pginstall" / "bin", "pgserver")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def ensure_account(name: str) -> None:
    """The unprivileged system user the server runs as, created if missing."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        _run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name])


@dataclass
class PostgresServer:
    """One running server; `create_database` gives each test its own empty database."""

    binaries: Binaries
    directory: Path
    port: int
    account: str | None  # the system user it runs as, when the tests run as root
    version: str
    timings: dict[str, float]
    options: str = SERVER_OPTIONS
    _numbers: count[int] = field(default_factory=lambda: count(1))

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh empty database; returns its URL."""
        name = f"t_{next(self._numbers)}"
        _run([self.binaries["createdb"], *self._client_options(), name])
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drops a database made by `create_database`, closing any connection still open."""
        name = url.rsplit("/", 1)[1]
        _run([self.binaries["dropdb"], "--force", *self._client_options(), name])

    def describe(self) -> str:
        timings = ", ".join(f"{step} {seconds:.2f} s" for step, seconds in self.timings.items())
        runs_as = f"as user {self.account}" if self.account else "as this user"
        return (
            f"{self.version} ({self.binaries.origin}) on 127.0.0.1:{self.port}, {runs_as}; "
            f"started in {sum(self.timings.values()):.2f} s ({timings})"
        )

    def stop(self) -> None:
        """Stops the server and removes its directory."""
        try:
            self._pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _initdb(self) -> None:
        started = time.perf_counter()
        _run(
            self._as_account(
                [
                    self.binaries["initdb"],
                    *("-D", str(self.data), "-U", SUPERUSER, "--auth=trust"),
                    *("--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"),
                ]
            )
        )
        self.timings["initdb"] = time.perf_counter() - started

    def _start(self) -> None:
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = free_port()
            started = time.perf_counter()
            try:
                log = str(self.directory / "server.log")
                self._pg_ctl("start", "-w", "-l", log, "-o", f"{self.options} -p {self.port}")
            except NoServer:
                if attempt == START_ATTEMPTS:
                    raise NoServer(f"the server did not start: {self._last_logged()}") from None
            else:
                self.timings["start"] = time.perf_counter() - started
                return

    def _pg_ctl(self, action: str, *options: str) -> None:
        _run(self._as_account([self.binaries["pg_ctl"], action, "-D", str(self.data), *options]))

    def _last_logged(self) -> str:
        log = self.directory / "server.log"
        lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
        return lines[-1] if lines else "it wrote no log"

    def _client_options(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER]

    def _as_account(self, command: list[str]) -> list[str]:
        return command if self.account is None else ["runuser", "-u", self.account, "--", *command]


def start_server(options: str = SERVER_OPTIONS) -> PostgresServer:
    """initdb in a new temporary directory, then the server on a free loopback port with
    `options` (the tests': no durability; DURABLE_OPTIONS for benchmarks).

    Raises NoServer, with the reason in one line, when that cannot be done here."""
    as_root = os.geteuid() == 0
    binaries = find_binaries(as_root)
    account = SERVER_ACCOUNT if as_root else None
    directory = Path(tempfile.mkdtemp(prefix="procurebot-postgres-"))
    try:
        if account is not None:
            ensure_account(account)
            shutil.chown(directory, account, account)
        server = PostgresServer(
            binaries, directory, 0, account, _version(binaries), {}, options=options
        )
        server._initdb()
        server._start()
        return server
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _version(binaries: Binaries) -> str:
    output = _run([binaries["postgres"], "--version"])  # "postgres (PostgreSQL) 15.18 (Debian...)"
    words = output.split()
    return f"PostgreSQL {words[2]}" if len(words) >= 3 else output.strip()


def _run(command: list[str]) -> str:
    """Runs a command; raises NoServer with its last line of output when it fails."""
    program = Path(command[4] if command[0] == "runuser" else command[0]).name
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            env=os.environ | {"LC_ALL": "C"},
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise NoServer(f"{program}: {error}") from None
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise NoServer(f"{program} failed: {output[-1] if output else result.returncode}")
    return result.stdout
