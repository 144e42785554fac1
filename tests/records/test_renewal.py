"""Archival timestamp renewal, with the clock moved by time-machine.

time-machine moves `datetime.now()`/`time.time()` for the whole process (pyHanko, and
the loopback PKI's OCSP/CRL/TSA answers in their thread) but not `time.monotonic()`, so
asyncio and aiohttp keep working: no special mode is needed (freezegun needs
`real_asyncio=True` for that). pyHanko's long-term validation takes its control time
from the clock, so validating "in 2045" means moving the clock to 2045.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from pyhanko.pdf_utils.reader import PdfFileReader

from audit.models import AuditEvent
from records import signing
from records.models import Record, RecordVersion
from records.verification import verify_pdf
from tests.records.conftest import make_record

NOW = dt.datetime.now(dt.UTC)
# The test PKI's first TSA certificate lasts 5 years, its second 35: renew in year 4.
RENEW_AT = NOW + dt.timedelta(days=4 * 365)
TOO_LATE = NOW + dt.timedelta(days=6 * 365)
YEAR_2045 = max(dt.datetime(2045, 6, 1, tzinfo=dt.UTC), NOW + dt.timedelta(days=15 * 365))


@pytest.fixture
def tsa2(settings, signing_settings, test_pki):
    """The renewal TSA: a newer one, whose certificate lasts until long after 2045."""
    settings.SIGNING = {**signing_settings, "TSA_URL": test_pki.tsa2_url}
    return settings.SIGNING


def test_renewed_validates_in_2045_and_not_renewed_does_not(signed, tsa2, test_pki) -> None:
    original = signed["B-LTA"]
    with time_machine.travel(RENEW_AT, tick=True):
        renewed = signing.renew_timestamp(original)
    assert renewed.level == "B-LTA" and not renewed.demo_pki
    assert renewed.pdf.startswith(original)  # appended, the signed bytes untouched
    assert len(PdfFileReader(io.BytesIO(renewed.pdf)).embedded_timestamp_signatures) == 2
    assert renewed.timestamp_expires_at == test_pki.cert("tsa2").not_valid_after
    assert signing.timestamp_expiry(renewed.pdf) == renewed.timestamp_expires_at

    with time_machine.travel(YEAR_2045, tick=True):
        ok = verify_pdf(renewed.pdf)
        ko = verify_pdf(original)
    assert ok.ok, ok.summary_line()
    assert ok.signed_at is not None and abs(ok.signed_at - NOW) < dt.timedelta(hours=1)
    assert not ko.ok and not ko.check("ltv").ok, ko.summary_line()
    assert ko.check("integrity").ok  # intact, but nothing proves it any more
    assert "NO_POE" in ko.check("ltv").detail


def test_renewing_an_expired_chain_is_refused(signed, tsa2) -> None:
    with time_machine.travel(TOO_LATE, tick=True), pytest.raises(signing.RenewalError):
        signing.renew_timestamp(signed["B-LTA"])


@pytest.mark.parametrize("level", ["B-B", "B-T"])
def test_only_b_lta_is_renewed(signed, tsa2, level) -> None:
    with pytest.raises(signing.RenewalError, match="B-LTA"):
        signing.renew_timestamp(signed[level])


def test_renewal_with_the_tsa_down_is_unavailable(signed, settings, signing_settings) -> None:
    settings.SIGNING = {**signing_settings, "TSA_URL": "http://127.0.0.1:9/tsa"}
    with pytest.raises(signing.SigningUnavailable):
        signing.renew_timestamp(signed["B-LTA"])


@pytest.mark.django_db
def test_renew_timestamps_command(signed, tsa2, media, test_pki) -> None:
    due = make_record(signed["B-LTA"], level="B-LTA", number="総第1号")
    not_lta = make_record(signed["B-T"], level="B-T", number="総第2号")
    old_sha, old_name = due.sha256, due.pdf.name

    out = io.StringIO()
    call_command("renew_timestamps", "--horizon", "10", stdout=out)  # nothing due yet
    assert "0 renewed" in out.getvalue()

    out = io.StringIO()
    call_command("renew_timestamps", "--horizon", str(6 * 365), stdout=out)
    assert "1 renewed, 0 failed" in out.getvalue()
    due.refresh_from_db()
    assert due.sha256 != old_sha
    assert due.pdf.name == f"records/{due.sha256[:2]}/{due.sha256}.pdf"
    assert default_storage.exists(old_name)  # the old version stays
    assert due.timestamp_expires_at == test_pki.cert("tsa2").not_valid_after
    version = RecordVersion.objects.get(record=due)
    assert version.reason == RecordVersion.Reason.RENEWED and version.sha256 == due.sha256
    event = AuditEvent.objects.get(action="records.record.renewed")
    assert event.actor_id is None and event.target_id == str(due.pk)
    assert event.data == {"old_sha256": old_sha, "new_sha256": due.sha256}
    with due.pdf.open("rb") as f:
        assert verify_pdf(f.read(), expected_sha256=due.sha256).ok
    not_lta.refresh_from_db()
    assert not RecordVersion.objects.filter(record=not_lta).exists()  # B-T: not renewable

    # the next run finds nothing due (the new TSA certificate lasts decades)
    out = io.StringIO()
    call_command("renew_timestamps", "--horizon", str(6 * 365), stdout=out)
    assert "0 renewed" in out.getvalue()


@pytest.mark.django_db
def test_renew_timestamps_reports_failures(signed, tsa2, media) -> None:
    record = make_record(signed["B-LTA"], level="B-LTA")
    before = record.sha256
    out = io.StringIO()
    with time_machine.travel(TOO_LATE, tick=True), pytest.raises(CommandError):
        call_command("renew_timestamps", stdout=out)
    assert "FAILED RenewalError" in out.getvalue()
    assert Record.objects.get(pk=record.pk).sha256 == before
    assert not RecordVersion.objects.filter(record=record).exists()
    assert not AuditEvent.objects.filter(action="records.record.renewed").exists()
