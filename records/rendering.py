"""The official PDF of a record (公文書), rendered once and then signed elsewhere.

Layout, A4 portrait, as a municipal 回議用紙 printout:
  1. cover: 文書番号, 件名, kind, drafter, department, dates (和暦 and 西暦), 文書分類,
     保存期間, 秘密区分, and the 決裁欄: one stamp box per act, decider first, as on paper;
  2. the body;
  3. the approval record (回議記録), one row per act with its electronic stamp (電子印影);
  4. the attachments with size and SHA-256, and the notes made while rendering;
  then the pages of the PDF attachments; the other files, the PDFs that could not be
  merged and `approval-history.json` are embedded as file attachments.

Fonts: the TrueType font at `settings.RECORDS_FONT_PATH` is embedded (as subsets) and is
the only font used. Without it the built-in CID fonts stand in; viewers must supply
those, so such a PDF is marked not archival-grade.

Attachments come from outside and are not trusted: a PDF that is encrypted, unparsable,
absurdly long or decompresses into too much is embedded as a file instead of merged,
with a note. Nothing an attachment does stops the rendering.

reportlab cannot embed files, so pages are merged with pypdf and files embedded with
pyHanko, which writes the whole file once: the result is a single plain revision that
pyHanko has already parsed, ready for the incremental update of a signature.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import re
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone
from pyhanko.pdf_utils import embed
from pyhanko.pdf_utils.generic import encode_pdfdocencoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pypdf import PdfReader, PdfWriter, apply_configuration
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from common.dates import era_of, wareki

from .payload import ApprovalRow, AttachmentItem, RenderPayload

SEAL_RED = colors.HexColor("#d0021b")
INK = colors.HexColor("#1a1a1a")
GREY = colors.HexColor("#5f5f5f")
RULE = colors.HexColor("#4a4a4a")
SHADE = colors.HexColor("#eeeeee")
MODE_SHADE = colors.HexColor("#fcefef")

HISTORY_NAME = "approval-history.json"
PAGE_W, PAGE_H = A4
MARGIN_X = 16 * mm
CONTENT_W = PAGE_W - 2 * MARGIN_X

# Limits for attachments merged as pages. A real attachment is far below each of them.
MAX_MERGED_PAGES = 2_000
MAX_STREAM_BYTES = 64 * 2**20  # one decoded stream
MAX_DECODED_BYTES = 256 * 2**20  # all decoded streams of one attachment
MAX_FORM_DEPTH = 12
_PYPDF_LIMITS: dict[str, Any] = {
    "maximum_declared_stream_length": MAX_STREAM_BYTES,
    "array_based_stream_maximum_output_length": MAX_STREAM_BYTES,
    "jbig2_maximum_output_length": MAX_STREAM_BYTES,
    "lzw_maximum_output_length": MAX_STREAM_BYTES,
    "run_length_maximum_output_length": MAX_STREAM_BYTES,
    "zlib_maximum_output_length": MAX_STREAM_BYTES,
    "brotli_maximum_output_length": MAX_STREAM_BYTES,
    "image_maximum_buffer_size": MAX_STREAM_BYTES,
    "page_tree_maximum_page_entries": 20 * MAX_MERGED_PAGES,
}

FONT_NOTE = (
    "日本語フォントを埋め込めないため長期保存品質ではありません "
    "(no embeddable Japanese font: not archival-grade)"
)


@dataclass
class RenderedPdf:
    pdf: bytes
    archival_grade: bool
    notes: list[str] = field(default_factory=list)


def render_record(payload: RenderPayload) -> RenderedPdf:
    """The unsigned official PDF of `payload`; attachments never make it fail."""
    notes: list[str] = []
    fonts = _fonts(notes)
    attachments = [_prepare(i, item, notes) for i, item in enumerate(payload.attachments, 1)]
    archival = fonts.embedded and not any(a.unembedded_fonts for a in attachments)
    try:
        pdf = _assemble(payload, fonts, attachments, notes)
    except Exception as exc:
        # A merged PDF that passed every check still broke the final merge: embed them
        # all as files instead, and say so (the list in the PDF is rendered again).
        for a in attachments:
            if a.merge is not None:
                a.merge, a.problem = None, "結合時にエラー"
        notes.append(
            _note(
                "PDF の添付ファイルを結合できなかったため、ファイルとして添付しました",
                f"merging the PDF attachments failed ({type(exc).__name__}): embedded as files",
            )
        )
        pdf = _assemble(payload, fonts, attachments, notes)
    return RenderedPdf(pdf=pdf, archival_grade=archival, notes=notes)


def _note(ja: str, en: str) -> str:
    return f"{ja} ({en})"


# --- fonts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fonts:
    body: str
    heading: str
    embedded: bool


_registered: dict[str, str] = {}
_register_lock = threading.Lock()


def _fonts(notes: list[str]) -> _Fonts:
    """The configured TrueType font, registered once per path (parsing costs ~50 ms)."""
    path = str(getattr(settings, "RECORDS_FONT_PATH", "") or "")
    with _register_lock:
        name = _registered.get(path)
        if name is None and path:
            candidate = "RecordsTTF-" + hashlib.sha256(path.encode()).hexdigest()[:12]
            try:
                pdfmetrics.registerFont(TTFont(candidate, path))
            except Exception:  # missing, unreadable or not a TrueType font
                name = None
            else:
                _registered[path] = name = candidate
        if name is not None:
            return _Fonts(body=name, heading=name, embedded=True)
        for cid in ("HeiseiMin-W3", "HeiseiKakuGo-W5"):
            if cid not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(UnicodeCIDFont(cid))
    notes.append(FONT_NOTE)
    return _Fonts(body="HeiseiMin-W3", heading="HeiseiKakuGo-W5", embedded=False)


# --- text helpers ---------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_LEADING_SPACES = re.compile(r"(?<= ) |^ ")
_ERA_LETTERS = {"令和": "R", "平成": "H", "昭和": "S"}
_CJK = re.compile(r"^[\u3005\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u30f6]+$")


def _clean(text: object) -> str:
    return _CONTROL.sub("", str(text or "")).replace("\r\n", "\n").replace("\r", "\n")


def _x(text: object) -> str:
    """Text for a Paragraph: XML-escaped, line breaks kept, leading spaces kept."""
    lines = _clean(text).expandtabs(4).split("\n")
    return "<br/>".join(_LEADING_SPACES.sub("&nbsp;", escape(line)) for line in lines)


def _local(at: dt.datetime) -> dt.datetime:
    return at if timezone.is_naive(at) else timezone.localtime(at)


def _wareki(day: dt.date) -> str:
    try:
        return wareki(day)
    except ValueError:
        return day.isoformat()


def _short_wareki(day: dt.date) -> str:
    """R8.11.26, as a date stamp prints it."""
    try:
        era, year = era_of(day)
    except ValueError:
        return f"{day:%Y.%m.%d}"
    return f"{_ERA_LETTERS.get(era, era)}{year}.{day.month}.{day.day}"


def _size(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:.1f} MB<br/>({n:,} B)"
    if n >= 1024:
        return f"{n / 1024:.1f} KB<br/>({n:,} B)"
    return f"{n:,} B"


# --- the electronic stamp ------------------------------------------------------------------


class Seal(Flowable):
    """電子印影: a red circle with the family name (written vertically when it is up to
    four CJK characters) over a band with the date of the act in short 和暦."""

    def __init__(self, family_name: str, day: dt.date, font: str, radius: float = 8 * mm):
        super().__init__()
        self.family_name = _clean(family_name).replace("\n", "").strip() or "印"
        self.day = day
        self.font = font
        self.radius = radius
        self.width = self.height = 2 * radius

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        c, r = self.canv, self.radius
        c.saveState()
        c.translate(r, r)
        c.setStrokeColor(SEAL_RED)
        c.setFillColor(SEAL_RED)
        c.setLineWidth(max(0.9, r / 16))
        c.circle(0, 0, r * 0.97, stroke=1, fill=0)
        band = -0.36 * r
        half = (r * r * 0.94 - band * band) ** 0.5
        c.setLineWidth(0.6)
        c.line(-half, band, half, band)
        date_text = _short_wareki(self.day)
        size = self._fit(date_text, 0.27 * r, 1.08 * r)
        c.setFont(self.font, size)
        c.drawCentredString(0, -0.61 * r - 0.35 * size, date_text)
        self._draw_name(band)
        c.restoreState()

    def _fit(self, text: str, size: float, width: float) -> float:
        natural = pdfmetrics.stringWidth(text, self.font, size)
        return size if natural <= width else size * width / natural

    def _draw_name(self, band: float) -> None:
        c, r, name = self.canv, self.radius, self.family_name
        top, bottom = 0.80 * r, band + 0.04 * r
        centre = (top + bottom) / 2
        height = top - bottom
        vertical = _CJK.match(name) is not None
        if vertical and len(name) <= 3:
            n = len(name)
            size = min(0.96 * height / n, 0.92 * r if n == 1 else 0.6 * r)
            c.setFont(self.font, size)
            for i, ch in enumerate(name):
                y = centre + ((n - 1) / 2 - i) * size
                c.drawCentredString(0, y - 0.37 * size, ch)
        elif vertical and len(name) == 4:
            # Two columns, read top to bottom, right column first.
            size = min(height / 2, 0.5 * r)
            c.setFont(self.font, size)
            for col, part in enumerate((name[:2], name[2:])):
                x = (0.52 - col * 1.04) * size
                for i, ch in enumerate(part):
                    y = centre + (0.5 - i) * size
                    c.drawCentredString(x, y - 0.37 * size, ch)
        else:
            size = self._fit(name, 0.5 * r, 1.6 * r)
            c.setFont(self.font, size)
            c.drawCentredString(0, centre - 0.37 * size, name)


# --- attachments --------------------------------------------------------------------------


class _Refused(Exception):
    """A PDF that will not be merged as pages, with the reason in both languages."""

    def __init__(self, ja: str, en: str):
        super().__init__(en)
        self.ja, self.en = ja, en


@dataclass
class _Attachment:
    index: int
    item: AttachmentItem
    data: bytes | None = None
    sha256: str = ""
    is_pdf: bool = False
    merge: bytes | None = None  # the PDF to append as pages, rewritten by pypdf
    pages: int = 0
    problem: str = ""  # why a PDF was not merged, for the list in the PDF
    unembedded_fonts: list[str] = field(default_factory=list)
    first_page: int | None = None

    @property
    def name(self) -> str:
        return _clean(self.item.name).replace("\n", " ").strip() or f"attachment-{self.index}"

    def handling(self) -> str:
        if self.data is None:
            return "読み込めないため収録していません"
        if self.merge is not None:
            where = (
                f"p.{self.first_page}–{self.first_page + self.pages - 1}"
                if self.first_page is not None
                else "p.—"
            )
            return f"本文の後に結合<br/>（{self.pages}ページ、{where}）"
        if self.is_pdf:
            return f"結合せず添付ファイルとして格納<br/>（{_x(self.problem)}）"
        return "添付ファイルとして格納"


def _prepare(index: int, item: AttachmentItem, notes: list[str]) -> _Attachment:
    a = _Attachment(index=index, item=item)
    try:
        data = item.read()
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(type(data).__name__)
        a.data = bytes(data)
    except Exception as exc:
        notes.append(
            _note(
                f"添付ファイル「{a.name}」を読み込めないため収録していません",
                f"attachment {a.name!r} could not be read ({type(exc).__name__}): not included",
            )
        )
        return a
    a.sha256 = hashlib.sha256(a.data).hexdigest()
    if item.sha256 and item.sha256.lower() != a.sha256:
        notes.append(
            _note(
                f"添付ファイル「{a.name}」の内容が登録時の SHA-256 と一致しません",
                f"attachment {a.name!r} does not match its recorded SHA-256",
            )
        )
    a.is_pdf = (
        item.content_type.split(";")[0].strip().lower() == "application/pdf"
        or a.name.lower().endswith(".pdf")
        or a.data[:1024].lstrip().startswith(b"%PDF-")
    )
    if not a.is_pdf:
        return a
    try:
        a.merge, a.pages, a.unembedded_fonts = _checked_pdf(a.data)
    except _Refused as exc:
        a.problem = exc.ja
        notes.append(
            _note(
                f"添付ファイル「{a.name}」は{exc.ja}ため、結合せずファイルとして添付しました",
                f"{a.name}: {exc.en}; embedded as a file, not merged",
            )
        )
    except Exception as exc:
        a.problem = "PDF として読み取れない"
        notes.append(
            _note(
                f"添付ファイル「{a.name}」は PDF として読み取れないため、"
                "結合せずファイルとして添付しました",
                f"{a.name}: not a readable PDF ({type(exc).__name__}); "
                "embedded as a file, not merged",
            )
        )
    if a.unembedded_fonts:
        fonts = ", ".join(sorted(a.unembedded_fonts)[:5])
        notes.append(
            _note(
                f"結合した「{a.name}」にはフォントを埋め込んでいない文字（{fonts}）があるため、"
                "長期保存品質ではありません",
                f"{a.name} uses fonts that are not embedded ({fonts}): not archival-grade",
            )
        )
    return a


class _Budget:
    def __init__(self, limit: int):
        self.left = limit

    def take(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise _Refused(
                "展開後のデータが大きすぎる（圧縮爆弾の疑い）",
                "it decompresses into too much data (possible decompression bomb)",
            )


def _checked_pdf(data: bytes) -> tuple[bytes, int, list[str]]:
    """Parse an attachment within limits, decode every content stream and XObject once,
    and rewrite it; pyHanko must be able to read the result (it writes the final file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with apply_configuration(**_PYPDF_LIMITS):
                reader = PdfReader(io.BytesIO(data))
                if reader.is_encrypted:
                    raise _Refused("暗号化されている", "it is encrypted")
                count = len(reader.pages)
                if count == 0:
                    raise _Refused("ページがない", "it has no pages")
                if count > MAX_MERGED_PAGES:
                    raise _Refused(
                        f"ページ数が多すぎる（{count:,}ページ）",
                        f"it has too many pages ({count:,})",
                    )
                budget = _Budget(MAX_DECODED_BYTES)
                fonts: set[str] = set()
                seen: set[tuple[int, int]] = set()
                for page in reader.pages:
                    _consume(page.get("/Contents"), budget)
                    _scan_resources(page.get("/Resources"), budget, fonts, seen, 0)
                writer = PdfWriter()
                writer.append(reader, import_outline=False)
                for page in writer.pages:
                    _strip_actions(page)
                if "/AcroForm" in writer.root_object:
                    del writer.root_object["/AcroForm"]  # no live form fields in a record
                out = io.BytesIO()
                writer.write(out)
        except LimitReachedError as exc:
            raise _Refused(
                "展開後のデータ量などが処理の上限を超える（圧縮爆弾の疑い）",
                "it exceeds the processing limits (possible decompression bomb)",
            ) from exc
        except RecursionError as exc:
            raise _Refused("構造が深すぎる", "its structure is nested too deeply") from exc
    rewritten = out.getvalue()
    copy_into_new_writer(PdfFileReader(io.BytesIO(rewritten)))
    return rewritten, count, sorted(fonts)


def _resolve(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _consume(obj: Any, budget: _Budget) -> None:
    """Decode a content stream (or an array of them) against the budget."""
    obj = _resolve(obj)
    if isinstance(obj, ArrayObject):
        for part in obj:
            _consume(part, budget)
    elif isinstance(obj, StreamObject):
        budget.take(len(obj.get_data()))


def _scan_resources(
    resources: Any, budget: _Budget, fonts: set[str], seen: set[tuple[int, int]], depth: int
) -> None:
    resources = _resolve(resources)
    if not isinstance(resources, DictionaryObject) or depth > MAX_FORM_DEPTH:
        return
    font_dict = _resolve(resources.get("/Font"))
    if isinstance(font_dict, DictionaryObject):
        for font in font_dict.values():
            font = _resolve(font)
            if isinstance(font, DictionaryObject) and not _font_embedded(font):
                fonts.add(str(font.get("/BaseFont", "?")).lstrip("/"))
    xobjects = _resolve(resources.get("/XObject"))
    if not isinstance(xobjects, DictionaryObject):
        return
    for ref in xobjects.values():
        if isinstance(ref, IndirectObject):
            key = (ref.idnum, ref.generation)
            if key in seen:
                continue
            seen.add(key)
        xobject = _resolve(ref)
        if not isinstance(xobject, StreamObject):
            continue
        if xobject.get("/Subtype") == "/Form":
            budget.take(len(xobject.get_data()))
            _scan_resources(xobject.get("/Resources"), budget, fonts, seen, depth + 1)
            continue
        try:
            budget.take(len(xobject.get_data()))
        except (_Refused, LimitReachedError, MemoryError):
            raise
        except Exception:  # noqa: S112 - an image filter pypdf cannot decode (JBIG2 …) is copied as is
            continue


def _font_embedded(font: DictionaryObject) -> bool:
    subtype = font.get("/Subtype")
    if subtype == "/Type3":
        return True
    if subtype == "/Type0":
        descendants = _resolve(font.get("/DescendantFonts"))
        if not isinstance(descendants, ArrayObject) or not descendants:
            return False
        font = _resolve(descendants[0])
        if not isinstance(font, DictionaryObject):
            return False
    descriptor = _resolve(font.get("/FontDescriptor"))
    return isinstance(descriptor, DictionaryObject) and any(
        key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
    )


_ACTIVE = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/ResetForm", "/Rendition"}


def _strip_actions(page: DictionaryObject) -> None:
    """No scripts or launch actions from an attachment survive into the record."""
    if "/AA" in page:
        del page["/AA"]
    annots = _resolve(page.get("/Annots"))
    if not isinstance(annots, ArrayObject):
        return
    for annot in annots:
        annot = _resolve(annot)
        if not isinstance(annot, DictionaryObject):
            continue
        if "/AA" in annot:
            del annot["/AA"]
        action = _resolve(annot.get("/A"))
        if isinstance(action, DictionaryObject) and action.get("/S") in _ACTIVE:
            del annot["/A"]


# --- the pages ------------------------------------------------------------------------------


def _styles(f: _Fonts) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle(
        "base",
        fontName=f.body,
        bulletFontName=f.body,
        fontSize=9.5,
        leading=14,
        wordWrap="CJK",
        textColor=INK,
    )

    def s(name: str, **kw: Any) -> ParagraphStyle:
        return ParagraphStyle(name, parent=base, **kw)

    return {
        "body": s("body", fontSize=10.5, leading=18.5),
        "body_c": s("body_c", fontSize=10.5, leading=18.5, alignment=TA_CENTER),
        "body_r": s("body_r", fontSize=10.5, leading=18.5, alignment=TA_RIGHT),
        "digest": s("digest", fontSize=6.4, leading=8, textColor=GREY),
        "cell": s("cell", fontSize=8.5, leading=11.5),
        "cell_c": s("cell_c", fontSize=8.5, leading=11.5, alignment=TA_CENTER),
        "small": s("small", fontSize=7, leading=9, textColor=GREY),
        "small_c": s("small_c", fontSize=7, leading=9, textColor=GREY, alignment=TA_CENTER),
        "head": s("head", fontName=f.heading, fontSize=8, leading=10, alignment=TA_CENTER),
        "label": s("label", fontName=f.heading, fontSize=8.5, leading=11),
        "kind": s("kind", fontName=f.heading, fontSize=13, leading=17),
        "badge": s(
            "badge",
            fontName=f.heading,
            fontSize=12,
            leading=15,
            alignment=TA_CENTER,
            textColor=SEAL_RED,
        ),
        "number_label": s("number_label", fontSize=8, leading=10, alignment=TA_RIGHT),
        "number": s("number", fontName=f.heading, fontSize=21, leading=26, alignment=TA_RIGHT),
        "title_label": s("title_label", fontSize=8, leading=10, textColor=GREY),
        "title": s("title", fontName=f.heading, fontSize=17, leading=24),
        "h1": s("h1", fontName=f.heading, fontSize=12.5, leading=16),
        "footer": s("footer", fontSize=7.5, leading=9, textColor=GREY),
        "remark": s("remark", fontSize=7.5, leading=10, textColor=GREY),
    }


def _heading(text: str, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    table = Table([[Paragraph(f"■ {_x(text)}", st["h1"])]], colWidths=[CONTENT_W])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), st["h1"].fontName),
                ("LINEBELOW", (0, 0), (-1, -1), 1.1, INK),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return [CondPageBreak(45 * mm), Spacer(1, 4 * mm), table, Spacer(1, 3 * mm)]


def _grid(font: str, extra: list[tuple] | None = None) -> TableStyle:
    # FONTNAME too: a plain-string cell would otherwise bring in non-embedded Helvetica.
    return TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.5, RULE),
            ("BOX", (0, 0), (-1, -1), 1.0, INK),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), 4),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
            ("FONTNAME", (0, 0), (-1, -1), font),
            *(extra or []),
        ]
    )


def _is_special(row: ApprovalRow) -> bool:
    return bool(row.mode)


def _mode_html(mode: str) -> str:
    return f'<font color="#d0021b">【{_x(mode)}】</font>' if mode else "—"


def _cover(payload: RenderPayload, f: _Fonts, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    flow: list[Flowable] = []
    secret = payload.confidentiality and payload.confidentiality not in ("通常", "normal")
    kind = _clean(payload.kind_label).strip() or "公文書"
    badge: Any = Spacer(1, 1)
    if secret:
        badge = Table(
            [[Paragraph(_x(payload.confidentiality), st["badge"])]],
            colWidths=[16 * mm],
            rowHeights=[9 * mm],
            hAlign="LEFT",
        )
        badge.setStyle(
            TableStyle(
                [
                    ("BOX", (0, 0), (-1, -1), 1.4, SEAL_RED),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("FONTNAME", (0, 0), (-1, -1), f.heading),
                ]
            )
        )
    top = Table(
        [
            [
                Paragraph(_x(" ".join(kind)), st["kind"]),
                badge,
                [
                    Paragraph("文書番号", st["number_label"]),
                    Paragraph(_x(payload.number or "（番号なし）"), st["number"]),
                ],
            ]
        ],
        colWidths=[60 * mm, 22 * mm, CONTENT_W - 82 * mm],
    )
    top_style = [
        ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("LINEBELOW", (0, 0), (-1, -1), 1.6, INK),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
        ("FONTNAME", (0, 0), (-1, -1), f.body),
    ]
    top.setStyle(TableStyle(top_style))
    flow += [top, Spacer(1, 5 * mm)]
    flow += [Paragraph("件名", st["title_label"]), Spacer(1, 1 * mm)]
    flow += [Paragraph(_x(payload.title), st["title"]), Spacer(1, 6 * mm)]

    def label(text: str) -> Paragraph:
        return Paragraph(_x(text), st["label"])

    def value(text: str) -> Paragraph:
        return Paragraph(_x(text) or "—", st["cell"])

    info = Table(
        [
            [label("起案者"), value(payload.drafter), label("起案課"), value(payload.department)],
            [
                label("文書分類"),
                value(payload.classification),
                label("保存期間"),
                value(payload.retention),
            ],
            [label("秘密区分"), value(payload.confidentiality), label("種別"), value(kind)],
        ],
        colWidths=[20 * mm, 69 * mm, 20 * mm, 69 * mm],
    )
    info.setStyle(
        _grid(
            f.body, [("BACKGROUND", (0, 0), (0, -1), SHADE), ("BACKGROUND", (2, 0), (2, -1), SHADE)]
        )
    )
    flow += [info, Spacer(1, 4 * mm)]

    rows: list[list[Any]] = [[label(""), label("和暦"), label("西暦")]]
    for name, day in payload.dates:
        rows.append(
            [
                label(name),
                value(_wareki(day) if day else "—"),
                value(day.isoformat() if day else "—"),
            ]
        )
    dates = Table(rows, colWidths=[20 * mm, 89 * mm, 69 * mm])
    dates.setStyle(
        _grid(
            f.body, [("BACKGROUND", (0, 0), (-1, 0), SHADE), ("BACKGROUND", (0, 0), (0, -1), SHADE)]
        )
    )
    flow += [dates, Spacer(1, 8 * mm)]

    stamped = [r for r in payload.approvals if r.at is not None and (r.family_name or r.name)]
    if stamped:
        flow += [Paragraph("決裁欄", st["label"]), Spacer(1, 1.5 * mm)]
        flow += _stamp_strip(list(reversed(stamped)), f, st)
    flow += [
        Spacer(1, 8 * mm),
        Paragraph(
            "本書は電子決裁システムの記録から作成したものです。回議の詳細は「回議記録」、"
            "添付ファイルは「添付ファイル一覧」のとおりです。",
            st["remark"],
        ),
        PageBreak(),
    ]
    return flow


def _stamp_strip(rows: list[ApprovalRow], f: _Fonts, st: dict[str, ParagraphStyle]) -> list:
    """The 決裁欄: decider on the left, drafter on the right, seven boxes a line."""
    per_line, width = 7, CONTENT_W / 7
    out: list[Flowable] = []
    for start in range(0, len(rows), per_line):
        chunk = rows[start : start + per_line]
        heads, seals = [], []
        for r in chunk:
            head = _x(r.post or r.stage)
            if r.mode:
                head += f'<br/><font color="#d0021b" size="6.5">{_x(r.mode)}</font>'
            heads.append(Paragraph(head, st["head"]))
            seals.append(Seal(r.family_name or r.name, _local(r.at).date(), f.body, 8.5 * mm))
        table = Table(
            [heads, seals],
            colWidths=[width] * len(chunk),
            rowHeights=[None, 21 * mm],
            hAlign="RIGHT",
        )
        table.setStyle(
            _grid(
                f.body,
                [
                    ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                    ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 2),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 2),
                ],
            )
        )
        out += [table, Spacer(1, 2 * mm)]
    return out


def _body(payload: RenderPayload, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    flow = _heading("本文", st)
    text = _clean(payload.body).strip("\n")
    if not text.strip():
        return [*flow, Paragraph("（本文なし）", st["body"])]
    for line in text.split("\n"):
        # 「記」 heads the itemised part and 「以上」 closes it: centred and right, as typed.
        style = {"記": "body_c", "以上": "body_r"}.get(line.strip(), "body")
        flow.append(Paragraph(_x(line), st[style]) if line.strip() else Spacer(1, 4 * mm))
    return flow


def _approvals(payload: RenderPayload, f: _Fonts, st: dict[str, ParagraphStyle]) -> list:
    flow = _heading("回議記録（回議用紙）", st)
    if not payload.approvals:
        return [*flow, Paragraph("回議の記録はありません。", st["body"])]
    header = ["段階", "職", "氏名", "処理", "区分", "日時", "意見", "印影"]
    rows: list[list[Any]] = [[Paragraph(h, st["head"]) for h in header]]
    extra: list[tuple] = [("BACKGROUND", (0, 0), (-1, 0), SHADE)]
    for i, r in enumerate(payload.approvals, 1):
        name = _x(r.name) or "—"
        if r.on_behalf_of:
            why = {
                "代決": f"{_x(r.on_behalf_of)} 不在のため代決",
                "引上げ（後閲）": f"{_x(r.on_behalf_of)} 不在のため引上げ",
            }.get(r.mode, f"{_x(r.on_behalf_of)} に代わって")
            name += f'<br/><font size="7" color="#5f5f5f">（{why}）</font>'
        if r.at is not None:
            at = _local(r.at)
            when = f'{_wareki(at.date())}<br/><font size="7">{at:%Y-%m-%d %H:%M}</font>'
            seal: Any = Seal(r.family_name or r.name, at.date(), f.body)
        else:
            when, seal = "—", ""
        rows.append(
            [
                Paragraph(_x(r.stage), st["cell_c"]),
                Paragraph(_x(r.post) or "—", st["cell"]),
                Paragraph(name, st["cell"]),
                Paragraph(_x(r.action) or "—", st["cell_c"]),
                Paragraph(_mode_html(r.mode), st["cell_c"]),
                Paragraph(when, st["cell"]),
                Paragraph(_x(r.comment), st["cell"]),
                seal,
            ]
        )
        if _is_special(r):
            extra.append(("BACKGROUND", (0, i), (-2, i), MODE_SHADE))
    widths = [11, 24, 29, 13, 17, 30, 34, 20]
    table = Table(rows, colWidths=[w * mm for w in widths], repeatRows=1)
    extra += [
        ("ALIGN", (-1, 1), (-1, -1), "CENTER"),
        ("LEFTPADDING", (-1, 1), (-1, -1), 1),
        ("RIGHTPADDING", (-1, 1), (-1, -1), 1),
        ("TOPPADDING", (-1, 1), (-1, -1), 1.5),
        ("BOTTOMPADDING", (-1, 1), (-1, -1), 1.5),
    ]
    table.setStyle(_grid(f.body, extra))
    legend = Paragraph(
        "区分：【代決】決裁権者の不在中に代理者が決裁　【引上げ（後閲）】不在者の段を上位者が"
        "引き上げて処理　【後閲】不在だった者が事後に確認。印影の日付は処理日（和暦）。",
        st["remark"],
    )
    return [*flow, table, Spacer(1, 2 * mm), legend]


def _attachment_list(
    attachments: list[_Attachment], notes: list[str], f: _Fonts, st: dict[str, ParagraphStyle]
) -> list:
    flow = _heading("添付ファイル一覧", st)
    if not attachments:
        flow.append(Paragraph("添付ファイルはありません。", st["body"]))
    else:
        rows: list[list[Any]] = [
            [Paragraph(h, st["head"]) for h in ("番号", "ファイル名 / SHA-256", "サイズ", "取扱い")]
        ]
        for a in attachments:
            digest = a.sha256 or _clean(a.item.sha256)
            rows.append(
                [
                    Paragraph(str(a.index), st["cell_c"]),
                    [
                        Paragraph(_x(a.name), st["cell"]),
                        Paragraph(f"SHA-256 {_x(digest) or '—'}", st["digest"]),
                    ],
                    Paragraph(
                        _size(len(a.data) if a.data is not None else a.item.size), st["cell"]
                    ),
                    Paragraph(a.handling(), st["cell"]),
                ]
            )
        table = Table(rows, colWidths=[10 * mm, 104 * mm, 22 * mm, 42 * mm], repeatRows=1)
        table.setStyle(_grid(f.body, [("BACKGROUND", (0, 0), (-1, 0), SHADE)]))
        flow += [
            table,
            Spacer(1, 2 * mm),
            Paragraph(
                f"回議・監査の履歴は、この PDF に添付ファイル「{HISTORY_NAME}」として"
                "格納しています。",
                st["remark"],
            ),
        ]
    if notes:
        flow += _heading("作成時の注記", st)
        flow += [Paragraph(f"・{_x(n)}", st["cell"]) for n in notes]
    return flow


class _NumberedCanvas(Canvas):
    """Draws 「n / N」 on every page once N is known (at save)."""

    def __init__(self, *args: Any, font: str, pages: list[int], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._records_font = font
        self._records_pages = pages
        self._saved: list[dict] = []

    def showPage(self) -> None:
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        self._records_pages.append(total)
        for state in self._saved:
            self.__dict__.update(state)
            self.setFont(self._records_font, 7.5)
            self.setFillColor(GREY)
            self.drawRightString(PAGE_W - MARGIN_X, 10 * mm, f"{self._pageNumber} / {total}")
            super().showPage()
        super().save()


def _render_main(
    payload: RenderPayload,
    f: _Fonts,
    attachments: list[_Attachment],
    notes: list[str],
) -> tuple[bytes, int]:
    st = _styles(f)
    buf = io.BytesIO()
    pages: list[int] = []
    footer_text = f"{_clean(payload.number)}　{_clean(payload.kind_label)}".strip()

    def on_page(canv: Canvas, doc: BaseDocTemplate) -> None:
        canv.saveState()
        canv.setStrokeColor(GREY)
        canv.setLineWidth(0.4)
        canv.line(MARGIN_X, 14 * mm, PAGE_W - MARGIN_X, 14 * mm)
        canv.setFont(f.body, 7.5)
        canv.setFillColor(GREY)
        canv.drawString(MARGIN_X, 10 * mm, footer_text[:80])
        canv.restoreState()

    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=16 * mm,
        bottomMargin=20 * mm,
        title=_clean(f"{payload.number} {payload.title}".strip()),
        author=_clean(payload.department),
        subject=_clean(payload.kind_label),
        creator="cityhall-suite records",
        invariant=1,
        initialFontName=f.body,
        initialFontSize=10,
        lang="ja-JP",
    )
    frame = Frame(
        doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="main", showBoundary=0
    )
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=on_page)])
    story = [
        *_cover(payload, f, st),
        *_body(payload, st),
        *_approvals(payload, f, st),
        *_attachment_list(attachments, notes, f, st),
    ]
    doc.build(story, canvasmaker=functools.partial(_NumberedCanvas, font=f.body, pages=pages))
    return buf.getvalue(), pages[-1]


# --- assembly -------------------------------------------------------------------------------


def _assemble(
    payload: RenderPayload, f: _Fonts, attachments: list[_Attachment], notes: list[str]
) -> bytes:
    merges = [a for a in attachments if a.merge is not None]
    for a in merges:
        a.first_page = None
    main, count = _render_main(payload, f, attachments, notes)
    if merges:
        # The list names the page ranges of the merged files: render again with them
        # (a second pass practically never changes the page count; a third settles it).
        for _ in range(3):
            first = count + 1
            for a in merges:
                a.first_page, first = first, first + a.pages
            main, again = _render_main(payload, f, attachments, notes)
            if again == count:
                break
            count = again
        main = _merge(main, merges)
    return _embed(main, payload, attachments)


def _merge(main: bytes, merges: list[_Attachment]) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with apply_configuration(**_PYPDF_LIMITS):
            writer = PdfWriter(clone_from=PdfReader(io.BytesIO(main)))
            writer.add_outline_item("回議用紙", 0)
            for a in merges:
                writer.append(
                    PdfReader(io.BytesIO(a.merge or b"")),
                    outline_item=f"添付{a.index} {a.name}",
                    import_outline=False,
                )
            out = io.BytesIO()
            writer.write(out)
    return out.getvalue()


def _pdf_key(name: str) -> bytes:
    """A name tree is sorted by the bytes of its keys as written in the file."""
    try:
        return encode_pdfdocencoding(name)
    except UnicodeEncodeError:
        return b"\xfe\xff" + name.encode("utf-16-be")


_MIME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")


def _mime(content_type: str) -> str:
    value = content_type.split(";")[0].strip().lower()
    return value if _MIME.match(value) else "application/octet-stream"


def _embed(pdf: bytes, payload: RenderPayload, attachments: list[_Attachment]) -> bytes:
    files: list[tuple[str, bytes, str, str]] = [
        (
            HISTORY_NAME,
            bytes(payload.history_json),
            "application/json",
            "回議・監査の履歴 (approval and audit history)",
        )
    ]
    taken = {HISTORY_NAME}
    for a in attachments:
        if a.data is None or a.merge is not None:
            continue
        name = _unique(a.name.replace("/", "_").replace("\\", "_"), taken)
        files.append(
            (
                name,
                a.data,
                "application/pdf" if a.is_pdf else _mime(a.item.content_type),
                f"添付ファイル{a.index} (attachment {a.index}) SHA-256 {a.sha256}",
            )
        )
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(pdf)))
    for name, data, mime, description in sorted(files, key=lambda file: _pdf_key(file[0])):
        stream = embed.EmbeddedFileObject.from_file_data(
            writer, data=data, mime_type=mime, params=embed.EmbeddedFileParams()
        )
        embed.embed_file(
            writer,
            embed.FileSpec(
                file_spec_string=name,
                file_name=name,
                embedded_data=stream,
                description=description,
            ),
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    stem, dot, ext = name.rpartition(".")
    while candidate in taken:
        n += 1
        candidate = f"{stem} ({n}).{ext}" if dot and stem else f"{name} ({n})"
    taken.add(candidate)
    return candidate
