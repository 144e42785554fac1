"""Eager start of a coroutine: Python 3.12's eager tasks, for the 3.11 we run on.

A socket's send usually completes without ever waiting (the transport takes the bytes);
making a task for it costs more than the send. `start_eagerly` runs the coroutine at
once, up to its first real wait, and only a coroutine that does wait (a stalled
tablet's full buffer, a database call) is handed to a task that resumes it from there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Generator
from typing import Any

log = logging.getLogger(__name__)


class _Resumed:
    """The rest of a coroutine that already ran up to its first wait (`yielded` is what
    it waits on): awaited by a task, which forwards results and exceptions into it."""

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro = coro
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, waiting = self.coro, self.yielded
        while True:
            try:
                sent = yield waiting
            except BaseException as exc:  # cancellation, thrown in by the task
                try:
                    waiting = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waiting = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


def start_eagerly(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
    """Run `coro` now; None if it finished without waiting, else the task that finishes
    it. An exception raised before the first wait is logged, not raised (as a task's)."""
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    except Exception:
        log.exception("%r failed", coro)
        return None
    task = asyncio.ensure_future(_Resumed(coro, yielded))
    # A task cancelled before its first step never runs the wrapper, so nothing would
    # reach `coro`: close it then, which runs its `finally` blocks (a no-op once done).
    task.add_done_callback(lambda _task: coro.close())
    return task
