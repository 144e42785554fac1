"""verify_pdf's report, and `manage.py verify_records` on Record rows."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from records.verification import verify_pdf
from tests.records.conftest import make_record, tamper_one_byte


def test_report_is_json_safe_and_one_line(signed, signing_settings) -> None:
    data = signed["B-LTA"]
    report = verify_pdf(data, expected_sha256=hashlib.sha256(data).hexdigest())
    assert report.ok
    assert [c.name for c in report.checks] == ["sha256", "integrity", "trust", "timestamp", "ltv"]
    as_dict = json.loads(json.dumps(report.to_dict()))
    assert as_dict["ok"] is True and as_dict["level"] == "B-LTA" and not as_dict["demo_pki"]
    assert as_dict["signed_at"] and all(c["detail"] for c in as_dict["checks"])
    line = report.summary_line()
    assert "\n" not in line and line.startswith("OK") and "ltv:ok" in line


def test_sha256_mismatch_fails(signed, signing_settings) -> None:
    report = verify_pdf(signed["B-T"], expected_sha256="0" * 64)
    assert not report.ok and not report.check("sha256").ok
    assert report.check("integrity").ok  # the file itself is fine: it is another file


@pytest.mark.parametrize("data", [b"not a pdf", b""], ids=["garbage", "empty"])
def test_not_a_pdf_is_a_failed_report(data, signing_settings) -> None:
    report = verify_pdf(data)
    assert not report.ok and report.check("integrity").detail


def test_unsigned_pdf_fails(unsigned_pdf, signing_settings) -> None:
    report = verify_pdf(unsigned_pdf)
    assert not report.ok and "no signature" in report.check("integrity").detail


def test_untrusted_root_fails_trust(signed, settings, signing_settings, test_pki) -> None:
    settings.SIGNING = {**signing_settings, "TRUST_ROOTS": [str(test_pki.dir / "tsa2.pem")]}
    report = verify_pdf(signed["B-LTA"])
    assert not report.ok
    assert report.check("integrity").ok and not report.check("trust").ok


@pytest.mark.django_db
def test_verify_records_command(signed, signing_settings, media) -> None:
    good = make_record(signed["B-LTA"], level="B-LTA", number="総第1号")
    also_good = make_record(signed["B-B"], level="B-B", number="総第2号")
    out = io.StringIO()
    call_command("verify_records", "--all", stdout=out)
    lines = out.getvalue().splitlines()
    assert len([line for line in lines if line.startswith("record ")]) == 2
    assert all(" OK " in line for line in lines if line.startswith("record "))
    good.refresh_from_db()
    assert good.last_verification["ok"] is True and good.last_verified_at is not None

    # the stored file changes behind the record's back: its digest and signature say so
    with default_storage.open(also_good.pdf.name, "wb") as f:
        f.write(tamper_one_byte(signed["B-B"]))
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 of 1"):
        call_command("verify_records", "--id", str(also_good.pk), stdout=out)
    assert "FAIL" in out.getvalue()
    also_good.refresh_from_db()
    report = also_good.last_verification
    assert report["ok"] is False
    failed = {c["name"] for c in report["checks"] if not c["ok"]}
    assert {"sha256", "integrity"} <= failed


@pytest.mark.django_db
def test_verify_records_needs_a_selection(signing_settings) -> None:
    with pytest.raises(CommandError, match="--all"):
        call_command("verify_records")
    with pytest.raises(CommandError, match="no record"):
        call_command("verify_records", "--id", "999999")


def test_missing_trust_root_file_is_a_failed_check(signed, settings, signing_settings, tmp_path):
    settings.SIGNING = {**signing_settings, "TRUST_ROOTS": [str(tmp_path / "gone.pem")]}
    report = verify_pdf(signed["B-B"])
    assert not report.ok and not report.check("trust").ok
    assert "gone.pem" in report.check("trust").detail
