"""The attendance pages through the test client: filing and acting through the forms,
errors shown in Japanese, and who may see and do what (every persona against every
kind of object, page, action and download).

Visible: the person, whoever filed it, their 所属長 and that person's deputies, the
route's participants, the 庶務担当 of the person's 課, and HR. Anyone else gets 404 (the
object's existence is not revealed); pages that need a role answer 403; signed out is
302 to the login page.
"""

from __future__ import annotations

import datetime as dt
import sys
import types
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

import attendance
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
from org.models import Staff
from tests.attendance.office import build_office
from tests.city import _person
from workflow.models import Action, Route, Step

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = 465
pytestmark = pytest.mark.django_db


def at(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=TOKYO)


@pytest.fixture
def office(db):
    with time_machine.travel(at(2026, 4, 1), tick=False):
        city = build_office(leave_year=2026)
        city.colleague = _person(
            "colleague", "同僚", "花子", city.soumu_ka, city.posts["shuji"], "staff"
        )
        city.other_clerk = _person(
            "kikakuclerk", "企画", "庶務", city.kikaku_ka, city.posts["shuji"], "clerk"
        )
        Staff.objects.filter(pk__in=[city.colleague.pk, city.other_clerk.pk]).update(
            work_schedule=city.drafter.work_schedule, hired_on=dt.date(2010, 4, 1)
        )
    return city


@pytest.fixture(autouse=True)
def _may_2026():
    with time_machine.travel(at(2026, 5, 20, 10), tick=True):
        yield


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def annual() -> LeaveType:
    return LeaveType.objects.get(code="annual")


def pending_step(subject) -> Step:
    return Step.objects.get(
        route__subject_id=subject.pk,
        route__subject_type__model=subject._meta.model_name,
        route__status="active",
        status="pending",
    )


def file_leave(office, **kw) -> LeaveRequest:
    values = {
        "staff": office.drafter,
        "filed_by": office.drafter,
        "leave_type": annual(),
        "unit": "day",
        "start_date": dt.date(2026, 6, 1),
    }
    values.update(kw)
    return svc.leave_request_file(**values)


def login(client: Client, user: Staff) -> Client:
    client.force_login(user)
    return client


# --- filing and acting through the pages ---------------------------------------------------


def test_leave_filed_approved_from_the_detail_page_and_cancelled(client, office) -> None:
    login(client, office.drafter)
    page = client.get(reverse("attendance:leave_new"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "休暇の種類" in body and 'data-show-when="unit=half_day"' in body
    assert 'name="staff"' not in body  # a plain employee files only for themselves
    response = client.post(
        reverse("attendance:leave_new"),
        {
            "leave_type": annual().pk,
            "unit": "day",
            "start_date": "2026-06-01",
            "end_date": "2026-06-02",
            "reason": "私用",
            "client_request_id": "leave-1",
        },
    )
    leave = LeaveRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == leave.get_absolute_url()
    assert leave.status == LeaveRequest.Status.PENDING and leave.minutes == 2 * DAY
    # A double tap on the form files once and lands on the same request.
    again = client.post(
        reverse("attendance:leave_new"),
        {"leave_type": annual().pk, "unit": "day", "start_date": "2026-06-01"}
        | {"client_request_id": "leave-1"},
    )
    assert again["Location"] == leave.get_absolute_url() and LeaveRequest.objects.count() == 1

    mine = client.get(reverse("attendance:mine")).content.decode()
    assert "20日" in mine and "申請中" in mine and "2日" in mine

    # The 課長 sees the decision buttons on the page and decides through the engine.
    login(client, office.kacho)
    detail = client.get(leave.get_absolute_url()).content.decode()
    step = pending_step(leave)
    assert reverse("workflow:step_approve", args=[step.pk]) in detail
    response = client.post(
        reverse("workflow:step_approve", args=[step.pk]),
        {"next": leave.get_absolute_url(), "client_request_id": "approve-1"},
    )
    assert response["Location"] == leave.get_absolute_url()
    leave.refresh_from_db()
    assert leave.status == LeaveRequest.Status.APPROVED
    assert balance_minutes(staff=office.drafter, leave_year=2026) == 18 * DAY

    login(client, office.drafter)
    assert 'id="leave-balance">18日<' in client.get(reverse("attendance:mine")).content.decode()
    response = client.post(
        reverse("attendance:leave_cancel", args=[leave.pk]), {"reason": "予定変更"}
    )
    assert "休暇を取り消しました。年次休暇は残日数に戻ります。" in texts(response)
    leave.refresh_from_db()
    assert leave.status == LeaveRequest.Status.CANCELLED
    assert balance_minutes(staff=office.drafter, leave_year=2026) == 20 * DAY


def test_leave_form_errors_are_japanese_and_nothing_is_filed(client, office) -> None:
    login(client, office.drafter)
    url = reverse("attendance:leave_new")
    response = client.post(url, {"unit": "hour", "start_date": "2026-06-01"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "入力内容を確認してください。" in body
    assert "休暇の種類を選んでください。" in body
    assert "開始時刻を入力してください。" in body
    response = client.post(
        url, {"leave_type": annual().pk, "unit": "half_day", "start_date": "2026-06-01"}
    )
    assert "午前か午後を選んでください。" in response.content.decode()
    response = client.post(url, {"leave_type": annual().pk, "unit": "day", "start_date": "x"})
    assert "日付" in " ".join(texts(response))
    # The service's refusal comes back as its message, Japanese then English.
    response = client.post(
        url,
        {
            "leave_type": annual().pk,
            "unit": "day",
            "start_date": "2026-05-02",
            "end_date": "2026-05-06",
        },
    )
    assert response.status_code == 200
    message = " ".join(texts(response))
    assert "勤務日がありません" in message and "No working day" in message
    assert not LeaveRequest.objects.exists()


def test_language_english_shows_english_labels(client, office) -> None:
    login(client, office.drafter)
    client.cookies["django_language"] = "en"
    body = client.get(reverse("attendance:mine")).content.decode()
    assert "My attendance" in body and "自分の勤怠" not in body


def test_clerk_files_for_a_member_of_the_section_only(client, office) -> None:
    login(client, office.clerk)
    page = client.get(reverse("attendance:leave_new")).content.decode()
    assert 'name="staff"' in page and "起案 太郎" in page and "部外 者" not in page
    response = client.post(
        reverse("attendance:leave_new"),
        {
            "staff": office.drafter.pk,
            "leave_type": annual().pk,
            "unit": "hour",
            "start_date": "2026-06-03",
            "start_time": "09:00",
            "end_time": "11:00",
        },
    )
    leave = LeaveRequest.objects.get()
    assert response["Location"] == leave.get_absolute_url()
    assert leave.staff == office.drafter and leave.filed_by == office.clerk
    assert leave.minutes == 120
    # Someone outside the section is not a choice: the form refuses it.
    response = client.post(
        reverse("attendance:leave_new"),
        {
            "staff": office.outsider.pk,
            "leave_type": annual().pk,
            "unit": "day",
            "start_date": "2026-06-04",
        },
    )
    assert response.status_code == 200 and LeaveRequest.objects.count() == 1


def test_a_leave_the_clerk_filed_is_withdrawn_by_the_person_it_is_for(client, office) -> None:
    login(client, office.clerk)
    client.post(
        reverse("attendance:leave_new"),
        {
            "staff": office.drafter.pk,
            "leave_type": annual().pk,
            "unit": "day",
            "start_date": "2026-06-04",
        },
    )
    leave = LeaveRequest.objects.get()
    withdraw = reverse("attendance:leave_withdraw", args=[leave.pk])
    # A colleague who can see nothing of it gets no button and a refusal.
    login(client, office.outsider)
    client.post(withdraw)
    leave.refresh_from_db()
    assert leave.status == LeaveRequest.Status.PENDING
    # The person it is for sees the button and withdraws it, as the clerk could.
    login(client, office.drafter)
    assert withdraw in client.get(leave.get_absolute_url()).content.decode()
    response = client.post(withdraw, {"comment": "予定が変わりました"})
    assert "取り下げました。" in texts(response)
    leave.refresh_from_db()
    assert leave.status == LeaveRequest.Status.WITHDRAWN
    route = Route.objects.get()
    assert route.status == Route.Status.WITHDRAWN and route.submitted_by == office.clerk
    assert route.actions.get(kind=Action.Kind.WITHDRAW).actor == office.drafter


def test_returned_leave_is_resubmitted_and_a_pending_one_withdrawn(client, office) -> None:
    leave = file_leave(office)
    login(client, office.kacho)
    step = pending_step(leave)
    url = reverse("attendance:step_act", args=["leave", leave.pk, step.pk, "return"])
    response = client.post(url, {"comment": ""})
    assert "理由を入力してください。" in " ".join(texts(response))
    client.post(url, {"comment": "日付を確認してください"})
    leave.refresh_from_db()
    assert leave.status == LeaveRequest.Status.RETURNED

    login(client, office.drafter)
    response = client.post(reverse("attendance:leave_resubmit", args=[leave.pk]))
    assert "再提出しました。" in texts(response)
    leave.refresh_from_db()
    assert leave.status == LeaveRequest.Status.PENDING
    response = client.post(reverse("attendance:leave_withdraw", args=[leave.pk]))
    assert "取り下げました。" in texts(response)
    leave.refresh_from_db()
    assert leave.status == LeaveRequest.Status.WITHDRAWN
    # Once withdrawn, withdrawing again is refused with a message, not a 500.
    response = client.post(reverse("attendance:leave_withdraw", args=[leave.pk]))
    assert response.status_code == 302 and texts(response)


def test_rejected_from_the_detail_page(client, office) -> None:
    leave = file_leave(office)
    login(client, office.kacho)
    step = pending_step(leave)
    client.post(
        reverse("attendance:step_act", args=["leave", leave.pk, step.pk, "reject"]),
        {"comment": "繁忙期のため"},
    )
    leave.refresh_from_db()
    assert leave.status == LeaveRequest.Status.REJECTED
    bad = client.post(reverse("attendance:step_act", args=["leave", leave.pk, step.pk, "nope"]))
    assert bad.status_code == 404


def test_overtime_ordered_by_the_kacho_reported_and_confirmed(client, office) -> None:
    login(client, office.kacho)
    page = client.get(reverse("attendance:overtime_new")).content.decode()
    assert 'name="staff"' in page and "起案 太郎" in page
    response = client.post(
        reverse("attendance:overtime_new"),
        {
            "staff": office.drafter.pk,
            "work_date": "2026-05-20",
            "start_time": "17:15",
            "end_time": "19:15",
            "task": "議会答弁資料の作成",
        },
    )
    order = OvertimeOrder.objects.get()
    assert response["Location"] == order.get_absolute_url()
    assert "超過勤務を命令しました。" in texts(response)
    assert order.status == OvertimeOrder.Status.ORDERED and order.planned_minutes == 120

    login(client, office.drafter)
    detail = client.get(order.get_absolute_url()).content.decode()
    assert reverse("attendance:overtime_report", args=[order.pk]) in detail
    report = {
        "actual_date": "2026-05-20",
        "actual_start": "17:15",
        "actual_end": "19:45",
        "break_minutes": "0",
    }
    # Before the work has ended the report is refused with the service's message.
    response = client.post(reverse("attendance:overtime_report", args=[order.pk]), report)
    assert "終わっていない勤務の実績は報告できません。" in " ".join(texts(response))
    with time_machine.travel(at(2026, 5, 21, 9), tick=True):
        login(client, office.drafter)  # a new day: the session of yesterday has expired
        bad = client.post(
            reverse("attendance:overtime_report", args=[order.pk]),
            {**report, "break_minutes": "abc"},
        )
        assert "休憩は分を数字で入力してください。" in " ".join(texts(bad))
        client.post(reverse("attendance:overtime_report", args=[order.pk]), report)
        order.refresh_from_db()
        assert order.status == OvertimeOrder.Status.REPORTED and order.actual_minutes == 150
        login(client, office.kacho)
        step = pending_step(order)
        client.post(
            reverse("workflow:step_approve", args=[step.pk]), {"next": order.get_absolute_url()}
        )
    order.refresh_from_db()
    assert order.status == OvertimeOrder.Status.CONFIRMED and order.confirmed_by == office.kacho


def test_overtime_form_errors(client, office) -> None:
    login(client, office.drafter)
    url = reverse("attendance:overtime_new")
    response = client.post(url, {"work_date": "2026-05-20", "special": "on"})
    body = response.content.decode()
    assert response.status_code == 200
    for text in ("開始時刻を入力してください。", "業務内容を入力してください。"):
        assert text in body
    assert "特例業務の理由を入力してください。" in body
    # Regular hours only: refused by the service, shown as a message.
    response = client.post(
        url,
        {"work_date": "2026-05-21", "start_time": "09:00", "end_time": "12:00", "task": "窓口"},
    )
    assert "超過勤務になりません" in " ".join(texts(response))
    assert not OvertimeOrder.objects.exists()


def test_month_close_page_shows_the_refusal_and_then_closes(client, office) -> None:
    with time_machine.travel(at(2026, 4, 10), tick=False):
        leave = file_leave(office, start_date=dt.date(2026, 4, 20))
    login(client, office.hr)
    page = client.get(reverse("attendance:month_close"))
    assert page.status_code == 200 and "2026/04" in page.content.decode()
    response = client.post(reverse("attendance:month_close"), {"month": "2026-04-01"})
    assert response.status_code == 302
    assert "未処理の申請があります（休暇 1件、超過勤務 0件）" in " ".join(texts(response))
    assert not MonthClose.objects.exists()
    login(client, office.kacho)
    client.post(reverse("workflow:step_approve", args=[pending_step(leave).pk]))
    login(client, office.hr)
    response = client.post(reverse("attendance:month_close"), {"month": "2026-04-01"})
    assert "2026-04 を締めました。" in texts(response)
    assert MonthClose.objects.filter(month=dt.date(2026, 4, 1)).exists()
    # This month has not ended: refused with the message.
    response = client.post(reverse("attendance:month_close"), {"month": "2026-05-01"})
    assert "終わっていない月は締められません。" in " ".join(texts(response))
    assert client.post(reverse("attendance:month_close"), {"month": "junk"}).status_code == 302

    # The closed month's leave: cancelling is refused; a correction goes to 課長 then HR.
    login(client, office.drafter)
    detail = client.get(leave.get_absolute_url()).content.decode()
    assert reverse("attendance:leave_correction", args=[leave.pk]) in detail
    response = client.post(reverse("attendance:leave_cancel", args=[leave.pk]))
    assert "訂正の申請をしてください" in " ".join(texts(response))
    response = client.post(
        reverse("attendance:leave_correction", args=[leave.pk]), {"reason": "出勤していた"}
    )
    correction = Correction.objects.get()
    assert response["Location"] == correction.get_absolute_url()
    assert client.get(correction.get_absolute_url()).status_code == 200
    login(client, office.hr)
    listing = client.get(reverse("attendance:corrections")).content.decode()
    assert "出勤していた" in listing


def test_review_completed_by_hr(client, office) -> None:
    with time_machine.travel(at(2026, 5, 18, 9), tick=False):
        order = svc.overtime_request(
            staff=office.drafter,
            actor=office.drafter,
            task="災害対応",
            planned_start=at(2026, 5, 18, 17, 15),
            planned_end=at(2026, 5, 18, 20, 15),
            special=True,
            special_reason="台風",
        )
    review = OvertimeReview.objects.create(
        order=order, fiscal_year=2026, due_on=dt.date(2027, 9, 30), findings=[]
    )
    login(client, office.hr)
    assert "災害対応" in client.get(reverse("attendance:reviews")).content.decode()
    url = reverse("attendance:review", args=[review.pk])
    response = client.post(url, {"causes": "台風", "analysis": "", "verification": ""})
    assert response.status_code == 200 and "分析を入力してください。" in response.content.decode()
    response = client.post(url, {"causes": "台風", "analysis": "集中", "verification": "妥当"})
    assert response["Location"] == reverse("attendance:reviews")
    review.refresh_from_db()
    assert review.status == OvertimeReview.Status.DONE and review.completed_by == office.hr


# --- who may see and do what ------------------------------------------------------------------

PERSONAS = [
    "drafter",  # the person
    "colleague",  # same 課, no role
    "clerk",  # 庶務担当 of the person's 課
    "other_clerk",  # 庶務担当 of another 課
    "kacho",  # 所属長
    "hosa",  # the 所属長's deputy
    "zaisei_kacho",  # another 課長
    "hr",
    "anonymous",
]
SEES = {"drafter", "clerk", "kacho", "hosa", "hr"}
# May file, cancel, resubmit and report for the person (requests._may_file_for).
FILES_FOR = {"drafter", "clerk", "kacho", "hr"}


def people(office) -> dict[str, Staff | None]:
    found = {name: getattr(office, name) for name in PERSONAS if name != "anonymous"}
    found["anonymous"] = None
    return found


def objects(office) -> dict[str, object]:
    """One of each kind: a pending leave, an approved leave, an overtime order, and a
    correction (of a closed month's leave)."""
    with time_machine.travel(at(2026, 4, 10), tick=False):
        closed = file_leave(office, start_date=dt.date(2026, 4, 20))
        from workflow.services import step_approve

        step_approve(step=pending_step(closed), actor=office.kacho)
    pending = file_leave(office, start_date=dt.date(2026, 6, 1))
    approved = file_leave(office, start_date=dt.date(2026, 6, 2))
    from workflow.services import step_approve

    step_approve(step=pending_step(approved), actor=office.kacho)
    order = svc.overtime_request(
        staff=office.drafter,
        actor=office.drafter,
        task="資料作成",
        planned_start=at(2026, 6, 1, 17, 15),
        planned_end=at(2026, 6, 1, 19, 15),
    )
    MonthClose.objects.create(
        month=dt.date(2026, 4, 1), closed_at=at(2026, 5, 1), closed_by=office.hr
    )
    correction = svc.correction_file(actor=office.drafter, reason="訂正", leave_request=closed)
    return {"pending": pending, "approved": approved, "order": order, "correction": correction}


def test_detail_pages_per_persona(office) -> None:
    things = objects(office)
    wrong: list[str] = []
    for persona, user in people(office).items():
        client = Client()
        if user is not None:
            client.force_login(user)
        for name, obj in things.items():
            got = client.get(obj.get_absolute_url()).status_code
            expected = 302 if user is None else 200 if persona in SEES else 404
            if got != expected:
                wrong.append(f"{persona:12} GET {name:10} got {got}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_actions_per_persona(office) -> None:
    """Someone who cannot see the object gets 404 and changes nothing; someone who sees
    it but may not act is told why (a message, 302); those who may, do."""
    things = objects(office)
    approved, pending, order = things["approved"], things["pending"], things["order"]
    actions = [
        ("leave_cancel", approved, {"reason": "x"}),
        ("leave_resubmit", pending, {}),
        ("leave_withdraw", pending, {}),
        ("leave_correction", approved, {"reason": "x"}),
        ("overtime_report", order, {"actual_date": "2026-06-01", "actual_start": "17:15"}),
        ("overtime_withdraw", order, {}),
        ("overtime_resubmit", order, {}),
    ]
    step = pending_step(pending)
    wrong: list[str] = []
    for persona, user in people(office).items():
        if persona == "drafter":
            continue  # the person acts last, below
        client = Client()
        if user is not None:
            client.force_login(user)
        before = {}
        for obj in (approved, pending, order):
            obj.refresh_from_db()
            before[obj.pk, type(obj)] = obj.status
        for name, obj, data in actions:
            got = client.post(reverse(f"attendance:{name}", args=[obj.pk]), data).status_code
            expected = 302 if user is None or persona in SEES else 404
            if got != expected:
                wrong.append(f"{persona:12} POST {name:18} got {got}, expected {expected}")
        for verb in ("return", "reject"):
            url = reverse("attendance:step_act", args=["leave", pending.pk, step.pk, verb])
            got = client.post(url, {"comment": "x"}).status_code
            expected = 302 if user is None or persona in SEES else 404
            if got != expected:
                wrong.append(f"{persona:12} POST step {verb:9} got {got}, expected {expected}")
        for obj in (approved, pending, order):
            obj.refresh_from_db()
            if persona not in FILES_FOR | {"kacho"} and obj.status != before[obj.pk, type(obj)]:
                wrong.append(f"{persona:12} changed {obj} to {obj.status}")
    # The cancel went through for the first who may (the clerk); the others were refused.
    approved.refresh_from_db()
    assert approved.status == LeaveRequest.Status.CANCELLED
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("page", ["team", "month_close", "reviews", "corrections"])
def test_role_pages_per_persona(office, page: str) -> None:
    allowed = {"kacho", "zaisei_kacho", "hr"} if page == "team" else {"hr"}
    wrong = []
    for persona, user in people(office).items():
        client = Client()
        if user is not None:
            client.force_login(user)
        got = client.get(reverse(f"attendance:{page}")).status_code
        expected = 302 if user is None else 200 if persona in allowed else 403
        if got != expected:
            wrong.append(f"{persona:12} GET {page} got {got}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_every_persona_has_a_my_page_and_the_forms(office) -> None:
    for persona, user in people(office).items():
        client = Client()
        if user is not None:
            client.force_login(user)
        for name in ("mine", "leave_new", "overtime_new", "reports", "summary"):
            got = client.get(reverse(f"attendance:{name}")).status_code
            assert got == (302 if user is None else 200), (persona, name, got)


@pytest.fixture
def fake_reports(monkeypatch):
    """A stand-in for attendance.reports (the guard is what these tests are about)."""

    class Report:
        def __init__(self, name: str, args: tuple) -> None:
            self.filename_stem, self.args = name, args

        def to_xlsx(self) -> bytes:
            return b"PK\x03\x04fake"

        def to_csv(self) -> bytes:
            return "氏名\n".encode()

    module = types.ModuleType("attendance.reports")
    calls: list[tuple] = []
    for name in (
        "overtime_book",
        "leave_book",
        "attendance_roll",
        "overtime_summary",
        "annual_leave_status",
    ):

        def make(*args, _name=name):
            calls.append((_name, args))
            return Report(f"{_name}-テスト", args)

        setattr(module, name, make)
    monkeypatch.setitem(sys.modules, "attendance.reports", module)
    monkeypatch.setattr(attendance, "reports", module, raising=False)
    return calls


def test_downloads_per_persona(office, fake_reports) -> None:
    person = office.drafter.pk
    soumu, kikaku = office.soumu_ka.pk, office.kikaku_ka.pk
    cases = [
        # (url, params, who may)
        ("overtime-book", {"staff": person, "month": "2026-05"}, {"drafter", "kacho", "hr"}),
        ("leave-book", {"staff": person, "year": "2026"}, {"drafter", "kacho", "hr"}),
        ("roll", {"department": soumu, "month": "2026-05"}, {"kacho", "hr"}),
        ("roll", {"department": kikaku, "month": "2026-05"}, {"hr"}),
        ("overtime-summary", {"department": soumu, "year": "2026"}, {"kacho", "hr"}),
        ("overtime-summary", {"year": "2026"}, {"hr"}),
        ("annual-leave", {"year": "2026"}, {"hr"}),
    ]
    wrong = []
    for persona, user in people(office).items():
        client = Client()
        if user is not None:
            client.force_login(user)
        for kind, params, allowed in cases:
            for fmt in ("xlsx", "csv"):
                url = reverse("attendance:report_download", args=[kind])
                response = client.get(url, {**params, "format": fmt})
                expected = 302 if user is None else 200 if persona in allowed else 403
                if response.status_code != expected:
                    wrong.append(f"{persona:12} {kind} {params} {fmt}: {response.status_code}")
                elif expected == 200:
                    assert response["Content-Disposition"].startswith("attachment")
                    assert f".{fmt}" in response["Content-Disposition"]
    assert not wrong, "\n".join(wrong)
    client = Client()
    client.force_login(office.hr)
    url = reverse("attendance:report_download", args=["roll"])
    assert client.get(url, {"month": "2026-05"}).status_code == 404  # the roll needs a 課
    assert client.get(url, {"department": soumu, "month": "nope"}).status_code == 404
    pdf = {"department": soumu, "month": "2026-05", "format": "pdf"}
    assert client.get(url, pdf).status_code == 404
    assert client.get(reverse("attendance:report_download", args=["nope"])).status_code == 404
    name, args = fake_reports[0]
    assert name == "overtime_book" and args == (office.drafter, dt.date(2026, 5, 1))


def test_team_page_for_the_kacho_and_hr(client, office) -> None:
    file_leave(office, start_date=dt.date(2026, 5, 25))
    approved = file_leave(office, start_date=dt.date(2026, 5, 26), end_date=dt.date(2026, 5, 27))
    from workflow.services import step_approve

    step_approve(step=pending_step(approved), actor=office.kacho)
    login(client, office.kacho)
    body = client.get(reverse("attendance:team"), {"month": "2026-05"}).content.decode()
    assert "起案 太郎" in body and "2日" in body  # taken in the month
    assert "承認待ちの申請" in body and "5/25" in body
    assert "部外 者" not in body  # 企画課 is not his team
    login(client, office.zaisei_kacho)
    body = client.get(reverse("attendance:team")).content.decode()
    assert "起案 太郎" not in body
    login(client, office.hr)
    body = client.get(
        reverse("attendance:team"), {"department": office.soumu_ka.pk, "month": "2026-05"}
    ).content.decode()
    assert "起案 太郎" in body


def _confirmed(office, day: dt.date, minutes: int) -> OvertimeOrder:
    """A confirmed order as the services leave it (made directly: the caps are read here)."""
    return OvertimeOrder.objects.create(
        staff=office.drafter,
        requested_by=office.kacho,
        department=office.soumu_ka,
        work_date=day,
        task="窓口延長",
        planned_start=at(day.year, day.month, day.day, 17, 15),
        planned_end=at(day.year, day.month, day.day, 19, 15),
        planned_minutes=120,
        actual_minutes=minutes,
        status=OvertimeOrder.Status.CONFIRMED,
    )


def test_team_page_judges_an_externally_driven_department(client, office) -> None:
    """他律部署 (`taritsu`): the 2–6 month average and the months over 45 h, with numbers."""
    office.soumu_ka.overtime_class = "taritsu"
    office.soumu_ka.save(update_fields=["overtime_class"])
    _confirmed(office, dt.date(2026, 4, 10), 90 * 60)
    _confirmed(office, dt.date(2026, 5, 12), 85 * 60)
    login(client, office.kacho)
    body = client.get(reverse("attendance:team"), {"month": "2026-05"}).content.decode()
    assert "cap-row-violation" in body
    assert "平均（2か月）87:30 / 80:00" in body
    assert "45時間超 2 / 6 か月" in body
    assert "月 85:00 / 100:00" in body


def test_ordering_overtime_in_an_externally_driven_department(client, office) -> None:
    office.soumu_ka.overtime_class = "taritsu"
    office.soumu_ka.save(update_fields=["overtime_class"])
    login(client, office.kacho)
    client.post(
        reverse("attendance:overtime_new"),
        {
            "staff": office.drafter.pk,
            "work_date": "2026-05-20",
            "start_time": "17:15",
            "end_time": "19:15",
            "task": "窓口延長",
        },
    )
    assert OvertimeOrder.objects.get().status == OvertimeOrder.Status.ORDERED


def test_downloads_with_the_real_reports(client, office) -> None:
    """The views wired to attendance.reports: xlsx is a zip, CSV is UTF-8 text."""
    file_leave(office, start_date=dt.date(2026, 5, 25))
    login(client, office.hr)
    cases = [
        ("overtime-book", {"staff": office.drafter.pk, "month": "2026-05"}),
        ("leave-book", {"staff": office.drafter.pk, "year": "2026"}),
        ("roll", {"department": office.soumu_ka.pk, "month": "2026-05"}),
        ("overtime-summary", {"year": "2026"}),
        ("annual-leave", {"department": office.soumu_ka.pk, "year": "2026"}),
    ]
    for kind, params in cases:
        url = reverse("attendance:report_download", args=[kind])
        xlsx = client.get(url, {**params, "format": "xlsx"})
        assert xlsx.status_code == 200, kind
        assert xlsx.content[:2] == b"PK" and ".xlsx" in xlsx["Content-Disposition"]
        csv = client.get(url, {**params, "format": "csv"})
        assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
        assert csv.content.decode("utf-8-sig")
