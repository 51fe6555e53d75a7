"""Each Telegram update is booked once, whatever is redelivered."""

import pytest

from core.services.once import ExactlyOnce, UpdateRef
from tests.fakes import FakeClock, FakeHandledUpdateRepo, FakeUnitOfWork


@pytest.fixture
def once() -> ExactlyOnce:
    uow = FakeUnitOfWork()
    return ExactlyOnce(lambda: uow, FakeClock())


async def test_an_update_handed_out_again_gets_the_first_answer_and_books_nothing(
    once: ExactlyOnce,
) -> None:
    runs: list[int] = []

    async def book() -> str:
        runs.append(1)
        return f"booked #{len(runs)}"

    assert await once.run(UpdateRef(41), book) == "booked #1"
    assert await once.run(UpdateRef(41), book) == "booked #1"
    assert await once.answered(UpdateRef(41)) == "booked #1"
    assert await once.run(UpdateRef(42), book) == "booked #2"
    assert runs == [1, 1]


async def test_a_failed_action_leaves_its_update_unhandled(once: ExactlyOnce) -> None:
    async def fail() -> str:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        await once.run(UpdateRef(7, "q7"), fail)
    assert await once.answered(UpdateRef(7)) is None

    async def book() -> str:
        return "booked"

    assert await once.run(UpdateRef(7, "q7"), book) == "booked"


async def test_without_an_update_an_action_always_runs(once: ExactlyOnce) -> None:
    runs: list[int] = []

    async def book() -> str:
        runs.append(1)
        return "booked"

    await once.run(None, book)
    await once.run(None, book)
    assert len(runs) == 2


async def test_old_updates_are_forgotten_so_that_reused_ids_book_again() -> None:
    uow = FakeUnitOfWork()
    clock = FakeClock()
    once = ExactlyOnce(lambda: uow, clock)

    async def book() -> str:
        return "booked"

    await once.run(UpdateRef(1), book)
    clock.advance(days=3)
    await once.run(UpdateRef(2), book)  # prunes what is older than two days
    handled: FakeHandledUpdateRepo = uow.handled
    assert list(handled.handled) == [2]
