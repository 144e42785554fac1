"""The attendance reports HR expects, as xlsx and CSV (attendance.md "Reports HR expects").

Each function returns a `Report`; `Report.to_xlsx()` and `Report.to_csv()` give the bytes
to serve (`Report.filename("xlsx")` the file name). Both hold the same cells: a title in
和暦 (「令和8年6月分 超過勤務命令簿」), a few lines saying whose and which period, a blank
line, the header row, the rows, footer rows, then sections (「訂正」, the leave ledger) and
notes. The xlsx sheet has column widths and the header row frozen; the CSV is UTF-8 with a
BOM so Excel opens it as UTF-8. Durations are minutes (分) unless the header says 時間;
dates are date cells in xlsx and ISO dates in the CSV. Columns, in order:

超過勤務命令簿 `overtime_book(staff, month)` — a row per counted order (命令済・実績確認中・
実績確認済), in time order:
    勤務日, 曜日, 区分 (勤務日/週休日/休日), 命令 開始, 命令 終了 (翌 = the next day), 業務内容,
    週休日の振替, 命令者, 実績 開始, 実績 終了, 休憩（分）, one column per band (勤務日 125/100,
    勤務日深夜 150/100, 週休日 135/100, 週休日深夜 160/100, 60時間超 150/100,
    60時間超深夜 175/100, 休日給 135/100, each in 分, the rates as the policy sets them),
    計（分） (overtime toward the caps: 休日給 excluded), 確認者, 処理日 (the confirmation),
    備考 (事後, 特例, 訂正, a status short of confirmed).
    Footer: 月計（分） per band; 端数処理後（時間） per band (each band's monthly sum rounded:
    ≥ 30 min up to the hour, < 30 min dropped); うち月60時間まで（分）, うち月60時間超（分）.
休暇簿 `leave_book(staff, leave_year)` — a row per request of the leave year (not withdrawn):
    申請日, 休暇の種類, 単位, 開始日, 終了日, 午前・午後, 開始時刻, 終了時刻, 日数, 時間（分）,
    日・時間, 理由, 申請者, 承認・却下者, 決定日, 状態, 備考.
    Section 「年次休暇（台帳）」: 繰越, 付与, 使用, 使用の取消, 失効・翌年へ繰越, 残 (分 and
    日・時間), from the ledger.
出勤簿 `attendance_roll(department, month)` — a row per person with a primary assignment in
    the department (or under it) during the month: 職員番号, 氏名, 1 … 31 (a code per day:
    the leave type's 出勤簿の記号 for approved leave covering the day, 年休(午前)/年休(午後)
    for a half day, 年休2h / 年休1h30m for hours; 出張, 研修, 職専免, 育休, 休職, 停職, 欠勤,
    代休 from the day marks; 週 = 週休日 and 休 = 休日 when nothing else; － = not in the
    department that day), then per leave code 「年休（日）」 (a half day counts 0.5) and
    「年休（分）」, per day-mark code its days, and 時間外（分）.
時間外勤務集計表 `overtime_summary(department_or_None, fiscal_year)` — per person 12 month rows
    and a 年度計 row: 所属, 上限区分, 職員番号, 氏名, 月, the bands (分), 月計（分）,
    月計（時間）, 端数処理後（時間）, 2〜6か月平均の最大（時間）, 平均の期間, 45時間超,
    面接指導, 面接指導の理由. A month row's average is the worst of the windows ending that
    month; 45時間超 and 面接指導 mark the month (○); the 年度計 row gives the worst average of
    the year, the number of months over 45 hours and 要 when a doctor interview is due.
    Bands of 0 minutes are left blank (月計 always has its number).
年休取得状況 `annual_leave_status(department_or_None, leave_year)` — a row per person:
    所属, 職員番号, 氏名, 任用区分, 休暇年, 繰越, 付与, 使用, 失効・繰越, 残 (日・時間),
    使用（日）, 残（日）, 取得率（%） (used ÷ (carried + granted)).

Closed months (月次締め): a report of a closed month reads as of the closing (requests and
orders filed after it left out, leave cancelled and actuals corrected after it as they
were, day marks as they were) and lists those changes in a 「訂正」 section. See
docs/attendance-reports.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from audit.models import AuditEvent
from common.dates import era_of, today, wareki, wareki_year
from org.models import Assignment, Department, Staff

from . import aggregates as agg
from . import leave as ledger
from . import overtime as ot
from .calendar import kinds_between
from .daymarks import ACTIONS as DAY_MARK_ACTIONS
from .models import (
    CalendarDay,
    Correction,
    DayMark,
    LeaveLedgerEntry,
    LeaveRequest,
    LeaveRules,
    LeaveType,
    MonthClose,
    OvertimeOrder,
)

BOM = "\ufeff"
TOKYO = ot.TOKYO
WEEKDAYS = "月火水木金土日"
SAMPLE_ROWS = 400  # rows read to size the columns
CORRECTIONS = "訂正"

BAND_LABELS: dict[ot.Band, str] = {
    ot.Band.WORKDAY: "勤務日",
    ot.Band.WORKDAY_NIGHT: "勤務日深夜",
    ot.Band.REST_DAY: "週休日",
    ot.Band.REST_DAY_NIGHT: "週休日深夜",
    ot.Band.OVER_60: "60時間超",
    ot.Band.OVER_60_NIGHT: "60時間超深夜",
    ot.Band.HOLIDAY_PAY: "休日給",
}
KIND_LABELS = {value: str(label) for value, label in CalendarDay.Kind.choices}
NOTE_ROUNDING = (
    "端数処理: 帯ごとに月の合計を、1時間未満が30分以上なら1時間に切り上げ、30分未満は切り捨て。"
)
NOTE_BANDS = (
    "帯: 命令の時間を勤務カレンダーと勤務時間で分け、月の時間外が60時間を超えた分は60時間超の帯。"
    "実績は確認済みのもの（休憩は開始から差し引く）、未確認は命令の時間。"
)


# --- the report --------------------------------------------------------------------------


@dataclass
class Section:
    """A block after the main table: its own title, header and rows."""

    title: str
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class Report:
    """A report as cells, written as xlsx or CSV (see the module docstring for the layout)."""

    title: str
    filename_stem: str
    headers: list[str]
    rows: list[list[Any]]
    footer: list[list[Any]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    info: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    freeze_columns: int = 0
    widths: dict[int, float] = field(default_factory=dict)  # 0-based column → width

    @property
    def header_row(self) -> int:
        """The header's row number in the sheet and the CSV (1-based)."""
        return len(self.info) + 3

    def filename(self, fmt: str) -> str:
        return f"{self.filename_stem}.{fmt}"

    def section(self, title: str) -> Section | None:
        return next((s for s in self.sections if s.title == title), None)

    def grid(self) -> Iterator[tuple[str, Sequence[Any]]]:
        """(style, cells) for every line, top to bottom; both writers follow it."""
        yield "title", [self.title]
        for label, value in self.info:
            yield "info", [label, value]
        yield "blank", []
        yield "header", self.headers
        for row in self.rows:
            yield "row", row
        for row in self.footer:
            yield "footer", row
        for section in self.sections:
            yield "blank", []
            yield "section", [section.title]
            yield "header", section.headers
            for row in section.rows:
                yield "row", row
        if self.notes:
            yield "blank", []
            for note in self.notes:
                yield "note", [note]

    def _widths(self) -> list[float]:
        count = max(
            [len(self.headers)]
            + [len(s.headers) for s in self.sections]
            + [len(r) for r in self.footer]
        )
        widths = [4.0] * count
        samples: list[Sequence[Any]] = [self.headers, *self.rows[:SAMPLE_ROWS], *self.footer]
        for section in self.sections:
            samples += [section.headers, *section.rows[:SAMPLE_ROWS]]
        for row in samples:
            for i, value in enumerate(row):
                widths[i] = max(widths[i], min(_display_width(value) + 2, 48))
        for i, width in self.widths.items():
            widths[i] = width
        return widths

    def to_xlsx(self) -> bytes:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(title=_sheet_title(self.title))
        # A write-only sheet takes widths and panes only before its first row.
        for i, width in enumerate(self._widths(), start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = f"{get_column_letter(self.freeze_columns + 1)}{self.header_row + 1}"
        fonts = {
            "title": Font(bold=True, size=14),
            "header": Font(bold=True),
            "footer": Font(bold=True),
            "section": Font(bold=True, size=12),
        }
        fill = PatternFill("solid", fgColor="DDEBF7")
        wrap = Alignment(wrap_text=True, vertical="center")

        def styled(value: Any, style: str) -> Any:
            needs = style in fonts or isinstance(value, dt.date)
            if not needs:
                return value
            cell = WriteOnlyCell(ws, value=value)
            if style in fonts:
                cell.font = fonts[style]
            if style == "header":
                cell.fill = fill
                cell.alignment = wrap
            if isinstance(value, dt.date):
                cell.number_format = "yyyy/mm/dd"
            return cell

        for style, cells in self.grid():
            if style == "row":
                ws.append(
                    [
                        styled(v, style) if isinstance(v, dt.date) else (None if v == "" else v)
                        for v in cells
                    ]
                )
            else:
                ws.append([styled(None if v == "" else v, style) for v in cells])
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    def to_csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for _style, cells in self.grid():
            writer.writerow([_csv_value(v) for v in cells])
        return (BOM + out.getvalue()).encode("utf-8")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _display_width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, dt.date):
        return 10
    text = str(value)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _sheet_title(title: str) -> str:
    for c in "[]:*?/\\":
        title = title.replace(c, "・")
    return title[:31]


# --- formats -----------------------------------------------------------------------------


def month_label(first: dt.date) -> str:
    """「令和8年6月」."""
    name, n = era_of(first)
    return f"{name}{'元' if n == 1 else n}年{first.month}月"


def hm(minutes: int | None) -> str:
    """Minutes as 「12:05」 (hours:minutes)."""
    if minutes is None:
        return ""
    sign = "-" if minutes < 0 else ""
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h}:{m:02d}"


def hours(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes / 60, 1)


def clock(moment: dt.datetime | None, day: dt.date) -> str:
    """「17:15」, or 「翌01:00」 when the moment falls after `day`."""
    if moment is None:
        return ""
    local = moment.astimezone(TOKYO)
    prefix = "翌" if local.date() > day else ""
    return f"{prefix}{local:%H:%M}"


def local_date(moment: dt.datetime | None) -> dt.date | None:
    return None if moment is None else timezone.localtime(moment).date()


def local_stamp(moment: dt.datetime | None) -> str:
    return "" if moment is None else f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def name_of(staff: Staff | None) -> str:
    return staff.display_name if staff is not None else ""


def _close_info(closed_at: dt.datetime | None) -> tuple[str, str]:
    if closed_at is None:
        return "締め", "未締め（現在の内容）"
    return (
        "締め",
        f"{wareki(local_date(closed_at))} 締め済み（締め時点の内容。締め後の変更は「訂正」欄）",
    )


def _department_of(staff: Staff, day: dt.date) -> Department | None:
    a = staff.assignment_on(min(day, today()))
    if a is None:
        a = (
            Assignment.objects.filter(staff=staff, is_primary=True)
            .select_related("department")
            .order_by("-start")
            .first()
        )
    return a.department if a else None


def band_headers(rules: ot.OvertimeRules) -> list[str]:
    return [f"{BAND_LABELS[b]} {rules.rate(b)}/100（分）" for b in agg.BANDS]


# --- 超過勤務命令簿 -------------------------------------------------------------------------

BOOK_HEAD = [
    "勤務日",
    "曜日",
    "区分",
    "命令 開始",
    "命令 終了",
    "業務内容",
    "週休日の振替",
    "命令者",
    "実績 開始",
    "実績 終了",
    "休憩（分）",
]
BOOK_TAIL = ["計（分）", "確認者", "処理日", "備考"]
CORRECTION_HEADERS = ["区分", "勤務日", "訂正前（分）", "訂正後（分）", "差（分）", "理由", "日時"]


def _overtime_correction_rows(corrections: Sequence[agg.OvertimeCorrection]) -> list[list[Any]]:
    rows = []
    for c in corrections:
        label = "実績の訂正" if c.kind == "actual" else "締め後の命令"
        diff = (c.after_minutes or 0) - (c.before_minutes or 0)
        rows.append(
            [
                label,
                c.work_date,
                c.before_minutes,
                c.after_minutes,
                diff,
                c.reason,
                local_stamp(c.at),
            ]
        )
    return rows


def overtime_book(staff: Staff, month: dt.date, *, as_of_close: bool = True) -> Report:
    """超過勤務命令簿 of one person and month (columns: the module docstring)."""
    first = month.replace(day=1)
    last = agg.month_last(first)
    counted, total, closes = agg.month_orders(staff=staff, month=first, as_of_close=as_of_close)
    rules = agg.RulesByDay(last)(first)
    orders = OvertimeOrder.objects.select_related("ordered_by", "confirmed_by").in_bulk(
        [c.pk for c in counted]
    )
    kinds = kinds_between(first, last + dt.timedelta(days=1))
    headers = [*BOOK_HEAD, *band_headers(rules), *BOOK_TAIL]
    band_at = len(BOOK_HEAD)
    rows: list[list[Any]] = []
    for c in counted:
        o = orders[c.pk]
        before = closes.before.get(c.pk)
        if before is not None:
            actual_start, actual_end, brk = before[0], before[1], before[2]
        elif o.status in (OvertimeOrder.Status.CONFIRMED, OvertimeOrder.Status.REPORTED):
            actual_start, actual_end, brk = o.actual_start, o.actual_end, o.break_minutes
        else:
            actual_start = actual_end = brk = None
        flags = []
        if o.after_the_fact:
            flags.append("事後")
        if o.special:
            flags.append("特例")
        if before is not None:
            flags.append("訂正あり（訂正欄）")
        elif o.correction:
            flags.append("訂正")
        if o.status == OvertimeOrder.Status.ORDERED:
            flags.append("実績未報告")
        elif o.status == OvertimeOrder.Status.REPORTED:
            flags.append("実績確認中")
        rows.append(
            [
                c.work_date,
                WEEKDAYS[c.work_date.weekday()],
                KIND_LABELS.get(kinds.get(c.work_date, ""), ""),
                clock(o.planned_start, c.work_date),
                clock(o.planned_end, c.work_date),
                o.task,
                f"{o.moved_rest_day:%-m/%-d}に振替" if o.moved_rest_day else "",
                name_of(o.ordered_by),
                clock(actual_start, c.work_date),
                clock(actual_end, c.work_date),
                brk,
                *c.bands,
                c.minutes,
                name_of(o.confirmed_by) if o.status == OvertimeOrder.Status.CONFIRMED else "",
                local_date(o.confirmed_at),
                "・".join(flags),
            ]
        )
    minutes = sum(c.minutes for c in counted)
    rounded = list(ot.round_monthly(agg.bands_dict(total), rules).values())
    over_60 = total[agg._OVER] + total[agg._OVER_NIGHT]
    width = len(headers)
    total_at = band_at + len(agg.BANDS)

    def footer(label: str, bands: Sequence[Any] | None, value: Any) -> list[Any]:
        row: list[Any] = [None] * width
        row[0] = label
        if bands is not None:
            row[band_at:total_at] = list(bands)
        row[total_at] = value
        return row

    holiday = agg.HOLIDAY
    footer_rows = [
        footer("月計（分）", total, minutes),
        footer(
            "端数処理後（時間）",
            [m // 60 for m in rounded],
            (sum(rounded) - rounded[holiday]) // 60,
        ),
        footer("うち月60時間まで（分）", None, sum(total) - total[holiday] - over_60),
        footer("うち月60時間超（分）", None, over_60),
    ]
    closed_at = closes.closed.get(first)
    department = _department_of(staff, last)
    notes = [NOTE_BANDS, NOTE_ROUNDING]
    if sum(total) - total[holiday] != minutes:
        notes.append(
            "※ 帯別の合計と命令の時間（計）が一致しません。命令後に勤務カレンダー・勤務時間・"
            "規則が変わった可能性があります。"
        )
    sections = []
    if closed_at is not None:
        mine = [c for c in closes.corrections if c.staff_id == staff.pk and c.month == first]
        sections.append(
            Section(
                CORRECTIONS,
                CORRECTION_HEADERS,
                _overtime_correction_rows(mine) or [["訂正なし"]],
            )
        )
    return Report(
        title=f"{month_label(first)}分 超過勤務命令簿",
        filename_stem=f"超過勤務命令簿_{staff.employee_number or staff.username}_{first:%Y-%m}",
        headers=headers,
        rows=rows,
        footer=footer_rows,
        sections=sections,
        info=[
            ("所属", department.full_name if department else ""),
            ("職員番号", staff.employee_number or ""),
            ("氏名", staff.display_name),
            ("対象月", f"{month_label(first)}（{first:%Y年%-m月}）"),
            _close_info(closed_at),
        ],
        notes=notes,
        freeze_columns=2,
    )


# --- 休暇簿 ------------------------------------------------------------------------------

LEAVE_HEADERS = [
    "申請日",
    "休暇の種類",
    "単位",
    "開始日",
    "終了日",
    "午前・午後",
    "開始時刻",
    "終了時刻",
    "日数",
    "時間（分）",
    "日・時間",
    "理由",
    "申請者",
    "承認・却下者",
    "決定日",
    "状態",
    "備考",
]
LEAVE_CORRECTION_HEADERS = ["区分", "休暇の種類", "期間", "時間（分）", "状態", "理由", "日時"]
UNIT_LABELS = {value: str(label) for value, label in LeaveLedgerEntry.Unit.choices}
STATUS_LABELS = {value: str(label) for value, label in LeaveRequest.Status.choices}
HALF_LABELS = {value: str(label) for value, label in LeaveRequest.Half.choices}


def _closes_between(first: dt.date, last: dt.date) -> dict[dt.date, dt.datetime]:
    return dict(
        MonthClose.objects.filter(month__range=(first.replace(day=1), last)).values_list(
            "month", "closed_at"
        )
    )


def _months_of(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    month = start.replace(day=1)
    while month <= end:
        yield month
        month = agg.add_months(month, 1)


@dataclass(frozen=True)
class LeaveAsOfClose:
    """A request as a closed month saw it: left out (filed after), or its status then."""

    late: bool
    status: str
    cancelled_after: bool


def leave_as_of_close(
    request: LeaveRequest, closes: dict[dt.date, dt.datetime], months: Sequence[dt.date] = ()
) -> LeaveAsOfClose:
    """`months`: the months read (default: every month the request touches)."""
    touched = [m for m in _months_of(request.start_date, request.end_date) if m in closes]
    if months:
        touched = [m for m in touched if m in months]
    if not touched:
        return LeaveAsOfClose(False, request.status, False)
    at = min(closes[m] for m in touched)
    if request.created_at > at:
        return LeaveAsOfClose(True, request.status, False)
    if (
        request.status == LeaveRequest.Status.CANCELLED
        and request.cancelled_at is not None
        and request.cancelled_at > at
        and request.decided_at is not None
        and request.decided_at <= at
    ):
        return LeaveAsOfClose(False, LeaveRequest.Status.APPROVED, True)
    return LeaveAsOfClose(False, request.status, False)


def _leave_year_label(rules: LeaveRules, leave_year: int) -> str:
    if rules.year_basis == LeaveRules.YearBasis.FISCAL:
        return f"{wareki_year(leave_year, fiscal=True)}（{leave_year}年度）"
    return f"{wareki_year(leave_year)}（{leave_year}年）"


def ledger_totals(staff_filter: Q, leave_year: int) -> dict[int, dict[str, int]]:
    """Per person: carried, granted, used, cancelled, lapsed (expired or carried out) and
    balance of a leave year, from the ledger in one query."""
    Kind = LeaveLedgerEntry.Kind
    rows = (
        LeaveLedgerEntry.objects.filter(staff_filter, leave_year=leave_year)
        .values("staff_id")
        .annotate(
            carried=Sum("minutes", filter=Q(kind=Kind.CARRY_OVER, minutes__gt=0)),
            granted=Sum("minutes", filter=Q(kind=Kind.GRANT)),
            used=Sum("minutes", filter=Q(kind=Kind.USE)),
            cancelled=Sum("minutes", filter=Q(kind=Kind.CANCEL)),
            lapsed=Sum(
                "minutes", filter=Q(kind=Kind.EXPIRE) | Q(kind=Kind.CARRY_OVER, minutes__lt=0)
            ),
            balance=Sum("minutes"),
        )
        .order_by()
    )
    keys = ("carried", "granted", "used", "cancelled", "lapsed", "balance")
    return {r["staff_id"]: {k: r[k] or 0 for k in keys} for r in rows}


def leave_book(staff: Staff, leave_year: int, *, as_of_close: bool = True) -> Report:
    """休暇簿 of one person and leave year (columns: the module docstring)."""
    rules = ledger.rules_for(staff)
    per_day = ledger.daily_minutes(staff, rules)
    first, last = ledger.leave_year_bounds(rules, leave_year)
    closes = _closes_between(first, last) if as_of_close else {}
    requests = list(
        LeaveRequest.objects.filter(staff=staff, leave_year=leave_year)
        .exclude(status=LeaveRequest.Status.WITHDRAWN)
        .select_related("leave_type", "decided_by", "filed_by", "cancelled_by")
        .order_by("start_date", "starts_at", "pk")
    )
    rows: list[list[Any]] = []
    corrections: list[list[Any]] = []
    for r in requests:
        seen = leave_as_of_close(r, closes)
        notes = []
        if seen.late:
            corrections.append(
                [
                    "締め後の申請",
                    r.leave_type.name,
                    r.period_label(),
                    r.minutes,
                    STATUS_LABELS[r.status],
                    r.correction_reason,
                    local_stamp(r.created_at),
                ]
            )
            continue
        if seen.cancelled_after:
            corrections.append(
                [
                    "締め後の取消",
                    r.leave_type.name,
                    r.period_label(),
                    -r.minutes,
                    STATUS_LABELS[r.status],
                    r.cancel_reason,
                    local_stamp(r.cancelled_at),
                ]
            )
            notes.append("締め後に取消（訂正欄）")
        elif r.status == LeaveRequest.Status.CANCELLED:
            notes.append(f"{local_stamp(r.cancelled_at)} 取消 {r.cancel_reason}".strip())
        if r.correction:
            notes.append("訂正")
        decided = seen.status in (LeaveRequest.Status.APPROVED, LeaveRequest.Status.REJECTED) or (
            seen.status == LeaveRequest.Status.CANCELLED
        )
        rows.append(
            [
                local_date(r.created_at),
                r.leave_type.name,
                UNIT_LABELS.get(r.unit, r.unit),
                r.start_date,
                r.end_date,
                HALF_LABELS.get(r.half, ""),
                f"{r.start_time:%H:%M}" if r.start_time else "",
                f"{r.end_time:%H:%M}" if r.end_time else "",
                r.days or None,
                r.minutes,
                ledger.format_minutes(r.minutes, per_day),
                r.reason,
                name_of(r.filed_by) if r.filed_by_id != r.staff_id else "",
                name_of(r.decided_by) if decided else "",
                local_date(r.decided_at) if decided else None,
                STATUS_LABELS[seen.status],
                "・".join(notes),
            ]
        )
    totals = ledger_totals(Q(staff=staff), leave_year).get(staff.pk)
    sections = []
    if totals is not None:
        items = [
            ("繰越", totals["carried"]),
            ("付与", totals["granted"]),
            ("使用", -totals["used"]),
            ("使用の取消", totals["cancelled"]),
            ("失効・翌年へ繰越", -totals["lapsed"]),
            ("残", totals["balance"]),
        ]
        sections.append(
            Section(
                "年次休暇（台帳）",
                ["項目", "分", "日・時間"],
                [[label, m, ledger.format_minutes(m, per_day)] for label, m in items],
            )
        )
    if any(first <= m <= last for m in closes):
        sections.append(
            Section(CORRECTIONS, LEAVE_CORRECTION_HEADERS, corrections or [["訂正なし"]])
        )
    department = _department_of(staff, last)
    year_label = _leave_year_label(rules, leave_year)
    closed_label = "、".join(f"{m:%Y年%-m月}" for m in sorted(closes)) or "なし"
    return Report(
        title=f"{year_label} 休暇簿",
        filename_stem=f"休暇簿_{staff.employee_number or staff.username}_{leave_year}",
        headers=LEAVE_HEADERS,
        rows=rows,
        sections=sections,
        info=[
            ("所属", department.full_name if department else ""),
            ("職員番号", staff.employee_number or ""),
            ("氏名", staff.display_name),
            ("休暇年", f"{year_label} {first:%Y-%m-%d}〜{last:%Y-%m-%d}"),
            ("1日の時間", hm(per_day)),
            ("締め済みの月", closed_label),
        ],
        notes=[
            "締めた月の申請は締め時点の内容。締め後の申請・取消は「訂正」欄。残は台帳の現在の値。"
        ],
        freeze_columns=2,
    )


# --- 出勤簿 ------------------------------------------------------------------------------

REST_MARKS = {CalendarDay.Kind.REST: "週", CalendarDay.Kind.HOLIDAY: "休"}
OUTSIDE = "－"
DAY_MARK_LABELS = {value: str(label) for value, label in DayMark.Code.choices}


def _hour_label(code: str, minutes: int) -> str:
    h, m = divmod(minutes, 60)
    if h and m:
        return f"{code}{h}h{m}m"
    return f"{code}{h}h" if h else f"{code}{m}m"


@dataclass
class RollLine:
    """One person's month on the roll: codes per day and the counts."""

    staff: Staff
    ranges: list[tuple[dt.date, dt.date]]
    cells: dict[dt.date, list[str]] = field(default_factory=lambda: defaultdict(list))
    hourly: dict[tuple[dt.date, str], int] = field(default_factory=lambda: defaultdict(int))
    days: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    minutes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    overtime: int = 0

    def inside(self, day: dt.date) -> bool:
        return any(start <= day <= end for start, end in self.ranges)


def _day_marks_as_of_close(
    ids: set[int], first: dt.date, last: dt.date, closed_at: dt.datetime
) -> tuple[dict[tuple[int, dt.date], str | None], list[list[Any]]]:
    """The day marks changed after the close: their code then (None: no mark) and the rows
    of the 訂正 section, from the audit trail the day-mark services write."""
    events = (
        AuditEvent.objects.filter(
            action__in=DAY_MARK_ACTIONS,
            occurred_at__gt=closed_at,
            data__date__startswith=f"{first:%Y-%m}",
        )
        .select_related("actor")
        .order_by("seq")
    )
    then: dict[tuple[int, dt.date], str | None] = {}
    rows: list[list[Any]] = []
    for e in events:
        staff_id = e.data.get("staff")
        if staff_id not in ids:
            continue
        day = dt.date.fromisoformat(e.data["date"])
        if not first <= day <= last:
            continue
        then.setdefault((staff_id, day), e.data.get("old"))
        rows.append(
            [
                staff_id,
                day,
                DAY_MARK_LABELS.get(e.data.get("old") or "", ""),
                DAY_MARK_LABELS.get(e.data.get("new") or "", ""),
                e.data.get("note", ""),
                name_of(e.actor),
                local_stamp(e.occurred_at),
            ]
        )
    return then, rows


def roll_codes() -> list[str]:
    """The leave codes of the roll's count columns, in the leave types' order."""
    codes: list[str] = []
    for code in LeaveType.objects.order_by("sort_order", "code").values_list(
        "roll_code", flat=True
    ):
        if code not in codes:
            codes.append(code)
    return codes


def roll_headers(leave_codes: Sequence[str]) -> list[str]:
    return [
        "職員番号",
        "氏名",
        *[str(d) for d in range(1, 32)],
        *[h for code in leave_codes for h in (f"{code}（日）", f"{code}（分）")],
        *[f"{label}（日）" for label in DAY_MARK_LABELS.values()],
        "時間外（分）",
    ]


def attendance_roll(department: Department, month: dt.date, *, as_of_close: bool = True) -> Report:
    """出勤簿 of a department (and what is under it) for a month (columns: module docstring)."""
    first = month.replace(day=1)
    last = agg.month_last(first)
    closed_at = MonthClose.objects.filter(month=first).values_list("closed_at", flat=True).first()
    reading_closed = closed_at if as_of_close else None
    lines: dict[int, RollLine] = {}
    assignments = (
        Assignment.objects.filter(agg.subtree_q(department), is_primary=True, start__lte=last)
        .filter(Q(end__isnull=True) | Q(end__gte=first))
        .select_related("staff", "staff__work_schedule")
        .order_by("staff__employee_number", "staff__username", "start")
    )
    for a in assignments:
        line = lines.setdefault(a.staff_id, RollLine(a.staff, []))
        line.ranges.append((max(a.start, first), min(a.end or last, last)))
    ids = set(lines)
    kinds = kinds_between(first, last)
    codes = roll_codes()
    # Leave: approved now, or (closed month) approved at the close.
    statuses = [LeaveRequest.Status.APPROVED]
    if reading_closed is not None:
        statuses.append(LeaveRequest.Status.CANCELLED)
    requests = LeaveRequest.objects.filter(
        staff_id__in=ids, status__in=statuses, start_date__lte=last, end_date__gte=first
    ).select_related("leave_type")
    closes = {first: closed_at} if closed_at is not None else {}
    corrections: list[list[Any]] = []
    for r in requests:
        line = lines[r.staff_id]
        if reading_closed is not None:
            seen = leave_as_of_close(r, closes, months=[first])
            if seen.late or seen.cancelled_after:
                corrections.append(
                    [
                        line.staff.employee_number or "",
                        line.staff.display_name,
                        "締め後の申請" if seen.late else "締め後の取消",
                        f"{r.leave_type.roll_code} {r.period_label()}",
                        r.correction_reason if seen.late else r.cancel_reason,
                        local_stamp(r.created_at if seen.late else r.cancelled_at),
                    ]
                )
            if seen.late or seen.status != LeaveRequest.Status.APPROVED:
                continue
        _place_leave(line, r, kinds, first, last)
    # Day marks, as of the close for a closed month.
    marks = {
        (s, d): c
        for s, d, c in DayMark.objects.filter(
            staff_id__in=ids, date__range=(first, last)
        ).values_list("staff_id", "date", "code")
    }
    if reading_closed is not None:
        then, rows = _day_marks_as_of_close(ids, first, last, reading_closed)
        for key, code in then.items():
            if code is None:
                marks.pop(key, None)
            else:
                marks[key] = code
        for row in rows:
            staff = lines[row[0]].staff
            corrections.append(
                [
                    staff.employee_number or "",
                    staff.display_name,
                    "出勤簿の記録の訂正",
                    f"{row[1]:%-m/%-d} {row[2] or 'なし'} → {row[3] or 'なし'}",
                    row[4],
                    row[6],
                ]
            )
    for (staff_id, day), code in marks.items():
        label = DAY_MARK_LABELS[code]
        line = lines[staff_id]
        if not line.inside(day):
            continue
        line.cells[day].append(label)
        line.days[label] += 1
    # Overtime of the month, as the caps count it.
    staff_filter = Q(staff_id__in=ids)
    overtime_closes = agg.closed_months_between(first, last, staff_filter, as_of_close=as_of_close)
    grouped = agg.staff_months(agg.counted_rows(first, last, staff_filter), overtime_closes)
    for staff_id, months in grouped.items():
        lines[staff_id].overtime = sum(o[3] for o in months.get(first, []))
    for c in overtime_closes.corrections:
        staff = lines[c.staff_id].staff
        corrections.append(
            [
                staff.employee_number or "",
                staff.display_name,
                "超過勤務の実績の訂正" if c.kind == "actual" else "締め後の超過勤務命令",
                f"{c.work_date:%-m/%-d} {c.before_minutes or 0}分 → {c.after_minutes or 0}分",
                c.reason,
                local_stamp(c.at),
            ]
        )
    rows_out = [_roll_row(line, kinds, first, last, codes) for line in lines.values()]
    sections = []
    if closed_at is not None:
        sections.append(
            Section(
                CORRECTIONS,
                ["職員番号", "氏名", "区分", "内容", "理由", "日時"],
                corrections or [["訂正なし"]],
            )
        )
    widths = {i: 7.0 for i in range(2, 33)}
    return Report(
        title=f"{month_label(first)} 出勤簿（{department.name}）",
        filename_stem=f"出勤簿_{department.code}_{first:%Y-%m}",
        headers=roll_headers(codes),
        rows=rows_out,
        sections=sections,
        info=[
            ("所属", department.full_name),
            ("対象月", f"{month_label(first)}（{first:%Y年%-m月}）"),
            _close_info(reading_closed),
        ],
        notes=[
            "記号: 休暇は種類の記号（年休(午前)・年休(午後)は半日、年休2hは時間単位）、"
            "出張・研修などは出勤簿の記録、週 = 週休日、休 = 休日、－ = この所属にいない日。",
            "（日）は日数（半日は0.5）、（分）は休暇の時間の合計。時間外は上限の数え方"
            "（確認済みは実績、未確認は命令の時間。休日給を除く）。",
        ],
        freeze_columns=2,
        widths=widths,
    )


def _place_leave(
    line: RollLine,
    r: LeaveRequest,
    kinds: dict[dt.date, str],
    first: dt.date,
    last: dt.date,
) -> None:
    code = r.leave_type.roll_code
    if r.unit == LeaveLedgerEntry.Unit.DAY:
        per = r.minutes // r.days if r.days else 0
        every_day = r.leave_type.counts_calendar_days
        day = max(r.start_date, first)
        while day <= min(r.end_date, last):
            counted = every_day or kinds.get(day) == CalendarDay.Kind.WORKDAY
            if counted and line.inside(day):
                line.cells[day].append(code)
                line.days[code] += 1
                line.minutes[code] += per
            day += dt.timedelta(days=1)
    elif not line.inside(r.start_date):
        return
    elif r.unit == LeaveLedgerEntry.Unit.HALF_DAY:
        line.cells[r.start_date].append(f"{code}({HALF_LABELS.get(r.half, r.half)})")
        line.days[code] += 0.5
        line.minutes[code] += r.minutes
    else:
        line.hourly[r.start_date, code] += r.minutes
        line.minutes[code] += r.minutes


def _roll_row(
    line: RollLine,
    kinds: dict[dt.date, str],
    first: dt.date,
    last: dt.date,
    codes: Sequence[str],
) -> list[Any]:
    for (day, code), minutes in sorted(line.hourly.items()):
        line.cells[day].append(_hour_label(code, minutes))
    days: list[Any] = []
    for n in range(1, 32):
        if n > last.day:
            days.append(None)
            continue
        day = first.replace(day=n)
        if not line.inside(day):
            days.append(OUTSIDE)
        elif line.cells.get(day):
            days.append("・".join(line.cells[day]))
        else:
            days.append(REST_MARKS.get(kinds.get(day, "")))
    counts: list[Any] = []
    for code in codes:
        d, m = line.days.get(code, 0), line.minutes.get(code, 0)
        counts += [(int(d) if float(d).is_integer() else d) or None, m or None]
    counts += [int(line.days.get(label, 0)) or None for label in DAY_MARK_LABELS.values()]
    return [
        line.staff.employee_number or "",
        line.staff.display_name,
        *days,
        *counts,
        line.overtime or None,
    ]


# --- 時間外勤務集計表 ---------------------------------------------------------------------

CLASS_LABELS = {value: str(label) for value, label in Department.OvertimeClass.choices}
SUMMARY_HEAD = ["所属", "上限区分", "職員番号", "氏名", "月"]
SUMMARY_TAIL = [
    "月計（分）",
    "月計（時間）",
    "端数処理後（時間）",
    "2〜6か月平均の最大（時間）",
    "平均の期間",
    "45時間超",
    "面接指導",
    "面接指導の理由",
]
SUMMARY_CORRECTION_HEADERS = ["職員番号", "氏名", "対象月", *CORRECTION_HEADERS]


def _window_label(window: Sequence[dt.date]) -> str:
    if not window:
        return ""
    return f"{window[0]:%Y年%-m月}〜{window[-1]:%Y年%-m月}（{len(window)}か月）"


def overtime_summary(
    department: Department | None, fiscal_year: int, *, as_of_close: bool = True
) -> Report:
    """時間外勤務集計表 of a department (and what is under it), or of everyone, for a fiscal
    year (columns: the module docstring). A fixed number of queries (`aggregates`)."""
    year = agg.overtime_year(
        fiscal_year=fiscal_year, department=department, as_of_close=as_of_close
    )
    return summary_report(year, year.rules)


def summary_report(year: agg.OvertimeYear, rules: ot.OvertimeRules) -> Report:
    """The 集計表's cells from an `aggregates.OvertimeYear`."""
    over_45 = rules.outside_over_45_threshold_minutes
    doctor_month, doctor_average = rules.doctor_monthly_minutes, rules.doctor_average_minutes
    holiday = agg.HOLIDAY
    month_labels = [f"{m:%Y年%-m月}" for m in year.months]
    rows: list[list[Any]] = []
    append = rows.append
    for sy in year.staff:
        person = sy.person
        head = [
            person.department.name if person.department else "（所属なし）",
            CLASS_LABELS.get(person.department.overtime_class, "") if person.department else "",
            person.employee_number,
            person.name,
        ]
        for label, sm in zip(month_labels, sy.months, strict=True):
            average = sm.worst_average
            flagged = sm.minutes >= doctor_month or (
                average is not None and average > doctor_average
            )
            # Zero bands are left blank: easier to read, and a third of the cells fewer.
            append(
                [
                    *head,
                    label,
                    *[b or None for b in sm.bands],
                    sm.minutes,
                    hm(sm.minutes) if sm.minutes else None,
                    (sum(sm.rounded) - sm.rounded[holiday]) // 60 or None,
                    hours(average) if average else None,
                    f"{sm.worst_length}か月" if average else "",
                    "○" if sm.minutes > over_45 else "",
                    "○" if flagged else "",
                    "",
                ]
            )
        append(
            [
                *head,
                "年度計",
                *[b or None for b in sy.bands],
                sy.total,
                hm(sy.total),
                (sum(sy.rounded) - sy.rounded[holiday]) // 60,
                hours(sy.worst_average) if sy.worst_average else None,
                _window_label(sy.worst_window) if sy.worst_average else "",
                sy.months_over_45,
                "要" if sy.doctor_interview else "",
                "、".join(sy.doctor_reasons),
            ]
        )
    sections = []
    if year.closed:
        people = year.people
        correction_rows = [
            [
                people[c.staff_id].employee_number,
                people[c.staff_id].name,
                f"{c.month:%Y年%-m月}",
                *row,
            ]
            for c, row in zip(
                year.corrections, _overtime_correction_rows(year.corrections), strict=True
            )
        ]
        sections.append(
            Section(CORRECTIONS, SUMMARY_CORRECTION_HEADERS, correction_rows or [["訂正なし"]])
        )
    fy = year.fiscal_year
    name = year.department.name if year.department else "全庁"
    closed = "、".join(f"{m:%Y年%-m月}" for m in sorted(year.closed)) or "なし"
    return Report(
        title=f"{wareki_year(fy, fiscal=True)} 時間外勤務集計表（{name}）",
        filename_stem=f"時間外勤務集計表_{year.department.code if year.department else 'all'}_{fy}",
        headers=[*SUMMARY_HEAD, *band_headers(rules), *SUMMARY_TAIL],
        rows=rows,
        sections=sections,
        info=[
            ("所属", year.department.full_name if year.department else "全庁"),
            ("年度", f"{wareki_year(fy, fiscal=True)}（{fy}年4月〜{fy + 1}年3月）"),
            ("締め済みの月", f"{closed}（締め時点の内容。締め後の変更は「訂正」欄）"),
            ("作成日", wareki(today())),
        ],
        notes=[
            NOTE_BANDS,
            NOTE_ROUNDING,
            "月計は上限の数え方（休日給を除く）。2〜6か月平均はその月で終わる期間の最大"
            "（前年度の月を含む）。45時間超は月45時間を超えた月。面接指導は月100時間以上"
            "または2〜6か月平均80時間超。",
        ],
        freeze_columns=5,
    )


# --- 年休取得状況 --------------------------------------------------------------------------

STATUS_HEADERS = [
    "所属",
    "職員番号",
    "氏名",
    "任用区分",
    "休暇年",
    "繰越",
    "付与",
    "使用",
    "失効・繰越",
    "残",
    "使用（日）",
    "残（日）",
    "取得率（%）",
]
CLASS_NAMES = {value: str(label) for value, label in Staff.EmployeeClass.choices}


def annual_leave_status(department: Department | None, leave_year: int) -> Report:
    """年休取得状況 of a department (and what is under it), or of everyone, for a leave year
    (columns: the module docstring). People as in `aggregates.people` over the calendar year;
    the figures are the ledger's. A fixed number of queries."""
    first, last = dt.date(leave_year, 1, 1), dt.date(leave_year, 12, 31)
    listed = agg.people(first, last, department)
    staff_filter = Q(staff_id__in=list(listed)) if department is not None else Q()
    totals = ledger_totals(staff_filter, leave_year)
    rules = {r.employee_class: r for r in LeaveRules.objects.all()}
    fmt = ledger.format_minutes
    rows: list[list[Any]] = []
    for person in listed.values():
        r = rules.get(person.employee_class)
        per_day = person.daily_minutes or (r.default_daily_minutes if r else 465)
        t = totals.get(person.pk, dict.fromkeys(("carried", "granted", "used", "cancelled"), 0))
        carried, granted = t["carried"], t["granted"]
        used = -(t["used"] + t["cancelled"])
        lapsed, balance = -t.get("lapsed", 0), t.get("balance", 0)
        base = carried + granted
        basis = (
            f"{leave_year}年度"
            if r is not None and r.year_basis == LeaveRules.YearBasis.FISCAL
            else f"{leave_year}年"
        )
        rows.append(
            [
                person.department.name if person.department else "",
                person.employee_number,
                person.name,
                CLASS_NAMES.get(person.employee_class, person.employee_class),
                basis,
                fmt(carried, per_day),
                fmt(granted, per_day),
                fmt(used, per_day),
                fmt(lapsed, per_day),
                fmt(balance, per_day),
                round(used / per_day, 2),
                round(balance / per_day, 2),
                round(100 * used / base, 1) if base else None,
            ]
        )
    sections = []
    corrections = _annual_corrections(staff_filter, leave_year)
    if corrections:
        sections.append(
            Section(CORRECTIONS, ["職員番号", "氏名", *LEAVE_CORRECTION_HEADERS], corrections)
        )
    name = department.name if department else "全庁"
    return Report(
        title=f"{wareki_year(leave_year)} 年次休暇取得状況（{name}）",
        filename_stem=f"年休取得状況_{department.code if department else 'all'}_{leave_year}",
        headers=STATUS_HEADERS,
        rows=rows,
        sections=sections,
        info=[
            ("所属", department.full_name if department else "全庁"),
            ("休暇年", f"{leave_year}（暦年の職員は{leave_year}年、年度の職員は{leave_year}年度）"),
            ("作成日", wareki(today())),
        ],
        notes=[
            "台帳（付与・繰越・使用・取消・失効）の現在の値。使用は取消を差し引いた値、"
            "取得率は 使用 ÷（繰越 + 付与）。締め後の追加・取消は「訂正」欄。"
        ],
        freeze_columns=3,
    )


def _annual_corrections(staff_filter: Q, leave_year: int) -> list[list[Any]]:
    """Annual leave filed into or cancelled from closed months (the leave year's)."""
    rows: list[tuple[Any, list[Any]]] = []
    late = LeaveRequest.objects.filter(
        staff_filter,
        leave_year=leave_year,
        leave_type__from_ledger=True,
        correction=True,
    ).select_related("staff", "leave_type")
    for r in late:
        rows.append(
            (
                r.created_at,
                [
                    r.staff.employee_number or "",
                    r.staff.display_name,
                    "締め後の申請",
                    r.leave_type.name,
                    r.period_label(),
                    r.minutes,
                    STATUS_LABELS[r.status],
                    r.correction_reason,
                    local_stamp(r.created_at),
                ],
            )
        )
    cancels = Correction.objects.filter(
        staff_filter,
        kind=Correction.Kind.LEAVE_CANCEL,
        status=Correction.Status.APPLIED,
        leave_request__leave_year=leave_year,
        leave_request__leave_type__from_ledger=True,
    ).select_related("staff", "leave_request", "leave_request__leave_type")
    for c in cancels:
        r = c.leave_request
        rows.append(
            (
                c.applied_at,
                [
                    c.staff.employee_number or "",
                    c.staff.display_name,
                    "締め後の取消",
                    r.leave_type.name,
                    r.period_label(),
                    -r.minutes,
                    STATUS_LABELS[r.status],
                    c.reason,
                    local_stamp(c.applied_at),
                ],
            )
        )
    rows.sort(key=lambda item: item[0] or timezone.now())
    return [row for _at, row in rows]
