"""TEMPORARY (storage branch only): the standby branch brings the real fixtures that start a
PostgreSQL server; until then this uses a developer's server at PROCUREBOT_DEV_PG."""

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    server = os.environ.get("PROCUREBOT_DEV_PG")
    if not server:
        pytest.skip("PostgreSQL: PROCUREBOT_DEV_PG is not set")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"{server}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()
