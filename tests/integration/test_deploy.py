"""deploy/: the systemd unit is one systemd accepts as it is, with nothing it would ignore."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "procurebot.service"
INSTALLED_AT = "/opt/procurebot/bin/procurebot"


def settings_of(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_systemd_unit_passes_systemd_analyze_verify_without_a_warning(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here: the unit was not verified")
    # verify checks that ExecStart's program exists: point it at this checkout's procurebot.
    procurebot = Path(sys.executable).parent / "procurebot"
    assert procurebot.exists(), "make install puts procurebot beside python"
    unit = UNIT.read_text()
    assert INSTALLED_AT in unit
    copy = tmp_path / "procurebot.service"
    copy.write_text(unit.replace(INSTALLED_AT, str(procurebot)))
    result = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == "", "systemd would ignore or doubt part of the unit"


def test_the_unit_restarts_the_bot_however_it_stopped_with_settings_from_a_file() -> None:
    settings = settings_of(UNIT.read_text())
    assert settings["Restart"] == ["always"]
    assert settings["EnvironmentFile"] == ["/etc/procurebot/procurebot.env"]
    assert settings["ExecStart"] == [f"{INSTALLED_AT} run"]
    assert settings["User"] == ["procurebot"]  # never root: the bot needs no privilege
