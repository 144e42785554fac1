"""Writes to the organisation: loading the staff roster and scheduling assignments (発令).

Every function here runs in one transaction and writes its audit events in it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from audit.services import audit_record
from common.dates import today

from .importing import RosterRow
from .models import Assignment, Department, Post, Staff
from .roles import ADMIN, ROLES

# The roles a roster manages. `admin` is granted in the admin only, and a re-import
# must not take it away either.
IMPORT_MANAGED_ROLES: frozenset[str] = frozenset(ROLES) - {ADMIN}

_STAFF_FIELDS = (
    "last_name",
    "first_name",
    "family_name_kana",
    "given_name_kana",
    "username",
    "email",
    "employee_class",
    "work_schedule",
    "hired_on",
)


@dataclass
class AssignmentChange:
    assignment: Assignment
    created: bool = False
    updated: bool = False
    ended: list[Assignment] = field(default_factory=list)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    assignments_created: int = 0
    assignments_updated: int = 0
    assignments_ended: int = 0
    future_assignments: int = 0
    staff: list[Staff] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "assignments_created": self.assignments_created,
            "assignments_updated": self.assignments_updated,
            "assignments_ended": self.assignments_ended,
            "future_assignments": self.future_assignments,
        }


def _assignment_data(a: Assignment) -> dict[str, Any]:
    return {
        "staff": a.staff.employee_number or a.staff.username,
        "department": a.department.code,
        "post": a.post.code,
        "start": a.start,
        "end": a.end,
        "is_primary": a.is_primary,
    }


def _forget_assignments(staff: Staff) -> None:
    # Staff.assignment_on caches per instance; a caller holding `staff` must see the change.
    staff.__dict__.pop("_assignment_cache", None)


def assignment_schedule(
    *,
    staff: Staff,
    department: Department,
    post: Post,
    start: dt.date,
    actor: Staff | None,
    is_primary: bool = True,
    note: str = "",
) -> AssignmentChange:
    """Put `staff` in `post` of `department` from `start` (a 発令), open-ended.

    A primary assignment replaces the person's primary one from that day: one still
    running then is ended the day before (so the April 1 人事異動 can be loaded in March
    and takes effect on its date without a job on the day); one already starting that day
    is corrected in place; one starting later stays, and the new one ends the day before
    it. History before `start` is never rewritten. A 兼務 (not primary) is added beside
    the others. Scheduling what is already in effect on `start` changes nothing, which
    makes loading the same roster twice harmless.
    """
    with transaction.atomic():
        # One writer per person at a time: two imports must not both end the same row.
        Staff.objects.select_for_update().filter(pk=staff.pk).first()
        _forget_assignments(staff)
        same = (
            Assignment.objects.effective_on(start)
            .filter(staff=staff, is_primary=is_primary, department=department, post=post)
            .first()
        )
        if same is not None:
            return AssignmentChange(assignment=same)
        if not is_primary:
            created = Assignment.objects.create(
                staff=staff,
                department=department,
                post=post,
                start=start,
                is_primary=False,
                note=note,
            )
            audit_record(
                actor=actor,
                action="org.assignment.created",
                target=created,
                data={"new": _assignment_data(created)},
            )
            return AssignmentChange(assignment=created, created=True)

        overlapping = list(
            Assignment.objects.select_for_update(of=("self",))
            .filter(staff=staff, is_primary=True)
            .exclude(end__lt=start)
            .select_related("staff", "department", "post")
            .order_by("start")
        )
        for a in overlapping:
            if a.start < start:
                old_end = a.end
                a.end = start - dt.timedelta(days=1)
                a.save(update_fields=["end"])
                audit_record(
                    actor=actor,
                    action="org.assignment.updated",
                    target=a,
                    data={"old": {"end": old_end}, "new": {"end": a.end}, "reason": "transfer"},
                )
        later = [a for a in overlapping if a.start > start]
        same_day = next((a for a in overlapping if a.start == start), None)
        if same_day is not None:
            old = _assignment_data(same_day)
            same_day.department = department
            same_day.post = post
            same_day.note = note or same_day.note
            same_day.save(update_fields=["department", "post", "note"])
            audit_record(
                actor=actor,
                action="org.assignment.updated",
                target=same_day,
                data={"old": old, "new": _assignment_data(same_day), "reason": "correction"},
            )
            change = AssignmentChange(assignment=same_day, updated=True)
        else:
            created = Assignment.objects.create(
                staff=staff,
                department=department,
                post=post,
                start=start,
                end=min(a.start for a in later) - dt.timedelta(days=1) if later else None,
                is_primary=True,
                note=note,
            )
            audit_record(
                actor=actor,
                action="org.assignment.created",
                target=created,
                data={"new": _assignment_data(created)},
            )
            change = AssignmentChange(assignment=created, created=True)
        change.ended = [a for a in overlapping if a.start < start]
        _forget_assignments(staff)
        return change


def _staff_data(staff: Staff) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(staff, name) for name in _STAFF_FIELDS}
    data["work_schedule"] = staff.work_schedule.code if staff.work_schedule else None
    data["employee_number"] = staff.employee_number
    return data


def _roles_set(
    *, staff: Staff, roles: Iterable[str], managed: Iterable[str]
) -> tuple[list[str], list[str]] | None:
    """Make the person's roles among `managed` exactly `roles`; others are left alone.

    Returns (old, new) role names when something changed, None otherwise. Private: the
    caller records the change in its own audit event, in its transaction.
    """
    managed = set(managed)
    wanted = set(roles) & managed
    current = set(staff.groups.values_list("name", flat=True))
    if current & managed == wanted:
        return None
    groups = Group.objects.filter(name__in=(current - managed) | wanted)
    staff.groups.set(groups)
    staff.__dict__.pop("_role_names", None)
    return sorted(current & managed), sorted(wanted)


def staff_import(
    *, rows: Sequence[RosterRow], actor: Staff | None, source: str = ""
) -> ImportResult:
    """Create or update staff from a validated roster, and schedule their assignments.

    `rows` come from `org.importing.roster_validate`, which has already refused the
    whole file if any cell was bad; this runs in one transaction, so a failure halfway
    (a constraint, a lost race) also leaves nothing behind. People are matched by
    職員番号. New people get an unusable password: they set one through the password
    reset, never from a file. Roles listed replace the roster-managed roles (not admin).
    """
    result = ImportResult()
    by_number: dict[str, list[RosterRow]] = {}
    for row in rows:
        by_number.setdefault(row.employee_number, []).append(row)
    day = today()
    with transaction.atomic():
        existing = {
            s.employee_number: s
            for s in Staff.objects.select_for_update(of=("self",))
            .filter(employee_number__in=by_number)
            .select_related("work_schedule")
        }
        for number, person_rows in by_number.items():
            # The primary row first, so the person sits somewhere before any 兼務 is added.
            person_rows = sorted(person_rows, key=lambda r: (not r.is_primary, r.number))
            staff = _staff_upsert(
                row=person_rows[0], staff=existing.get(number), actor=actor, result=result
            )
            result.staff.append(staff)
            for row in person_rows:
                change = assignment_schedule(
                    staff=staff,
                    department=row.department,
                    post=row.post,
                    start=row.start,
                    is_primary=row.is_primary,
                    actor=actor,
                )
                result.assignments_created += change.created
                result.assignments_updated += change.updated
                result.assignments_ended += len(change.ended)
                if (change.created or change.updated) and row.start > day:
                    result.future_assignments += 1
        audit_record(
            actor=actor,
            action="org.staff.imported",
            data={"source": source, "rows": len(rows), **result.as_dict()},
        )
    return result


def _staff_upsert(
    *, row: RosterRow, staff: Staff | None, actor: Staff | None, result: ImportResult
) -> Staff:
    values: dict[str, Any] = {
        "last_name": row.last_name,
        "first_name": row.first_name,
        "family_name_kana": row.family_name_kana,
        "given_name_kana": row.given_name_kana,
        "username": row.username,
        "email": row.email,
        "employee_class": row.employee_class,
        "work_schedule": row.work_schedule,
        "hired_on": row.hired_on,
    }
    if staff is None:
        staff = Staff(employee_number=row.employee_number, **values)
        staff.set_unusable_password()
        staff.save()
        _roles_set(staff=staff, roles=row.roles, managed=IMPORT_MANAGED_ROLES)
        audit_record(
            actor=actor,
            action="org.staff.created",
            target=staff,
            data={"new": {**_staff_data(staff), "roles": sorted(row.roles)}},
        )
        result.created += 1
        return staff

    old_data = _staff_data(staff)
    changed = [name for name, value in values.items() if getattr(staff, name) != value]
    for name in changed:
        setattr(staff, name, values[name])
    if changed:
        staff.save(update_fields=changed)
    roles = _roles_set(staff=staff, roles=row.roles, managed=IMPORT_MANAGED_ROLES)
    if not changed and roles is None:
        result.unchanged += 1
        return staff
    new_data = _staff_data(staff)
    diff_keys = [k for k in new_data if new_data[k] != old_data[k]]
    data: dict[str, Any] = {
        "old": {k: old_data[k] for k in diff_keys},
        "new": {k: new_data[k] for k in diff_keys},
    }
    if roles is not None:
        data["old"]["roles"], data["new"]["roles"] = roles
    audit_record(actor=actor, action="org.staff.updated", target=staff, data=data)
    result.updated += 1
    return staff
