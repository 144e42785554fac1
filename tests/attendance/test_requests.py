"""Leave requests and overtime orders through the workflow engine (issue 6, acceptance 1–2)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from attendance import requests as svc
from attendance.leave import balance_minutes
from attendance.models import (
    Correction,
    LeaveRequest,
    LeaveType,
    MonthClose,
    OvertimeOrder,
    OvertimeReview,
)
from audit.models import AuditEvent
from audit.services import audit_verify
from tests.attendance.office import build_office
from workflow.errors import NotAllowed, WorkflowError
from workflow.models import Notification, PostReview, Route, Step
from workflow.services import step_approve, step_return

JST = ZoneInfo("Asia/Tokyo")
DAY = 465
pytestmark = pytest.mark.django_db


def at(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=JST)


@pytest.fixture
def office(db):
    """The small city, leave rules, a 人事課 with an HR clerk, and annual leave granted."""
    with time_machine.travel(at(2026, 4, 1), tick=False):
        return build_office(leave_year=2026)


def annual() -> LeaveType:
    return LeaveType.objects.get(code="annual")


def approve_pending(route_subject, actor):
    step = Step.objects.get(
        route__subject_id=route_subject.pk, route__status="active", status="pending"
    )
    return step_approve(step=step, actor=actor)


def pending_step(subject) -> Step:
    return Step.objects.get(
        route__subject_id=subject.pk,
        route__subject_type__model=subject._meta.model_name,
        route__status="active",
        status="pending",
    )


# --- leave: the route, 代決, the clerk ---------------------------------------------------------


def test_leave_goes_to_the_kacho_and_charges_the_ledger_on_approval(office) -> None:
    with time_machine.travel(at(2026, 5, 20), tick=False):
        before = balance_minutes(staff=office.drafter, leave_year=2026)
        req = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 6, 1),
            end_date=dt.date(2026, 6, 2),
            reason="私用",
        )
        step = pending_step(req)
        assert step.assignee == office.kacho  # 所属長, not the 係長 or 補佐
        assert balance_minutes(staff=office.drafter, leave_year=2026) == before
        step_approve(step=step, actor=office.kacho)
        req.refresh_from_db()
        assert req.status == LeaveRequest.Status.APPROVED
        assert req.days == 2 and req.minutes == 2 * DAY
        assert req.decided_by == office.kacho
        assert balance_minutes(staff=office.drafter, leave_year=2026) == before - 2 * DAY
    assert not list(audit_verify())


def test_kacho_leave_goes_to_the_bucho(office) -> None:
    with time_machine.travel(at(2026, 5, 20), tick=False):
        req = svc.leave_request_file(
            staff=office.kacho,
            filed_by=office.kacho,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 6, 1),
        )
        assert pending_step(req).assignee == office.bucho


def test_deputy_decides_while_the_kacho_is_away_and_the_kacho_reviews_after(office) -> None:
    with time_machine.travel(at(2026, 5, 20), tick=False):
        req = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 6, 3),
        )
        office.absent(office.kacho)
        step_approve(step=pending_step(req), actor=office.hosa)
        req.refresh_from_db()
        assert req.status == LeaveRequest.Status.APPROVED
        assert req.decided_by == office.hosa
        assert PostReview.objects.filter(reviewer=office.kacho).exists()


def test_clerk_files_for_someone_in_their_section_only(office) -> None:
    with time_machine.travel(at(2026, 5, 20), tick=False):
        req = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.clerk,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 6, 4),
        )
        assert req.filed_by == office.clerk and req.staff == office.drafter
        with pytest.raises(NotAllowed):
            svc.leave_request_file(
                staff=office.outsider,
                filed_by=office.clerk,
                leave_type=annual(),
                unit="day",
                start_date=dt.date(2026, 6, 4),
            )
        with pytest.raises(NotAllowed):
            svc.leave_request_file(
                staff=office.drafter,
                filed_by=office.outsider,
                leave_type=annual(),
                unit="day",
                start_date=dt.date(2026, 6, 5),
            )


# --- leave: counting, overlap, overdraw, cancel ------------------------------------------------


@pytest.mark.parametrize(
    ("code", "days"),
    [
        # 2026-05-01 (Fri) to 05-07 (Thu): 5/2–3 weekend, 5/4–6 holidays (5/6 振替休日).
        ("annual", 2),  # working days only
        ("bereavement", 7),  # 忌引: calendar days
    ],
)
def test_leave_over_golden_week_counts_by_the_type(office, code, days) -> None:
    with time_machine.travel(at(2026, 4, 20), tick=False):
        req = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=LeaveType.objects.get(code=code),
            unit="day",
            start_date=dt.date(2026, 5, 1),
            end_date=dt.date(2026, 5, 7),
        )
        assert req.days == days
        assert req.minutes == days * DAY


def test_leave_on_rest_days_only_is_refused(office) -> None:
    with time_machine.travel(at(2026, 4, 20), tick=False), pytest.raises(svc.AttendanceError) as e:
        svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 5, 2),
            end_date=dt.date(2026, 5, 6),
        )
    assert "勤務日がありません" in e.value.message


def test_half_days_and_hours(office) -> None:
    with time_machine.travel(at(2026, 5, 20), tick=False):
        am = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="half_day",
            start_date=dt.date(2026, 6, 8),
            half="am",
        )
        pm = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="half_day",
            start_date=dt.date(2026, 6, 8),
            half="pm",
        )
        hours = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="hour",
            start_date=dt.date(2026, 6, 9),
            start_time=dt.time(11),
            end_time=dt.time(14),
        )
    assert (am.minutes, pm.minutes) == (210, 255)  # 8:30–12:00, 13:00–17:15
    assert hours.minutes == 120  # the 12–13 break is not leave


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            {"unit": "day", "start_date": dt.date(2026, 6, 10)},
            {"unit": "half_day", "start_date": dt.date(2026, 6, 10), "half": "pm"},
        ),
        (
            {
                "unit": "hour",
                "start_date": dt.date(2026, 6, 10),
                "start_time": dt.time(9),
                "end_time": dt.time(11),
            },
            {
                "unit": "hour",
                "start_date": dt.date(2026, 6, 10),
                "start_time": dt.time(10),
                "end_time": dt.time(11),
            },
        ),
        (
            {"unit": "day", "start_date": dt.date(2026, 6, 8), "end_date": dt.date(2026, 6, 12)},
            {"unit": "day", "start_date": dt.date(2026, 6, 12), "end_date": dt.date(2026, 6, 15)},
        ),
    ],
)
def test_overlapping_requests_are_refused(office, first, second) -> None:
    with time_machine.travel(at(2026, 5, 20), tick=False):
        svc.leave_request_file(
            staff=office.drafter, filed_by=office.drafter, leave_type=annual(), **first
        )
        with pytest.raises(svc.AttendanceError) as e:
            svc.leave_request_file(
                staff=office.drafter,
                filed_by=office.drafter,
                leave_type=annual(),
                **second,
            )
    assert "重なります" in e.value.message


def test_adjacent_hours_do_not_overlap(office) -> None:
    with time_machine.travel(at(2026, 5, 20), tick=False):
        for start, end in ((9, 10), (10, 11)):
            svc.leave_request_file(
                staff=office.drafter,
                filed_by=office.drafter,
                leave_type=annual(),
                unit="hour",
                start_date=dt.date(2026, 6, 10),
                start_time=dt.time(start),
                end_time=dt.time(end),
            )


def test_overdraw_is_refused_with_the_balance_counting_pending(office) -> None:
    with time_machine.travel(at(2026, 6, 1), tick=False):
        # 20 days granted: 14 working days (8/11 is 山の日), then 7 more.
        svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 8, 3),
            end_date=dt.date(2026, 8, 21),
        )
        with pytest.raises(svc.AttendanceError) as e:
            svc.leave_request_file(
                staff=office.drafter,
                filed_by=office.drafter,
                leave_type=annual(),
                unit="day",
                start_date=dt.date(2026, 9, 1),
                end_date=dt.date(2026, 9, 9),
            )
    assert "残り 20日（うち申請中 14日）、申請 7日" in e.value.message
    assert LeaveRequest.objects.count() == 1


def test_approval_that_would_overdraw_is_refused_and_nothing_changes(office) -> None:
    """A balance spent elsewhere between filing and approval: the approval is refused."""
    from attendance.leave import leave_use

    with time_machine.travel(at(2026, 6, 1), tick=False):
        req = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 8, 3),
            end_date=dt.date(2026, 8, 7),
        )
        leave_use(staff=office.drafter, leave_year=2026, minutes=17 * DAY, unit="day", actor=None)
        step = pending_step(req)
        with pytest.raises(WorkflowError) as e:
            step_approve(step=step, actor=office.kacho)
        assert "残日数が足りません。残り 3日、申請 5日" in e.value.message
        step.refresh_from_db()
        req.refresh_from_db()
        assert step.status == "pending" and req.status == LeaveRequest.Status.PENDING
        assert balance_minutes(staff=office.drafter, leave_year=2026) == 3 * DAY


def test_cancelling_approved_leave_restores_the_balance(office) -> None:
    with time_machine.travel(at(2026, 6, 1), tick=False):
        full = balance_minutes(staff=office.drafter, leave_year=2026)
        req = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="hour",
            start_date=dt.date(2026, 6, 10),
            start_time=dt.time(15),
            end_time=dt.time(17),
        )
        step_approve(step=pending_step(req), actor=office.kacho)
        assert balance_minutes(staff=office.drafter, leave_year=2026) == full - 120
        svc.leave_request_cancel(request=req, actor=office.drafter, reason="予定変更")
        req.refresh_from_db()
        assert req.status == LeaveRequest.Status.CANCELLED
        assert balance_minutes(staff=office.drafter, leave_year=2026) == full
        entries = list(req.staff.leave_ledger.order_by("pk").values_list("kind", "minutes"))
        assert entries[-2:] == [("use", -120), ("cancel", 120)]
        with pytest.raises(svc.AttendanceError):
            svc.leave_request_cancel(request=req, actor=office.drafter)
        # Once cancelled, the same hours may be asked for again.
        svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="hour",
            start_date=dt.date(2026, 6, 10),
            start_time=dt.time(15),
            end_time=dt.time(17),
        )


def test_returned_then_resubmitted_and_rejected(office) -> None:
    with time_machine.travel(at(2026, 6, 1), tick=False):
        req = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 6, 15),
        )
        step_return(step=pending_step(req), actor=office.kacho, comment="日付を確認")
        req.refresh_from_db()
        assert req.status == LeaveRequest.Status.RETURNED
        svc.leave_request_resubmit(request=req, actor=office.drafter)
        req.refresh_from_db()
        assert req.status == LeaveRequest.Status.PENDING
        assert Route.objects.filter(subject_id=req.pk, round=2).exists()


def test_window_and_unit_rules(office) -> None:
    with time_machine.travel(at(2026, 5, 20), tick=False):
        with pytest.raises(svc.AttendanceError, match="7月から9月"):
            svc.leave_request_file(
                staff=office.drafter,
                filed_by=office.drafter,
                leave_type=LeaveType.objects.get(code="summer"),
                unit="day",
                start_date=dt.date(2026, 6, 1),
            )
        with pytest.raises(svc.AttendanceError, match="単位では取得できません"):
            svc.leave_request_file(
                staff=office.drafter,
                filed_by=office.drafter,
                leave_type=LeaveType.objects.get(code="marriage"),
                unit="hour",
                start_date=dt.date(2026, 6, 1),
                start_time=dt.time(9),
                end_time=dt.time(10),
            )


# --- overtime ---------------------------------------------------------------------------------


def overtime(office, start, end, *, actor=None, staff=None, **kw) -> OvertimeOrder:
    return svc.overtime_request(
        staff=staff or office.drafter,
        actor=actor or staff or office.drafter,
        task="予算資料の作成",
        planned_start=start,
        planned_end=end,
        **kw,
    )


def test_overtime_order_report_and_confirm(office) -> None:
    with time_machine.travel(at(2026, 6, 1, 9), tick=False):
        order = overtime(office, at(2026, 6, 1, 17, 15), at(2026, 6, 1, 20, 15))
        assert order.status == OvertimeOrder.Status.REQUESTED
        assert order.planned_minutes == 180 and not order.after_the_fact
        assert pending_step(order).assignee == office.kacho
        step_approve(step=pending_step(order), actor=office.kacho)
        order.refresh_from_db()
        assert order.status == OvertimeOrder.Status.ORDERED and order.ordered_by == office.kacho
    with time_machine.travel(at(2026, 6, 2, 9), tick=False):
        svc.overtime_report(
            order=order,
            actor=office.drafter,
            actual_start=at(2026, 6, 1, 17, 15),
            actual_end=at(2026, 6, 1, 23, 45),
            break_minutes=30,
        )
        order.refresh_from_db()
        assert order.status == OvertimeOrder.Status.REPORTED
        assert order.actual_minutes == 360  # 6h30 less a 30-minute break
        step_approve(step=pending_step(order), actor=office.kacho)
        order.refresh_from_db()
        assert order.status == OvertimeOrder.Status.CONFIRMED
        assert order.confirmed_by == office.kacho
        # 23:45 → 8:30 next morning is 8h45: under the 11-hour interval.
        assert any(w["rule"] == "rest_interval" for w in order.warnings)


def test_supervisor_orders_directly(office) -> None:
    with time_machine.travel(at(2026, 6, 1, 9), tick=False):
        order = overtime(office, at(2026, 6, 1, 17, 15), at(2026, 6, 1, 19, 15), actor=office.kacho)
    assert order.status == OvertimeOrder.Status.ORDERED
    assert order.ordered_by == office.kacho and order.requested_by == office.kacho


def test_after_the_fact_order_needs_a_reason_and_is_flagged(office) -> None:
    with time_machine.travel(at(2026, 6, 2, 9), tick=False):
        with pytest.raises(svc.AttendanceError, match="事後命令"):
            overtime(office, at(2026, 6, 1, 17, 15), at(2026, 6, 1, 19, 15))
        order = overtime(
            office,
            at(2026, 6, 1, 17, 15),
            at(2026, 6, 1, 19, 15),
            after_the_fact_reason="災害対応の電話が続いたため",
        )
    assert order.after_the_fact


def test_regular_hours_only_is_not_overtime(office) -> None:
    with (
        time_machine.travel(at(2026, 6, 1, 8), tick=False),
        pytest.raises(svc.AttendanceError, match="正規の勤務時間内"),
    ):
        overtime(office, at(2026, 6, 1, 9), at(2026, 6, 1, 12))


def test_overlapping_orders_are_refused(office) -> None:
    with time_machine.travel(at(2026, 6, 1, 8), tick=False):
        overtime(office, at(2026, 6, 1, 17, 15), at(2026, 6, 1, 19, 15))
        with pytest.raises(svc.AttendanceError, match="重なります"):
            overtime(office, at(2026, 6, 1, 19), at(2026, 6, 1, 20))


def _fill_month(office, staff, day: dt.date, hours: int) -> None:
    """Confirmed overtime of `hours` in the month of `day`, on its 週休日 (Saturdays)."""
    saturdays = [day.replace(day=d) for d in range(1, 29) if day.replace(day=d).weekday() == 5][:3]
    left = hours * 60
    for sat in saturdays:
        chunk = min(left, 16 * 60)
        if chunk <= 0:
            break
        start = dt.datetime.combine(sat, dt.time(6), tzinfo=JST)
        OvertimeOrder.objects.create(
            staff=staff,
            requested_by=staff,
            department=office.soumu_ka,
            work_date=sat,
            task="x",
            planned_start=start,
            planned_end=start + dt.timedelta(minutes=chunk),
            planned_minutes=chunk,
            actual_start=start,
            actual_end=start + dt.timedelta(minutes=chunk),
            actual_minutes=chunk,
            status=OvertimeOrder.Status.CONFIRMED,
        )
        left -= chunk


def test_order_over_the_monthly_cap_is_refused(office) -> None:
    with time_machine.travel(at(2026, 6, 1, 8), tick=False):
        _fill_month(office, office.drafter, dt.date(2026, 6, 1), 44)
        order = overtime(office, at(2026, 6, 29, 17, 15), at(2026, 6, 29, 19, 15))
        step = pending_step(order)
        with pytest.raises(WorkflowError) as e:
            step_approve(step=step, actor=office.kacho)
        assert "月の上限: 46時間（上限 45時間）" in e.value.message
        order.refresh_from_db()
        assert order.status == OvertimeOrder.Status.REQUESTED


def test_special_work_may_cross_the_cap_and_opens_an_hr_review(office) -> None:
    with time_machine.travel(at(2026, 6, 1, 8), tick=False):
        _fill_month(office, office.drafter, dt.date(2026, 6, 1), 44)
        order = overtime(
            office,
            at(2026, 6, 29, 17, 15),
            at(2026, 6, 29, 19, 15),
            special=True,
            special_reason="豪雨災害の避難所運営",
        )
        step_approve(step=pending_step(order), actor=office.kacho)
        order.refresh_from_db()
        assert order.status == OvertimeOrder.Status.ORDERED
        review = OvertimeReview.objects.get(order=order)
        assert review.fiscal_year == 2026
        assert review.due_on == dt.date(2027, 9, 30)  # 6 months after the fiscal year
        assert review.findings[0]["rule"] == "monthly_cap"
        assert Notification.objects.filter(recipient=office.hr, kind="alert").exists()
        with pytest.raises(NotAllowed):
            svc.overtime_review_complete(
                review=review, actor=office.kacho, causes="a", analysis="b", verification="c"
            )
        svc.overtime_review_complete(
            review=review,
            actor=office.hr,
            causes="豪雨",
            analysis="人員不足",
            verification="応援体制を見直した",
        )
        review.refresh_from_db()
        assert review.status == OvertimeReview.Status.DONE


def test_special_needs_a_reason(office) -> None:
    with (
        time_machine.travel(at(2026, 6, 1, 8), tick=False),
        pytest.raises(svc.AttendanceError, match="特例業務の理由"),
    ):
        overtime(office, at(2026, 6, 1, 17, 15), at(2026, 6, 1, 19, 15), special=True)


def test_outside_demand_department_caps(office) -> None:
    office.soumu_ka.overtime_class = "taritsu"
    office.soumu_ka.save()
    with time_machine.travel(at(2026, 6, 1, 8), tick=False):
        _fill_month(office, office.drafter, dt.date(2026, 6, 1), 44)
        order = overtime(office, at(2026, 6, 29, 17, 15), at(2026, 6, 29, 19, 15))
        step_approve(step=pending_step(order), actor=office.kacho)  # 46 h is fine here
        order.refresh_from_db()
        assert order.status == OvertimeOrder.Status.ORDERED
        assert not OvertimeReview.objects.exists()
        assert not [w for w in order.warnings if w["level"] == "violation"]


def test_warning_at_80_percent_is_kept_on_the_order(office) -> None:
    with time_machine.travel(at(2026, 6, 1, 8), tick=False):
        _fill_month(office, office.drafter, dt.date(2026, 6, 1), 35)
        order = overtime(office, at(2026, 6, 29, 17, 15), at(2026, 6, 29, 19, 15))
        step_approve(step=pending_step(order), actor=office.kacho)
        order.refresh_from_db()
    assert [w["rule"] for w in order.warnings if w["level"] == "warning"] == ["monthly_cap"]


# --- month close and corrections ----------------------------------------------------------------


def test_closed_month_changes_go_through_a_correction(office) -> None:
    with time_machine.travel(at(2026, 5, 20), tick=False):
        req = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 5, 25),
        )
        step_approve(step=pending_step(req), actor=office.kacho)
    with time_machine.travel(at(2026, 6, 3), tick=False):
        with pytest.raises(NotAllowed):
            svc.month_close(month=dt.date(2026, 5, 1), actor=office.kacho)
        svc.month_close(month=dt.date(2026, 5, 1), actor=office.hr)
        assert MonthClose.objects.filter(month=dt.date(2026, 5, 1)).exists()
        with pytest.raises(svc.AttendanceError, match="訂正"):
            svc.leave_request_cancel(request=req, actor=office.drafter)
        with pytest.raises(svc.AttendanceError, match="訂正の理由"):
            svc.leave_request_file(
                staff=office.drafter,
                filed_by=office.drafter,
                leave_type=annual(),
                unit="day",
                start_date=dt.date(2026, 5, 26),
            )
        before = balance_minutes(staff=office.drafter, leave_year=2026)
        corr = svc.correction_file(
            actor=office.drafter, reason="当日出勤していたため", leave_request=req
        )
        step_approve(step=pending_step(corr), actor=office.kacho)
        corr.refresh_from_db()
        assert corr.status == Correction.Status.PENDING  # HR decides last
        hr_step = pending_step(corr)
        assert hr_step.assignee == office.jinji_kacho
        step_approve(step=hr_step, actor=office.jinji_kacho)
        corr.refresh_from_db()
        req.refresh_from_db()
        assert corr.status == Correction.Status.APPLIED
        assert req.status == LeaveRequest.Status.CANCELLED
        assert balance_minutes(staff=office.drafter, leave_year=2026) == before + DAY
        late = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 5, 27),
            correction_reason="申請漏れ",
        )
        assert late.correction
        assert (
            len(
                Step.objects.filter(
                    route__subject_id=late.pk, route__subject_type__model="leaverequest"
                )
            )
            == 2
        )


def test_month_with_undecided_requests_cannot_close(office) -> None:
    with time_machine.travel(at(2026, 5, 20), tick=False):
        svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 5, 25),
        )
    with (
        time_machine.travel(at(2026, 6, 3), tick=False),
        pytest.raises(svc.AttendanceError, match="未処理の申請"),
    ):
        svc.month_close(month=dt.date(2026, 5, 1), actor=office.hr)


def test_every_change_is_audited(office) -> None:
    n = AuditEvent.objects.count()
    with time_machine.travel(at(2026, 5, 20), tick=False):
        req = svc.leave_request_file(
            staff=office.drafter,
            filed_by=office.drafter,
            leave_type=annual(),
            unit="day",
            start_date=dt.date(2026, 5, 25),
        )
        step_approve(step=pending_step(req), actor=office.kacho)
    actions = set(
        AuditEvent.objects.filter(pk__gt=0).order_by("pk")[n:].values_list("action", flat=True)
    )
    assert {
        "attendance.leave.filed",
        "attendance.leave.approved",
        "attendance.ledger.use",
    } <= actions
    assert not list(audit_verify())
