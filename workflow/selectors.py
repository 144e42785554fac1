"""Reads of the approval engine, shaped for the inbox and the route timeline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from common.dates import today
from org.models import Absence, Department, Deputy, Staff

from .models import Action, Notification, PostReview, Route, Stage, Step


def absent_principals_of(*, deputy: Staff) -> list[int]:
    """People now absent for whom `deputy` is a registered 代理者: their steps show too."""
    day = today()
    now = timezone.now()
    principals = Deputy.objects.filter(deputy=deputy, start__lte=day).filter(
        Q(end__isnull=True) | Q(end__gte=day)
    )
    return list(
        Absence.objects.filter(
            staff__in=principals.values("principal"), start__lte=now, end__gt=now
        ).values_list("staff_id", flat=True)
    )


def _inbox_filter(staff: Staff) -> Q:
    # Looked up once per Staff object (a request's user): the inbox page asks three times.
    principals = getattr(staff, "_absent_principals", None)
    if principals is None:
        principals = absent_principals_of(deputy=staff)
        staff._absent_principals = principals
    if not principals:
        return Q(assignee=staff)
    # One IN list lets the partial inbox index serve both branches (bench/inbox.py).
    return Q(assignee__in=[staff.pk, *principals]) & (Q(assignee=staff) | Q(route__important=False))


def inbox_for(
    *, staff: Staff, kind: int | None = None, department: int | None = None
) -> QuerySet[Step]:
    """Every pending step for this person across all subject kinds, most urgent first:
    due date ascending (no due date last), then the most recently arrived."""
    steps = (
        Step.objects.pending()
        .filter(_inbox_filter(staff))
        .select_related("route", "route__department", "route__submitted_by", "stage", "assignee")
        .order_by(F("due_at").asc(nulls_last=True), "-activated_at", "pk")
    )
    if kind:
        steps = steps.filter(route__subject_type_id=kind)
    if department:
        steps = steps.filter(route__department_id=department)
    return steps


def inbox_count(*, staff: Staff) -> int:
    return Step.objects.pending().filter(_inbox_filter(staff)).count()


def inbox_counts_by_kind(*, staff: Staff) -> list[tuple[ContentType, int]]:
    rows = (
        Step.objects.pending()
        .filter(_inbox_filter(staff))
        .values("route__subject_type")
        .annotate(n=Count("pk"))
        .order_by("route__subject_type")
    )
    types = ContentType.objects.in_bulk([r["route__subject_type"] for r in rows])
    return [(types[r["route__subject_type"]], r["n"]) for r in rows]


def open_post_reviews_for(*, staff: Staff) -> QuerySet[PostReview]:
    return (
        PostReview.objects.filter(reviewer=staff, done_at__isnull=True)
        .select_related("step__route", "step__acted_by")
        .order_by("-created_at")
    )


def unread_notifications_for(*, staff: Staff, limit: int = 20) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=staff, read_at__isnull=True).order_by(
        "-created_at"
    )[:limit]


def routes_of(subject) -> QuerySet[Route]:
    """Every round of a subject, newest first, with stages, steps and actions prefetched."""
    return (
        Route.objects.filter(
            subject_type=ContentType.objects.get_for_model(subject), subject_id=subject.pk
        )
        .select_related("submitted_by", "department")
        .prefetch_related(
            "stages__steps__assignee",
            "stages__steps__acted_by",
            "stages__steps__post",
            "stages__steps__department",
            "stages__steps__person",
            "actions__actor",
            "actions__on_behalf_of",
            "actions__step",
        )
        .order_by("-round")
    )


def overdue_steps() -> QuerySet[Step]:
    return (
        Step.objects.pending()
        .filter(due_at__lt=timezone.now())
        .select_related("route", "assignee")
        .order_by("due_at")
    )


def route_visible_to(*, route: Route, staff: Staff) -> bool:
    """Drafter, everyone a step went to, and their deputies: django-guardian grants."""
    return staff.has_perm("workflow.view_route", route)


def actions_for(route: Route) -> QuerySet[Action]:
    return route.actions.select_related("actor", "on_behalf_of", "step").order_by("at", "pk")


def stage_kinds() -> dict[str, str]:
    return dict(Stage.Kind.choices)


# --- the inbox list: the hottest read, in one hand-written query ----------------------


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One pending step as the inbox list shows it (no model objects: the list is read
    on every tablet refresh and must stay close to the database's own speed)."""

    step_id: int
    stage_kind: str
    assignee_id: int | None
    assignee_name: str
    due_at: dt.datetime | None
    activated_at: dt.datetime | None
    route_id: int
    title: str
    important: bool
    confidential: bool
    subject_type_id: int
    subject_id: int
    department_id: int
    department_name: str
    drafter_name: str

    @property
    def stage_label(self) -> str:
        return str(Stage.Kind(self.stage_kind).label)


def _aware(value: dt.datetime | str | None) -> dt.datetime | None:
    """Database datetimes are stored in UTC; SQLite hands them back naive (or as text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def inbox_page(
    *,
    staff: Staff,
    kind: int | None = None,
    department: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> list[InboxItem]:
    """A page of `inbox_for` in one query, the deputy rule included as a subquery.

    Same rows and order as `inbox_for` (a test holds the two together). Written as SQL
    on purpose, like Zulip's message fetch: the ORM's per-row object building costs
    several times the query itself at this size (bench/inbox.py).
    """
    q = connection.ops.quote_name
    t = {
        "step": q(Step._meta.db_table),
        "route": q(Route._meta.db_table),
        "stage": q(Stage._meta.db_table),
        "dept": q(Department._meta.db_table),
        "staff": q(Staff._meta.db_table),
        "absence": q(Absence._meta.db_table),
        "deputy": q(Deputy._meta.db_table),
    }
    start, end = q("start"), q("end")
    day = connection.ops.adapt_datefield_value(today())
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    extra = ""
    if kind:
        extra += " AND r.subject_type_id = %s"
    if department:
        extra += " AND r.department_id = %s"
    # Only table and column names from the models' metadata are interpolated; every
    # value is a parameter.
    sql = f"""
        SELECT s.id, g.kind, s.assignee_id, a.last_name, a.first_name, a.username,
               s.due_at, s.activated_at, r.id, r.title, r.important, r.confidential,
               r.subject_type_id, r.subject_id, d.id, d.name,
               u.last_name, u.first_name, u.username
        FROM {t["step"]} s
        JOIN {t["route"]} r ON r.id = s.route_id
        JOIN {t["stage"]} g ON g.id = s.stage_id
        JOIN {t["dept"]} d ON d.id = r.department_id
        JOIN {t["staff"]} u ON u.id = r.submitted_by_id
        LEFT JOIN {t["staff"]} a ON a.id = s.assignee_id
        WHERE s.status = %s
          AND (s.assignee_id = %s
               OR (r.important = %s AND s.assignee_id IN (
                   SELECT ab.staff_id FROM {t["absence"]} ab
                   JOIN {t["deputy"]} p ON p.principal_id = ab.staff_id
                   WHERE p.deputy_id = %s AND p.{start} <= %s
                     AND (p.{end} IS NULL OR p.{end} >= %s)
                     AND ab.{start} <= %s AND ab.{end} > %s))){extra}
        ORDER BY s.due_at ASC NULLS LAST, s.activated_at DESC, s.id ASC
        LIMIT %s OFFSET %s
    """  # noqa: S608
    params = [Step.Status.PENDING, staff.pk, False, staff.pk, day, day, now, now]
    if kind:
        params.append(kind)
    if department:
        params.append(department)
    params += [limit, offset]

    def name(last: str | None, first: str | None, username: str | None) -> str:
        return f"{last or ''} {first or ''}".strip() or (username or "")

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        InboxItem(
            step_id=r[0],
            stage_kind=r[1],
            assignee_id=r[2],
            assignee_name=name(r[3], r[4], r[5]),
            due_at=_aware(r[6]),
            activated_at=_aware(r[7]),
            route_id=r[8],
            title=r[9],
            important=bool(r[10]),
            confidential=bool(r[11]),
            subject_type_id=r[12],
            subject_id=r[13],
            department_id=r[14],
            department_name=r[15],
            drafter_name=name(r[16], r[17], r[18]),
        )
        for r in rows
    ]


class InboxList:
    """`inbox_page` in the shape Django's Paginator wants: a count and slices."""

    def __init__(self, *, staff: Staff, kind: int | None = None, department: int | None = None):
        self.staff, self.kind, self.department = staff, kind, department

    def count(self) -> int:
        return inbox_for(staff=self.staff, kind=self.kind, department=self.department).count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list[InboxItem]:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("InboxList supports plain slices only")
        start = index.start or 0
        stop = index.stop if index.stop is not None else start + 50
        return inbox_page(
            staff=self.staff,
            kind=self.kind,
            department=self.department,
            offset=start,
            limit=max(stop - start, 0),
        )


def subject_url(subject_type_id: int, subject_id: int) -> str:
    """A subject's page without loading it: the protocol's URL depends on the pk only."""
    model = ContentType.objects.get_for_id(subject_type_id).model_class()
    if model is None or not hasattr(model, "get_absolute_url"):
        return ""
    return model(pk=subject_id).get_absolute_url()
