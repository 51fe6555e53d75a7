"""`procurebot` as an operator runs it: the real command line in its own process."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Settings a developer's environment may hold that would change what the command does.
AMBIENT = ("DATABASE_", "BACKUP_", "TELEGRAM_")


def procurebot(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs `python -m bot ARGS` with `env` on top of a clean environment; waits up to 120 s."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(AMBIENT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
