"""The records registers, read as rows and written as xlsx or CSV.

Four registers (RegisterExport.Kind):
- 行政文書ファイル管理簿 (files): one row per 簿冊, the columns of records.md in order;
- 廃棄簿 (disposal): the tombstones (DisposalRegisterEntry);
- 移管リスト (transfer): files transferred to the archives (executed DisposalItem);
- 延長事由ごとの簿冊一覧 (holds): each hold with the files it keeps.

Rows are generators over ONE query each (`values_list` joins what `select_related`
would, without building model instances, which at 100,000 rows is most of the cost),
read with `.iterator(chunk_size=2000)`, so memory and the number of queries do not grow
with the register.

Dates are written in one cell as 和暦 then 西暦: 「令和9年4月1日 (2027-04-01)」, and the
fiscal year as 「令和8年度 (2026)」, so the column list stays exactly the register's.

xlsx: openpyxl's write-only workbook (rows go to a temporary file as they come, only the
shared strings stay in memory); it cannot stream a zip, so the caller gives a file
(SpooledTemporaryFile for a response, a temporary file for a background export).
CSV: UTF-8 with a BOM (so Excel opens it as UTF-8), produced as chunks of text.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import IO, Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from common.dates import wareki, wareki_year

from .models import (
    DisposalItem,
    DisposalRegisterEntry,
    Disposition,
    Hold,
    RecordFile,
    RegisterExport,
    Retention,
)
from .retention import end_date as _end_date
from .retention import start_date as _start_date

CHUNK = 2000
PROGRESS_EVERY = 2000
BOM = "\ufeff"

# --- filters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterFilters:
    """What the officer chose; stored as JSON on RegisterExport.filters."""

    department_id: int | None = None
    fiscal_year: int | None = None
    classification_id: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegisterFilters:
        def num(key: str) -> int | None:
            value = data.get(key)
            return int(value) if value not in (None, "") else None

        return cls(
            department_id=num("department_id"),
            fiscal_year=num("fiscal_year"),
            classification_id=num("classification_id"),
        )

    def to_dict(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def file_q(self, prefix: str = "") -> Q:
        """The filter on a RecordFile reached through `prefix` (e.g. "file__").

        A classification matches the files filed under it at any depth (大/中/小分類).
        """
        q = Q()
        if self.department_id is not None:
            q &= Q(**{f"{prefix}department_id": self.department_id})
        if self.fiscal_year is not None:
            q &= Q(**{f"{prefix}fiscal_year": self.fiscal_year})
        if self.classification_id is not None:
            c = self.classification_id
            q &= (
                Q(**{f"{prefix}classification_id": c})
                | Q(**{f"{prefix}classification__parent_id": c})
                | Q(**{f"{prefix}classification__parent__parent_id": c})
            )
        return q


# --- cell formats -----------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def fiscal_year_label(fy: int) -> str:
    """「令和8年度 (2026)」."""
    return f"{wareki_year(fy, fiscal=True)} ({fy})"


@functools.lru_cache(maxsize=8192)
def date_label(day: dt.date | None) -> str:
    """「令和9年4月1日 (2027-04-01)」; empty for no date."""
    return f"{wareki(day)} ({day.isoformat()})" if day is not None else ""


def datetime_label(moment: dt.datetime | None) -> str:
    return date_label(timezone.localtime(moment).date()) if moment is not None else ""


@functools.lru_cache(maxsize=64)
def retention_label(retention: str, extension_years: int = 0) -> str:
    """保存期間 after extensions, the cumulative total: 5年 + 1 → 「6年」; 「永年」."""
    if retention == Retention.PERMANENT:
        return str(Retention.PERMANENT.label)
    if retention == Retention.LESS_THAN_1:
        return f"{extension_years}年" if extension_years else str(Retention.LESS_THAN_1.label)
    return f"{int(retention) + extension_years}年"


@functools.lru_cache(maxsize=8192)
def period_cells(
    completed_on: dt.date | None, retention: str, extension_years: int
) -> tuple[str, str, str]:
    """(起算日, 保存期間, 満了日) as cells. An open file has no 起算日 yet; 永年 no 満了日."""
    period = retention_label(retention, extension_years)
    if completed_on is None or (retention == Retention.LESS_THAN_1 and not extension_years):
        return "", period, ""
    start = _start_date(completed_on)
    return date_label(start), period, date_label(_end_date(start, retention, extension_years))


def _labels(choices: type) -> dict[str, str]:
    # Resolved once per export: a lazy translation per cell would be most of the work.
    return {value: str(label) for value, label in choices.choices}


def _class_names(levels: Sequence[tuple[int | None, str | None]]) -> tuple[str, str, str]:
    """(大分類, 中分類, 小分類) names from a file's classification and its ancestors."""
    names = {level: name for level, name in levels if level is not None}
    return names.get(1, ""), names.get(2, ""), names.get(3, "")


# --- the registers ----------------------------------------------------------------------


@dataclass(frozen=True)
class Register:
    kind: str
    title: str
    columns: tuple[tuple[str, int], ...]  # (header, width in characters)
    queryset: Callable[[RegisterFilters], QuerySet]
    make_row: Callable[[], Callable[[tuple], list[Any]]]

    @property
    def headers(self) -> list[str]:
        return [header for header, _width in self.columns]


FILE_CLASS_FIELDS = (
    "classification__level",
    "classification__name",
    "classification__parent__level",
    "classification__parent__name",
    "classification__parent__parent__level",
    "classification__parent__parent__name",
)


def _files(filters: RegisterFilters) -> QuerySet:
    return (
        RecordFile.objects.filter(filters.file_q())
        .order_by("fiscal_year", "department__code", "classification__code", "name", "pk")
        .values_list(
            "fiscal_year",
            *FILE_CLASS_FIELDS,
            "name",
            "creator_post",
            "completed_on",
            "retention",
            "extension_years",
            "medium",
            "location",
            "manager_post",
            "remarks",
            "disposition",
        )
    )


def _file_row() -> Callable[[tuple], list[Any]]:
    media, dispositions = _labels(RecordFile.Medium), _labels(Disposition)

    def row(v: tuple) -> list[Any]:
        major, middle, _minor = _class_names(((v[1], v[2]), (v[3], v[4]), (v[5], v[6])))
        start, period, end = period_cells(v[9], v[10], v[11])
        return [
            fiscal_year_label(v[0]),
            major,
            middle,
            v[7],
            v[8],
            start,
            period,
            end,
            media.get(v[12], v[12]),
            v[13],
            v[14],
            v[15],
            dispositions.get(v[16], v[16]),
        ]

    return row


def _disposal(filters: RegisterFilters) -> QuerySet:
    # The entry keeps its own copy of the year: filter on that one.
    q = RegisterFilters(filters.department_id, None, filters.classification_id).file_q("file__")
    if filters.fiscal_year is not None:
        q &= Q(fiscal_year=filters.fiscal_year)
    return (
        DisposalRegisterEntry.objects.filter(q)
        .order_by("destroyed_at", "pk")
        .values_list(
            "destroyed_at",
            "number",
            "title",
            "classification",
            "fiscal_year",
            "start_date",
            "end_date",
            "file__name",
            "file__department__name",
            "approved_by",
            "batch__title",
            "sha256",
        )
    )


def _disposal_row() -> Callable[[tuple], list[Any]]:
    def row(v: tuple) -> list[Any]:
        return [
            datetime_label(v[0]),
            v[1],
            v[2],
            v[3],
            fiscal_year_label(v[4]),
            date_label(v[5]),
            date_label(v[6]),
            v[7],
            v[8],
            v[9],
            v[10],
            v[11],
        ]

    return row


def _transfer(filters: RegisterFilters) -> QuerySet:
    return (
        DisposalItem.objects.filter(
            filters.file_q("file__"), action=Disposition.TRANSFER, done_at__isnull=False
        )
        .order_by("done_at", "pk")
        .values_list(
            "done_at",
            "file__fiscal_year",
            *(f"file__{f}" for f in FILE_CLASS_FIELDS),
            "file__name",
            "file__department__name",
            "file__creator_post",
            "file__completed_on",
            "file__retention",
            "file__extension_years",
            "file__medium",
            "batch__title",
        )
    )


def _transfer_row() -> Callable[[tuple], list[Any]]:
    media = _labels(RecordFile.Medium)

    def row(v: tuple) -> list[Any]:
        major, middle, _minor = _class_names(((v[2], v[3]), (v[4], v[5]), (v[6], v[7])))
        start, period, end = period_cells(v[11], v[12], v[13])
        return [
            datetime_label(v[0]),
            fiscal_year_label(v[1]),
            major,
            middle,
            v[8],
            v[9],
            v[10],
            start,
            period,
            end,
            media.get(v[14], v[14]),
            v[15],
        ]

    return row


def _holds(filters: RegisterFilters) -> QuerySet:
    return (
        Hold.files.through.objects.filter(filters.file_q("recordfile__"))
        .order_by("-hold__started_on", "hold_id", "recordfile__fiscal_year", "recordfile_id")
        .values_list(
            "hold__kind",
            "hold__reference",
            "hold__reason",
            "hold__started_on",
            "hold__decided_on",
            "hold__until",
            "hold__ended_on",
            "recordfile__fiscal_year",
            "recordfile__department__name",
            "recordfile__classification__name",
            "recordfile__name",
            "recordfile__completed_on",
            "recordfile__retention",
            "recordfile__extension_years",
            "recordfile__status",
        )
    )


def _hold_row() -> Callable[[tuple], list[Any]]:
    kinds, statuses = _labels(Hold.Kind), _labels(RecordFile.Status)

    def row(v: tuple) -> list[Any]:
        _start, period, end = period_cells(v[11], v[12], v[13])
        return [
            kinds.get(v[0], v[0]),
            v[1],
            v[2],
            date_label(v[3]),
            date_label(v[4]),
            date_label(v[5]),
            date_label(v[6]),
            fiscal_year_label(v[7]),
            v[8],
            v[9],
            v[10],
            period,
            end,
            statuses.get(v[14], v[14]),
        ]

    return row


DATE_W = 26
REGISTERS: dict[str, Register] = {
    RegisterExport.Kind.FILES: Register(
        kind=RegisterExport.Kind.FILES,
        title="行政文書ファイル管理簿",
        columns=(
            ("作成・取得年度等", 18),
            ("大分類", 18),
            ("中分類", 18),
            ("名称", 40),
            ("作成・取得者", 16),
            ("起算日", DATE_W),
            ("保存期間", 9),
            ("保存期間満了日", DATE_W),
            ("媒体", 9),
            ("保存場所", 20),
            ("管理者", 16),
            ("備考", 30),
            ("保存期間満了時の措置", 10),
        ),
        queryset=_files,
        make_row=_file_row,
    ),
    RegisterExport.Kind.DISPOSAL: Register(
        kind=RegisterExport.Kind.DISPOSAL,
        title="廃棄簿",
        columns=(
            ("廃棄日", DATE_W),
            ("文書番号", 14),
            ("件名", 40),
            ("文書分類", 24),
            ("作成・取得年度等", 18),
            ("起算日", DATE_W),
            ("保存期間満了日", DATE_W),
            ("簿冊", 30),
            ("所属", 14),
            ("承認者", 20),
            ("廃棄文書目録", 30),
            ("SHA-256", 66),
        ),
        queryset=_disposal,
        make_row=_disposal_row,
    ),
    RegisterExport.Kind.TRANSFER: Register(
        kind=RegisterExport.Kind.TRANSFER,
        title="移管リスト",
        columns=(
            ("移管日", DATE_W),
            ("作成・取得年度等", 18),
            ("大分類", 18),
            ("中分類", 18),
            ("名称", 40),
            ("所属", 14),
            ("作成・取得者", 16),
            ("起算日", DATE_W),
            ("保存期間", 9),
            ("保存期間満了日", DATE_W),
            ("媒体", 9),
            ("廃棄文書目録", 30),
        ),
        queryset=_transfer,
        make_row=_transfer_row,
    ),
    RegisterExport.Kind.HOLDS: Register(
        kind=RegisterExport.Kind.HOLDS,
        title="延長事由ごとの簿冊一覧",
        columns=(
            ("延長事由", 16),
            ("請求番号・事件番号等", 20),
            ("理由", 30),
            ("開始日", DATE_W),
            ("決定・裁決日", DATE_W),
            ("期限", DATE_W),
            ("終了日", DATE_W),
            ("作成・取得年度等", 18),
            ("所属", 14),
            ("文書分類", 20),
            ("名称", 40),
            ("保存期間", 9),
            ("保存期間満了日", DATE_W),
            ("状態", 14),
        ),
        queryset=_holds,
        make_row=_hold_row,
    ),
}


def register_for(kind: str) -> Register:
    try:
        return REGISTERS[kind]
    except KeyError:
        raise ValueError(f"unknown register {kind!r}") from None


def register_count(kind: str, filters: RegisterFilters) -> int:
    return register_for(kind).queryset(filters).count()


def register_rows(kind: str, filters: RegisterFilters) -> Iterator[list[Any]]:
    """The register's rows (without the header), one query, read in chunks."""
    register = register_for(kind)
    row = register.make_row()
    for values in register.queryset(filters).iterator(chunk_size=CHUNK):
        yield row(values)


# --- writers ----------------------------------------------------------------------------

Progress = Callable[[int], None]


def write_xlsx(
    register: Register,
    rows: Iterable[Sequence[Any]],
    out: IO[bytes] | str,
    *,
    on_progress: Progress | None = None,
) -> int:
    """Write the register to `out` (a path or a seekable binary file); the row count."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=register.title[:31])
    # Write-only sheets take column and pane settings only before the first row.
    for i, (_header, width) in enumerate(register.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in register.headers:
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    n = 0
    append = ws.append
    for row in rows:
        append(row)
        n += 1
        if on_progress is not None and n % PROGRESS_EVERY == 0:
            on_progress(n)
    wb.save(out)
    if on_progress is not None:
        on_progress(n)
    return n


class _Echo:
    """A pseudo-buffer: csv.writer writes a row, we get its text back."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(
    register: Register,
    rows: Iterable[Sequence[Any]],
    *,
    on_progress: Progress | None = None,
    rows_per_chunk: int = 500,
) -> Iterator[str]:
    """The register as CSV text: the BOM and header first, then rows in chunks."""
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow(register.headers)
    batch: list[str] = []
    n = 0
    for row in rows:
        batch.append(writer.writerow(row))
        n += 1
        if len(batch) >= rows_per_chunk:
            yield "".join(batch)
            batch.clear()
        if on_progress is not None and n % PROGRESS_EVERY == 0:
            on_progress(n)
    if batch:
        yield "".join(batch)
    if on_progress is not None:
        on_progress(n)


def write_csv(
    register: Register,
    rows: Iterable[Sequence[Any]],
    out: IO[bytes],
    *,
    on_progress: Progress | None = None,
) -> int:
    count = 0

    def progress(n: int) -> None:
        nonlocal count
        count = n
        if on_progress is not None:
            on_progress(n)

    for chunk in csv_chunks(register, rows, on_progress=progress):
        out.write(chunk.encode("utf-8"))
    return count


def export_register(
    kind: str,
    filters: RegisterFilters,
    fmt: str,
    out: IO[bytes],
    *,
    on_progress: Progress | None = None,
) -> int:
    """Write one register in `fmt` ("xlsx" or "csv") to `out`; the number of rows."""
    register = register_for(kind)
    rows = register_rows(kind, filters)
    if fmt == RegisterExport.Format.XLSX:
        return write_xlsx(register, rows, out, on_progress=on_progress)
    if fmt == RegisterExport.Format.CSV:
        return write_csv(register, rows, out, on_progress=on_progress)
    raise ValueError(f"unknown format {fmt!r}")


def export_filename(kind: str, fmt: str, day: dt.date) -> str:
    return f"{register_for(kind).title}_{day:%Y%m%d}.{fmt}"
