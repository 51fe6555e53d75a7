"""Invites and granted users on a real database, including a SQLite file made before invites."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.access import AccessPolicy, InvalidInvite, InviteService
from core.adapters.db.engine import Database, sqlite_url
from core.adapters.db.repos.access import SqlInviteRepo, SqlUserRepo
from core.adapters.db.schema import invites as invite_table
from core.models import Role
from tests.fakes import NOW, FakeClock
from tests.legacy import legacy_sqlite


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.open(database_url)
    yield database
    await database.close()


async def test_a_database_from_before_invites_gains_them_and_keeps_its_users(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    old = legacy_sqlite(path, version=1)  # as the first release left it
    old.execute("INSERT INTO users VALUES (7, 'buyer', NULL, 1, '2026-11-01T08:00:00Z')")
    old.close()

    db = await Database.open(sqlite_url(path))
    try:
        assert await SqlInviteRepo(db).get("no-such-code") is None  # the table is there
        assert await SqlUserRepo(db).get(7) is not None
    finally:
        await db.close()


async def test_an_invite_is_redeemed_once_and_the_user_stored_with_a_name(db: Database) -> None:
    clock = FakeClock()
    users = SqlUserRepo(db)
    policy = AccessPolicy(frozenset({1}), frozenset(), users, clock)
    invites = InviteService(SqlInviteRepo(db), policy, users, clock)
    issued = await invites.create(by=1)
    stored = await db.fetchall(sa.select(invite_table.c.code_hash, invite_table.c.expires_at))
    assert issued.code not in {row.code_hash for row in stored}
    assert stored[0].expires_at == datetime(2026, 12, 1, 12, tzinfo=UTC)

    await invites.redeem(issued.code, 7, "Nia (@nia)")
    with pytest.raises(InvalidInvite, match="used already"):
        await invites.redeem(issued.code, 8)
    user = await users.get(7)
    assert user is not None and (user.role, user.name, user.added_by) == (
        Role.BUYER,
        "Nia (@nia)",
        1,
    )
    assert (
        await SqlInviteRepo(db).claim(await db.scalar(sa.select(invite_table.c.code_hash)), 9, NOW)
        is False
    )


async def test_granting_again_keeps_a_known_name(db: Database) -> None:
    users = SqlUserRepo(db)
    await users.grant(7, Role.BUYER, 1, NOW, "Nia")
    await users.grant(7, Role.ADMIN, 1, NOW + timedelta(days=1))
    user = await users.get(7)
    assert user is not None and (user.role, user.name) == (Role.ADMIN, "Nia")
