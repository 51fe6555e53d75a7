"""Prism serving Twilio's OpenAPI description, for the WhatsApp contract tests.

`make test` installs Prism with `npm ci` (pinned in package.json / package-lock.json); the
fixture starts it with npx on a free loopback port, waits until it accepts connections, and
stops its whole process group at the end of the session. Nothing is downloaded here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.twilio_spec import write_lenient_copy

ROOT = Path(__file__).resolve().parents[2]
PRISM = ROOT / "node_modules" / ".bin" / "prism"
STARTUP_SECONDS = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a Prism mock of Twilio's Api v2010 (TWILIO_BASE_URL for the tests)."""
    if not PRISM.exists():
        pytest.skip("Prism is not installed: `make test` installs it (npm ci), or run `npm ci`")
    spec = write_lenient_copy(tmp_path_factory.mktemp("twilio") / "twilio_api_v2010.json")
    port = free_port()
    log_path = tmp_path_factory.mktemp("prism") / "prism.log"
    command = [
        "npx",
        "--no",
        "prism",
        "mock",
        str(spec),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: npx, sh and node stop together
            env={**os.environ, "SCARF_ANALYTICS": "false", "NO_UPDATE_NOTIFIER": "1"},
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _accepting(port):
            if process.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"Prism did not start (exit {process.returncode}):\n{output}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
