"""Booking stock moves through the core service, over fakes: one unit of work per move, Undo,
Confirm, and who may do what."""

from collections.abc import Sequence
from datetime import timedelta

import pytest

from core.access import NotAllowed
from core.domain.actors import Actor, Source
from core.domain.stock import MoveKind
from core.errors import UserError
from core.models import Alert, AlertType, Channel, Recipient, Role, Subscription
from core.services import Services
from core.services.stock import Booked, ToConfirm
from tests.fakes import (
    ALUMINIUM,
    COPPER,
    NOW,
    FakeClock,
    FakeInventoryRepo,
    FakeOutbox,
    FakeSubscriptionRepo,
    FakeUnitOfWork,
    make_services,
    stock_item,
)

BOB = Actor(2, "Bob", Role.BUYER, Source.TELEGRAM, chat_id=2)
CARLA = Actor(5, "Carla", Role.BUYER, Source.TELEGRAM, chat_id=5)
ADA = Actor(1, "Ada", Role.ADMIN, Source.TELEGRAM, chat_id=1)
VERA = Actor(7, "Vera", Role.VIEWER, Source.TELEGRAM, chat_id=7)


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.inventory = FakeInventoryRepo(
            [
                stock_item("copper", on_hand=420, daily_consumption=12, minimum=100),
                stock_item("aluminium", on_hand=250, daily_consumption=10, lead_time_days=20),
            ]
        )
        self.outbox = FakeOutbox()
        self.subscriptions = FakeSubscriptionRepo()
        self.uow: FakeUnitOfWork = FakeUnitOfWork(inventory=self.inventory, outbox=self.outbox)
        self.services: Services = make_services(
            inventory=self.inventory,
            outbox=self.outbox,
            subscriptions=self.subscriptions,
            clock=self.clock,
            uow=self.uow,
        )

    async def on_hand(self, key: str) -> float:
        return {i.material: i.on_hand for i in await self.inventory.all()}[key]


@pytest.fixture
def world() -> World:
    return World()


async def test_a_use_is_booked_with_who_and_what_it_changed(world: World) -> None:
    booked = await world.services.ledger.record(BOB, COPPER, MoveKind.USE, 5, note="line 3")
    assert isinstance(booked, Booked)
    assert (booked.before.item.on_hand, booked.after.item.on_hand) == (420, 415)
    assert booked.before.days_of_cover == 35 and booked.after.days_of_cover == pytest.approx(
        415 / 12
    )
    move = booked.move
    assert (move.user_id, move.user_name, move.chat_id, move.source) == (
        2,
        "Bob",
        2,
        Source.TELEGRAM,
    )
    assert (move.note, move.at) == ("line 3", NOW)
    assert await world.on_hand("copper") == 415


async def test_a_count_sets_on_hand_and_records_the_difference(world: World) -> None:
    booked = await world.services.ledger.record(BOB, COPPER, MoveKind.COUNT, 410)
    assert isinstance(booked, Booked) and booked.move.difference == -10
    await world.services.ledger.record(BOB, COPPER, MoveKind.RECEIVE, 20, reference="PO 4711")
    assert await world.on_hand("copper") == 430


async def test_a_use_of_more_than_on_hand_waits_for_confirmation(world: World) -> None:
    pending = await world.services.ledger.record(BOB, COPPER, MoveKind.USE, 500)
    assert isinstance(pending, ToConfirm)
    assert pending.reason == "that is more than the stock on hand"
    assert await world.on_hand("copper") == 420  # nothing booked yet
    booked = await world.services.ledger.confirm(BOB, pending.action_id)
    assert booked.move.quantity == 500 and await world.on_hand("copper") == -80
    with pytest.raises(UserError, match="done already"):
        await world.services.ledger.confirm(BOB, pending.action_id)  # a second tap
    assert await world.on_hand("copper") == -80


async def test_only_the_sender_or_an_admin_confirms_and_only_in_time(world: World) -> None:
    ledger = world.services.ledger
    first = await ledger.record(BOB, COPPER, MoveKind.USE, 200)
    assert isinstance(first, ToConfirm)
    with pytest.raises(UserError, match="Only the person who sent it or an admin"):
        await ledger.confirm(CARLA, first.action_id)
    assert isinstance(await ledger.confirm(ADA, first.action_id), Booked)
    late = await ledger.record(BOB, COPPER, MoveKind.USE, 200)
    assert isinstance(late, ToConfirm)
    world.clock.advance(minutes=11)
    with pytest.raises(UserError, match="expired"):
        await ledger.confirm(BOB, late.action_id)


async def test_a_cancelled_move_is_never_booked(world: World) -> None:
    pending = await world.services.ledger.record(BOB, COPPER, MoveKind.COUNT, 4100)
    assert isinstance(pending, ToConfirm) and "far from the expected" in pending.reason
    await world.services.ledger.discard(BOB, pending.action_id)
    with pytest.raises(UserError, match="cancelled"):
        await world.services.ledger.confirm(BOB, pending.action_id)
    assert await world.on_hand("copper") == 420


async def test_undo_takes_a_move_back_once_within_ten_minutes(world: World) -> None:
    ledger = world.services.ledger
    booked = await ledger.record(BOB, COPPER, MoveKind.USE, 5)
    assert isinstance(booked, Booked)
    world.clock.advance(minutes=9)
    undone = await ledger.undo(BOB, booked.move.id)
    assert undone.reversal.undoes == booked.move.id and await world.on_hand("copper") == 420
    with pytest.raises(UserError, match="undone already"):
        await ledger.undo(BOB, booked.move.id)
    later = await ledger.record(BOB, COPPER, MoveKind.USE, 5)
    assert isinstance(later, Booked)
    world.clock.advance(minutes=10, seconds=1)
    with pytest.raises(UserError, match="Undo works for 10 minutes"):
        await ledger.undo(BOB, later.move.id)


async def test_undo_is_for_the_person_who_booked_it_or_an_admin(world: World) -> None:
    booked = await world.services.ledger.record(BOB, COPPER, MoveKind.RECEIVE, 20)
    assert isinstance(booked, Booked)
    with pytest.raises(UserError, match="Only Bob or an admin may undo"):
        await world.services.ledger.undo(CARLA, booked.move.id)
    await world.services.ledger.undo(ADA, booked.move.id)
    assert await world.on_hand("copper") == 420


async def test_a_viewer_is_told_why_they_cannot_record(world: World) -> None:
    with pytest.raises(NotAllowed, match="Your role is viewer, which may only read: /use"):
        await world.services.ledger.record(VERA, COPPER, MoveKind.USE, 5)
    assert world.inventory.moves == []


async def test_a_move_that_makes_stock_low_raises_its_alert_in_the_same_unit_of_work(
    world: World,
) -> None:
    now = world.clock.now()
    await world.subscriptions.add(Subscription(Channel.TELEGRAM, "42", now))
    booked = await world.services.ledger.record(BOB, ALUMINIUM, MoveKind.USE, 60)
    assert isinstance(booked, Booked) and booked.alert is not None
    assert booked.alert.type is AlertType.LOW_INVENTORY
    assert [d.address for d in world.outbox.deliveries.values()] == ["42"]
    commits = world.uow.commits
    await world.services.ledger.record(BOB, ALUMINIUM, MoveKind.USE, 1)
    assert len(world.outbox.alerts) == 1  # the cool-down holds the next one back
    assert world.uow.commits == commits + 1


async def test_when_the_alert_cannot_be_stored_the_move_is_not_stored_either(world: World) -> None:
    async def broken(alert: Alert, recipients: Sequence[Recipient]) -> Alert:
        raise RuntimeError("disk full")

    world.outbox.record = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await world.services.ledger.record(BOB, ALUMINIUM, MoveKind.USE, 60)
    assert world.inventory.moves == [] and await world.on_hand("aluminium") == 250


async def test_quantities_must_be_above_zero_except_a_count(world: World) -> None:
    with pytest.raises(UserError, match="must be above 0"):
        await world.services.ledger.record(BOB, COPPER, MoveKind.RECEIVE, 0)
    assert isinstance(await world.services.ledger.record(BOB, COPPER, MoveKind.COUNT, 0), ToConfirm)


async def test_the_last_moves_come_newest_first(world: World) -> None:
    ledger = world.services.ledger
    for quantity in (1, 2, 3):
        await ledger.record(BOB, COPPER, MoveKind.USE, quantity)
        world.clock.advance(minutes=1)
    await ledger.record(BOB, ALUMINIUM, MoveKind.USE, 4)
    assert [m.quantity for m in await ledger.moves(COPPER, 2)] == [3, 2]
    assert [m.quantity for m in await ledger.moves(None, 10)] == [4, 3, 2, 1]


async def test_daily_use_comes_from_recorded_uses_once_they_span_fourteen_days(
    world: World,
) -> None:
    ledger = world.services.ledger
    world.clock.current = NOW - timedelta(days=14)
    for _ in range(14):
        await ledger.record(BOB, COPPER, MoveKind.USE, 6)
        world.clock.advance(days=1)
    status = await world.services.inventory.status(COPPER)
    assert status.usage.recorded and status.daily_use == 6
    assert status.usage.basis == "recorded use over 14 days"
