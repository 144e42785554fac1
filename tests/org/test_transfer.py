"""The April 1 transfer (人事異動): loaded in March, in effect on its date, not before."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from audit.models import AuditEvent
from org.models import Assignment, Staff
from org.selectors import staff_in_post
from org.services import assignment_schedule
from tests.org.factories import AssignmentFactory, StaffFactory
from tests.org.test_import_staff import org_master, roster_row, run_import, write_roster

__all__ = ["org_master"]  # a fixture, used by name below

TOKYO = ZoneInfo("Asia/Tokyo")


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TOKYO)


@pytest.mark.django_db
def test_april_transfer_loaded_in_march_takes_effect_on_april_1(org_master, tmp_path) -> None:
    zaisei, jinji = org_master["zaisei"], org_master["jinji"]
    shuji, shunin = org_master["shuji"], org_master["shunin"]
    with time_machine.travel(at(2027, 3, 15), tick=False):
        run_import(write_roster(tmp_path / "now.csv", [roster_row(1), roster_row(2)]))
        # The April list: person 1 moves to 人事課 主任; person 2 stays where they are.
        april = [roster_row(1, 所属コード="130", 職コード="shunin", 発令日="R9.4.1"), roster_row(2)]
        out, _err = run_import(write_roster(tmp_path / "april.xlsx", april))

        assert "将来の発令 1 件" in out
        staff = Staff.objects.get(employee_number="10001")
        # Today nothing has changed yet.
        assert staff.department == zaisei
        assert staff.post == shuji
        assert staff_in_post(department=zaisei, post=shuji) == [
            staff,
            Staff.objects.get(employee_number="10002"),
        ]

    old = staff.assignment_on(dt.date(2027, 3, 31))
    new = staff.assignment_on(dt.date(2027, 4, 1))
    assert (old.department, old.post, old.end) == (zaisei, shuji, dt.date(2027, 3, 31))
    assert (new.department, new.post, new.start, new.end) == (
        jinji,
        shunin,
        dt.date(2027, 4, 1),
        None,
    )

    with time_machine.travel(at(2027, 3, 31, 23, 59), tick=False):
        assert staff in staff_in_post(department=zaisei, post=shuji)
        assert staff_in_post(department=jinji, post=shunin) == []
        assert Staff.objects.get(pk=staff.pk).department == zaisei

    with time_machine.travel(at(2027, 4, 1, 0, 0), tick=False):
        assert staff not in staff_in_post(department=zaisei, post=shuji)
        assert staff_in_post(department=jinji, post=shunin) == [staff]
        fresh = Staff.objects.get(pk=staff.pk)
        assert (fresh.department, fresh.post) == (jinji, shunin)

    ended = AuditEvent.objects.get(action="org.assignment.updated", target_id=str(old.pk))
    assert ended.data["old"] == {"end": None}
    assert ended.data["new"] == {"end": "2027-03-31"}


@pytest.mark.django_db
def test_loading_the_transfer_twice_changes_nothing(org_master, tmp_path) -> None:
    with time_machine.travel(at(2027, 3, 15), tick=False):
        run_import(write_roster(tmp_path / "now.csv", [roster_row(1)]))
        april = write_roster(
            tmp_path / "april.csv", [roster_row(1, 所属コード="130", 発令日="2027/4/1")]
        )
        run_import(april)
        snapshot = list(Assignment.objects.order_by("pk").values_list("start", "end", "department"))
        # Re-loading the April list, and the old roster after it, rewrites nothing.
        out, _err = run_import(april)
        run_import(tmp_path / "now.csv")

    assert "終了 0 件" in out
    assert list(Assignment.objects.order_by("pk").values_list("start", "end", "department")) == (
        snapshot
    )


@pytest.mark.django_db
def test_new_hire_loaded_in_march_has_no_post_until_april(org_master, tmp_path) -> None:
    with time_machine.travel(at(2027, 3, 15), tick=False):
        row = roster_row(7, 採用日="令和9年4月1日", 発令日="令和9年4月1日")
        run_import(write_roster(tmp_path / "new.csv", [row]))
        staff = Staff.objects.get(employee_number="10007")
        assert staff.assignment_on() is None
    assert staff.assignment_on(dt.date(2027, 4, 1)).department == org_master["zaisei"]


@pytest.mark.django_db
def test_correcting_a_loaded_transfer_updates_it_in_place(org_master) -> None:
    staff = StaffFactory()
    current = AssignmentFactory(
        staff=staff, department=org_master["zaisei"], post=org_master["shuji"]
    )
    day = dt.date(2027, 4, 1)
    first = assignment_schedule(
        staff=staff, department=org_master["jinji"], post=org_master["shuji"], start=day, actor=None
    )
    # HR corrects the April list: 総務課, not 人事課.
    second = assignment_schedule(
        staff=staff, department=org_master["somu"], post=org_master["shuji"], start=day, actor=None
    )

    assert second.updated and second.assignment.pk == first.assignment.pk
    assert staff.assignment_on(day).department == org_master["somu"]
    current.refresh_from_db()
    assert current.end == dt.date(2027, 3, 31)
    assert Assignment.objects.filter(staff=staff).count() == 2


@pytest.mark.django_db
def test_assignment_before_a_loaded_one_ends_the_day_before_it(org_master) -> None:
    staff = StaffFactory()
    AssignmentFactory(staff=staff, department=org_master["zaisei"], post=org_master["shuji"])
    april = assignment_schedule(
        staff=staff,
        department=org_master["jinji"],
        post=org_master["shuji"],
        start=dt.date(2027, 4, 1),
        actor=None,
    )
    january = assignment_schedule(
        staff=staff,
        department=org_master["somu"],
        post=org_master["shuji"],
        start=dt.date(2027, 1, 1),
        actor=None,
    )

    assert january.assignment.end == dt.date(2027, 3, 31)
    assert staff.assignment_on(dt.date(2027, 2, 1)).department == org_master["somu"]
    assert staff.assignment_on(dt.date(2027, 4, 1)) == april.assignment
    assert staff.assignment_on(dt.date(2026, 12, 31)).department == org_master["zaisei"]


@pytest.mark.django_db
def test_concurrent_post_does_not_end_the_primary_one(org_master) -> None:
    staff = StaffFactory()
    primary = AssignmentFactory(
        staff=staff, department=org_master["zaisei"], post=org_master["shuji"]
    )
    change = assignment_schedule(
        staff=staff,
        department=org_master["somu"],
        post=org_master["shunin"],
        start=dt.date(2027, 4, 1),
        is_primary=False,
        actor=None,
    )
    primary.refresh_from_db()
    assert change.created and not change.assignment.is_primary
    assert primary.end is None
    assert staff.assignment_on(dt.date(2027, 4, 1)) == primary
