"""A small city ready for attendance: rules, a standard schedule, a 人事課 with an HR
officer, a 庶務担当 in 総務課, the HR office set in the policy, and annual leave granted."""

from __future__ import annotations

import datetime as dt

from attendance.leave import annual_grant
from attendance.loader import rules_load
from attendance.models import AttendancePolicy
from org.models import Department, Staff, WorkSchedule
from tests.city import City, _person, build_city


def build_office(*, leave_year: int) -> City:
    city = build_city()
    rules_load()
    standard = WorkSchedule.objects.create(
        code="std",
        name="標準",
        start=dt.time(8, 30),
        end=dt.time(17, 15),
        break_start=dt.time(12),
        break_end=dt.time(13),
    )
    jinji = Department.objects.create(
        code="130", name="人事課", level="ka", parent=city.soumu_bu, doc_symbol="人"
    )
    city.jinji = jinji
    city.jinji_kacho = _person("jinjika", "人事", "課長", jinji, city.posts["kacho"], "manager")
    city.hr = _person("hr", "人事", "担当", jinji, city.posts["shuji"], "hr")
    city.clerk = _person("clerk", "庶務", "担当", city.soumu_ka, city.posts["shuji"], "clerk")
    Staff.objects.update(work_schedule=standard, hired_on=dt.date(2010, 4, 1))
    AttendancePolicy.objects.create(valid_from=dt.date(2020, 4, 1), hr_department=jinji)
    for name in ("drafter", "kacho", "outsider", "hosa", "kakaricho", "clerk"):
        person = getattr(city, name)
        person.refresh_from_db()
        annual_grant(staff=person, leave_year=leave_year, actor=None)
    return city
