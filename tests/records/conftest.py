"""Signing fixtures: an offline test PKI served over real HTTP on 127.0.0.1.

`records.pki.LoopbackTestPKI` makes a root, intermediate, OCSP responder, signer and two
TSAs with certomancer (keys generated now, nothing committed) and serves them with
certomancer's AsyncIllusionist in a background thread, so HTTP timestamping and
OCSP/CRL fetching run through pyHanko's real aiohttp code. Its answers follow the
process clock, so time-machine moves them too.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings
from django.utils import timezone

from org.models import Department
from records import signing
from records.models import Record
from records.pki import LoopbackTestPKI
from tests.conftest import missing_service
from tests.org.factories import DepartmentFactory

FONT = "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf"
SIGNED_LEVELS = ("B-B", "B-T", "B-LTA")


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackTestPKI]:
    pki = LoopbackTestPKI(tmp_path_factory.mktemp("test-pki")).start()
    yield pki
    pki.stop()


def pki_settings(test_pki: LoopbackTestPKI, **overrides: object) -> dict[str, object]:
    """Settings pointing at the loopback PKI; PKI_DIR empty, so no demo fallback."""
    return {
        "SIGNING": test_pki.signing_settings(**overrides),
        "PKI_DIR": test_pki.dir / "no-demo-pki",
    }


@pytest.fixture
def signing_settings(settings, test_pki: LoopbackTestPKI) -> dict[str, object]:
    for name, value in pki_settings(test_pki).items():
        setattr(settings, name, value)
    return settings.SIGNING


@pytest.fixture(scope="session")
def unsigned_pdf() -> bytes:
    """A one-page PDF with a few lines of Japanese in an embedded IPAex Mincho subset."""
    if not os.path.exists(FONT):
        missing_service(f"needs the IPAex font at {FONT} (Debian fonts-ipaexfont)")
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    if "IPAexMincho" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("IPAexMincho", FONT))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    c.setTitle("起案用紙")
    c.setFont("IPAexMincho", 14)
    lines = [
        "起案用紙（決裁文書）",
        "文書番号：総第１２３号",
        "件名：公用車の修繕について",
        "保存期間：３０年",
    ]
    for i, line in enumerate(lines):
        c.drawString(72, 760 - 24 * i, line)
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="session")
def signed(test_pki: LoopbackTestPKI, unsigned_pdf: bytes) -> dict[str, bytes]:
    """The same document signed at B-B, B-T and B-LTA, once per session."""
    with override_settings(**pki_settings(test_pki)):
        return {level: signing.sign_pdf(unsigned_pdf, level=level).pdf for level in SIGNED_LEVELS}


def tamper_one_byte(pdf: bytes) -> bytes:
    """Change one byte inside the signed revision: /Producer (ReportLab… → (XeportLab…."""
    i = pdf.index(b"/Producer (ReportLab") + len(b"/Producer (")
    b = bytearray(pdf)
    b[i] = ord("X")
    return bytes(b)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def make_record(pdf: bytes, *, level: str, number: str = "総第1号") -> Record:
    department: Department = DepartmentFactory()
    sha256 = hashlib.sha256(pdf).hexdigest()
    name = default_storage.save(f"records/{sha256[:2]}/{sha256}.pdf", ContentFile(pdf))
    return Record.objects.create(
        source_type=ContentType.objects.get_for_model(Department),
        source_id=department.pk,
        title="公用車の修繕について",
        number=number,
        department=department,
        created_at=timezone.now(),
        status=Record.Status.SIGNED,
        pdf=name,
        sha256=sha256,
        size=len(pdf),
        level=level,
        signed_at=timezone.now(),
        timestamp_expires_at=signing.timestamp_expiry(pdf),
    )


@pytest.fixture
def media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
