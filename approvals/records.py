"""What the official PDF of a 起案文書 prints, gathered from the database.

`document_record_payload` is what `Document.record_payload()` returns (the contract is
`records.payload`): records renders and signs it without knowing about approvals.
The number of queries does not depend on the number of steps, actions or attachments.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Prefetch
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import event_payload
from org.models import Assignment, Staff
from records.payload import ApprovalRow, AttachmentItem, RenderPayload
from workflow.models import Action, PostReview, Route, Step

from .models import Attachment, Document

_MODE_LABELS = {
    Step.Mode.DEPUTY: "代決",
    Step.Mode.PULLED_UP: "引上げ（後閲）",
}
_ACTION_LABELS = {
    Step.Status.APPROVED: Action.Kind.APPROVE.label,
    Step.Status.DECIDED: Action.Kind.DECIDE.label,
    Step.Status.SEEN: Action.Kind.SEEN.label,
    Step.Status.RETURNED: Action.Kind.RETURN.label,
    Step.Status.REJECTED: Action.Kind.REJECT.label,
}
POST_REVIEW_LABEL = "後閲"


def document_record_payload(document: Document) -> RenderPayload:
    """The 回議用紙 of `document`: its fields, the approvals of its last route (the one
    that decided) with 代決, 引上げ and completed 後閲, its attachments, and the audit
    events of the document and of all its routes as JSON."""
    doc = Document.objects.select_related(
        "category", "drafter", "department__parent__parent__parent"
    ).get(pk=document.pk)
    routes = list(
        Route.objects.filter(
            subject_type=ContentType.objects.get_for_model(Document), subject_id=doc.pk
        )
        .select_related("submitted_by")
        .order_by("-round")
    )
    last = routes[0] if routes else None
    steps: list[Step] = []
    if last is not None:
        steps = list(
            Step.objects.filter(route=last)
            .select_related("stage", "post", "department", "person", "assignee", "acted_by")
            .prefetch_related(
                Prefetch(
                    "post_reviews",
                    queryset=PostReview.objects.filter(done_at__isnull=False)
                    .select_related("reviewer")
                    .order_by("done_at", "pk"),
                    to_attr="done_reviews",
                )
            )
            .order_by("stage__position", "position", "pk")
        )
    posts = _Posts(_people(doc, last, steps))
    decided_on = timezone.localdate(doc.decided_at) if doc.decided_at else None
    return RenderPayload(
        kind_label=str(Document._meta.verbose_name),
        number=doc.number,
        title=doc.title,
        drafter=" ".join(
            p for p in (posts.title_of(doc.drafter_id, doc.drafted_on), _name(doc.drafter)) if p
        ),
        department=doc.department.full_name,
        dates=[("起案日", doc.drafted_on), ("決裁日", decided_on), ("施行日", doc.issued_on)],
        # The records schedule (文書分類表) comes later; until then the matter category.
        classification=doc.category.name,
        retention=str(doc.get_retention_display()),
        confidentiality=str(doc.get_confidentiality_display()),
        body=doc.body,
        approvals=_rows(last, steps, posts),
        attachments=[_item(a) for a in doc.attachments.all()],
        history_json=_history(doc, routes),
    )


def _name(staff: Staff | None) -> str:
    return staff.display_name if staff is not None else ""


def _family(staff: Staff) -> str:
    return staff.last_name.strip() or staff.display_name


def _post_title(department: str, post: str) -> str:
    """財政課 + 課長 → 財政課長, 総務課 + 課長補佐 → 総務課長補佐, 総務課 + 係長 → 総務課 係長."""
    if not department:
        return post
    if post and department[-1] == post[0]:
        return department + post[1:]
    return f"{department} {post}".strip()


def _people(doc: Document, last: Route | None, steps: Iterable[Step]) -> set[int]:
    ids = {doc.drafter_id}
    if last is not None:
        ids.add(last.submitted_by_id)
    for step in steps:
        ids.update(i for i in (step.person_id, step.acted_by_id) if i)
    return ids


class _Posts:
    """Where people sat, for the dates that matter, from one query."""

    def __init__(self, staff_ids: set[int]):
        self._by_staff: dict[int, list[Assignment]] = defaultdict(list)
        for a in (
            Assignment.objects.filter(staff_id__in=staff_ids, is_primary=True)
            .select_related("department", "post")
            .order_by("-start", "-pk")
        ):
            self._by_staff[a.staff_id].append(a)

    def on(self, staff_id: int | None, day: dt.date) -> Assignment | None:
        for a in self._by_staff.get(staff_id or 0, []):
            if a.start <= day and (a.end is None or a.end >= day):
                return a
        return None

    def title_of(self, staff_id: int | None, day: dt.date) -> str:
        a = self.on(staff_id, day)
        return _post_title(a.department.name, a.post.name) if a else ""


def _asked(step: Step, posts: _Posts) -> str:
    """The post the step went to, as the form prints it (「総務課長」, 「市長」)."""
    if step.post_id:
        return _post_title(step.department.name if step.department_id else "", step.post.name)
    day = timezone.localdate(step.acted_at) if step.acted_at else timezone.localdate()
    return posts.title_of(step.person_id, day) or _name(step.person)


def _rows(last: Route | None, steps: list[Step], posts: _Posts) -> list[ApprovalRow]:
    if last is None:
        return []
    drafter = last.submitted_by
    rows = [
        ApprovalRow(
            stage=str(Action.Kind.SUBMIT.label),
            post=posts.title_of(drafter.pk, timezone.localdate(last.submitted_at)),
            name=_name(drafter),
            family_name=_family(drafter),
            action=str(Action.Kind.SUBMIT.label),
            mode="",
            at=last.submitted_at,
        )
    ]
    for step in steps:
        stage = str(step.stage.get_kind_display())
        asked = _asked(step, posts)
        if step.acted_by_id:
            mode = _MODE_LABELS.get(step.mode, "")
            if step.mode == Step.Mode.PULLED_UP:
                action = str(Action.Kind.PULL_UP.label)
            else:
                action = str(_ACTION_LABELS.get(step.status, step.get_status_display()))
            absent = bool(mode) and step.assignee_id not in (None, step.acted_by_id)
            rows.append(
                ApprovalRow(
                    stage=stage,
                    post=asked,
                    name=_name(step.acted_by),
                    family_name=_family(step.acted_by),
                    action=action,
                    mode=mode,
                    at=step.acted_at,
                    comment=step.comment,
                    on_behalf_of=_name(step.assignee) if absent else "",
                )
            )
        else:
            # Not acted: a 供覧 not yet seen, or a 合議 step no longer needed (N-of-M).
            not_needed = step.mode == Step.Mode.NOT_NEEDED
            rows.append(
                ApprovalRow(
                    stage=stage,
                    post=asked,
                    name=_name(step.assignee),
                    family_name="",
                    action=str(
                        Step.Mode.NOT_NEEDED.label if not_needed else step.get_status_display()
                    ),
                    mode="",
                    at=None,
                )
            )
        for review in step.done_reviews:
            rows.append(
                ApprovalRow(
                    stage=stage,
                    post=asked,
                    name=_name(review.reviewer),
                    family_name=_family(review.reviewer),
                    action=POST_REVIEW_LABEL,
                    mode=POST_REVIEW_LABEL,
                    at=review.done_at,
                    comment=review.comment,
                )
            )
    return rows


def _read(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as f:
        return f.read()


def _item(attachment: Attachment) -> AttachmentItem:
    return AttachmentItem(
        name=attachment.original_name,
        content_type=attachment.content_type,
        sha256=attachment.sha256,
        size=attachment.size,
        read=functools.partial(_read, attachment),
    )


def _history(doc: Document, routes: list[Route]) -> bytes:
    """The audit events of the document and its routes, in chain order. Each carries the
    hashed fields with its hash and the previous hash, so it can be checked alone."""
    route_type = ContentType.objects.get_for_model(Route)
    events = (
        AuditEvent.objects.for_target(doc)
        | AuditEvent.objects.filter(
            target_type=route_type, target_id__in=[str(r.pk) for r in routes]
        )
    ).select_related("actor")
    out = []
    for e in events.order_by("seq"):
        target_type = ContentType.objects.get_for_id(e.target_type_id) if e.target_type_id else None
        out.append(
            {
                **event_payload(e),
                "actor": _name(e.actor) or None,
                "target_type": f"{target_type.app_label}.{target_type.model}"
                if target_type
                else None,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
        )
    return json.dumps(
        out, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True, indent=1
    ).encode("utf-8")
