"""The job functions never overlap themselves."""

import asyncio

import pytest

from core.jobs import single_flight


async def test_a_job_called_while_it_runs_skips_that_turn() -> None:
    gate = asyncio.Event()
    runs = []

    @single_flight
    async def job(name: str) -> str:
        runs.append(name)
        await gate.wait()
        return name

    first = asyncio.create_task(job("first"))
    await asyncio.sleep(0)
    assert await job("second") is None
    gate.set()
    assert await first == "first"
    assert await job("third") == "third"
    assert runs == ["first", "third"]


async def test_a_failing_job_raises_to_its_caller_and_runs_again_next_time() -> None:
    calls = 0

    @single_flight
    async def job() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database is locked")
        return calls

    with pytest.raises(RuntimeError):
        await job()
    assert await job() == 2
