"""Background tasks: enqueued only after commit; failures retried with their errors kept."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from audit.models import AuditEvent
from common.tasks import enqueue_on_commit
from tests.common import tasks_for_tests

pytestmark = pytest.mark.django_db(transaction=True)


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


def test_task_enqueued_in_a_transaction_exists_only_after_commit() -> None:
    with transaction.atomic():
        enqueue_on_commit(tasks_for_tests.write_event, "after-commit")
        # Inside the transaction a worker could not see it: it is not there yet.
        assert DBTaskResult.objects.count() == 0
    assert DBTaskResult.objects.count() == 1
    run_worker()
    result = DBTaskResult.objects.get()
    assert result.status == "SUCCESSFUL"
    assert result.return_value == "after-commit"
    assert AuditEvent.objects.filter(action="tests.task.ran").count() == 1


def test_task_enqueued_in_a_rolled_back_transaction_never_runs() -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        enqueue_on_commit(tasks_for_tests.write_event, "rolled-back")
        raise Boom
    assert DBTaskResult.objects.count() == 0
    run_worker()
    assert not AuditEvent.objects.filter(action="tests.task.ran").exists()


def test_failing_task_is_retried_and_its_error_kept(tmp_path) -> None:
    tasks_for_tests.fail_once.enqueue(str(tmp_path / "marker"))
    run_worker()
    attempts = list(DBTaskResult.objects.order_by("enqueued_at"))
    assert [a.status for a in attempts] == ["FAILED", "SUCCESSFUL"]
    failed, succeeded = attempts
    assert failed.exception_class_path == "builtins.RuntimeError"
    assert "transient failure" in failed.traceback
    assert succeeded.return_value == "second attempt succeeded"
    assert succeeded.args_kwargs["kwargs"]["_attempt"] == 2


def test_permanent_failure_stops_after_max_attempts_with_every_error_kept() -> None:
    tasks_for_tests.always_fail.enqueue()
    run_worker()
    attempts = list(DBTaskResult.objects.order_by("enqueued_at"))
    assert len(attempts) == 3
    assert all(a.status == "FAILED" for a in attempts)
    assert all("permanent failure" in a.traceback for a in attempts)


def test_retry_waits_with_exponential_backoff() -> None:
    before = timezone.now()
    tasks_for_tests.fail_with_backoff.enqueue()
    run_worker()
    retry = DBTaskResult.objects.filter(status="READY").get()
    assert retry.args_kwargs["kwargs"]["_attempt"] == 2
    assert retry.run_after >= before + dt.timedelta(seconds=60)
    assert retry.run_after < before + dt.timedelta(seconds=120)
