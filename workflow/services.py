"""Every write of the approval engine. One recipe for each (STYLE.md):

check the precondition → `transaction.atomic()` → lock the route (`select_for_update`) →
re-read what was checked → change and save the listed fields → one audit event →
after commit, push the change to the inboxes that moved.

All actions on one route are serialised by the route's row lock, so two people acting
on one step at once cannot both win: the second finds the step already decided and
gets `AlreadyDecided`. Each action can carry the client's request id; a repeated id
returns the first result instead of acting twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Model
from django.utils import timezone
from guardian.shortcuts import assign_perm

from audit.services import audit_record
from org.models import Department, Post, Staff
from org.selectors import deputies_of, is_absent, staff_in_post

from .errors import AlreadyDecided, InvalidRequest, NotAllowed
from .models import Action, Notification, PostReview, Route, Stage, Step
from .push import push_inbox_changed
from .subjects import Subject

VIEW_ROUTE = "workflow.view_route"


@dataclass(frozen=True)
class StepSpec:
    """Whom a step asks: a post in a department, a post anywhere, or a named person."""

    post: Post | None = None
    department: Department | None = None
    person: Staff | None = None
    due_at: dt.datetime | None = None


@dataclass(frozen=True)
class StageSpec:
    kind: str
    steps: Sequence[StepSpec]
    required_approvals: int | None = None
    required: bool = True


@dataclass
class _Effects:
    """What to push after commit: the inboxes whose content changed."""

    inboxes: set[int] = field(default_factory=set)

    def commit(self) -> None:
        ids = sorted(i for i in self.inboxes if i)
        if ids:
            transaction.on_commit(lambda: push_inbox_changed(ids))


# --- helpers -------------------------------------------------------------------------


def _now() -> dt.datetime:
    return timezone.now()


def _lock(route_id: int) -> Route:
    return Route.objects.select_for_update().get(pk=route_id)


def _replayed(
    actor: Staff,
    client_request_id: str,
    kinds: set[str],
    step: Step | int | None = None,
    route: Route | int | None = None,
) -> Action | None:
    """The earlier action made with this request id, if the client is retrying.

    An id reused for a different action (another kind, step or route) is a client bug:
    it is refused rather than answered with the other action's result.
    """
    if not client_request_id:
        return None
    earlier = Action.objects.filter(actor=actor, client_request_id=client_request_id).first()
    if earlier is None:
        return None
    step_id = step.pk if isinstance(step, Step) else step
    route_id = route.pk if isinstance(route, Route) else route
    if (
        earlier.kind not in kinds
        or (step_id is not None and earlier.step_id != step_id)
        or (route_id is not None and earlier.route_id != route_id)
    ):
        raise InvalidRequest(
            "このリクエストIDは別の操作で使われています。",
            "This client request id was already used for a different action.",
        )
    return earlier


def _record(
    *,
    route: Route,
    kind: str,
    actor: Staff,
    step: Step | None = None,
    comment: str = "",
    on_behalf_of: Staff | None = None,
    client_request_id: str = "",
    data: dict | None = None,
) -> Action:
    """The history row and the audit event of one action, in the caller's transaction."""
    try:
        with transaction.atomic():
            action = Action.objects.create(
                route=route,
                step=step,
                kind=kind,
                actor=actor,
                on_behalf_of=on_behalf_of,
                comment=comment,
                at=_now(),
                client_request_id=client_request_id,
                data=json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder)),
            )
    except IntegrityError as exc:
        # Same request id, racing with itself: the first one won.
        raise AlreadyDecided from exc
    audit_record(
        actor=actor,
        action=f"workflow.{kind}",
        target=route,
        data={
            "route": route.pk,
            "step": step.pk if step else None,
            "on_behalf_of": on_behalf_of.pk if on_behalf_of else None,
            "comment": comment,
            **(data or {}),
        },
    )
    return action


def _notify(
    recipient_id: int | None, kind: str, message: str, route: Route, step: Step | None = None
) -> None:
    if recipient_id is None:
        return
    subject = route.subject
    Notification.objects.create(
        recipient_id=recipient_id,
        kind=kind,
        message=message[:300],
        url=subject.get_absolute_url() if subject is not None else "",
        step=step,
        created_at=_now(),
    )


def _resolve(step: Step, day: dt.date) -> Staff | None:
    """The person a step goes to on `day` (a transfer in flight changes the answer)."""
    if step.person_id:
        return step.person
    if step.department_id:
        holders = staff_in_post(department=step.department, post=step.post, on=day)
    else:
        from org.selectors import assignments_on

        holders = [
            a.staff for a in assignments_on(day).filter(post=step.post, staff__is_active=True)
        ]
    return holders[0] if holders else None


def _grant_view(route: Route, staff_id: int | None) -> None:
    if staff_id:
        assign_perm(VIEW_ROUTE, Staff(pk=staff_id), route)


def _grant_participants(route: Route, steps) -> None:
    """Everyone on the route may see it from submission on, not only once their step
    becomes active: today's holder of each step and their deputies. (A holder who
    arrives later by transfer is granted when the step activates.)"""
    today = timezone.localdate()
    for step in steps:
        holder = _resolve(step, today)
        if holder is not None:
            _grant_view(route, holder.pk)
            for deputy in deputies_of(staff=holder):
                _grant_view(route, deputy.pk)


def _activate_stage(route: Route, stage: Stage, effects: _Effects) -> None:
    now = _now()
    stage.status = Stage.Status.ACTIVE
    stage.save(update_fields=["status"])
    due_days = settings.WORKFLOW_DEFAULT_DUE_DAYS
    for step in stage.steps.select_related("person", "department", "post").order_by("position"):
        assignee = _resolve(step, timezone.localdate(now))
        step.assignee = assignee
        step.status = Step.Status.PENDING
        step.activated_at = now
        step.acted_by = None
        step.acted_at = None
        step.mode = ""
        if step.due_at is None and due_days and stage.blocks:
            step.due_at = now + dt.timedelta(days=due_days)
        step.save(
            update_fields=[
                "assignee",
                "status",
                "activated_at",
                "acted_by",
                "acted_at",
                "mode",
                "due_at",
            ]
        )
        if assignee is not None:
            _grant_view(route, assignee.pk)
            effects.inboxes.add(assignee.pk)
            for deputy in deputies_of(staff=assignee):
                _grant_view(route, deputy.pk)


def _advance(route: Route, actor: Staff, effects: _Effects) -> None:
    """Open the stages after the current one up to the next that must be acted on.

    供覧 stages open and are passed at once (they never hold the route). When no stage
    is left the route is decided: the subject's `workflow_on_approved` runs here.
    """
    for stage in route.stages.filter(position__gt=route.current_stage).order_by("position"):
        _activate_stage(route, stage, effects)
        route.current_stage = stage.position
        if stage.blocks:
            route.save(update_fields=["current_stage"])
            return
    route.status = Route.Status.APPROVED
    route.finished_at = _now()
    route.save(update_fields=["current_stage", "status", "finished_at"])
    route.subject.workflow_on_approved(route=route, actor=actor)
    _notify(
        route.submitted_by_id, Notification.Kind.RESULT, f"決裁されました: {route.title}", route
    )
    effects.inboxes.add(route.submitted_by_id)


def _stage_complete(stage: Stage) -> bool:
    steps = list(stage.steps.all())
    done = sum(
        1
        for s in steps
        if s.status in (Step.Status.APPROVED, Step.Status.DECIDED)
        or (s.status == Step.Status.SKIPPED and s.mode == Step.Mode.PULLED_UP)
    )
    needed = stage.required_approvals or len(steps)
    return done >= min(needed, len(steps))


_POST_REVIEW_MESSAGES = {
    PostReview.Reason.DEPUTY: "代決されました。後閲してください: {title}",
    PostReview.Reason.PULLED_UP: "不在中に引上げ処理されました。後閲してください: {title}",
}


def _ask_post_review(route: Route, step: Step, reason: str) -> None:
    """後閲: the absent holder reviews afterwards; it never holds the route up."""
    PostReview.objects.create(step=step, reviewer=step.assignee, reason=reason, created_at=_now())
    _notify(
        step.assignee_id,
        Notification.Kind.POST_REVIEW,
        _POST_REVIEW_MESSAGES[reason].format(title=route.title),
        route,
        step,
    )


def _move_on(route: Route, step: Step, actor: Staff, effects: _Effects) -> None:
    """After a step is done: close its stage and open the next if that completed it."""
    if _completes_current_stage(route, step):
        _close_stage(step.stage, effects)
        _advance(route, actor, effects)
    effects.commit()


def _completes_current_stage(route: Route, step: Step) -> bool:
    """Only the route's current, blocking stage moves the route on when it completes."""
    return (
        step.stage.blocks
        and step.stage.position == route.current_stage
        and _stage_complete(step.stage)
    )


def _close_stage(stage: Stage, effects: _Effects) -> None:
    """Mark a finished stage done; steps no longer needed (N-of-M) leave the inboxes."""
    for step in stage.steps.filter(status=Step.Status.PENDING):
        step.status = Step.Status.SKIPPED
        step.mode = Step.Mode.NOT_NEEDED
        step.save(update_fields=["status", "mode"])
        effects.inboxes.add(step.assignee_id)
    stage.status = Stage.Status.DONE
    stage.save(update_fields=["status"])


def _park_pending(route: Route, effects: _Effects) -> None:
    """Take every pending step of a route out of the inboxes (the route stops)."""
    for step in route.steps.filter(status=Step.Status.PENDING):
        step.status = Step.Status.WAITING
        step.save(update_fields=["status"])
        effects.inboxes.add(step.assignee_id)


def acting_mode(*, step: Step, actor: Staff, at: dt.datetime | None = None) -> str | None:
    """How `actor` may act on `step` now: as the holder, as deputy (代決), or not at all."""
    if step.assignee_id == actor.pk:
        return Step.Mode.NORMAL
    if step.assignee_id is None or step.route.important:
        return None
    if is_absent(staff=step.assignee, at=at) and actor in deputies_of(staff=step.assignee):
        return Step.Mode.DEPUTY
    return None


def _require_mode(step: Step, actor: Staff) -> str:
    mode = acting_mode(step=step, actor=actor)
    if mode is not None:
        return mode
    if (
        step.route.important
        and step.assignee_id
        and actor in deputies_of(staff=step.assignee)
        and is_absent(staff=step.assignee)
    ):
        raise NotAllowed(
            "重要案件は代決できません（事務決裁規程）。",
            "Important matters may not be decided by a deputy.",
        )
    raise NotAllowed(
        "この処理段階を処理する権限がありません。",
        "You are not the person this step is assigned to, nor their deputy while they are away.",
    )


def _refuse_strangers(step: Step, actor: Staff) -> None:
    """Someone with no part in this step is told so, whatever state the step is in;
    only its holder, their deputies and whoever acted on it hear "already decided"."""
    if actor.pk in (step.assignee_id, step.acted_by_id):
        return
    if step.assignee_id and actor in deputies_of(staff=step.assignee):
        return
    raise NotAllowed(
        "この処理段階を処理する権限がありません。",
        "You are not the person this step is assigned to, nor their deputy.",
    )


def _take_pending_decision(
    step: Step | int, actor: Staff, not_for_information_ja: str, not_for_information_en: str
) -> tuple[Step, Route, str]:
    """Lock the route and check that `actor` may decide this pending, blocking step
    (return, reject): the same preconditions, in the same order, for both."""
    step = _fresh_step(step)
    route = _lock(step.route_id)
    step = _fresh_step(step)
    _refuse_strangers(step, actor)
    if not route.is_open or step.status != Step.Status.PENDING:
        raise AlreadyDecided
    if step.stage.kind == Stage.Kind.INFORMATION:
        raise InvalidRequest(not_for_information_ja, not_for_information_en)
    return step, route, _require_mode(step, actor)


def _mark_acted(step: Step, status: str, mode: str, actor: Staff, comment: str = "") -> None:
    """Record who acted on a step, how, when and with what comment."""
    step.status = status
    step.mode = mode
    step.acted_by = actor
    step.acted_at = _now()
    step.comment = comment
    step.save(update_fields=["status", "mode", "acted_by", "acted_at", "comment"])


def _fresh_step(step: Step | int) -> Step:
    pk = step.pk if isinstance(step, Step) else step
    return Step.objects.select_related("route", "stage", "assignee").get(pk=pk)


# --- submit --------------------------------------------------------------------------


def route_start(
    *,
    subject: Subject | Model,
    actor: Staff,
    title: str,
    department: Department,
    stages: Sequence[StageSpec],
    important: bool = False,
    confidential: bool = False,
    client_request_id: str = "",
) -> Route:
    """Submit a subject on a route (回議に回す). The caller has locked the subject row."""
    if not stages or stages[-1].kind != Stage.Kind.DECISION:
        raise InvalidRequest(
            "経路の最後は決裁でなければなりません。", "A route must end in a decision."
        )
    if any(not s.steps for s in stages):
        raise InvalidRequest("空の段があります。", "A stage without steps.")
    with transaction.atomic():
        subject_type = ContentType.objects.get_for_model(subject)
        if (earlier := _replayed(actor, client_request_id, {Action.Kind.SUBMIT})) is not None:
            if (earlier.route.subject_type_id, earlier.route.subject_id) != (
                subject_type.pk,
                subject.pk,
            ):
                raise InvalidRequest(
                    "このリクエストIDは別の案件の提出で使われています。",
                    "This client request id was already used to submit another item.",
                )
            return earlier.route
        previous = Route.objects.select_for_update().filter(
            subject_type=subject_type, subject_id=subject.pk
        )
        if previous.filter(status=Route.Status.ACTIVE).exists():
            raise AlreadyDecided
        last_round = previous.aggregate(m=Max("round"))["m"] or 0
        route = Route.objects.create(
            subject_type=subject_type,
            subject_id=subject.pk,
            round=last_round + 1,
            title=title[:300],
            department=department,
            submitted_by=actor,
            submitted_at=_now(),
            important=important,
            confidential=confidential,
            current_stage=0,
        )
        for position, spec in enumerate(stages, start=1):
            stage = Stage.objects.create(
                route=route,
                position=position,
                kind=spec.kind,
                required_approvals=spec.required_approvals,
                required=spec.required,
            )
            Step.objects.bulk_create(
                Step(
                    route=route,
                    stage=stage,
                    position=i,
                    post=s.post,
                    department=s.department,
                    person=s.person,
                    due_at=s.due_at,
                    required=spec.required,
                )
                for i, s in enumerate(spec.steps)
            )
        _grant_view(route, actor.pk)
        _grant_participants(
            route, Step.objects.filter(route=route).select_related("person", "department", "post")
        )
        _record(
            route=route,
            kind=Action.Kind.SUBMIT,
            actor=actor,
            client_request_id=client_request_id,
            data={"round": route.round, "stages": len(stages), "important": important},
        )
        effects = _Effects()
        _advance(route, actor, effects)
        effects.commit()
    return route


# --- acting on a step ----------------------------------------------------------------


def step_approve(
    *, step: Step | int, actor: Staff, comment: str = "", client_request_id: str = ""
) -> Step:
    """Approve (承認), decide (決裁, on the final stage), or confirm a 供覧 step.

    A deputy (代理者) may act while the holder is registered absent, except on important
    matters; that is 代決 and creates a 後閲 task for the holder, which does not block.
    """
    with transaction.atomic():
        if (
            earlier := _replayed(
                actor,
                client_request_id,
                {Action.Kind.APPROVE, Action.Kind.DECIDE, Action.Kind.SEEN},
                step,
            )
        ) is not None:
            return _fresh_step(earlier.step_id)
        step = _fresh_step(step)
        route = _lock(step.route_id)
        step = _fresh_step(step)
        information = step.stage.kind == Stage.Kind.INFORMATION
        route_open = route.is_open or (information and route.status == Route.Status.APPROVED)
        _refuse_strangers(step, actor)
        if not route_open or step.status != Step.Status.PENDING:
            raise AlreadyDecided
        mode = _require_mode(step, actor)
        final = step.stage.kind == Stage.Kind.DECISION
        if information:
            status, kind = Step.Status.SEEN, Action.Kind.SEEN
        elif final:
            status, kind = Step.Status.DECIDED, Action.Kind.DECIDE
        else:
            status, kind = Step.Status.APPROVED, Action.Kind.APPROVE
        _mark_acted(step, status, mode, actor, comment)
        deputy = mode == Step.Mode.DEPUTY
        _record(
            route=route,
            kind=kind,
            actor=actor,
            step=step,
            comment=comment,
            on_behalf_of=step.assignee if deputy else None,
            client_request_id=client_request_id,
            data={"mode": mode},
        )
        if deputy:
            _ask_post_review(route, step, PostReview.Reason.DEPUTY)
        _move_on(route, step, actor, _Effects(inboxes={actor.pk, step.assignee_id}))
    return step


def step_return(
    *,
    step: Step | int,
    actor: Staff,
    comment: str,
    to_step: Step | int | None = None,
    client_request_id: str = "",
) -> Step:
    """差戻し: back to the drafter (the route ends; the draft is editable), or to an
    earlier step, which acts again together with everything after it."""
    if not comment.strip():
        raise InvalidRequest("差戻しの理由を入力してください。", "Give a reason for returning.")
    with transaction.atomic():
        if (earlier := _replayed(actor, client_request_id, {Action.Kind.RETURN}, step)) is not None:
            return _fresh_step(earlier.step_id)
        step, route, mode = _take_pending_decision(
            step, actor, "供覧は差し戻せません。", "Circulation for information cannot return."
        )
        target = _fresh_step(to_step) if to_step is not None else None
        if target is not None and (
            target.route_id != route.pk
            or target.stage.position >= step.stage.position
            or target.stage.kind == Stage.Kind.INFORMATION
        ):
            raise InvalidRequest(
                "差戻し先は、この経路のより前の段でなければなりません。",
                "Return to an earlier step of this route.",
            )
        effects = _Effects(inboxes={actor.pk})
        _record(
            route=route,
            kind=Action.Kind.RETURN,
            actor=actor,
            step=step,
            comment=comment,
            on_behalf_of=step.assignee if mode == Step.Mode.DEPUTY else None,
            client_request_id=client_request_id,
            data={"to_step": target.pk if target else None},
        )
        if target is None:
            _mark_acted(step, Step.Status.RETURNED, mode, actor, comment)
            _park_pending(route, effects)
            route.status = Route.Status.RETURNED
            route.finished_at = _now()
            route.save(update_fields=["status", "finished_at"])
            route.subject.workflow_on_returned(route=route, actor=actor)
            _notify(
                route.submitted_by_id,
                Notification.Kind.RESULT,
                f"差し戻されました: {route.title}",
                route,
                step,
            )
            effects.inboxes.add(route.submitted_by_id)
        else:
            # Everything from the target's stage on runs again; history stays in Action.
            _park_pending(route, effects)
            later = route.stages.filter(position__gt=target.stage.position)
            later.update(status=Stage.Status.WAITING)
            Step.objects.filter(route=route, stage__in=later).update(
                status=Step.Status.WAITING, acted_by=None, acted_at=None, mode="", comment=""
            )
            target.stage.status = Stage.Status.ACTIVE
            target.stage.save(update_fields=["status"])
            _reopen_step(route, target, effects)
            _notify(
                target.assignee_id,
                Notification.Kind.ASSIGNED,
                f"差し戻されました。再度処理してください: {route.title}",
                route,
                target,
            )
        effects.commit()
    return step


def _reopen_step(route: Route, step: Step, effects: _Effects) -> None:
    """Put one step back in front of (possibly a new) holder, its stage active."""
    route.current_stage = step.stage.position
    route.save(update_fields=["current_stage"])
    assignee = _resolve(step, timezone.localdate())
    step.assignee = assignee
    step.status = Step.Status.PENDING
    step.acted_by = None
    step.acted_at = None
    step.mode = ""
    step.comment = ""
    step.activated_at = _now()
    step.save(
        update_fields=[
            "assignee",
            "status",
            "acted_by",
            "acted_at",
            "mode",
            "comment",
            "activated_at",
        ]
    )
    if assignee is not None:
        _grant_view(route, assignee.pk)
        effects.inboxes.add(assignee.pk)


def step_reject(
    *, step: Step | int, actor: Staff, comment: str, client_request_id: str = ""
) -> Step:
    """却下: the proposal ends here. Terminal."""
    if not comment.strip():
        raise InvalidRequest("却下の理由を入力してください。", "Give a reason for rejecting.")
    with transaction.atomic():
        if (earlier := _replayed(actor, client_request_id, {Action.Kind.REJECT}, step)) is not None:
            return _fresh_step(earlier.step_id)
        step, route, mode = _take_pending_decision(
            step, actor, "供覧は却下できません。", "Circulation for information cannot reject."
        )
        _mark_acted(step, Step.Status.REJECTED, mode, actor, comment)
        _record(
            route=route,
            kind=Action.Kind.REJECT,
            actor=actor,
            step=step,
            comment=comment,
            on_behalf_of=step.assignee if mode == Step.Mode.DEPUTY else None,
            client_request_id=client_request_id,
        )
        effects = _Effects(inboxes={actor.pk, route.submitted_by_id})
        _park_pending(route, effects)
        route.status = Route.Status.REJECTED
        route.finished_at = _now()
        route.save(update_fields=["status", "finished_at"])
        route.subject.workflow_on_rejected(route=route, actor=actor)
        _notify(
            route.submitted_by_id, Notification.Kind.RESULT, f"却下されました: {route.title}", route
        )
        effects.commit()
    return step


def step_withdraw_approval(*, step: Step | int, actor: Staff, client_request_id: str = "") -> Step:
    """引戻し: take back one's own approval while nobody after has acted yet."""
    with transaction.atomic():
        if (
            earlier := _replayed(actor, client_request_id, {Action.Kind.WITHDRAW_APPROVAL}, step)
        ) is not None:
            return _fresh_step(earlier.step_id)
        step = _fresh_step(step)
        route = _lock(step.route_id)
        step = _fresh_step(step)
        if not route.is_open or step.status != Step.Status.APPROVED or step.acted_by_id != actor.pk:
            raise NotAllowed(
                "引き戻せるのは、回議中の案件での自分の承認だけです。",
                "Only your own approval on a route still in progress can be withdrawn.",
            )
        touched = (
            Step.objects.filter(route=route, stage__position__gt=step.stage.position)
            .exclude(acted_by=None)
            .exists()
        )
        if touched:
            raise NotAllowed(
                "次の処理者が既に処理しているため引き戻せません。",
                "The next person has already acted; the approval can no longer be withdrawn.",
            )
        effects = _Effects(inboxes={actor.pk})
        _record(
            route=route,
            kind=Action.Kind.WITHDRAW_APPROVAL,
            actor=actor,
            step=step,
            client_request_id=client_request_id,
        )
        later = route.stages.filter(position__gt=step.stage.position)
        for later_step in Step.objects.filter(
            route=route, stage__in=later, status=Step.Status.PENDING
        ):
            effects.inboxes.add(later_step.assignee_id)
        Step.objects.filter(route=route, stage__in=later).update(status=Step.Status.WAITING)
        later.update(status=Stage.Status.WAITING)
        # Steps closed as "not needed" when the stage completed are needed again.
        for other in step.stage.steps.filter(status=Step.Status.SKIPPED, mode=Step.Mode.NOT_NEEDED):
            other.status = Step.Status.PENDING
            other.mode = ""
            other.save(update_fields=["status", "mode"])
            effects.inboxes.add(other.assignee_id)
        step.stage.status = Stage.Status.ACTIVE
        step.stage.save(update_fields=["status"])
        # A 代決 taken back leaves nothing for the holder to post-review.
        PostReview.objects.filter(step=step, done_at__isnull=True).delete()
        step.status = Step.Status.PENDING
        step.mode = ""
        step.acted_by = None
        step.acted_at = None
        step.comment = ""
        step.save(update_fields=["status", "mode", "acted_by", "acted_at", "comment"])
        route.current_stage = step.stage.position
        route.save(update_fields=["current_stage"])
        effects.commit()
    return step


def step_pull_up(*, step: Step | int, actor: Staff, client_request_id: str = "") -> Step:
    """引上げ: a superior further along the route acts past an absent subordinate.

    The skipped step becomes 後閲 for its holder; the route moves on to the next stage.
    """
    with transaction.atomic():
        if (
            earlier := _replayed(actor, client_request_id, {Action.Kind.PULL_UP}, step)
        ) is not None:
            return _fresh_step(earlier.step_id)
        step = _fresh_step(step)
        route = _lock(step.route_id)
        step = _fresh_step(step)
        if not route.is_open or step.status != Step.Status.PENDING:
            raise AlreadyDecided
        if step.stage.kind == Stage.Kind.INFORMATION:
            raise InvalidRequest(
                "供覧は経路を止めないため、引上げの対象ではありません。",
                "Circulation for information never holds the route up; nothing to pull up.",
            )
        later_holder = Step.objects.filter(
            route=route, stage__position__gt=step.stage.position, assignee=actor
        ).exists() or _holds_later_post(route, step, actor)
        if not later_holder:
            raise NotAllowed(
                "引上げできるのは、この後の段の処理者（上司）だけです。",
                "Only a superior later on the route may act past this step.",
            )
        if step.assignee_id and not is_absent(staff=step.assignee):
            raise NotAllowed(
                "担当者が不在ではないため引上げできません。",
                "The holder of this step is not registered as absent.",
            )
        step.status = Step.Status.SKIPPED
        step.mode = Step.Mode.PULLED_UP
        step.acted_by = actor
        step.acted_at = _now()
        step.save(update_fields=["status", "mode", "acted_by", "acted_at"])
        _record(
            route=route,
            kind=Action.Kind.PULL_UP,
            actor=actor,
            step=step,
            on_behalf_of=step.assignee,
            client_request_id=client_request_id,
        )
        if step.assignee_id:
            _ask_post_review(route, step, PostReview.Reason.PULLED_UP)
        _move_on(route, step, actor, _Effects(inboxes={actor.pk, step.assignee_id}))
    return step


def _holds_later_post(route: Route, step: Step, actor: Staff) -> bool:
    """Whether `actor` would be resolved for a later, not yet active step."""
    today = timezone.localdate()
    for later in Step.objects.filter(
        route=route, stage__position__gt=step.stage.position, status=Step.Status.WAITING
    ).select_related("department", "post", "person"):
        resolved = _resolve(later, today)
        if resolved is not None and resolved.pk == actor.pk:
            return True
    return False


def may_withdraw(route: Route, actor: Staff, subject: Model | None = None) -> bool:
    """取下げ is for whoever submitted the route, and for whoever the subject names
    (`workflow_may_withdraw`: a leave request a clerk filed may be withdrawn by the person
    it is for, too). `subject`: the route's, when the caller has it loaded."""
    if route.submitted_by_id == actor.pk:
        return True
    hook = getattr(subject if subject is not None else route.subject, "workflow_may_withdraw", None)
    return bool(hook is not None and hook(actor))


def route_withdraw(
    *, route: Route | int, actor: Staff, comment: str = "", client_request_id: str = ""
) -> Route:
    """取下げ by the drafter (or whoever the subject names, see `may_withdraw`): the route
    stops, history is kept, the draft is editable."""
    with transaction.atomic():
        if (
            earlier := _replayed(actor, client_request_id, {Action.Kind.WITHDRAW}, route=route)
        ) is not None:
            return earlier.route
        route = _lock(route.pk if isinstance(route, Route) else route)
        if not may_withdraw(route, actor):
            raise NotAllowed(
                "取下げできるのは起案者（申請の本人を含みます）だけです。",
                "Only the drafter (or the person the request is for) may withdraw.",
            )
        if route.status not in (Route.Status.ACTIVE, Route.Status.RETURNED):
            raise AlreadyDecided
        _record(
            route=route,
            kind=Action.Kind.WITHDRAW,
            actor=actor,
            comment=comment,
            client_request_id=client_request_id,
        )
        effects = _Effects(inboxes={actor.pk, route.submitted_by_id})
        _park_pending(route, effects)
        route.status = Route.Status.WITHDRAWN
        route.finished_at = route.finished_at or _now()
        route.save(update_fields=["status", "finished_at"])
        route.subject.workflow_on_withdrawn(route=route, actor=actor)
        effects.commit()
    return route


def step_comment(
    *, route: Route | int, actor: Staff, comment: str, client_request_id: str = ""
) -> Action:
    """意見: a comment on the route by anyone who may see it; changes no state."""
    if not comment.strip():
        raise InvalidRequest("意見を入力してください。", "The comment is empty.")
    with transaction.atomic():
        if (
            earlier := _replayed(actor, client_request_id, {Action.Kind.COMMENT}, route=route)
        ) is not None:
            return earlier
        route = _lock(route.pk if isinstance(route, Route) else route)
        if not actor.has_perm(VIEW_ROUTE, route):
            raise NotAllowed("この案件を閲覧する権限がありません。", "You may not see this item.")
        return _record(
            route=route,
            kind=Action.Kind.COMMENT,
            actor=actor,
            comment=comment,
            client_request_id=client_request_id,
        )


def route_add_stage(
    *,
    route: Route | int,
    actor: Staff,
    spec: StageSpec,
    client_request_id: str = "",
) -> Stage:
    """An approver adds a stage right after their own (never before, never removing one).

    Added stages are not required: whoever added one may remove it while it waits.
    """
    if spec.kind == Stage.Kind.DECISION or not spec.steps:
        raise InvalidRequest(
            "追加できるのは回議・合議・供覧の段です。",
            "Only circulation, consultation or information stages can be added.",
        )
    with transaction.atomic():
        if (
            earlier := _replayed(actor, client_request_id, {Action.Kind.ADD_STEP}, route=route)
        ) is not None:
            return Stage.objects.get(pk=earlier.data["stage"])
        route = _lock(route.pk if isinstance(route, Route) else route)
        if not route.is_open:
            raise AlreadyDecided
        own = (
            Step.objects.filter(route=route, assignee=actor, status=Step.Status.PENDING)
            .select_related("stage")
            .first()
        )
        if own is None:
            raise NotAllowed(
                "経路を追加できるのは、処理待ちの承認者だけです。",
                "Only an approver with a pending step may add to the route.",
            )
        after = own.stage.position
        # Shift later stages up by one, last first, keeping positions unique throughout.
        for later in route.stages.filter(position__gt=after).order_by("-position"):
            later.position = F("position") + 1
            later.save(update_fields=["position"])
        stage = Stage.objects.create(
            route=route,
            position=after + 1,
            kind=spec.kind,
            required_approvals=spec.required_approvals,
            required=False,
            added_by=actor,
        )
        added = Step.objects.bulk_create(
            Step(
                route=route,
                stage=stage,
                position=i,
                post=s.post,
                department=s.department,
                person=s.person,
                due_at=s.due_at,
                required=False,
                added_by=actor,
            )
            for i, s in enumerate(spec.steps)
        )
        _grant_participants(route, added)
        _record(
            route=route,
            kind=Action.Kind.ADD_STEP,
            actor=actor,
            client_request_id=client_request_id,
            data={"stage": stage.pk, "position": stage.position, "kind": spec.kind},
        )
    return stage


def route_remove_stage(*, stage: Stage | int, actor: Staff) -> None:
    """Remove a stage one added oneself, while it still waits. Required stages: never."""
    with transaction.atomic():
        stage = Stage.objects.get(pk=stage.pk if isinstance(stage, Stage) else stage)
        route = _lock(stage.route_id)
        stage = Stage.objects.get(pk=stage.pk)
        if stage.required or stage.added_by_id != actor.pk:
            raise NotAllowed(
                "必須の段、または他の人が追加した段は削除できません。",
                "Required stages, or stages someone else added, cannot be removed.",
            )
        if stage.status != Stage.Status.WAITING or not route.is_open:
            raise AlreadyDecided
        position = stage.position
        _record(
            route=route,
            kind=Action.Kind.REMOVE_STEP,
            actor=actor,
            data={"stage": stage.pk, "position": position},
        )
        stage.delete()
        for later in route.stages.filter(position__gt=position).order_by("position"):
            later.position = F("position") - 1
            later.save(update_fields=["position"])


def post_review_complete(
    *, review: PostReview | int, actor: Staff, comment: str = ""
) -> PostReview:
    """後閲 done: the absent holder has read what was decided in their place."""
    with transaction.atomic():
        review = PostReview.objects.select_for_update().get(
            pk=review.pk if isinstance(review, PostReview) else review
        )
        if review.reviewer_id != actor.pk:
            raise NotAllowed("後閲するのは本人だけです。", "Only the holder does the post-review.")
        if review.done_at is not None:
            raise AlreadyDecided
        review.done_at = _now()
        review.comment = comment
        review.save(update_fields=["done_at", "comment"])
        route = Route.objects.get(pk=review.step.route_id)
        _record(
            route=route,
            kind=Action.Kind.POST_REVIEW,
            actor=actor,
            step=review.step,
            comment=comment,
            data={"post_review": review.pk},
        )
        _Effects(inboxes={actor.pk}).commit()
    return review


def notification_mark_read(*, notification: Notification, actor: Staff) -> Notification:
    if notification.recipient_id != actor.pk:
        raise NotAllowed("他の人のお知らせです。", "This notice belongs to someone else.")
    if notification.read_at is None:
        with transaction.atomic():
            notification.read_at = _now()
            notification.save(update_fields=["read_at"])
            audit_record(actor=actor, action="workflow.notification.read", target=notification)
    return notification


def reminders_send(*, now: dt.datetime | None = None) -> int:
    """督促: notify the holder of every overdue pending step, at most once a day each."""
    now = now or _now()
    sent = 0
    overdue = Step.objects.pending().filter(due_at__lt=now).exclude(assignee=None)
    overdue = overdue.exclude(reminded_at__gt=now - dt.timedelta(days=1)).select_related("route")
    effects = _Effects()
    for step in overdue.iterator(chunk_size=500):
        with transaction.atomic():
            locked = Step.objects.select_for_update().get(pk=step.pk)
            if locked.status != Step.Status.PENDING or (
                locked.reminded_at and locked.reminded_at > now - dt.timedelta(days=1)
            ):
                continue
            locked.reminded_at = now
            locked.save(update_fields=["reminded_at"])
            _notify(
                locked.assignee_id,
                Notification.Kind.REMINDER,
                f"処理期限を過ぎています: {step.route.title}",
                step.route,
                locked,
            )
            audit_record(
                actor=None,
                action="workflow.step.reminded",
                target=locked,
                data={"due_at": locked.due_at, "assignee": locked.assignee_id},
            )
            effects.inboxes.add(locked.assignee_id)
            sent += 1
    effects.commit()
    return sent


def steps_reassign(*, day: dt.date | None = None) -> int:
    """Give pending steps to whoever holds their post today.

    A step resolves to a person when it becomes active. If the post was empty then, or
    the holder has since moved (人事異動), the step would wait for nobody: this sweep
    hands it to the current holder (audited, notified). Named-person steps stay put.
    """
    day = day or timezone.localdate()
    moved = 0
    candidates = (
        Step.objects.pending()
        .filter(person__isnull=True)
        .select_related("route", "department", "post", "assignee")
    )
    for step in candidates.iterator(chunk_size=500):
        holder = _resolve(step, day)
        if holder is None or holder.pk == step.assignee_id:
            continue
        if step.assignee_id is not None and step.department_id:
            still = staff_in_post(department=step.department, post=step.post, on=day)
            if step.assignee in still:
                continue  # several holders: the one it went to still holds the post
        with transaction.atomic():
            route = _lock(step.route_id)
            locked = _fresh_step(step.pk)
            if locked.status != Step.Status.PENDING or locked.assignee_id == holder.pk:
                continue
            old = locked.assignee_id
            locked.assignee = holder
            locked.save(update_fields=["assignee"])
            _grant_view(route, holder.pk)
            for deputy in deputies_of(staff=holder):
                _grant_view(route, deputy.pk)
            audit_record(
                actor=None,
                action="workflow.step.reassigned",
                target=locked,
                data={"old": old, "new": holder.pk, "post": locked.post_id},
            )
            _notify(
                holder.pk,
                Notification.Kind.ASSIGNED,
                f"処理依頼が届きました（担当替え）: {route.title}",
                route,
                locked,
            )
            _Effects(inboxes={holder.pk, old} - {None}).commit()
            moved += 1
    return moved
