"""common/aio.py: a coroutine started eagerly runs at once, and only one that waits gets
a task, which then behaves as any task would (result, exception, cancellation)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from common.aio import start_eagerly


def test_a_coroutine_that_never_waits_runs_at_once_without_a_task() -> None:
    done: list[str] = []

    async def write() -> str:  # like a socket send whose transport takes the bytes
        return "sent"

    async def quick() -> None:
        done.append(await write())

    async def scenario() -> None:
        before = len(asyncio.all_tasks())
        assert start_eagerly(quick()) is None
        assert done == ["sent"] and len(asyncio.all_tasks()) == before

    asyncio.run(scenario())


def test_a_coroutine_that_waits_is_finished_by_a_task() -> None:
    steps: list[str] = []

    async def waits(gate: asyncio.Future[int]) -> int:
        steps.append("before")
        value = await gate
        steps.append("after")
        await asyncio.sleep(0)  # a bare yield, too
        return value * 2

    async def scenario() -> None:
        gate = asyncio.get_running_loop().create_future()
        task = start_eagerly(waits(gate))
        assert steps == ["before"] and task is not None
        gate.set_result(21)
        assert await task == 42 and steps == ["before", "after"]

    asyncio.run(scenario())


def test_errors_before_and_after_the_first_wait(caplog) -> None:
    async def at_once() -> None:
        raise ValueError("before any wait")

    async def later(gate: asyncio.Future[None]) -> None:
        await gate
        raise KeyError("after the wait")

    async def scenario() -> None:
        with caplog.at_level(logging.ERROR, logger="common.aio"):
            assert start_eagerly(at_once()) is None
        assert "before any wait" in caplog.text
        gate = asyncio.get_running_loop().create_future()
        task = start_eagerly(later(gate))
        gate.set_result(None)
        with pytest.raises(KeyError):
            await task

    asyncio.run(scenario())


def test_cancellation_reaches_the_coroutine_before_or_after_its_task_starts() -> None:
    cleaned: list[str] = []

    async def stuck(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(name)

    async def scenario() -> None:
        early = start_eagerly(stuck("early"))
        assert early is not None
        early.cancel()  # before the task's first step
        late = start_eagerly(stuck("late"))
        assert late is not None
        await asyncio.sleep(0.01)
        late.cancel()  # while the task waits
        for task in (early, late):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert sorted(cleaned) == ["early", "late"]

    asyncio.run(scenario())
