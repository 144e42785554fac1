"""The exchange formats: the national 棚卸 layout (export and import), the per-procedure
publication table, and the public catalogue (GIF 制度).

National layout: the 46 columns of デジタル庁「行政手続等の棚卸調査」 in their order and
with their Japanese headers, coded cells written as the national file writes them
("1 申請等", "2-3 クレジットカード払い"), several values joined by "; ". The city's own
columns follow after the 46 (所管課コード, 窓口 … see docs/inventory.md). One header row.
The counts are those of one fiscal year, named in the column 件数の年度.

Import (`national_validate` → `national_import`) follows org.importing: every cell of
every row is checked and each problem is reported with its row (the spreadsheet's own
number, the header being row 1) and column; if anything is wrong nothing is written.
Rows are matched on 手続ID: a known ID updates the procedure, a new one creates it.
Columns absent from the file leave those fields as they are (or at their defaults).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models, transaction
from django.utils import timezone, translation
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from approvals.models import MatterCategory
from audit.services import audit_record
from org.importing import Problem, RawRoster, RosterFileError, roster_read
from org.models import Department, Staff

from .models import (
    INTERNAL_SOURCES,
    AffairsType,
    AttachmentKind,
    AttachmentStatus,
    Concern,
    Fee,
    IdentityCheck,
    LifeEvent,
    OnlineStatus,
    Party,
    PaymentMethod,
    PlannedYear,
    Procedure,
    ProcedureType,
    ProcedureVolume,
    Seal,
    SealBasis,
)
from .services import check_volume, refuse_if_taken, require_editor

BOM = "\ufeff"
SEP = "; "
CITY_NAME = "瀬戸浜市"

__all__ = ["Problem", "RosterFileError"]


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@dataclass(frozen=True)
class Column:
    header: str
    kind: str  # text, code, codes, count, extra, bool, dept, minutes, seal, seal_basis, fy …
    attr: str = ""
    choices: type[models.TextChoices] | None = None
    max_length: int = 0
    width: int = 16


def _text_col(header: str, attr: str, width: int = 24) -> Column:
    length = Procedure._meta.get_field(attr).max_length or 0
    return Column(header, "text", attr, max_length=length, width=width)


def _extra(header: str) -> Column:
    return Column(header, "extra", max_length=2000)


NATIONAL_COLUMNS: tuple[Column, ...] = (
    _text_col("手続ID", "procedure_id", 14),
    _text_col("所管府省庁", "ministry", 14),
    _text_col("手続名", "name", 40),
    _text_col("法令名", "law_name", 30),
    _text_col("根拠条項号", "law_article"),
    _text_col("関連条項号", "related_articles"),
    _extra("関連する根拠法令"),
    Column("手続類型", "code", "procedure_type", ProcedureType, width=22),
    Column("手続主体", "code", "actor_party", Party, width=18),
    Column("手続の受け手", "code", "recipient_party", Party, width=18),
    _extra("手続(類型、主体、受け手等)に関する補足"),
    Column("経由機関", "code", "via_party", Party, width=18),
    _extra("独立行政法人等の名称"),
    Column("事務区分", "code", "affairs_type", AffairsType, width=18),
    _extra("府省共通手続"),
    _extra("実施府省庁"),
    _extra("実施府省庁(府省共通手続)"),
    Column("オンライン化の実施状況", "code", "online_status", OnlineStatus, width=14),
    Column("オンライン化の実施予定及び検討時の懸念点", "code", "concern", Concern, width=30),
    _text_col("オンライン化の実施状況に関する補足", "online_note"),
    Column("オンライン化実施時期", "code", "planned_year", PlannedYear, width=14),
    Column("申請等における本人確認手法", "code", "identity_check", IdentityCheck, width=20),
    Column("手数料等の納付有無", "code", "fee", Fee, width=14),
    Column("手数料等の納付方法", "codes", "payment_methods", PaymentMethod, width=30),
    _extra("手数料等に関する補足"),
    _extra("手数料等のオンライン納付時の優遇措置"),
    _text_col("処理期間(オンライン)", "processing_online", 14),
    _text_col("処理期間(非オンライン)", "processing_offline", 14),
    _text_col("情報システム(申請)", "system_application"),
    _extra("情報システム（申請）複数ある場合"),
    _text_col("情報システム(事務処理)", "system_processing"),
    Column("総手続件数", "count", "total", width=12),
    Column("オンライン手続件数", "count", "online", width=12),
    Column("非オンライン手続件数", "count", "offline", width=12),
    _extra("申請書等に記載させる情報"),
    Column("申請時に添付させる書類", "codes", "attachments", AttachmentKind, width=30),
    Column(
        "添付書類等提出の撤廃/省略状況", "codes", "attachment_status", AttachmentStatus, width=20
    ),
    _extra("添付書類等の提出方法"),
    _extra("添付書類等への電子署名"),
    _extra("添付形式等が定められた規定"),
    _extra("添付書類等に関する補足"),
    Column("手続が行われるイベント(個人)", "codes", "life_events", LifeEvent, width=24),
    _extra("手続が行われるイベント(法人)"),
    _extra("申請に関連する士業"),
    _extra("申請を提出する機関"),
    _extra("士業、機関に関する補足"),
)
assert len(NATIONAL_COLUMNS) == 46

LOCAL_COLUMNS: tuple[Column, ...] = (
    Column("所管課コード", "dept", "department", width=12),
    Column("窓口", "bool", "channel_counter", width=6),
    Column("郵送", "bool", "channel_mail", width=6),
    Column("電子申請", "bool", "channel_e_application", width=8),
    Column("マイナポータル", "bool", "channel_mynaportal", width=10),
    Column("押印", "seal", "seal", Seal, width=16),
    Column("押印を求める根拠", "seal_basis", "seal_basis", SealBasis, width=12),
    Column("対面必須", "bool", "in_person_required", width=8),
    Column("職員処理時間(分/件)", "minutes", "staff_minutes", width=10),
    Column("住民所要時間(分/件)", "minutes", "resident_minutes", width=10),
    Column("子育て・介護26手続", "bool", "on_childcare_care_list", width=8),
    Column("罹災証明", "bool", "on_disaster_list", width=8),
    Column("転出・転入予約", "bool", "on_moving_list", width=8),
    Column("優先手続(59)", "bool", "on_priority_list", width=8),
    Column("件数の年度", "fy", width=10),
    Column("内部の処理", "source", "source_type", width=22),
    Column("事案の区分コード", "category", "source_category", width=14),
    _text_col("対象者", "target_persons"),
    Column("詳細URL", "url", "detail_url", max_length=300, width=30),
    _text_col("お問い合わせ先", "contact"),
)
COLUMNS = NATIONAL_COLUMNS + LOCAL_COLUMNS
HEADERS = [c.header for c in COLUMNS]
_BY_NORM = {_norm(c.header): c for c in COLUMNS}
REQUIRED = ("手続ID", "手続名")
EXTRA_HEADERS = [c.header for c in COLUMNS if c.kind == "extra"]

_TRUE = {"○", "〇", "◯", "●", "1", "true", "yes", "y", "はい", "有", "要"}
_FALSE = {"", "0", "false", "no", "n", "いいえ", "無", "×", "-", "ー", "不要"}


# --- cells out ---------------------------------------------------------------------------


def _code_cell(choices: type[models.TextChoices], value: str) -> str:
    """ "1 申請等" for coded lists; the bare name for lists whose value is the name."""
    if not value:
        return ""
    label = str(dict(choices.choices).get(value, ""))
    return value if not label or label == value else f"{value} {label}"


def _seal_cell(choices: type[models.TextChoices], value: str) -> str:
    return str(dict(choices.choices).get(value, "")) if value else ""


@dataclass
class ExportContext:
    fiscal_year: int | None
    departments: dict[int, str]
    categories: dict[int, str]
    sources: dict[int, str]
    volumes: dict[int, tuple[int | None, int | None, int | None]]


def _row(p: Procedure, ctx: ExportContext) -> list[Any]:
    cells: list[Any] = []
    volume = ctx.volumes.get(p.pk)
    for c in COLUMNS:
        if c.kind == "text":
            cells.append(getattr(p, c.attr) or None)
        elif c.kind == "extra":
            cells.append(p.extra.get(c.header) or None)
        elif c.kind == "code":
            cells.append(_code_cell(c.choices, getattr(p, c.attr)) or None)
        elif c.kind == "codes":
            cells.append(SEP.join(_code_cell(c.choices, v) for v in getattr(p, c.attr)) or None)
        elif c.kind == "count":
            index = ("total", "online", "offline").index(c.attr)
            cells.append(volume[index] if volume else None)
        elif c.kind == "dept":
            cells.append(ctx.departments.get(p.department_id))
        elif c.kind == "bool":
            cells.append("○" if getattr(p, c.attr) else None)
        elif c.kind in ("seal", "seal_basis"):
            cells.append(_seal_cell(c.choices, getattr(p, c.attr)) or None)
        elif c.kind == "minutes":
            cells.append(getattr(p, c.attr))
        elif c.kind == "fy":
            cells.append(ctx.fiscal_year if volume else None)
        elif c.kind == "source":
            cells.append(ctx.sources.get(p.source_type_id))
        elif c.kind == "category":
            cells.append(ctx.categories.get(p.source_category_id))
        elif c.kind == "url":
            cells.append(p.detail_url or None)
    return cells


def latest_fiscal_year() -> int | None:
    return (
        ProcedureVolume.objects.order_by("-fiscal_year")
        .values_list("fiscal_year", flat=True)
        .first()
    )


def _context(fiscal_year: int | None, procedures: Iterable[int] | None = None) -> ExportContext:
    volumes: dict[int, tuple[int | None, int | None, int | None]] = {}
    if fiscal_year is not None:
        rows = ProcedureVolume.objects.filter(fiscal_year=fiscal_year)
        volumes = {
            pid: (t, o, f)
            for pid, t, o, f in rows.values_list("procedure_id", "total", "online", "offline")
        }
    sources = {
        ct.pk: f"{ct.app_label}.{ct.model}"
        for ct in ContentType.objects.filter(
            app_label__in={k.split(".")[0] for k in INTERNAL_SOURCES}
        )
        if f"{ct.app_label}.{ct.model}" in INTERNAL_SOURCES
    }
    return ExportContext(
        fiscal_year=fiscal_year,
        departments=dict(Department.objects.values_list("pk", "code")),
        categories=dict(MatterCategory.objects.values_list("pk", "code")),
        sources=sources,
        volumes=volumes,
    )


def national_rows(fiscal_year: int | None) -> Iterator[list[Any]]:
    """The national layout's rows (without the header), in 手続ID order. Five queries."""
    with translation.override("ja"):
        ctx = _context(fiscal_year)
        for p in Procedure.objects.order_by("procedure_id").iterator(chunk_size=2000):
            yield _row(p, ctx)


def _write_xlsx(
    title: str, columns: list[tuple[str, int]], rows: Iterable[list[Any]], out: IO[bytes]
) -> int:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31])
    for i, (_header, width) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text, _width in columns:
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    n = 0
    for row in rows:
        ws.append(row)
        n += 1
    wb.save(out)
    return n


def export_national_xlsx(out: IO[bytes], fiscal_year: int | None) -> int:
    return _write_xlsx(
        "行政手続等の棚卸調査",
        [(c.header, c.width) for c in COLUMNS],
        national_rows(fiscal_year),
        out,
    )


def export_national_csv(fiscal_year: int | None) -> Iterator[str]:
    yield from _csv_chunks(HEADERS, national_rows(fiscal_year))


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_chunks(headers: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield BOM + writer.writerow(headers)
    batch: list[str] = []
    for row in rows:
        batch.append(writer.writerow(["" if v is None else v for v in row]))
        if len(batch) >= 500:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


# --- the publication table (手続名, 総件数, うちオンライン, 割合) ----------------------------

PUBLICATION_HEADERS = ["手続名", "総件数", "うちオンライン", "割合"]


def publication_rows(fiscal_year: int) -> list[tuple[str, int, int, float | None]]:
    rows = (
        ProcedureVolume.objects.filter(fiscal_year=fiscal_year, total__isnull=False)
        .order_by("procedure__procedure_id")
        .values_list("procedure__name", "total", "online")
    )
    return [
        (name, total, online or 0, (online or 0) / total if total else None)
        for name, total, online in rows
    ]


def percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"


def export_publication_xlsx(out: IO[bytes], fiscal_year: int) -> int:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=f"{fiscal_year}年度 手続件数")
    for i, width in enumerate((40, 12, 14, 10), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    bold = Font(bold=True)
    header = []
    for text in PUBLICATION_HEADERS:
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    n = 0
    for name, total, online, share in publication_rows(fiscal_year):
        ratio = WriteOnlyCell(ws, value=None if share is None else round(share, 4))
        ratio.number_format = "0.0%"
        ws.append([name, total, online, ratio])
        n += 1
    wb.save(out)
    return n


def export_publication_csv(fiscal_year: int) -> Iterator[str]:
    rows = (
        [name, total, online, percent(share)]
        for name, total, online, share in publication_rows(fiscal_year)
    )
    yield from _csv_chunks(PUBLICATION_HEADERS, rows)


# --- the public catalogue (GIF 制度) --------------------------------------------------------

CATALOGUE_FIELDS = [
    "制度所管組織",
    "タイトル",
    "根拠法令",
    "対象者",
    "申請届出方法",
    "手続書類",
    "電子申請の有無",
    "詳細URL",
    "お問い合わせ先",
    "最終更新日",
]


def catalogue_entries() -> list[dict[str, str]]:
    """One entry a procedure of type 申請等, in the vocabulary of GIF's 制度 model."""
    entries = []
    with translation.override("ja"):
        procedures = (
            Procedure.objects.filter(procedure_type=ProcedureType.APPLICATION)
            .select_related("department")
            .order_by("procedure_id")
        )
        for p in procedures:
            law = " ".join(x for x in (p.law_name, p.law_article) if x)
            attachments = [a for a in p.attachments if a != AttachmentKind.NONE]
            entries.append(
                {
                    "制度所管組織": f"{CITY_NAME} {p.department.name}"
                    if p.department
                    else CITY_NAME,
                    "タイトル": p.name,
                    "根拠法令": law,
                    "対象者": p.target_persons,
                    "申請届出方法": "、".join(p.channels),
                    "手続書類": "、".join(attachments),
                    "電子申請の有無": "有"
                    if (p.is_online or p.channel_e_application or p.channel_mynaportal)
                    else "無",
                    "詳細URL": p.detail_url,
                    "お問い合わせ先": p.contact,
                    "最終更新日": timezone.localtime(p.updated_at).date().isoformat(),
                }
            )
    return entries


def export_catalogue_json() -> str:
    return json.dumps({"制度": catalogue_entries()}, ensure_ascii=False, indent=2, sort_keys=False)


def export_catalogue_csv() -> Iterator[str]:
    rows = ([e[k] for k in CATALOGUE_FIELDS] for e in catalogue_entries())
    yield from _csv_chunks(CATALOGUE_FIELDS, rows)


# --- import ------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()
    return str(value).strip()


def _lookup(choices: type[models.TextChoices]) -> dict[str, str]:
    """Every accepted spelling → value: "1 申請等", "1", "申請等" (NFKC, no spaces)."""
    table: dict[str, str] = {}
    with translation.override("ja"):
        for value, label in choices.choices:
            for spelling in (value, str(label), f"{value} {label}", f"{value}{label}"):
                table[_norm(spelling)] = value
    return table


@dataclass
class ImportRow:
    number: int
    procedure_id: str
    values: dict[str, Any] = field(default_factory=dict)
    fiscal_year: int | None = None
    volume: tuple[int | None, int | None, int | None] | None = None


@dataclass
class Validated:
    rows: list[ImportRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Checker:
    def __init__(self, number: int, cells: dict[str, object], problems: list[Problem]) -> None:
        self.number, self.cells, self.problems, self.ok = number, cells, problems, True

    def fail(self, column: str, message: str) -> None:
        self.ok = False
        self.problems.append(Problem(self.number, column, message))

    def text(self, column: Column) -> str:
        value = _cell(self.cells.get(_norm(column.header)))
        if column.max_length and len(value) > column.max_length:
            self.fail(
                column.header,
                f"{column.max_length} 文字を超えています (longer than {column.max_length})",
            )
        return value


def _int(check: _Checker, column: str, text: str) -> int | None:
    if not text:
        return None
    normalized = unicodedata.normalize("NFKC", text).replace(",", "")
    if not re.fullmatch(r"\d+", normalized):
        check.fail(column, f"「{text}」は0以上の整数ではありません (not a whole number)")
        return None
    number = int(normalized)
    if number > 2_000_000_000:
        check.fail(column, f"「{text}」は大きすぎます (too large)")
        return None
    return number


def national_validate(raw: RawRoster) -> Validated:
    """Check the headers, then every cell of every row, then IDs across rows."""
    result = Validated()
    problems = result.problems
    present = {_norm(h) for h in raw.headers}
    for header in REQUIRED:
        if _norm(header) not in present:
            problems.append(Problem(1, header, "見出しがありません (header missing)"))
    seen: set[str] = set()
    for header in raw.headers:
        if header in seen:
            problems.append(Problem(1, header, "見出しが重複しています (duplicate header)"))
        seen.add(header)
    if problems:
        return result
    if not raw.rows:
        problems.append(Problem(None, None, "データ行がありません (no data rows)"))
        return result
    result.columns = [c for c in COLUMNS if _norm(c.header) in present]
    with translation.override("ja"):
        lookups = {c.header: _lookup(c.choices) for c in result.columns if c.choices}
    departments = dict(Department.objects.values_list("code", "pk"))
    categories = dict(MatterCategory.objects.values_list("code", "pk"))
    sources = {
        f"{ct.app_label}.{ct.model}": ct.pk
        for ct in ContentType.objects.filter(
            app_label__in={k.split(".")[0] for k in INTERNAL_SOURCES}
        )
    }
    url_ok = URLValidator(schemes=["http", "https"])
    first_row: dict[str, int] = {}
    for raw_row in raw.rows:
        cells = {_norm(k): v for k, v in raw_row.cells.items()}
        check = _Checker(raw_row.number, cells, problems)
        row = _validate_row(
            check, result.columns, lookups, departments, categories, sources, url_ok
        )
        if row is None:
            continue
        if row.procedure_id in first_row:
            check.fail(
                "手続ID",
                f"手続ID「{row.procedure_id}」が行 {first_row[row.procedure_id]} と重複して"
                "います (duplicate procedure ID)",
            )
            continue
        first_row[row.procedure_id] = row.number
        result.rows.append(row)
    if problems:
        result.rows = []
    return result


def _validate_row(
    check: _Checker,
    columns: list[Column],
    lookups: dict[str, dict[str, str]],
    departments: dict[str, int],
    categories: dict[str, int],
    sources: dict[str, int],
    url_ok: Callable[[str], None],
) -> ImportRow | None:
    values: dict[str, Any] = {}
    extra: dict[str, str] = {}
    counts: dict[str, int | None] = {}
    fiscal_year: int | None = None
    fy_given = False
    for c in columns:
        text = check.text(c)
        if c.kind == "text":
            values[c.attr] = text
        elif c.kind == "extra":
            if text:
                extra[c.header] = text
        elif c.kind == "code":
            if not text:
                default = Procedure._meta.get_field(c.attr).default
                values[c.attr] = default if isinstance(default, str) else ""
                continue
            value = lookups[c.header].get(_norm(text))
            if value is None:
                check.fail(c.header, f"「{text}」はこの項目のコードではありません (unknown code)")
            else:
                values[c.attr] = value
        elif c.kind == "codes":
            chosen: list[str] = []
            for token in (t for t in re.split(r"[;；]", text) if t.strip()):
                value = lookups[c.header].get(_norm(token))
                if value is None:
                    check.fail(
                        c.header,
                        f"「{token.strip()}」はこの項目のコードではありません (unknown code)",
                    )
                elif value not in chosen:
                    chosen.append(value)
            values[c.attr] = chosen
        elif c.kind == "count":
            counts[c.attr] = _int(check, c.header, text)
        elif c.kind == "minutes":
            values[c.attr] = _int(check, c.header, text) or 0
        elif c.kind == "bool":
            flag = _norm(text).casefold()
            if flag in _TRUE:
                values[c.attr] = True
            elif flag in _FALSE:
                values[c.attr] = False
            else:
                check.fail(c.header, f"「{text}」は読めません。○ か空欄で (use ○ or blank)")
        elif c.kind in ("seal", "seal_basis"):
            if not text:
                values[c.attr] = Seal.NEVER if c.kind == "seal" else ""
                continue
            value = lookups[c.header].get(_norm(text))
            if value is None:
                allowed = "、".join(str(label) for _v, label in c.choices.choices)
                check.fail(c.header, f"「{text}」は選べません。{allowed} のいずれか (unknown)")
            else:
                values[c.attr] = value
        elif c.kind == "dept":
            if not text:
                values["department_id"] = None
            elif text not in departments:
                check.fail(
                    c.header, f"所属コード「{text}」は登録されていません (unknown department)"
                )
            else:
                values["department_id"] = departments[text]
        elif c.kind == "fy":
            fy_given = bool(text)
            fiscal_year = _int(check, c.header, text)
            if fiscal_year is not None and not 2000 <= fiscal_year <= 2100:
                check.fail(c.header, f"年度 {fiscal_year} が範囲外です (year out of range)")
                fiscal_year = None
        elif c.kind == "source":
            if not text:
                values["source_type_id"] = None
            elif text not in sources or text not in INTERNAL_SOURCES:
                known = ", ".join(INTERNAL_SOURCES)
                check.fail(c.header, f"「{text}」は内部の処理ではありません。{known} (unknown)")
            else:
                values["source_type_id"] = sources[text]
        elif c.kind == "category":
            if not text:
                values["source_category_id"] = None
            elif text not in categories:
                check.fail(c.header, f"事案の区分「{text}」は登録されていません (unknown)")
            else:
                values["source_category_id"] = categories[text]
        elif c.kind == "url":
            if text:
                try:
                    url_ok(text)
                except ValidationError:
                    check.fail(c.header, f"「{text}」は URL ではありません (not a URL)")
            values[c.attr] = text
    values["extra"] = extra

    procedure_id = values.get("procedure_id", "")
    if not procedure_id:
        check.fail("手続ID", "必須項目が空です (required)")
    if "name" in values and not values["name"]:
        check.fail("手続名", "必須項目が空です (required)")
    if values.get("seal") == Seal.REQUIRED and not values.get("seal_basis"):
        check.fail("押印を求める根拠", "押印が必要な場合は根拠が必須です (basis required)")
    if values.get("source_category_id") and (
        values.get("source_type_id") != sources.get("approvals.document")
    ):
        check.fail(
            "事案の区分コード",
            "事案の区分は内部の処理が approvals.document の場合だけ (documents only)",
        )
    volume = None
    if any(v is not None for v in counts.values()):
        if problem := check_volume(
            counts.get("total"), counts.get("online"), counts.get("offline")
        ):
            check.fail("総手続件数", problem)
        if not fy_given:
            check.fail("件数の年度", "件数がある行は年度が必須です (fiscal year required)")
        volume = (counts.get("total"), counts.get("online"), counts.get("offline"))
    if not check.ok:
        return None
    return ImportRow(
        number=check.number,
        procedure_id=procedure_id,
        values=values,
        fiscal_year=fiscal_year,
        volume=volume,
    )


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    volumes: int = 0


def national_import(*, actor: Staff, validated: Validated) -> ImportResult:
    """Write validated rows, all or nothing: existing procedures (by 手続ID) are locked
    and updated, new ones created, the year's counts replaced. One audit event."""
    require_editor(actor)
    if not validated.ok or not validated.rows:
        raise ValueError("only a validated file without problems can be imported")
    now = timezone.now()
    result = ImportResult()
    ids = [r.procedure_id for r in validated.rows]
    with transaction.atomic():
        # Locked in one order (pk), so two imports of overlapping files queue, not deadlock.
        existing = {
            p.procedure_id: p
            for p in Procedure.objects.select_for_update()
            .filter(procedure_id__in=ids)
            .order_by("pk")
        }
        to_create: list[Procedure] = []
        to_update: list[Procedure] = []
        changed: set[str] = set()
        for row in validated.rows:
            p = existing.get(row.procedure_id)
            if p is None:
                p = Procedure(created_at=now, updated_at=now, **row.values)
                to_create.append(p)
            else:
                for name, value in row.values.items():
                    setattr(p, name, value)
                p.updated_at = now
                to_update.append(p)
            changed.update(row.values)
        # New IDs have no row to lock: two imports (or an import and a registration) of
        # the same new 手続ID meet at its unique constraint, and the later is refused whole.
        new_ids = [p.procedure_id for p in to_create]
        with refuse_if_taken(
            Procedure.objects.filter(procedure_id__in=new_ids).exists,
            "同時に行われた別の取込み（または登録）で、ファイルの新しい手続IDが先に登録されました。"
            "何も取り込んでいません。もう一度取り込むと更新として反映されます。",
            "Another import registered some of these new procedure IDs at the same moment; "
            "nothing was imported. Import the file again to update them.",
        ):
            Procedure.objects.bulk_create(to_create, batch_size=500)
        if to_update:
            Procedure.objects.bulk_update(
                to_update, [*sorted(changed), "updated_at"], batch_size=500
            )
        result.created, result.updated = len(to_create), len(to_update)
        by_id = {p.procedure_id: p.pk for p in [*to_create, *to_update]}
        if to_create and any(p.pk is None for p in to_create):  # backends without RETURNING
            by_id.update(
                Procedure.objects.filter(procedure_id__in=ids).values_list("procedure_id", "pk")
            )
        volume_rows = [
            ProcedureVolume(
                procedure_id=by_id[r.procedure_id],
                fiscal_year=r.fiscal_year,
                total=r.volume[0],
                online=r.volume[1],
                offline=r.volume[2],
            )
            for r in validated.rows
            if r.volume is not None and r.fiscal_year is not None
        ]
        for fy in {v.fiscal_year for v in volume_rows}:
            ProcedureVolume.objects.filter(
                fiscal_year=fy,
                procedure_id__in=[v.procedure_id for v in volume_rows if v.fiscal_year == fy],
            ).delete()
        ProcedureVolume.objects.bulk_create(volume_rows, batch_size=1000)
        result.volumes = len(volume_rows)
        audit_record(
            actor=actor,
            action="inventory.import.done",
            target=None,
            data={
                "created": [p.procedure_id for p in to_create],
                "updated": [p.procedure_id for p in to_update],
                "volumes": result.volumes,
                "columns": [c.header for c in validated.columns],
            },
        )
    return result


def national_read(path: Path | str) -> RawRoster:
    """Read an .xlsx or .csv (UTF-8 with or without BOM, or Shift_JIS) as org.importing does;
    a file that only claims to be a workbook is a file error, not a crash."""
    try:
        return roster_read(path)
    except (zipfile.BadZipFile, EOFError, TypeError, IndexError) as exc:
        raise RosterFileError(f"Excel ファイルを開けません (cannot open workbook): {exc}") from exc
