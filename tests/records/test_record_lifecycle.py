"""A decided document becomes a record; its PDF is made in the background; failures
wait and retry without touching the decision; a day without a signature is flagged."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from approvals.models import Document
from approvals.services import document_create, document_submit
from audit.models import AuditEvent
from audit.services import audit_verify
from records.models import Record, RecordVersion
from records.services import record_sign
from tests.city import City, build_city
from workflow.models import Notification, Step
from workflow.services import step_approve


@pytest.fixture
def demo_signing(settings, tmp_path):
    """The embedded default: `init_pki`'s demo CA and in-process TSA, no network.
    B-B keeps the burst quick; the levels themselves are tested in test_signing.py."""
    settings.PKI_DIR = tmp_path / "pki"
    settings.SIGNING = {
        **settings.SIGNING,
        "LEVEL": "B-B",
        "PKCS12_PATH": str(settings.PKI_DIR / "signer.p12"),
        "TSA_URL": "",
        "TRUST_ROOTS": [],
    }
    call_command("init_pki", verbosity=0)
    return settings.SIGNING


def decide(city: City, title: str = "公用車の修繕について", drafter=None) -> Document:
    """A 人件費 matter drafted by the 課長 himself: one step, decided at once (専決)."""
    drafter = drafter or city.kacho
    document = document_create(actor=drafter, title=title, category=city.jinkenhi, amount=None)
    route = document_submit(document=document, actor=drafter)
    while (step := Step.objects.filter(route=route, status="pending").first()) is not None:
        step_approve(step=step, actor=step.assignee)
    return Document.objects.get(pk=document.pk)


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


@pytest.mark.django_db
def test_decision_registers_one_record(django_capture_on_commit_callbacks) -> None:
    city = build_city()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        document = decide(city)
    record = Record.objects.get()
    assert record.source == document
    assert record.number == document.number and record.status == Record.Status.PENDING
    assert len(callbacks) >= 1  # the signing task is queued only after commit
    from records.services import record_register

    again = record_register(
        source=document,
        title=document.title,
        number=document.number,
        department=document.department,
        confidential=False,
        actor=city.kacho,
    )
    assert again.pk == record.pk and Record.objects.count() == 1


@pytest.mark.django_db
def test_record_pages_follow_the_source_and_the_officer_role(client: Client) -> None:
    city = build_city()
    document = decide(city)
    record = Record.objects.get()
    client.force_login(city.outsider)
    assert client.get(f"/records/{record.pk}/").status_code == 404
    assert client.get("/records/").status_code == 404
    client.force_login(city.records_officer)
    assert client.get("/records/").status_code == 200
    page = client.get(f"/records/{record.pk}/")
    assert page.status_code == 200 and "作成待ち" in page.content.decode()
    assert client.get(f"/records/{record.pk}/pdf/").status_code == 404  # not signed yet
    client.force_login(city.kacho)
    detail = client.get(document.get_absolute_url()).content.decode()
    assert f"/records/{record.pk}/" in detail


@pytest.mark.django_db
def test_signing_failure_keeps_the_decision_and_flags_after_a_day(settings, tmp_path) -> None:
    settings.SIGNING = {**settings.SIGNING, "PKCS12_PATH": str(tmp_path / "missing.p12")}
    city = build_city()
    document = decide(city)
    record = Record.objects.get()
    with pytest.raises(Exception):  # noqa: B017 - whatever the signer raises, it is retried
        record_sign(record_id=record.pk)
    record.refresh_from_db()
    document.refresh_from_db()
    assert document.status == Document.Status.DECIDED and document.number
    assert record.status == Record.Status.RETRYING and record.last_error
    assert record.flagged_at is None
    assert AuditEvent.objects.filter(action="records.record.sign_failed").count() == 1
    later = timezone.now() + dt.timedelta(hours=25)
    with time_machine.travel(later, tick=False), pytest.raises(Exception):  # noqa: B017
        record_sign(record_id=record.pk)
    record.refresh_from_db()
    assert record.flagged_at is not None and record.attempts == 2
    alerts = Notification.objects.filter(kind="alert", recipient=city.records_officer)
    assert alerts.count() == 1 and str(record.pk) in alerts.get().url
    assert list(audit_verify()) == []


@pytest.mark.django_db(transaction=True)
def test_hundred_decisions_in_a_burst_are_all_signed_once(demo_signing) -> None:
    """Workers drain the queue at once: every record signed, none twice."""
    city = build_city()
    for n in range(100):
        decide(city, title=f"一斉決裁 {n:03d}")
    assert Record.objects.count() == 100
    assert DBTaskResult.objects.count() == 100

    def worker(n: int) -> None:
        # The library's worker loop, as `db_worker --batch` runs it, minus the signal
        # handlers (Python allows those in the main thread only).
        try:
            Worker(
                queue_names=["default"],
                interval=0.1,
                batch=True,
                backend_name="default",
                startup_delay=False,
                max_tasks=None,
                worker_id=f"burst-{n}",
                excluded_queue_names=[],
            ).run()
        finally:
            connection.close()

    # Two workers race on PostgreSQL; SQLite's in-memory test database locks whole
    # tables between connections, so there one worker drains the queue.
    count = 2 if connection.vendor == "postgresql" else 1
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert set(Record.objects.values_list("status", flat=True)) == {Record.Status.SIGNED}
    assert RecordVersion.objects.count() == 100
    assert AuditEvent.objects.filter(action="records.record.signed").count() == 100
    signed_ids = list(
        AuditEvent.objects.filter(action="records.record.signed").values_list(
            "target_id", flat=True
        )
    )
    assert len(set(signed_ids)) == 100
    assert len(set(Record.objects.values_list("sha256", flat=True))) == 100
    workers = {w for ids in DBTaskResult.objects.values_list("worker_ids", flat=True) for w in ids}
    assert workers <= {"burst-0", "burst-1"}
    assert list(audit_verify()) == []
