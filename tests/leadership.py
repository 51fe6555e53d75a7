"""Leader election helpers for the tests (core/adapters/db/leader.py)."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from core.adapters.db.leader import LOCK_KEY, AdvisoryLockLeadership
from tests.postgres import async_engine


def quick_leadership(url: str) -> AdvisoryLockLeadership:
    """PostgreSQL leadership that tries and checks ten times a second, so tests run fast."""
    return AdvisoryLockLeadership(
        async_engine(url), retry_every=0.1, check_every=0.1, check_timeout=1.0, owns_engine=True
    )


async def lock_holders(url: str) -> list[str]:
    """The application_name of each session holding the leader lock."""
    engine = async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    """SELECT a.application_name FROM pg_locks l
                       JOIN pg_stat_activity a ON a.pid = l.pid
                       WHERE l.locktype = 'advisory' AND l.granted
                         AND l.classid = :high AND l.objid = :low"""
                ),
                {"high": LOCK_KEY >> 32, "low": LOCK_KEY & 0xFFFFFFFF},
            )
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


async def standing_by(caplog: pytest.LogCaptureFixture, patience: float = 30.0) -> None:
    """Waits until a standby has said that it stands by (caplog at INFO)."""
    deadline = time.monotonic() + patience
    while not any("Standing by" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "no instance said it stands by"
        await asyncio.sleep(0.05)
