"""Reads about the organisation, shaped for the pages that show them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import timezone

from common.dates import today

from .models import Absence, Assignment, Department, Deputy, Post, Staff
from .roles import ROLES


def assignments_on(day: dt.date | None = None) -> QuerySet[Assignment]:
    return Assignment.objects.effective_on(day or today()).select_related(
        "staff", "department", "post"
    )


def staff_in_post(*, department: Department, post: Post, on: dt.date | None = None) -> list[Staff]:
    """Who holds `post` in `department` on a day: resolves a route step to people."""
    return [
        a.staff
        for a in assignments_on(on).filter(department=department, post=post, staff__is_active=True)
    ]


def department_of(*, staff: Staff, on: dt.date | None = None) -> Department | None:
    a = staff.assignment_on(on)
    return a.department if a else None


def is_absent(*, staff: Staff, at: dt.datetime | None = None) -> bool:
    at = at or timezone.now()
    return Absence.objects.filter(staff=staff, start__lte=at, end__gt=at).exists()


def deputies_of(*, staff: Staff, on: dt.date | None = None) -> list[Staff]:
    """The principal's deputies (代理者) valid on a day, in order."""
    day = on or today()
    return [
        d.deputy
        for d in Deputy.objects.filter(principal=staff, start__lte=day)
        .filter(Q(end__isnull=True) | Q(end__gte=day))
        .select_related("deputy")
        .order_by("order")
    ]


@dataclass
class HomeSummary:
    assignment: Assignment | None
    next_assignment: Assignment | None
    roles: list[str]
    deputies: list[Deputy] = field(default_factory=list)
    deputy_for: list[Deputy] = field(default_factory=list)
    absences: list[Absence] = field(default_factory=list)


def home_summary_for(*, staff: Staff) -> HomeSummary:
    """What the home page shows a person: where they sit, roles, deputies, absences."""
    day = today()
    now = timezone.now()
    valid = Q(start__lte=day) & (Q(end__isnull=True) | Q(end__gte=day))
    return HomeSummary(
        assignment=staff.assignment_on(day),
        next_assignment=Assignment.objects.filter(staff=staff, start__gt=day, is_primary=True)
        .select_related("department", "post")
        .order_by("start")
        .first(),
        roles=[
            str(ROLES[name])
            for name in staff.groups.values_list("name", flat=True)
            if name in ROLES
        ],
        deputies=list(
            Deputy.objects.filter(valid, principal=staff).select_related("deputy").order_by("order")
        ),
        deputy_for=list(
            Deputy.objects.filter(valid, deputy=staff).select_related("principal").order_by("order")
        ),
        absences=list(Absence.objects.filter(staff=staff, end__gt=now).order_by("start")[:10]),
    )
