"""The official PDF of a record, checked with poppler, pypdf and pyHanko."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from records.payload import ApprovalRow, AttachmentItem, RenderPayload
from records.rendering import FONT_NOTE, HISTORY_NAME, RenderedPdf, render_record
from tests.conftest import missing_service, need_binary

TOKYO = ZoneInfo("Asia/Tokyo")
TITLE = "令和8年度 コピー用紙の購入について"
NUMBER = "8総第123号"
LONG_LINE = "庁内の複合機で使用する用紙の在庫が不足しているため、年度末までの必要量を購入する。" * 4


def font_path() -> str:
    path = settings.RECORDS_FONT_PATH
    if not os.path.exists(path):
        missing_service(f"needs the IPAex Mincho font at {path} (Debian fonts-ipaexfont)")
    return path


def run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, check=True, text=True, timeout=60).stdout


# --- attachments made here --------------------------------------------------------------


def make_pdf(pages: int, text: str, *, embedded_font: bool = True) -> bytes:
    buf = io.BytesIO()
    if embedded_font:
        pdfmetrics.registerFont(TTFont("TestIPAex", font_path()))
        c = canvas.Canvas(buf, pagesize=A4, invariant=1, initialFontName="TestIPAex")
        font = "TestIPAex"
    else:
        c = canvas.Canvas(buf, pagesize=A4, invariant=1)
        font = "Helvetica"
    for i in range(pages):
        c.setFont(font, 16)
        c.drawString(72, 760, f"{text} {i + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def encrypted(data: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def decompression_bomb() -> bytes:
    """One page whose content stream inflates to 80 MB of spaces (80 kB compressed)."""
    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    stream = DecodedStreamObject()
    stream.set_data(b" " * 80_000_000)
    page[NameObject("/Contents")] = writer._add_object(stream.flate_encode(level=9))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def many_pages(n: int) -> bytes:
    writer = PdfWriter()
    for _ in range(n):
        writer.add_blank_page(100, 100)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def item(name: str, data: bytes, content_type: str) -> AttachmentItem:
    return AttachmentItem(
        name=name,
        content_type=content_type,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        read=lambda: data,
    )


XLSX = b"PK\x03\x04" + bytes(range(256)) * 16
GOOD = "見積書.pdf"
BAD = {"暗号化.pdf", "壊れた.pdf"}


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=TOKYO)


def standard_attachments() -> list[AttachmentItem]:
    good = make_pdf(2, "別紙 見積書")
    return [
        item(GOOD, good, "application/pdf"),
        item("暗号化.pdf", encrypted(good), "application/pdf"),
        item("壊れた.pdf", good[:300], "application/pdf"),
        item("集計表.xlsx", XLSX, "application/vnd.ms-excel"),
    ]


def payload(attachments: list[AttachmentItem] | None = None, **kw) -> RenderPayload:
    rows = [
        ApprovalRow("回議", "総務課係長", "課長 二郎", "課長", "引上げ", "引上げ（後閲）",
                    at(24, 10, 5), on_behalf_of="係長 一郎"),
        ApprovalRow("回議", "総務課長補佐", "補佐 三郎", "補佐", "承認", "", at(25, 11, 30),
                    "単価を確認しました。"),
        ApprovalRow("合議", "財政課長", "財政 五郎", "財政", "承認", "", at(25, 15, 0)),
        ApprovalRow("決裁", "総務課長", "補佐 三郎", "補佐", "決裁", "代決", at(26, 14, 0),
                    "課長出張のため代決", on_behalf_of="課長 二郎"),
        ApprovalRow("決裁", "総務課長", "課長 二郎", "課長", "後閲", "後閲", at(27, 9, 15),
                    "確認しました"),
    ]  # fmt: skip
    history = [{"seq": 1, "action": "workflow.submit", "actor": "起案 太郎"}]
    fields = {
        "kind_label": "起案文書",
        "number": NUMBER,
        "title": TITLE,
        "drafter": "総務課 主事 起案 太郎",
        "department": "総務部 総務課",
        "dates": [
            ("起案日", dt.date(2026, 11, 24)),
            ("決裁日", dt.date(2026, 11, 26)),
            ("施行日", None),
        ],
        "classification": "物品購入",
        "retention": "5年",
        "confidentiality": "通常",
        "body": f'標記について伺います。\n\n記\n\n１　理由　{LONG_LINE}\n２　特記　<a> & "b"\n以上',
        "approvals": rows,
        "attachments": standard_attachments() if attachments is None else attachments,
        "history_json": json.dumps(history, ensure_ascii=False).encode(),
    }
    fields.update(kw)
    return RenderPayload(**fields)


@pytest.fixture(scope="module")
def the_payload() -> RenderPayload:
    font_path()
    return payload()


@pytest.fixture(scope="module")
def rendered(the_payload: RenderPayload) -> RenderedPdf:
    return render_record(the_payload)


@pytest.fixture
def pdf_file(rendered: RenderedPdf, tmp_path: Path) -> Path:
    path = tmp_path / "record.pdf"
    path.write_bytes(rendered.pdf)
    return path


def text_of(path: Path, *pages: int) -> str:
    span = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    return run(need_binary("pdftotext"), "-layout", *span, str(path), "-")


def fonts_of(path: Path) -> list[tuple[str, str]]:
    """(name, emb) for each font pdffonts lists."""
    lines = run(need_binary("pdffonts"), str(path)).splitlines()[2:]
    return [(line.split()[0], line.split()[-5]) for line in lines if line.strip()]


# --- the record ---------------------------------------------------------------------------


def test_text_fonts_and_pages(rendered: RenderedPdf, pdf_file: Path) -> None:
    assert rendered.archival_grade
    cover = text_of(pdf_file, 1)
    assert TITLE in cover and NUMBER in cover
    assert "令和8年11月26日" in cover and "2026-11-26" in cover
    assert "物品購入" in cover and "5年" in cover
    everything = "".join(text_of(pdf_file).split())  # table cells wrap
    assert '<a>&"b"' in everything
    assert "年度末までの必要量" in everything
    for label in ("【代決】", "【後閲】", "【引上げ", "二郎不在のため", "一郎不在のため"):
        assert label in everything, label
    assert "本文の後に結合" in everything

    fonts = fonts_of(pdf_file)
    assert fonts and any("IPAex" in name for name, _ in fonts)
    assert all(emb == "yes" for _, emb in fonts), fonts

    # The record's own pages say "n / N"; the two pages of 見積書.pdf come after them.
    own = int(re.search(r"\b1\s*/\s*(\d+)\s*$", cover.strip()).group(1))
    assert len(PdfReader(io.BytesIO(rendered.pdf)).pages) == own + 2
    assert "別紙 見積書 1" in text_of(pdf_file, own + 1)
    assert "別紙 見積書 2" in text_of(pdf_file, own + 2)
    assert f"p.{own + 1}–{own + 2}" in everything


def test_cover_is_printed_with_red_stamps(pdf_file: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "cover"
    run(need_binary("pdftoppm"), "-r", "50", "-png", "-f", "1", "-l", "1", "-singlefile",
        str(pdf_file), str(prefix))  # fmt: skip
    data = Image.open(f"{prefix}.png").convert("RGB").tobytes()
    pixels = list(zip(data[0::3], data[1::3], data[2::3], strict=True))
    inked = sum(1 for r, g, b in pixels if r + g + b < 600)
    red = sum(1 for r, g, b in pixels if r > 150 and g < 110 and b < 110)
    assert inked > 2_000  # text, tables and stamps, not a blank page
    assert red > 200  # the 電子印影


def test_bad_attachments_are_embedded_with_notes(rendered: RenderedPdf) -> None:
    reader = PdfReader(io.BytesIO(rendered.pdf))
    files = reader.attachments
    assert set(files) == {HISTORY_NAME, "集計表.xlsx", *BAD}
    assert GOOD not in files  # merged as pages instead
    assert files["集計表.xlsx"] == [XLSX]
    for name in BAD:
        assert any(name in note for note in rendered.notes), (name, rendered.notes)
    assert any("暗号化" in n and "encrypted" in n for n in rendered.notes)
    history = json.loads(files[HISTORY_NAME][0])
    assert history[0]["action"] == "workflow.submit"
    subtypes = {f.name: f.subtype for f in reader.attachment_list}
    assert subtypes[HISTORY_NAME] == "/application/json"


def test_output_takes_an_incremental_update(rendered: RenderedPdf) -> None:
    """Signing is done elsewhere; here: pyHanko reads the file and appends a revision."""
    reader = PdfFileReader(io.BytesIO(rendered.pdf))
    assert reader.total_revisions == 1
    assert reader.encrypted is False
    writer = IncrementalPdfFileWriter(io.BytesIO(rendered.pdf))
    writer.root["/Lang"] = generic.pdf_string("ja-JP")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    updated = out.getvalue()
    assert updated.startswith(rendered.pdf)
    assert PdfFileReader(io.BytesIO(updated)).total_revisions == 2


def test_same_payload_same_text(the_payload: RenderPayload, pdf_file: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.pdf"
    again.write_bytes(render_record(the_payload).pdf)
    assert text_of(again) == text_of(pdf_file)


# --- what can go wrong ----------------------------------------------------------------


def test_without_the_font_it_still_renders_but_not_archival(settings, tmp_path: Path) -> None:
    if not Path("/usr/share/poppler/cMap/Adobe-Japan1").is_dir():
        missing_service("needs the Japanese CMaps of poppler-data to read CID-font text")
    settings.RECORDS_FONT_PATH = str(tmp_path / "missing.ttf")
    result = render_record(payload(attachments=[]))
    assert result.archival_grade is False
    assert FONT_NOTE in result.notes
    path = tmp_path / "fallback.pdf"
    path.write_bytes(result.pdf)
    assert TITLE in text_of(path, 1)
    assert any(name.startswith("HeiseiMin") for name, _ in fonts_of(path))


def test_a_file_that_is_not_a_font_counts_as_missing(settings, tmp_path: Path) -> None:
    fake = tmp_path / "fake.ttf"
    fake.write_bytes(b"not a font")
    settings.RECORDS_FONT_PATH = str(fake)
    result = render_record(payload(attachments=[]))
    assert result.archival_grade is False and FONT_NOTE in result.notes


def test_hostile_pdfs_are_embedded_not_merged(tmp_path: Path) -> None:
    font_path()
    bomb, long = decompression_bomb(), many_pages(2_001)
    result = render_record(
        payload(
            attachments=[
                item("bomb.pdf", bomb, "application/pdf"),
                item("long.pdf", long, "application/pdf"),
            ]
        )
    )
    reader = PdfReader(io.BytesIO(result.pdf))
    assert set(reader.attachments) == {HISTORY_NAME, "bomb.pdf", "long.pdf"}
    assert len(reader.pages) < 10
    assert any("bomb.pdf" in n and "decompression bomb" in n for n in result.notes)
    assert any("long.pdf" in n and "2,001" in n for n in result.notes)


def test_unreadable_and_altered_attachments_are_noted(tmp_path: Path) -> None:
    font_path()

    def fails() -> bytes:
        raise FileNotFoundError("gone")

    gone = AttachmentItem("消えた.docx", "application/msword", "0" * 64, 10, fails)
    altered = AttachmentItem("改変.txt", "text/plain", "0" * 64, 3, lambda: b"abc")
    result = render_record(payload(attachments=[gone, altered]))
    assert any("消えた.docx" in n and "could not be read" in n for n in result.notes)
    assert any("改変.txt" in n and "SHA-256" in n for n in result.notes)
    assert set(PdfReader(io.BytesIO(result.pdf)).attachments) == {HISTORY_NAME, "改変.txt"}


def test_merged_pdf_without_embedded_fonts_is_not_archival(tmp_path: Path) -> None:
    font_path()
    plain = make_pdf(1, "Helvetica page", embedded_font=False)
    result = render_record(payload(attachments=[item("plain.pdf", plain, "application/pdf")]))
    assert result.archival_grade is False
    assert any("plain.pdf" in n and "Helvetica" in n for n in result.notes)
    assert len(PdfReader(io.BytesIO(result.pdf)).pages) >= 4  # merged all the same
