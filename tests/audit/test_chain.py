"""The audit trail is append-only and hash-chained; verify_audit finds any tampering."""

from __future__ import annotations

import io
import itertools

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.models import AuditChainHead, AuditEvent, AuditImmutableError
from audit.services import audit_record, audit_verify, event_hash
from tests.org.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain() -> list[AuditEvent]:
    actor = StaffFactory()
    with transaction.atomic():
        return [
            audit_record(actor=actor, action="tests.thing.changed", target=actor, data={"n": n})
            for n in range(5)
        ]


def verify() -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
        code = 0
    except CommandError:
        code = 1
    return code, out.getvalue(), err.getvalue()


def raw_sql(sql: str, params: list) -> None:
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=connection.ops.quote_name(table)), params)


def tamper(sql: str, params: list) -> None:
    """Change the table behind the application's back, as someone with database access.

    On PostgreSQL that someone must first switch triggers off (a superuser can, with
    session_replication_role); verify_audit must catch the change all the same.
    """
    if connection.vendor == "postgresql":
        raw_sql("SET session_replication_role = replica", [])
    try:
        raw_sql(sql, params)
    finally:
        if connection.vendor == "postgresql":
            raw_sql("SET session_replication_role = origin", [])


def test_events_are_linked_in_order(chain: list[AuditEvent]) -> None:
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
    for prev, event in itertools.pairwise(chain):
        assert event.prev_hash == prev.hash
        assert event.hash == event_hash(prev.hash, event)
    assert chain[0].target_repr == str(chain[0].actor)
    assert list(audit_verify()) == []
    code, out, _ = verify()
    assert code == 0 and "5 events" in out


def test_stored_event_matches_what_was_hashed(chain: list[AuditEvent]) -> None:
    """The row read back from the database hashes to the same value (no type drift)."""
    stored = AuditEvent.objects.get(seq=3)
    assert event_hash(stored.prev_hash, stored) == stored.hash


def test_changed_event_is_detected(chain: list[AuditEvent]) -> None:
    tamper("UPDATE {table} SET data = %s WHERE seq = 3", ['{"n": 99}'])
    code, _, err = verify()
    assert code == 1
    assert "event #3" in err and "changed" in err


def test_deleted_event_is_detected(chain: list[AuditEvent]) -> None:
    tamper("DELETE FROM {table} WHERE seq = 2", [])
    code, _, err = verify()
    assert code == 1
    assert "event #3" in err and "gap" in err


def test_deleted_last_event_is_detected(chain: list[AuditEvent]) -> None:
    tamper("DELETE FROM {table} WHERE seq = 5", [])
    code, _, err = verify()
    assert code == 1
    assert "head records #5" in err


def test_inserted_event_is_detected(chain: list[AuditEvent]) -> None:
    """A forged event appended without moving the chain head disagrees with the head."""
    forged = AuditEvent(
        seq=6,
        occurred_at=chain[-1].occurred_at,
        action="tests.thing.forged",
        data={},
        prev_hash=chain[-1].hash,
    )
    forged.hash = event_hash(chain[-1].hash, forged)
    # Bypass audit_record (as an attacker with database access would): the head is
    # not moved, so the chain no longer ends where the head says.
    AuditEvent.objects.bulk_create([forged])
    code, _, err = verify()
    assert code == 1
    assert "head records #5" in err


def test_inserted_event_in_the_middle_is_detected(chain: list[AuditEvent]) -> None:
    for seq in (5, 4, 3):
        tamper("UPDATE {table} SET seq = %s WHERE seq = %s", [seq + 1, seq])
    forged = AuditEvent(
        seq=3,
        occurred_at=chain[1].occurred_at,
        action="tests.thing.forged",
        data={},
        prev_hash=chain[1].hash,
    )
    forged.hash = event_hash(chain[1].hash, forged)
    AuditEvent.objects.bulk_create([forged])
    head = AuditChainHead.objects.get()
    AuditChainHead.objects.filter(pk=head.pk).update(last_seq=6)
    code, _, err = verify()
    assert code == 1
    assert "event #4" in err


def test_model_refuses_update_and_delete(chain: list[AuditEvent]) -> None:
    event = AuditEvent.objects.get(seq=1)
    event.action = "tests.thing.other"
    with pytest.raises(AuditImmutableError):
        event.save()
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(seq=1).update(action="x.y")
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(seq=1).delete()


def test_action_must_be_dotted() -> None:
    with pytest.raises(ValueError, match="dotted"):
        audit_record(actor=None, action="changed")


def test_event_written_in_a_rolled_back_transaction_disappears_with_it() -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        audit_record(actor=None, action="tests.thing.changed")
        raise Boom
    assert AuditEvent.objects.count() == 0
    assert list(audit_verify()) == []


def test_trigger_refuses_update_on_postgresql(need_postgres, chain) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw_sql("UPDATE {table} SET data = %s WHERE seq = 3", ['{"n": 99}'])
    assert AuditEvent.objects.get(seq=3).data == {"n": 2}


def test_trigger_refuses_delete_on_postgresql(need_postgres, chain) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw_sql("DELETE FROM {table} WHERE seq = 2", [])
    assert AuditEvent.objects.count() == 5
    assert list(audit_verify()) == []


def test_admin_is_read_only(admin_client, chain) -> None:
    url = f"/admin/audit/auditevent/{chain[0].pk}/change/"
    assert admin_client.get("/admin/audit/auditevent/").status_code == 200
    response = admin_client.get(url)
    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403
    delete_url = f"/admin/audit/auditevent/{chain[0].pk}/delete/"
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.count() == 5
