"""Demo data for 電子決裁: Setohama City's authority table and 30 documents in every state.

Everything goes through the real services (drafting, submission, approvals, returns …),
so the demo's routes, numbers, notifications and audit trail are the genuine article.
Idempotent: once the demo documents exist, nothing is added.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from org.models import Absence, Department, Post, Staff
from workflow.models import Route, Step
from workflow.services import route_withdraw, step_approve, step_reject, step_return

from .models import AuthorityTable, Document, MatterCategory
from .services import (
    _fill_table,
    document_complete,
    document_create,
    document_issue,
    document_submit,
)

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "demo" / "approvals.json"


@dataclass
class DemoResult:
    table_created: bool = False
    documents_created: int = 0


def load_authority_table(data: dict, admin: Staff) -> bool:
    """The first version of the 事務決裁規程, in force from the start of the demo year."""
    if AuthorityTable.objects.exists():
        return False
    categories = {
        c["code"]: MatterCategory.objects.update_or_create(
            code=c["code"], defaults={"name": c["name"], "sort_order": i}
        )[0]
        for i, c in enumerate(data["categories"])
    }
    posts = {p.code: p for p in Post.objects.all()}
    departments = {d.code: d for d in Department.objects.all()}
    table = AuthorityTable.objects.create(
        version=1,
        effective_from=dt.date.fromisoformat(data["effective_from"]),
        note=data["note"],
        created_by=admin,
        created_at=timezone.now(),
    )
    rules = [
        {
            "category": categories[r["category"]],
            "amount_min": r.get("amount_min", 0),
            "amount_max": r.get("amount_max"),
            "decider": posts[r["decider"]],
            "consult": [departments[c] for c in r.get("consult", [])],
            "always_important": r.get("always_important", False),
        }
        for r in data["rules"]
    ]
    _fill_table(table, [posts[code] for code in data["levels"]], rules)
    from audit.services import audit_record

    audit_record(
        actor=admin,
        action="approvals.authority_table.created",
        target=table,
        data={"version": 1, "rules": len(rules), "demo": True},
    )
    return True


def _pending(route: Route) -> Step | None:
    return (
        Step.objects.filter(route=route, status=Step.Status.PENDING)
        .select_related("stage", "assignee")
        .order_by("stage__position", "position")
        .first()
    )


def _advance(route: Route, steps: int | None, *, until: str = "") -> None:
    """Approve `steps` steps in turn (all when None, or up to a stage kind), each by its
    own holder."""
    done = 0
    while (steps is None or done < steps) and (step := _pending(route)) is not None:
        if step.assignee is None or step.stage.kind == until:
            return
        step_approve(step=step, actor=step.assignee, comment="")
        done += 1


def load_documents(data: dict) -> int:
    if Document.objects.filter(drafter__is_demo=True).exists():
        return 0
    users = {s.username: s for s in Staff.objects.filter(is_demo=True)}
    categories = {c.code: c for c in MatterCategory.objects.all()}
    created = 0
    for spec in data["documents"]:
        drafter = users[spec["drafter"]]
        document = document_create(
            actor=drafter,
            title=spec["title"],
            body=spec.get("body", ""),
            category=categories[spec["category"]],
            amount=spec.get("amount"),
            important=spec.get("important", False),
            confidentiality=spec.get("confidentiality", Document.Confidentiality.NORMAL),
            retention=spec.get("retention", Document.Retention.Y5),
        )
        created += 1
        state = spec["state"]
        if state == "draft":
            continue
        route = document_submit(document=document, actor=drafter)
        until = spec.get("until", "")
        steps = None if until else spec.get("approved_steps", 0)
        if state == "in_review":
            _advance(route, steps, until=until)
        elif state == "returned":
            _advance(route, steps, until=until)
            step = _pending(route)
            step_return(step=step, actor=step.assignee, comment=spec["comment"])
        elif state == "rejected":
            step = _pending(route)
            step_reject(step=step, actor=step.assignee, comment=spec["comment"])
        elif state == "withdrawn":
            route_withdraw(route=route, actor=drafter, comment=spec.get("comment", ""))
        elif state in ("decided", "issued", "completed"):
            _advance(route, None)
            today = timezone.localdate()
            if state in ("issued", "completed"):
                document_issue(document=document, actor=drafter, issued_on=today)
            if state == "completed":
                document_complete(document=document, actor=drafter, completed_on=today)
    return created


def load_absence(data: dict) -> None:
    """財政課's 係長 is away on a trip this week: her pending steps show 引上げ to the
    課長 (`kacho`), who can act past her; she then finds them as 後閲."""
    spec = data.get("absence")
    if not spec:
        return
    from org.selectors import staff_in_post

    department = Department.objects.get(code=spec["department"])
    post = Post.objects.get(code=spec["post"])
    holders = staff_in_post(department=department, post=post)
    if not holders or Absence.objects.filter(staff=holders[0]).exists():
        return
    staff = holders[0]
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    Absence.objects.create(
        staff=staff,
        start=start,
        end=start + dt.timedelta(days=spec.get("days", 5)),
        reason=Absence.Reason.TRIP,
        note=spec.get("note", ""),
    )


def load() -> DemoResult:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    admin = Staff.objects.get(username="admin")
    result = DemoResult()
    with transaction.atomic():
        result.table_created = load_authority_table(data, admin)
        result.documents_created = load_documents(data)
        load_absence(data)
    return result
