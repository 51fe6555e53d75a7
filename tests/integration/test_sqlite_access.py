"""Invites and granted users on a real SQLite file, including a database made before invites."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiosqlite
import pytest

from core.access import AccessPolicy, InvalidInvite, InviteService
from core.adapters.sqlite import MIGRATIONS, Database
from core.adapters.sqlite_repos import SqliteInviteRepo, SqliteUserRepo
from core.models import Role
from tests.fakes import NOW, FakeClock


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "access.db")
    yield database
    await database.close()


async def test_a_database_from_before_invites_gains_them_and_keeps_its_users(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    old = Database(await aiosqlite.connect(path, isolation_level=None), path)
    await old.migrate(MIGRATIONS[:1])  # as the first release left it
    await SqliteUserRepo(old).grant(7, Role.BUYER, 1, NOW)
    await old.close()

    db = await Database.open(path)
    try:
        assert await db.schema_version() == len(MIGRATIONS) >= 2
        assert await db.fetchone("SELECT name FROM sqlite_master WHERE name = 'invites'")
        assert await SqliteUserRepo(db).get(7) is not None
    finally:
        await db.close()


async def test_an_invite_is_redeemed_once_and_the_user_stored_with_a_name(db: Database) -> None:
    clock = FakeClock()
    users = SqliteUserRepo(db)
    policy = AccessPolicy(frozenset({1}), frozenset(), users, clock)
    invites = InviteService(SqliteInviteRepo(db), policy, users, clock)
    issued = await invites.create(by=1)
    stored = await db.fetchall("SELECT code_hash, expires_at FROM invites")
    assert issued.code not in {row["code_hash"] for row in stored}
    assert stored[0]["expires_at"] == "2026-12-01T12:00:00Z"

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
        await SqliteInviteRepo(db).claim(
            (await db.fetchall("SELECT code_hash FROM invites"))[0]["code_hash"], 9, NOW
        )
        is False
    )


async def test_granting_again_keeps_a_known_name(db: Database) -> None:
    users = SqliteUserRepo(db)
    await users.grant(7, Role.BUYER, 1, NOW, "Nia")
    await users.grant(7, Role.ADMIN, 1, NOW + timedelta(days=1))
    user = await users.get(7)
    assert user is not None and (user.role, user.name) == (Role.ADMIN, "Nia")
