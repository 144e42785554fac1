"""The HR reports (issue 6): they open in openpyxl, have the documented columns, the CSV
parses, and the numbers are right on a small hand-made month (bands, rounding, 60 h)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook

from attendance import aggregates as agg
from attendance import overtime as ot
from attendance import reports
from attendance import requests as svc
from attendance.calendar import calendar_day_set
from attendance.daymarks import day_mark_clear, day_mark_set
from attendance.models import DayMark, LeaveRequest, LeaveType, OvertimeOrder
from audit.models import AuditEvent
from audit.services import audit_verify
from org.models import Staff
from tests.attendance.office import build_office
from workflow.errors import NotAllowed
from workflow.models import Step
from workflow.services import step_approve, step_reject

JST = ZoneInfo("Asia/Tokyo")
DAY = 465
JUNE = dt.date(2026, 6, 1)
pytestmark = pytest.mark.django_db


def at(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=JST)


@pytest.fixture
def office(db):
    with time_machine.travel(at(2026, 4, 1), tick=False):
        return build_office(leave_year=2026)


def order(
    office,
    start: dt.datetime,
    end: dt.datetime,
    minutes: int,
    *,
    staff=None,
    brk: int = 0,
    confirmed: bool = True,
    **kw,
) -> OvertimeOrder:
    """An order as the services leave it: ordered, or confirmed with its actual."""
    staff = staff or office.drafter
    extra = {}
    if confirmed:
        extra = {
            "actual_start": start,
            "actual_end": end,
            "break_minutes": brk,
            "actual_minutes": minutes,
            "confirmed_by": office.kacho,
            "confirmed_at": end + dt.timedelta(days=1),
        }
    return OvertimeOrder.objects.create(
        staff=staff,
        requested_by=staff,
        department=office.soumu_ka,
        work_date=start.date(),
        task=kw.pop("task", "予算資料の作成"),
        planned_start=start,
        planned_end=end,
        planned_minutes=minutes if not brk else minutes + brk,
        status=OvertimeOrder.Status.CONFIRMED if confirmed else OvertimeOrder.Status.ORDERED,
        ordered_by=office.kacho,
        ordered_at=start - dt.timedelta(days=1),
        **extra,
        **kw,
    )


@pytest.fixture
def june(office):
    """June 2026 of 起案 太郎: three 16-hour Saturdays, a late evening with a break, a city
    holiday worked past the hours, and a Saturday (ordered, not yet reported) that crosses
    60 hours. Minutes per band worked out by hand below."""
    calendar_day_set(day=dt.date(2026, 6, 24), kind="holiday", name="市の休日", actor=office.hr)
    for d in (6, 13, 20):
        order(office, at(2026, 6, d, 6), at(2026, 6, d, 22), 960)
    # 17:15–23:45 less a 30-minute break from the start: 17:45–22:00 and 22:00–23:45.
    order(office, at(2026, 6, 22, 17, 15), at(2026, 6, 22, 23, 45), 360, brk=30)
    # 休日: 8:30–17:15 is 休日給 (465, break excluded), 17:15–18:15 overtime.
    order(office, at(2026, 6, 24, 8, 30), at(2026, 6, 24, 18, 15), 60, moved_rest_day=None)
    # 3300 minutes so far: 300 more to the 60-hour mark (6:00–11:00), then 150/100.
    order(
        office,
        at(2026, 6, 27, 6),
        at(2026, 6, 27, 23, 20),
        1040,
        confirmed=False,
        special=True,
        special_reason="豪雨対応",
    )
    return office


EXPECTED_BANDS = {
    ot.Band.WORKDAY: 255 + 60,
    ot.Band.WORKDAY_NIGHT: 105,
    ot.Band.REST_DAY: 3 * 960 + 300,
    ot.Band.REST_DAY_NIGHT: 0,
    ot.Band.OVER_60: 660,
    ot.Band.OVER_60_NIGHT: 80,
    ot.Band.HOLIDAY_PAY: 465,
}
# Per band: 5h15 → 5, 1h45 → 2, 53h → 53, 11h → 11, 1h20 → 1, 7h45 → 8.
EXPECTED_ROUNDED_HOURS = [5, 2, 0 + 53, 0, 11, 1, 8]
TOTAL = 4340


def sheet(report: reports.Report):
    wb = load_workbook(io.BytesIO(report.to_xlsx()))
    return wb.active


def rows_of(ws) -> list[list]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def parse_csv(report: reports.Report) -> list[list[str]]:
    data = report.to_csv()
    assert data.startswith(b"\xef\xbb\xbf")  # BOM, for Excel
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def check_layout(report: reports.Report, headers: list[str]) -> tuple[list[list], list[list]]:
    """The sheet and the CSV hold the documented header at `header_row`; both returned."""
    ws = sheet(report)
    grid = rows_of(ws)
    h = report.header_row
    assert [c for c in grid[h - 1] if c is not None] == headers
    assert ws.freeze_panes is not None and ws.freeze_panes.endswith(str(h + 1))
    assert ws.column_dimensions["A"].width > 0
    text = parse_csv(report)
    assert text[0] == [report.title]
    assert text[h - 1] == headers
    return grid, text


# --- aggregation ----------------------------------------------------------------------------


def test_bands_follow_month_bands_and_the_60_hour_mark(june) -> None:
    with time_machine.travel(at(2026, 7, 10), tick=False):
        counted, total, _closes = agg.month_orders(staff=june.drafter, month=JUNE)
    assert agg.bands_dict(total) == EXPECTED_BANDS
    assert [c.work_date.day for c in counted] == [6, 13, 20, 22, 24, 27]
    # The same as the pure function over the month's intervals in one go.
    intervals = [(c.start, c.end) for c in counted]
    kinds = agg.DayKinds(JUNE, dt.date(2026, 7, 3))
    assert ot.month_bands(intervals, day_kind=kinds) == EXPECTED_BANDS
    assert counted[-1].bands[agg.BANDS.index(ot.Band.REST_DAY)] == 300
    # What the caps count, by work date, equals the SQL sum the services use.
    assert sum(c.minutes for c in counted) == TOTAL
    assert svc.monthly_minutes(staff=june.drafter, first=JUNE, last=dt.date(2026, 6, 30)) == {
        JUNE: TOTAL
    }


def test_order_across_midnight_into_the_next_month_stays_in_its_month(office) -> None:
    # 6/30 (Tue) 17:15 → 7/1 01:15: 285 workday + 120 night + 75 night on 7/1.
    order(office, at(2026, 6, 30, 17, 15), at(2026, 7, 1, 1, 15), 480)
    with time_machine.travel(at(2026, 7, 10), tick=False):
        year = agg.overtime_year(fiscal_year=2026, department=office.soumu_ka)
    drafter = next(s for s in year.staff if s.person.pk == office.drafter.pk)
    june_, july = drafter.months[2], drafter.months[3]
    assert (june_.minutes, july.minutes) == (480, 0)
    assert june_.bands[agg.BANDS.index(ot.Band.WORKDAY)] == 285
    assert june_.bands[agg.BANDS.index(ot.Band.WORKDAY_NIGHT)] == 195


# --- 超過勤務命令簿 ---------------------------------------------------------------------------


def test_overtime_book(june) -> None:
    with time_machine.travel(at(2026, 7, 10), tick=False):
        report = reports.overtime_book(june.drafter, JUNE)
    rules = ot.NATIONAL_RULES
    headers = [*reports.BOOK_HEAD, *reports.band_headers(rules), *reports.BOOK_TAIL]
    assert report.title == "令和8年6月分 超過勤務命令簿"
    assert report.filename("xlsx").startswith("超過勤務命令簿_")
    grid, text = check_layout(report, headers)
    h = report.header_row
    body = grid[h : h + 6]
    assert [r[0].date() for r in body] == [dt.date(2026, 6, d) for d in (6, 13, 20, 22, 24, 27)]
    band_at = len(reports.BOOK_HEAD)
    late_evening = body[3]
    assert late_evening[3:5] == ["17:15", "23:45"]
    assert late_evening[8:11] == ["17:15", "23:45", 30]
    assert late_evening[band_at : band_at + 2] == [255, 105]
    holiday = body[4]
    assert holiday[2] == "休日"
    assert holiday[band_at + 6] == 465 and holiday[band_at + 7] == 60
    last = body[5]
    assert "特例" in last[-1] and "実績未報告" in last[-1]
    assert last[8] is None  # not reported: no actual
    total_at = band_at + 7
    footer = {r[0]: r for r in grid[h + 6 : h + 10]}
    assert footer["月計（分）"][band_at:total_at] == list(EXPECTED_BANDS.values())
    assert footer["月計（分）"][total_at] == TOTAL
    assert footer["端数処理後（時間）"][band_at:total_at] == EXPECTED_ROUNDED_HOURS
    assert footer["端数処理後（時間）"][total_at] == 72
    assert footer["うち月60時間まで（分）"][total_at] == 3600
    assert footer["うち月60時間超（分）"][total_at] == 740
    # The CSV holds the same cells.
    assert text[h + 6][total_at] == str(TOTAL)
    assert text[h][0] == "2026-06-06"


# --- 時間外勤務集計表 ---------------------------------------------------------------------------


def test_overtime_summary(june) -> None:
    # 下水道 of a 他律部署 and 100 hours in July for the 係長: the doctor interview.
    june.soumu_ka.overtime_class = "taritsu"
    june.soumu_ka.save()
    for d in (4, 5, 11, 12, 18, 19, 25):
        order(june, at(2026, 7, d, 5), at(2026, 7, d, 21), 960, staff=june.kakaricho)
    with time_machine.travel(at(2026, 8, 10), tick=False):
        report = reports.overtime_summary(june.soumu_ka, 2026)
        everyone = reports.overtime_summary(None, 2026)
    headers = [*reports.SUMMARY_HEAD, *reports.band_headers(ot.NATIONAL_RULES)]
    headers += reports.SUMMARY_TAIL
    assert report.title == "令和8年度 時間外勤務集計表（総務課）"
    grid, _text = check_layout(report, headers)
    h = report.header_row
    body = grid[h : h + len(report.rows)]
    drafter = [r for r in body if r[3] == "起案 太郎"]
    assert len(drafter) == 13
    assert [r[4] for r in drafter[:3]] == ["2026年4月", "2026年5月", "2026年6月"]
    june_row, fy = drafter[2], drafter[12]
    band = slice(5, 12)
    assert june_row[band] == [m or None for m in EXPECTED_BANDS.values()]  # 0 left blank
    assert june_row[12] == TOTAL and june_row[13] == "72:20"
    assert june_row[14] == 72  # rounded per band: 5 + 2 + 53 + 11 + 1
    assert june_row[17] == "○"  # over 45 h
    assert june_row[1] == "他律部署"
    assert fy[4] == "年度計" and fy[12] == TOTAL and fy[17] == 1
    assert fy[15] == round(TOTAL / 2 / 60, 1)  # May–June (or June–July) at 36.2 h
    assert fy[18] in (None, "")
    kakaricho = [r for r in body if r[3] == "係長 一郎"]
    assert kakaricho[3][12] == 7 * 960 and kakaricho[3][18] == "○"
    assert kakaricho[12][18] == "要" and "112時間" in kakaricho[12][19]
    # Everyone: the other departments' people are listed too.
    assert len(everyone.rows) > len(report.rows)
    assert {r[0] for r in everyone.rows} >= {"総務課", "企画課", "人事課"}


def test_summary_equals_the_sql_monthly_totals(june) -> None:
    with time_machine.travel(at(2026, 7, 10), tick=False):
        year = agg.overtime_year(fiscal_year=2026)
    for sy in year.staff:
        sql = svc.monthly_minutes(
            staff=Staff.objects.get(pk=sy.person.pk),
            first=dt.date(2026, 4, 1),
            last=dt.date(2027, 3, 31),
        )
        ours = {sm.month: sm.minutes for sm in sy.months if sm.minutes}
        assert ours == sql
        assert all(sm.band_minutes == sm.minutes for sm in sy.months)


# --- leave: 休暇簿, 出勤簿, 年休取得状況 --------------------------------------------------


def annual() -> LeaveType:
    return LeaveType.objects.get(code="annual")


def pending_step(subject) -> Step:
    return Step.objects.get(
        route__subject_id=subject.pk,
        route__subject_type__model=subject._meta.model_name,
        route__status="active",
        status="pending",
    )


def leave(office, leave_type=None, approve=True, **kw) -> LeaveRequest:
    request = svc.leave_request_file(
        staff=kw.pop("staff", office.drafter),
        filed_by=kw.pop("filed_by", office.drafter),
        leave_type=leave_type or annual(),
        **kw,
    )
    if approve:
        step_approve(step=pending_step(request), actor=office.kacho)
        request.refresh_from_db()
    return request


@pytest.fixture
def june_leave(june):
    with time_machine.travel(at(2026, 5, 20), tick=False):
        leave(june, unit="day", start_date=dt.date(2026, 6, 1), end_date=dt.date(2026, 6, 2))
        leave(june, unit="half_day", start_date=dt.date(2026, 6, 8), half="am")
        leave(
            june,
            unit="hour",
            start_date=dt.date(2026, 6, 9),
            start_time=dt.time(11),
            end_time=dt.time(14),
            reason="通院",
        )
        # 病気休暇 counts calendar days: Friday to Monday, the weekend too.
        leave(
            june,
            LeaveType.objects.get(code="sick"),
            unit="day",
            start_date=dt.date(2026, 6, 12),
            end_date=dt.date(2026, 6, 15),
            filed_by=june.clerk,
        )
        refused = leave(june, unit="day", start_date=dt.date(2026, 6, 18), approve=False)
        step_reject(step=pending_step(refused), actor=june.kacho, comment="繁忙期のため")
        day_mark_set(staff=june.drafter, date=dt.date(2026, 6, 10), code="trip", actor=june.clerk)
        day_mark_set(staff=june.drafter, date=dt.date(2026, 6, 11), code="training", actor=june.hr)
    return june


def test_leave_book(june_leave) -> None:
    with time_machine.travel(at(2026, 7, 1), tick=False):
        report = reports.leave_book(june_leave.drafter, 2026)
    assert report.title == "令和8年（2026年） 休暇簿"
    grid, _text = check_layout(report, reports.LEAVE_HEADERS)
    h = report.header_row
    body = grid[h : h + len(report.rows)]
    assert [r[1] for r in body] == ["年次休暇", "年次休暇", "年次休暇", "病気休暇", "年次休暇"]
    days, half, hours_, sick, refused = body
    assert days[8:11] == [2, 2 * DAY, "2日"]
    assert half[5] == "午前" and half[9:11] == [210, "3時間30分"]
    assert hours_[6:8] == ["11:00", "14:00"] and hours_[9] == 120 and hours_[11] == "通院"
    assert sick[8] == 4 and sick[12] == "庶務 担当"  # filed by the clerk
    assert days[13] == "課長 二郎" and days[15] == "承認済"
    assert refused[15] == "却下" and refused[13] == "課長 二郎"
    ledger = report.section("年次休暇（台帳）")
    items = {row[0]: row[1] for row in ledger.rows}
    used = 2 * DAY + 210 + 120
    assert items["付与"] == 20 * DAY and items["使用"] == used
    assert items["残"] == 20 * DAY - used
    assert report.section(reports.CORRECTIONS) is None  # nothing closed


def test_attendance_roll(june_leave) -> None:
    with time_machine.travel(at(2026, 7, 1), tick=False):
        report = reports.attendance_roll(june_leave.soumu_ka, JUNE)
    codes = reports.roll_codes()
    assert codes[:2] == ["年休", "病休"]
    headers = reports.roll_headers(codes)
    assert headers[2:33] == [str(d) for d in range(1, 32)]
    grid, text = check_layout(report, headers)
    h = report.header_row
    row = next(r for r in grid[h : h + len(report.rows)] if r[1] == "起案 太郎")
    day = {d: row[1 + d] for d in range(1, 32)}
    assert (day[1], day[2], day[3]) == ("年休", "年休", None)
    assert day[6] == "週" and day[7] == "週"
    assert day[8] == "年休(午前)" and day[9] == "年休2h"
    assert day[10] == "出張" and day[11] == "研修"
    assert [day[d] for d in (12, 13, 14, 15)] == ["病休"] * 4  # calendar days
    assert day[18] is None  # refused
    assert day[24] == "休"  # the city holiday
    assert day[31] is None  # June has 30 days
    counts = dict(zip(headers[33:], row[33:], strict=True))
    assert counts["年休（日）"] == 2.5 and counts["年休（分）"] == 2 * DAY + 210 + 120
    assert counts["病休（日）"] == 4 and counts["病休（分）"] == 4 * DAY
    assert counts["出張（日）"] == 1 and counts["研修（日）"] == 1
    assert counts["時間外（分）"] == TOTAL
    kacho = next(r for r in grid[h : h + len(report.rows)] if r[1] == "課長 二郎")
    assert kacho[2] is None and kacho[7] == "週"
    assert report.title == "令和8年6月 出勤簿（総務課）"
    assert any(line[1] == "起案 太郎" for line in text if len(line) > 1)


def test_annual_leave_status(june_leave) -> None:
    with time_machine.travel(at(2026, 7, 1), tick=False):
        report = reports.annual_leave_status(june_leave.soumu_ka, 2026)
        everyone = reports.annual_leave_status(None, 2026)
    grid, _text = check_layout(report, reports.STATUS_HEADERS)
    h = report.header_row
    row = next(r for r in grid[h : h + len(report.rows)] if r[2] == "起案 太郎")
    used = 2 * DAY + 210 + 120
    assert row[5:10] == ["0日", "20日", "2日5時間30分", "0日", "17日2時間15分"]
    assert row[10] == round(used / DAY, 2)
    assert row[12] == round(100 * used / (20 * DAY), 1)
    assert len(everyone.rows) > len(report.rows)


# --- closed months read as of the close --------------------------------------------------


def test_closed_month_reads_as_of_the_close_and_lists_corrections(office) -> None:
    with time_machine.travel(at(2026, 5, 20), tick=False):
        cancelled = leave(office, unit="day", start_date=dt.date(2026, 6, 3))
        leave(office, unit="day", start_date=dt.date(2026, 6, 4))
        evening = order(office, at(2026, 6, 1, 17, 15), at(2026, 6, 1, 20, 15), 180)
    with time_machine.travel(at(2026, 7, 2), tick=False):
        svc.month_close(month=JUNE, actor=office.hr)
    with time_machine.travel(at(2026, 7, 3), tick=False):
        # A leave cancelled, a late leave, a corrected actual, a day mark, after the close.
        corr = svc.correction_file(
            actor=office.drafter, reason="出勤していた", leave_request=cancelled
        )
        step_approve(step=pending_step(corr), actor=office.kacho)
        step_approve(step=pending_step(corr), actor=office.jinji_kacho)
        late = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 6, 5),
            correction_reason="申請漏れ",
        )
        step_approve(step=pending_step(late), actor=office.kacho)
        step_approve(step=pending_step(late), actor=office.jinji_kacho)
        fix = svc.correction_file(
            actor=office.drafter,
            reason="終了時刻の誤り",
            overtime_order=evening,
            actual_start=at(2026, 6, 1, 17, 15),
            actual_end=at(2026, 6, 1, 21, 15),
        )
        step_approve(step=pending_step(fix), actor=office.kacho)
        step_approve(step=pending_step(fix), actor=office.jinji_kacho)
        with pytest.raises(svc.AttendanceError, match="締め済み"):
            day_mark_set(
                staff=office.drafter, date=dt.date(2026, 6, 8), code="trip", actor=office.hr
            )
        with pytest.raises(NotAllowed):
            day_mark_set(
                staff=office.drafter,
                date=dt.date(2026, 6, 8),
                code="trip",
                actor=office.clerk,
                correction=True,
            )
        day_mark_set(
            staff=office.drafter,
            date=dt.date(2026, 6, 8),
            code="trip",
            actor=office.hr,
            correction=True,
            note="出張の記録漏れ",
        )
        roll = reports.attendance_roll(office.soumu_ka, JUNE)
        current = reports.attendance_roll(office.soumu_ka, JUNE, as_of_close=False)
        book = reports.overtime_book(office.drafter, JUNE)
        summary = reports.overtime_summary(office.soumu_ka, 2026)
        leave_book = reports.leave_book(office.drafter, 2026)
        status = reports.annual_leave_status(office.soumu_ka, 2026)
    evening.refresh_from_db()
    assert evening.actual_minutes == 240 and evening.correction
    # 出勤簿: 6/3 still 年休, 6/5 not yet, 6/8 no mark, 180 minutes; the changes listed.
    row = next(r for r in roll.rows if r[1] == "起案 太郎")
    assert (row[1 + 3], row[1 + 4], row[1 + 5], row[1 + 8]) == ("年休", "年休", None, None)
    assert row[-1] == 180
    kinds = sorted(r[2] for r in roll.section(reports.CORRECTIONS).rows)
    assert kinds == ["出勤簿の記録の訂正", "締め後の取消", "締め後の申請", "超過勤務の実績の訂正"]
    now = next(r for r in current.rows if r[1] == "起案 太郎")
    assert (now[1 + 3], now[1 + 5], now[1 + 8], now[-1]) == (None, "年休", "出張", 240)
    # 命令簿 and 集計表: the actual as closed, the correction beside it.
    assert book.rows[0][9] == "20:15" and book.rows[0][-4] == 180
    assert "訂正あり" in book.rows[0][-1]
    assert book.section(reports.CORRECTIONS).rows == [
        ["実績の訂正", dt.date(2026, 6, 1), 180, 240, 60, "終了時刻の誤り", "2026-07-03 09:00"]
    ]
    june_row = next(r for r in summary.rows if r[3] == "起案 太郎" and r[4] == "2026年6月")
    assert june_row[12] == 180
    assert summary.section(reports.CORRECTIONS).rows[0][3:8] == [
        "実績の訂正",
        dt.date(2026, 6, 1),
        180,
        240,
        60,
    ]
    # 休暇簿: the cancelled leave as approved at the close; the late one only as a correction.
    assert [r[3] for r in leave_book.rows] == [dt.date(2026, 6, 3), dt.date(2026, 6, 4)]
    assert leave_book.rows[0][15] == "承認済" and "締め後に取消" in leave_book.rows[0][16]
    assert sorted(r[0] for r in leave_book.section(reports.CORRECTIONS).rows) == [
        "締め後の取消",
        "締め後の申請",
    ]
    assert sorted(r[2] for r in status.section(reports.CORRECTIONS).rows) == [
        "締め後の取消",
        "締め後の申請",
    ]
    assert not list(audit_verify())


# --- day marks --------------------------------------------------------------------------------


def test_day_marks_by_hr_or_the_clerk_of_the_section_audited(office) -> None:
    day = dt.date(2026, 6, 10)
    with time_machine.travel(at(2026, 6, 1), tick=False):
        with pytest.raises(NotAllowed):
            day_mark_set(staff=office.drafter, date=day, code="trip", actor=office.drafter)
        with pytest.raises(NotAllowed):
            day_mark_set(staff=office.outsider, date=day, code="trip", actor=office.clerk)
        with pytest.raises(svc.AttendanceError, match="不明な区分"):
            day_mark_set(staff=office.drafter, date=day, code="holiday", actor=office.clerk)
        mark = day_mark_set(staff=office.drafter, date=day, code="trip", actor=office.clerk)
        assert mark.get_code_display() == "出張" and not mark.correction
        day_mark_set(staff=office.drafter, date=day, code="training", actor=office.clerk)
        assert DayMark.objects.get(staff=office.drafter, date=day).code == "training"
        day_mark_set(staff=office.outsider, date=day, code="absent", actor=office.hr)
        day_mark_clear(staff=office.drafter, date=day, actor=office.clerk)
        assert not DayMark.objects.filter(staff=office.drafter).exists()
        with pytest.raises(svc.AttendanceError):
            day_mark_clear(staff=office.drafter, date=day, actor=office.clerk)
    events = list(
        AuditEvent.objects.filter(action__startswith="attendance.day_mark.")
        .order_by("seq")
        .values_list("action", "data")
    )
    assert [(a, d["old"], d["new"]) for a, d in events] == [
        ("attendance.day_mark.set", None, "trip"),
        ("attendance.day_mark.set", "trip", "training"),
        ("attendance.day_mark.set", None, "absent"),
        ("attendance.day_mark.cleared", "training", None),
    ]
    assert not list(audit_verify())
