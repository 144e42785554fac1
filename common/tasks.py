"""Background tasks on django-tasks (the backport of Django 6's framework).

Two things the framework leaves to us:
- enqueue after commit, so a worker never picks up a task for a row it cannot see yet
  and a rolled-back change never leaves a task behind;
- retry with backoff. Each failed attempt stays in the task table as FAILED with its
  exception and traceback (the error is kept), and the next attempt is a new row
  scheduled with `run_after`, so a worker on any host can take it.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.db import transaction
from django.utils import timezone
from django_tasks import task
from django_tasks.base import Task

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger(__name__)

ATTEMPT_KWARG = "_attempt"


def enqueue_on_commit(task_: Task, *args: Any, **kwargs: Any) -> None:
    """Enqueue `task_` when the current transaction commits (at once outside one)."""
    transaction.on_commit(functools.partial(task_.enqueue, *args, **kwargs), robust=False)


def retrying_task(
    *,
    max_attempts: int = 5,
    backoff_seconds: float = 30.0,
    max_backoff_seconds: float = 6 * 3600,
    **task_options: Any,
) -> Callable[[Callable[..., T]], Task]:
    """A task that, when it raises, schedules its next attempt with exponential backoff.

    The wrapped function must be safe to run again (idempotent): that is the rule for
    every task here. Attempt n+1 runs no sooner than backoff_seconds × 2**(n-1) after
    attempt n failed (at most max_backoff_seconds). After `max_attempts` the last
    failure stays as the final error.
    """

    def decorate(func: Callable[..., T]) -> Task:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> T:
            attempt = int(kwargs.pop(ATTEMPT_KWARG, 1))
            try:
                return func(*args, **kwargs)
            except Exception:
                if attempt < max_attempts:
                    delay = dt.timedelta(
                        seconds=min(backoff_seconds * 2 ** (attempt - 1), max_backoff_seconds)
                    )
                    log.warning(
                        "task %s failed (attempt %d of %d), retrying in %s",
                        func.__name__,
                        attempt,
                        max_attempts,
                        delay,
                    )
                    the_task.using(run_after=timezone.now() + delay).enqueue(
                        *args, **{**kwargs, ATTEMPT_KWARG: attempt + 1}
                    )
                raise

        the_task = task(**task_options)(run)
        return the_task

    return decorate
