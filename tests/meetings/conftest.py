from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from meetings import services
from tests.city import City, build_city


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path / "media"


def make_pdf(pages: int = 3, label: str = "資料", changed: set[int] = frozenset()) -> bytes:
    """A small PDF; pages in `changed` carry different content (for version tests)."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for n in range(1, pages + 1):
        c.setFont("Helvetica", 28)
        c.drawString(72, 720, f"{label} page {n}" if n not in changed else f"CHANGED {n}")
        c.rect(72, 200 + n * 10, 200, 100)
        c.showPage()
    c.save()
    return buf.getvalue()


def upload(data: bytes, name: str = "shiryo.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


@pytest.fixture
def city(db) -> City:
    return build_city()


@pytest.fixture
def meeting(city):
    start = timezone.now() + dt.timedelta(days=1)
    m = services.meeting_create(
        actor=city.kacho,
        title="課内会議",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        chair=city.kacho,
    )
    services.participants_add(meeting=m, actor=city.kacho, staff=[city.drafter, city.kakaricho])
    return m


def drain(response) -> bytes:
    """The body of a (streaming) response, closing its file without `response.close()`,
    which would fire request_finished and close the test's database connection."""
    if not getattr(response, "streaming", False):
        return response.content
    body = b"".join(response.streaming_content)
    handle = getattr(response, "file_to_stream", None)
    if handle is not None:
        handle.close()
    return body
