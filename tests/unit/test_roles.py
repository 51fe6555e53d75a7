"""Four roles, and what each may do; checks live in core/access.py."""

import pytest

from core.access import AccessPolicy, NotAllowed, Permission, may, parse_role, require
from core.errors import UserError
from core.models import Role
from tests.fakes import FakeClock, FakeUserRepo


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, {Permission.READ}),
        (Role.BUYER, {Permission.READ, Permission.RECORD}),
        (Role.APPROVER, {Permission.READ, Permission.RECORD, Permission.APPROVE}),
        (Role.ADMIN, set(Permission)),
        (None, set()),
    ],
)
def test_each_role_has_the_permissions_of_the_roles_below_it(
    role: Role | None, allowed: set[Permission]
) -> None:
    assert {p for p in Permission if may(role, p)} == allowed


def test_a_viewer_who_tries_to_write_is_told_why() -> None:
    with pytest.raises(NotAllowed) as refused:
        require(Role.VIEWER, Permission.RECORD, "/use")
    assert str(refused.value) == (
        "Your role is viewer, which may only read: /use (recording stock moves, quotes and "
        "files) needs the buyer role or higher. Ask an admin to change it."
    )
    with pytest.raises(NotAllowed, match=r"^Only admins may use /material\.$"):
        require(Role.APPROVER, Permission.ADMIN, "/material")


def test_roles_are_named_in_any_case_and_unknown_ones_listed() -> None:
    assert parse_role(" Approver ") is Role.APPROVER
    with pytest.raises(UserError, match="use one of viewer, buyer, approver, admin"):
        parse_role("boss")


async def test_roles_come_from_the_settings_and_grants_win_over_all_but_admins() -> None:
    users = FakeUserRepo()
    policy = AccessPolicy(
        frozenset({1}),
        frozenset({2}),
        users,
        FakeClock(),
        viewer_ids=frozenset({3}),
        approver_ids=frozenset({4, 2}),
    )
    assert [await policy.role_of(i) for i in (1, 2, 3, 4, 5)] == [
        Role.ADMIN,
        Role.APPROVER,  # in both lists: the higher role
        Role.VIEWER,
        Role.APPROVER,
        None,
    ]
    assert await policy.set_role(3, Role.BUYER, by=1) is Role.VIEWER
    assert await policy.role_of(3) is Role.BUYER
    with pytest.raises(UserError, match="admin from ADMIN_USER_IDS"):
        await policy.set_role(1, Role.VIEWER, by=1)
    with pytest.raises(UserError, match="has no access: /users add 5 viewer"):
        await policy.set_role(5, Role.VIEWER, by=1)
    members = await policy.members()
    assert (members.viewers, members.approvers) == ((3,), (2, 4))
