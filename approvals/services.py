"""Writes for 起案文書: drafting, attachments, submission on a route proposed from the
authority table, decision with its document number, 施行 and 完結, and new versions of
the authority table."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.services import audit_record
from common.counters import next_serial
from common.dates import era_of, fiscal_year, today
from org.models import Department, Post, Staff
from org.selectors import assignments_on
from records.files import record_file_by_classification
from records.models import Classification
from records.services import record_register
from workflow.errors import AlreadyDecided, InvalidRequest, NotAllowed
from workflow.models import Action, Route, Stage
from workflow.services import StageSpec, StepSpec, route_start

from .models import (
    Attachment,
    AuthorityLevel,
    AuthorityRule,
    AuthorityTable,
    Document,
    DocumentNumberCounter,
    MatterCategory,
)

EDITABLE_FIELDS = (
    "classification",
    "title",
    "body",
    "category",
    "amount",
    "important",
    "confidentiality",
    "retention",
    "doc_type",
)
MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024


def _lock(document: Document | int) -> Document:
    pk = document.pk if isinstance(document, Document) else document
    return Document.objects.select_for_update().get(pk=pk)


def _value(v: Any) -> Any:
    return v.pk if hasattr(v, "pk") else v


# --- drafting ------------------------------------------------------------------------


def document_create(
    *,
    actor: Staff,
    title: str,
    category: MatterCategory,
    body: str = "",
    amount: int | None = None,
    important: bool = False,
    confidentiality: str = Document.Confidentiality.NORMAL,
    retention: str = Document.Retention.Y5,
    doc_type: str = "",
    branch_of: Document | None = None,
    classification: Classification | None = None,
) -> Document:
    """起案: a new draft in the drafter's current department."""
    assignment = actor.assignment_on()
    if assignment is None:
        raise NotAllowed(
            "所属が登録されていないため起案できません。",
            "You have no department assignment, so you cannot draft.",
        )
    if not title.strip():
        raise InvalidRequest("件名を入力してください。", "The title is required.")
    if branch_of is not None and branch_of.number_serial is None:
        raise InvalidRequest(
            "枝番は、文書番号のある文書にだけ付けられます。",
            "A branch number needs a parent document that has a number.",
        )
    with transaction.atomic():
        document = Document.objects.create(
            title=title.strip(),
            body=body,
            category=category,
            amount=amount,
            important=important,
            confidentiality=confidentiality,
            retention=retention,
            doc_type=doc_type,
            classification=classification,
            drafter=actor,
            department=assignment.department,
            drafted_on=today(),
            branch_of=branch_of,
        )
        audit_record(
            actor=actor,
            action="approvals.document.created",
            target=document,
            data={"new": {f: _value(getattr(document, f)) for f in EDITABLE_FIELDS}},
        )
    return document


def document_update(*, document: Document | int, actor: Staff, **changes: Any) -> Document:
    """Edit a draft (also after 差戻し or 取下げ); the audit event keeps old and new."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidRequest(f"変更できない項目です: {', '.join(sorted(unknown))}", "Not editable.")
    with transaction.atomic():
        document = _lock(document)
        if document.drafter_id != actor.pk:
            raise NotAllowed("編集できるのは起案者だけです。", "Only the drafter may edit.")
        if not document.is_editable:
            raise NotAllowed(
                "回議中・決裁後の文書は編集できません。",
                "A document under review or decided cannot be edited.",
            )
        old = {f: _value(getattr(document, f)) for f in changes}
        for name, value in changes.items():
            setattr(document, name, value)
        if not document.title.strip():
            raise InvalidRequest("件名を入力してください。", "The title is required.")
        document.save(update_fields=[*changes, "updated_at"])
        new = {f: _value(getattr(document, f)) for f in changes}
        audit_record(
            actor=actor,
            action="approvals.document.updated",
            target=document,
            data={"old": old, "new": new},
        )
    return document


def attachment_add(*, document: Document | int, actor: Staff, upload: UploadedFile) -> Attachment:
    """Attach a file (sha256 kept). Allowed after the decision too; never replaced."""
    if upload.size is None or upload.size == 0:
        raise InvalidRequest("空のファイルは添付できません。", "The file is empty.")
    if upload.size > MAX_ATTACHMENT_BYTES:
        raise InvalidRequest(
            "ファイルが大きすぎます（100 MB まで）。", "The file is too large (100 MB at most)."
        )
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    sha256 = digest.hexdigest()
    upload.seek(0)
    with transaction.atomic():
        document = _lock(document)
        from .selectors import document_visible_to

        if not document_visible_to(document=document, staff=actor):
            raise NotAllowed(
                "この文書を閲覧する権限がありません。", "You may not see this document."
            )
        if document.status == Document.Status.REJECTED:
            raise NotAllowed("却下された文書には添付できません。", "The document was rejected.")
        decided = document.status in (
            Document.Status.DECIDED,
            Document.Status.ISSUED,
            Document.Status.COMPLETED,
        )
        if not decided and document.drafter_id != actor.pk:
            raise NotAllowed(
                "決裁前の文書に添付できるのは起案者だけです。",
                "Before the decision, only the drafter may attach files.",
            )
        attachment = Attachment(
            document=document,
            original_name=(upload.name or "file")[:255],
            content_type=(upload.content_type or "")[:100],
            size=upload.size,
            sha256=sha256,
            uploaded_by=actor,
            uploaded_at=timezone.now(),
            after_decision=document.status
            in (Document.Status.DECIDED, Document.Status.ISSUED, Document.Status.COMPLETED),
        )
        existing = Attachment.objects.filter(sha256=sha256).exclude(file="").first()
        if existing is not None:
            attachment.file.name = existing.file.name  # same bytes: stored once
        else:
            attachment.file.save(sha256, upload, save=False)
        attachment.save()
        audit_record(
            actor=actor,
            action="approvals.attachment.added",
            target=document,
            data={
                "attachment": attachment.pk,
                "name": attachment.original_name,
                "sha256": sha256,
                "size": attachment.size,
                "after_decision": attachment.after_decision,
            },
        )
    return attachment


# --- the route from the authority table ---------------------------------------------


def _rule_for(document: Document, table: AuthorityTable) -> AuthorityRule:
    amount = document.amount or 0
    for rule in table.rules.filter(category=document.category).select_related("decider"):
        if rule.covers(amount):
            return rule
    raise InvalidRequest(
        f"事務決裁規程に「{document.category}」{amount:,}円の区分がありません。",
        "The authority table has no rule for this matter and amount.",
    )


def decider_for(*, document: Document, table: AuthorityTable | None = None) -> tuple[Post, bool]:
    """The deciding post and whether the matter counts as important.

    事務決裁規程: important, unusual or precedent-setting matters go one level up the
    ladder of deciders and may not be decided by a deputy (代決).
    """
    table = table or AuthorityTable.objects.in_force()
    if table is None:
        raise InvalidRequest("事務決裁規程が登録されていません。", "No authority table in force.")
    rule = _rule_for(document, table)
    important = document.important or rule.always_important
    decider = rule.decider
    if important:
        levels = list(table.levels.select_related("post").order_by("level"))
        posts = [lv.post for lv in levels]
        if decider in posts and posts.index(decider) + 1 < len(posts):
            decider = posts[posts.index(decider) + 1]
    return decider, important


def _holder_department(post: Post, chain: list[Department], day: dt.date) -> Department | None:
    """The nearest department up the drafter's line where someone holds `post`."""
    held = set(
        assignments_on(day)
        .filter(post=post, department__in=chain)
        .values_list("department_id", flat=True)
    )
    for department in chain:
        if department.pk in held:
            return department
    return None


def route_propose(*, document: Document, drafter: Staff | None = None) -> list[StageSpec]:
    """The route the authority table gives: 回議 up the drafter's line to the decider,
    a 合議 stage for the departments the rule names, then 決裁."""
    drafter = drafter or document.drafter
    day = today()
    table = AuthorityTable.objects.in_force(day)
    if table is None:
        raise InvalidRequest("事務決裁規程が登録されていません。", "No authority table in force.")
    decider, _important = decider_for(document=document, table=table)
    rule = _rule_for(document, table)
    assignment = drafter.assignment_on(day)
    if assignment is None:
        raise NotAllowed("起案者の所属がありません。", "The drafter has no department.")
    chain = [assignment.department, *assignment.department.ancestors()]
    top_rank_in_line = (
        assignments_on(day)
        .filter(department__in=chain)
        .order_by("post__rank")
        .values_list("post__rank", flat=True)
        .first()
    )

    def where(post: Post) -> Department | bool | None:
        """The department to ask in; None = organisation-wide (副市長, 市長); False = skip."""
        department = _holder_department(post, chain, day)
        if department is not None:
            return department
        if top_rank_in_line is not None and post.rank < top_rank_in_line:
            return None
        return False

    stages: list[StageSpec] = []
    between = Post.objects.filter(
        is_manager=True, rank__lt=assignment.post.rank, rank__gt=decider.rank
    ).order_by("-rank")
    for post in between:
        department = where(post)
        if department is not False:
            stages.append(
                StageSpec(Stage.Kind.CIRCULATION, [StepSpec(post=post, department=department)])
            )
    consult = list(rule.consult_departments.exclude(pk__in=[d.pk for d in chain]))
    if consult:
        head = table.levels.order_by("level").select_related("post").first()
        head_post = head.post if head else decider
        stages.append(
            StageSpec(
                Stage.Kind.CONSULTATION,
                [StepSpec(post=head_post, department=d) for d in consult],
            )
        )
    if assignment.post.rank <= decider.rank:
        # The drafter holds the deciding authority (専決) themselves.
        stages.append(StageSpec(Stage.Kind.DECISION, [StepSpec(person=drafter)]))
    else:
        department = where(decider)
        if department is False:
            # Nobody holds the post in the line today: ask the drafter's own section,
            # so the step waits for a holder (or a superior's 引上げ) rather than
            # going to someone else's 課長.
            department = next((d for d in chain if d.level == Department.Level.KA), chain[0])
        stages.append(
            StageSpec(Stage.Kind.DECISION, [StepSpec(post=decider, department=department)])
        )
    return stages


def document_submit(
    *,
    document: Document | int,
    actor: Staff,
    extra_stages: Sequence[StageSpec] = (),
    client_request_id: str = "",
) -> Route:
    """回議に回す: the proposed route, plus any stages the drafter adds before the
    decision. The decision stage always comes from the table; it cannot be lowered."""
    if any(s.kind == Stage.Kind.DECISION for s in extra_stages):
        raise InvalidRequest(
            "決裁権者は事務決裁規程で決まります。変更できません。",
            "The decider comes from the authority table and cannot be changed.",
        )
    with transaction.atomic():
        document = _lock(document)
        if document.drafter_id != actor.pk:
            raise NotAllowed("回議に回せるのは起案者だけです。", "Only the drafter may submit.")
        if client_request_id and (
            earlier := Action.objects.filter(
                actor=actor,
                client_request_id=client_request_id,
                kind=Action.Kind.SUBMIT,
                route__subject_id=document.pk,
                route__subject_type=ContentType.objects.get_for_model(Document),
            )
            .select_related("route")
            .first()
        ):
            return earlier.route  # a retried submission: answer with the first result
        if not document.can_move_to(Document.Status.IN_REVIEW):
            raise AlreadyDecided
        proposed = route_propose(document=document, drafter=actor)
        _decider, important = decider_for(document=document)
        stages = [*proposed[:-1], *extra_stages, proposed[-1]]
        route = route_start(
            subject=document,
            actor=actor,
            title=document.title,
            department=document.department,
            stages=stages,
            important=important,
            confidential=document.is_confidential,
            client_request_id=client_request_id,
        )
        if document.status != Document.Status.IN_REVIEW:
            document_set_status(document=document, status=Document.Status.IN_REVIEW, actor=actor)
    return route


# --- state changes driven by the engine ---------------------------------------------


def document_set_status(*, document: Document, status: str, actor: Staff) -> Document:
    """The one place a document's status moves; the legal moves are Document.TRANSITIONS.

    Called inside the engine's transaction (route locked); locks the document too.
    """
    with transaction.atomic():
        locked = _lock(document)
        if not locked.can_move_to(status):
            raise AlreadyDecided
        old = locked.status
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            action=f"approvals.document.{status}",
            target=locked,
            data={"old": old, "new": status},
        )
    document.status = status
    return locked


def _symbol_of(department: Department) -> str:
    node: Department | None = department
    while node is not None:
        if node.doc_symbol:
            return node.doc_symbol
        node = node.parent
    return department.code


def format_number(fy: int, symbol: str, serial: int, branch: int = 0) -> str:
    """「8財第12号」, 枝番「8財第12号の2」: 令和 year of the fiscal year + 記号 + serial."""
    _era, year = era_of(dt.date(fy, 12, 31))
    text = f"{year}{symbol}第{serial}号"
    return f"{text}の{branch}" if branch else text


def _next_serial(fy: int, symbol: str, doc_type: str) -> int:
    """Gap-free per (fiscal year, 文書記号, type); reset by the new fiscal year's row."""
    return next_serial(DocumentNumberCounter, fiscal_year=fy, symbol=symbol, doc_type=doc_type)


def document_on_decided(*, document: Document, route: Route, actor: Staff) -> Document:
    """決裁: number the document and fix the decision (the 原議)."""
    with transaction.atomic():
        locked = _lock(document)
        if not locked.can_move_to(Document.Status.DECIDED):
            raise AlreadyDecided
        now = timezone.now()
        fy = fiscal_year(timezone.localdate(now))
        if locked.branch_of_id:
            # 枝番 count within the parent's number, whichever branch they hang from:
            # 「12号」 → 「12号の2」, 「12号の3」 … (the parent itself is the implicit の1).
            parent = Document.objects.get(pk=locked.branch_of_id)
            siblings = Document.objects.filter(
                number_fiscal_year=parent.number_fiscal_year,
                number_symbol=parent.number_symbol,
                number_serial=parent.number_serial,
            )
            # Lock the root (branch 0) so branches of one number are taken one at a time.
            siblings.select_for_update().get(number_branch=0)
            branch = max(siblings.aggregate(m=Max("number_branch"))["m"] or 0, 1) + 1
            locked.number_fiscal_year = parent.number_fiscal_year
            locked.number_symbol = parent.number_symbol
            locked.number_serial = parent.number_serial
            locked.number_branch = branch
            symbol = parent.number_symbol
        else:
            symbol = _symbol_of(locked.department) + locked.doc_type
            locked.number_fiscal_year = fy
            locked.number_symbol = symbol
            locked.number_serial = _next_serial(fy, _symbol_of(locked.department), locked.doc_type)
        locked.number = format_number(
            locked.number_fiscal_year, symbol, locked.number_serial, locked.number_branch
        )
        locked.status = Document.Status.DECIDED
        locked.decided_at = now
        locked.decided_by = actor
        locked.save(
            update_fields=[
                "number",
                "number_fiscal_year",
                "number_symbol",
                "number_serial",
                "number_branch",
                "status",
                "decided_at",
                "decided_by",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            action="approvals.document.decided",
            target=locked,
            data={"number": locked.number, "route": route.pk, "old": "in_review"},
        )
        # The decided document becomes a record: its signed PDF is made after commit.
        record = record_register(
            source=locked,
            title=locked.title,
            number=locked.number,
            department=locked.department,
            confidential=locked.is_confidential,
            actor=actor,
        )
        if locked.classification_id:
            # Filed at once in its 簿冊 (department × classification × fiscal year).
            record_file_by_classification(
                record=record,
                classification=locked.classification,
                fiscal_year=locked.number_fiscal_year,
                actor=actor,
            )
    document.status = locked.status
    document.number = locked.number
    return locked


def document_issue(*, document: Document | int, actor: Staff, issued_on: dt.date) -> Document:
    """施行: the decided document is sent out / carried out on `issued_on`."""
    with transaction.atomic():
        document = _lock(document)
        if document.drafter_id != actor.pk and document.decided_by_id != actor.pk:
            raise NotAllowed("施行を記録できるのは起案者か決裁者です。", "Drafter or decider only.")
        if not document.can_move_to(Document.Status.ISSUED):
            raise InvalidRequest("決裁済の文書だけが施行できます。", "Only a decided document.")
        if document.decided_at and issued_on < timezone.localdate(document.decided_at):
            raise InvalidRequest("施行日は決裁日以降です。", "Issue date precedes the decision.")
        document.status = Document.Status.ISSUED
        document.issued_on = issued_on
        document.save(update_fields=["status", "issued_on", "updated_at"])
        audit_record(
            actor=actor,
            action="approvals.document.issued",
            target=document,
            data={"issued_on": issued_on},
        )
    return document


def document_complete(*, document: Document | int, actor: Staff, completed_on: dt.date) -> Document:
    """完結: the matter is finished; the completion date drives the retention start.

    Once the records capability exists, the completed document is handed to it here.
    """
    with transaction.atomic():
        document = _lock(document)
        if document.drafter_id != actor.pk and document.decided_by_id != actor.pk:
            raise NotAllowed("完結を記録できるのは起案者か決裁者です。", "Drafter or decider only.")
        if not document.can_move_to(Document.Status.COMPLETED):
            raise InvalidRequest("決裁済の文書だけが完結できます。", "Only a decided document.")
        if document.decided_at and completed_on < timezone.localdate(document.decided_at):
            raise InvalidRequest("完結日は決裁日以降です。", "Completion precedes the decision.")
        old = document.status
        document.status = Document.Status.COMPLETED
        document.completed_on = completed_on
        document.save(update_fields=["status", "completed_on", "updated_at"])
        audit_record(
            actor=actor,
            action="approvals.document.completed",
            target=document,
            data={"old": old, "completed_on": completed_on},
        )
    return document


# --- the authority table ---------------------------------------------------------------


def authority_table_new_version(
    *,
    actor: Staff,
    effective_from: dt.date,
    note: str,
    levels: Sequence[Post],
    rules: Sequence[dict[str, Any]],
) -> AuthorityTable:
    """A new version of the 事務決裁規程 applying from `effective_from` (audited).

    `rules` items: category, amount_min, amount_max, decider, consult (departments),
    always_important. Versions already in force never change.
    """
    if effective_from <= today():
        raise InvalidRequest(
            "新しい版の施行日は明日以降にしてください（施行済の版は変更できません）。",
            "A new version must apply from a future date.",
        )
    with transaction.atomic():
        last = AuthorityTable.objects.select_for_update().order_by("-version").first()
        table = AuthorityTable.objects.create(
            version=(last.version + 1) if last else 1,
            effective_from=effective_from,
            note=note,
            created_by=actor,
            created_at=timezone.now(),
        )
        _fill_table(table, levels, rules)
        audit_record(
            actor=actor,
            action="approvals.authority_table.created",
            target=table,
            data={
                "version": table.version,
                "effective_from": effective_from,
                "note": note,
                "rules": len(rules),
            },
        )
    return table


def _fill_table(
    table: AuthorityTable, levels: Sequence[Post], rules: Sequence[dict[str, Any]]
) -> None:
    AuthorityLevel.objects.bulk_create(
        AuthorityLevel(table=table, level=i, post=post) for i, post in enumerate(levels, start=1)
    )
    for spec in rules:
        rule = AuthorityRule.objects.create(
            table=table,
            category=spec["category"],
            amount_min=spec.get("amount_min") or 0,
            amount_max=spec.get("amount_max"),
            decider=spec["decider"],
            always_important=spec.get("always_important", False),
        )
        if spec.get("consult"):
            rule.consult_departments.set(spec["consult"])


def authority_table_copy(
    *, table: AuthorityTable, actor: Staff, effective_from: dt.date
) -> AuthorityTable:
    """A new version copied from `table`, to be edited before it applies (audited)."""
    rules = [
        {
            "category": r.category,
            "amount_min": r.amount_min,
            "amount_max": r.amount_max,
            "decider": r.decider,
            "consult": list(r.consult_departments.all()),
            "always_important": r.always_important,
        }
        for r in table.rules.select_related("category", "decider").prefetch_related(
            "consult_departments"
        )
    ]
    levels = [lv.post for lv in table.levels.select_related("post").order_by("level")]
    return authority_table_new_version(
        actor=actor,
        effective_from=effective_from,
        note=f"第{table.version}版の改正案",
        levels=levels,
        rules=rules,
    )
