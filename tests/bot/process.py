"""`procurebot run` as a real process against the fake Bot API, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from tests.fake_telegram import FakeBotApi

START_TIMEOUT = 120.0


async def start_bot_process(
    api: FakeBotApi,
    cwd: Path,
    output: Path,
    settings: Mapping[str, str],
    wait: bool = True,
    instance: str | None = None,
) -> asyncio.subprocess.Process:
    """Starts `python -m bot run` in `cwd` with the fake's URL and token, `settings` as
    environment variables (no TELEGRAM_* or TWILIO_* from this environment), its output in
    `output`; with `wait`, returns once it long-polls for updates. With `instance`, it reaches
    the fake at `api.url_for(instance)`, so that its calls say which process made them."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM", "TWILIO"))}
    base_url = api.base_url if instance is None else api.url_for(instance)
    environment |= {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_BASE_URL": base_url}
    environment |= settings
    polls = len(api.calls_to("getUpdates", instance))
    with output.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=cwd,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    if wait:
        await api.wait_for(lambda: len(api.calls_to("getUpdates", instance)) > polls, START_TIMEOUT)
    return process


async def logged(output: Path, text: str, timeout: float = START_TIMEOUT) -> str:
    """Waits until the process writing `output` has logged a line containing `text`; returns
    that line. The timeout only stops a broken test from hanging."""
    deadline = time.monotonic() + timeout
    while True:
        lines = output.read_text(encoding="utf-8").splitlines() if output.exists() else []
        found = next((line for line in lines if text in line), None)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {text!r} in {output}")
        await asyncio.sleep(0.1)


async def stop(process: asyncio.subprocess.Process, sig: signal.Signals = signal.SIGTERM) -> int:
    """Sends `sig` and returns the exit status (SIGKILL after 60 s without one)."""
    process.send_signal(sig)
    try:
        return await asyncio.wait_for(process.wait(), 60)
    except TimeoutError:
        process.kill()
        raise


async def kill(process: asyncio.subprocess.Process) -> None:
    """kill -9: no cleanup, no finally blocks, no shutdown hooks."""
    process.kill()
    await process.wait()
    assert process.returncode == -signal.SIGKILL


async def until(
    condition: Callable[[], Awaitable[bool]], what: str, patience: float = 90.0
) -> None:
    """Waits until `condition()` holds (the bot process did something), failing after
    `patience` seconds (which only stops a broken test from hanging)."""
    deadline = asyncio.get_running_loop().time() + patience
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.05)
