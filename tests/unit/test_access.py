"""Access rules: run-time grants and one-time invites, over fakes."""

import pytest

from core.access import INVITE_LIFETIME, AccessPolicy, InvalidInvite, InviteService, code_hash
from core.errors import UserError
from core.models import Role
from tests.fakes import NOW, FakeClock, FakeInviteRepo, FakeUserRepo

ADMIN, BUYER, NEWCOMER = 1, 2, 3


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def users() -> FakeUserRepo:
    return FakeUserRepo()


@pytest.fixture
def policy(users: FakeUserRepo, clock: FakeClock) -> AccessPolicy:
    return AccessPolicy(frozenset({ADMIN}), frozenset({BUYER}), users, clock)


@pytest.fixture
def invites(policy: AccessPolicy, users: FakeUserRepo, clock: FakeClock) -> InviteService:
    codes = iter(["first-code", "second-code"])
    return InviteService(FakeInviteRepo(), policy, users, clock, new_code=lambda: next(codes))


async def test_an_invite_grants_buyer_access_once(
    invites: InviteService, policy: AccessPolicy, users: FakeUserRepo
) -> None:
    issued = await invites.create(by=ADMIN)
    assert (issued.code, issued.expires_at) == ("first-code", NOW + INVITE_LIFETIME)
    redemption = await invites.redeem("first-code", NEWCOMER, "Nia")
    assert (redemption.role, redemption.already_had_access) == (Role.BUYER, False)
    assert await policy.role_of(NEWCOMER) is Role.BUYER
    assert users.users[NEWCOMER].name == "Nia" and users.users[NEWCOMER].added_by == ADMIN
    with pytest.raises(InvalidInvite, match="used already"):
        await invites.redeem("first-code", 4)


async def test_an_invite_expires_after_its_lifetime(
    invites: InviteService, policy: AccessPolicy, clock: FakeClock
) -> None:
    await invites.create(by=ADMIN)
    clock.advance(days=7)
    with pytest.raises(InvalidInvite, match="expired on 01 Dec 2026 12:00 UTC"):
        await invites.redeem("first-code", NEWCOMER)
    assert await policy.role_of(NEWCOMER) is None


async def test_an_unknown_or_malformed_code_is_refused(invites: InviteService) -> None:
    for code in ("no-such-code", "x" * 65, "<script>", ""):
        with pytest.raises(InvalidInvite, match="not valid"):
            await invites.redeem(code, NEWCOMER)


async def test_someone_with_access_does_not_use_up_an_invite(invites: InviteService) -> None:
    await invites.create(by=ADMIN)
    assert (await invites.redeem("first-code", BUYER)).already_had_access
    assert not (await invites.redeem("first-code", NEWCOMER)).already_had_access


async def test_only_a_hash_of_the_code_is_stored(policy: AccessPolicy, users: FakeUserRepo) -> None:
    repo = FakeInviteRepo()
    service = InviteService(repo, policy, users, FakeClock(), new_code=lambda: "secret-code")
    await service.create(by=ADMIN)
    assert list(repo.invites) == [code_hash("secret-code")] != ["secret-code"]


async def test_grants_and_revocations(policy: AccessPolicy, users: FakeUserRepo) -> None:
    await policy.grant(NEWCOMER, by=ADMIN)
    assert await policy.role_of(NEWCOMER) is Role.BUYER
    members = await policy.members()
    assert (members.admins, members.allowed) == ((ADMIN,), (BUYER,))
    assert [u.user_id for u in members.granted] == [NEWCOMER]
    with pytest.raises(UserError, match="has access already"):
        await policy.grant(NEWCOMER, by=ADMIN)
    await policy.revoke(NEWCOMER)
    assert await policy.role_of(NEWCOMER) is None
    with pytest.raises(UserError, match="no access to revoke"):
        await policy.revoke(NEWCOMER)


async def test_users_from_the_settings_are_changed_in_the_settings(policy: AccessPolicy) -> None:
    with pytest.raises(UserError, match="admin from ADMIN_USER_IDS"):
        await policy.revoke(ADMIN)
    with pytest.raises(UserError, match="allowed by ALLOWED_USER_IDS"):
        await policy.revoke(BUYER)


async def test_an_invite_still_works_a_second_before_it_expires(
    invites: InviteService, clock: FakeClock
) -> None:
    await invites.create(by=ADMIN)
    clock.advance(days=7, seconds=-1)
    assert (await invites.redeem("first-code", NEWCOMER)).role is Role.BUYER
