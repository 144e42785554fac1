"""The approval engine, action by action, with 起案文書 as the subject."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from approvals.models import Document
from approvals.services import document_create, document_submit, document_update
from audit.models import AuditEvent
from audit.services import audit_verify
from org.models import Assignment, Staff
from tests.city import City, build_city
from workflow.errors import AlreadyDecided, InvalidRequest, NotAllowed
from workflow.models import Action, Notification, PostReview, Route, Stage, Step
from workflow.selectors import inbox_count, inbox_for
from workflow.services import (
    StageSpec,
    StepSpec,
    post_review_complete,
    reminders_send,
    route_add_stage,
    route_remove_stage,
    route_withdraw,
    step_approve,
    step_comment,
    step_pull_up,
    step_reject,
    step_return,
    step_withdraw_approval,
)

TOKYO = ZoneInfo("Asia/Tokyo")
pytestmark = pytest.mark.django_db


@pytest.fixture
def city() -> City:
    with time_machine.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO), tick=False):
        return build_city()


@pytest.fixture(autouse=True)
def _november_2026():
    with time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=TOKYO), tick=True):
        yield


def submit(city: City, amount: int | None = 100_000, category=None, important=False, **kw):
    document = document_create(
        actor=city.drafter,
        title=kw.pop("title", "コピー用紙の購入について"),
        category=category or city.buppin,
        amount=amount,
        important=important,
        **kw,
    )
    route = document_submit(document=document, actor=city.drafter)
    return Document.objects.get(pk=document.pk), route


def chain(route: Route) -> list[tuple[str, str]]:
    """(stage kind, who the step asks) for each step, in route order."""
    return [
        (s.stage.kind, s.post.name if s.post_id else str(s.person))
        for s in Step.objects.filter(route=route).select_related("stage", "post", "person")
    ]


def pending(route: Route) -> list[Step]:
    return list(
        Step.objects.filter(route=route, status=Step.Status.PENDING).order_by("stage__position")
    )


def approve_all(route: Route, *, until_kind: str | None = None) -> None:
    """Everyone approves in turn (each step's own holder)."""
    while (steps := pending(route)) and route.status == Route.Status.ACTIVE:
        step = steps[0]
        if until_kind and step.stage.kind == until_kind:
            return
        step_approve(step=step, actor=step.assignee)
        route.refresh_from_db()


# --- route proposal (authority table) --------------------------------------------------


def test_route_for_a_small_purchase_ends_with_the_section_chief(city: City) -> None:
    _, route = submit(city, amount=100_000)
    assert chain(route) == [
        ("circulation", "係長"),
        ("circulation", "課長補佐"),
        ("decision", "課長"),
    ]
    assert not route.important


def test_amount_bands_raise_the_decider(city: City) -> None:
    _, mid = submit(city, amount=500_000)
    assert chain(mid)[-1] == ("decision", "部長")
    assert ("circulation", "課長") in chain(mid)
    _, big = submit(city, amount=5_000_000)
    assert chain(big)[-2:] == [("consultation", "課長"), ("decision", "副市長")]
    consult = Step.objects.get(route=big, stage__kind="consultation")
    assert consult.department == city.zaisei_ka


def test_band_edges(city: City) -> None:
    _, at_limit = submit(city, amount=200_000)
    _, over = submit(city, amount=200_001)
    assert chain(at_limit)[-1] == ("decision", "課長")
    assert chain(over)[-1] == ("decision", "部長")


def test_important_flag_raises_one_level_and_bars_deputies(city: City) -> None:
    _, route = submit(city, amount=100_000, important=True)
    assert chain(route)[-1] == ("decision", "部長")
    assert route.important
    _, jourei = submit(city, amount=None, category=city.jourei)
    assert chain(jourei)[-1] == ("decision", "市長")  # already the top: stays
    assert jourei.important


def test_drafter_may_add_stages_but_not_change_the_decider(city: City) -> None:
    document = document_create(actor=city.drafter, title="x", category=city.buppin, amount=1000)
    extra = StageSpec(
        Stage.Kind.CONSULTATION, [StepSpec(post=city.posts["kacho"], department=city.kikaku_ka)]
    )
    route = document_submit(document=document, actor=city.drafter, extra_stages=[extra])
    assert chain(route)[-2:] == [("consultation", "課長"), ("decision", "課長")]
    other = document_create(actor=city.drafter, title="y", category=city.buppin, amount=1000)
    lower = StageSpec(Stage.Kind.DECISION, [StepSpec(person=city.kakaricho)])
    with pytest.raises(InvalidRequest, match="決裁権者"):
        document_submit(document=other, actor=city.drafter, extra_stages=[lower])


# --- approve and decide ---------------------------------------------------------------


def test_full_route_decides_and_numbers_the_document(city: City) -> None:
    document, route = submit(city)
    assert document.status == Document.Status.IN_REVIEW
    assert [s.assignee for s in pending(route)] == [city.kakaricho]
    approve_all(route)
    route.refresh_from_db()
    document.refresh_from_db()
    assert route.status == Route.Status.APPROVED
    assert document.status == Document.Status.DECIDED
    assert document.number == "8総第1号"
    assert document.decided_by == city.kacho
    kinds = list(Action.objects.filter(route=route).values_list("kind", flat=True))
    assert kinds == ["submit", "approve", "approve", "decide"]
    assert Notification.objects.filter(recipient=city.drafter, kind="result").exists()
    assert list(audit_verify()) == []


def test_only_the_holder_may_act_and_only_once(city: City) -> None:
    _, route = submit(city)
    step = pending(route)[0]
    with pytest.raises(NotAllowed):
        step_approve(step=step, actor=city.outsider)
    with pytest.raises(NotAllowed):
        step_approve(step=step, actor=city.kacho)  # a superior is not the holder
    step_approve(step=step, actor=city.kakaricho)
    with pytest.raises(AlreadyDecided, match="既に"):
        step_approve(step=step, actor=city.kakaricho)


def test_same_client_request_id_acts_once(city: City) -> None:
    _, route = submit(city)
    step = pending(route)[0]
    first = step_approve(step=step, actor=city.kakaricho, client_request_id="req-1")
    again = step_approve(step=step, actor=city.kakaricho, client_request_id="req-1")
    assert first.pk == again.pk
    assert Action.objects.filter(route=route, kind="approve").count() == 1
    assert pending(route)[0].assignee == city.hosa


# --- return, reject, withdraw ----------------------------------------------------------


def test_return_to_drafter_then_edit_and_resubmit_keeps_history(city: City) -> None:
    document, route = submit(city)
    step_approve(step=pending(route)[0], actor=city.kakaricho)
    with pytest.raises(InvalidRequest):
        step_return(step=pending(route)[0], actor=city.hosa, comment="  ")
    step_return(step=pending(route)[0], actor=city.hosa, comment="見積書を添付してください")
    document.refresh_from_db()
    route.refresh_from_db()
    assert route.status == Route.Status.RETURNED
    assert document.status == Document.Status.RETURNED
    assert pending(route) == []
    document_update(document=document, actor=city.drafter, body="見積書を添付しました")
    second = document_submit(document=document, actor=city.drafter)
    assert second.round == 2
    assert Route.objects.filter(subject_id=document.pk).count() == 2
    assert (
        Action.objects.filter(route=route, kind="return").get().comment
        == "見積書を添付してください"
    )


def test_return_to_an_earlier_step_runs_it_again(city: City) -> None:
    _, route = submit(city)
    first = pending(route)[0]
    step_approve(step=first, actor=city.kakaricho)
    step_approve(step=pending(route)[0], actor=city.hosa)
    decision = pending(route)[0]
    assert decision.assignee == city.kacho
    step_return(step=decision, actor=city.kacho, comment="係長に確認を", to_step=first)
    route.refresh_from_db()
    assert route.status == Route.Status.ACTIVE
    assert [s.assignee for s in pending(route)] == [city.kakaricho]
    hosa_step = Step.objects.get(route=route, assignee=city.hosa)
    assert hosa_step.status == Step.Status.WAITING and hosa_step.acted_by is None
    approve_all(route)
    route.refresh_from_db()
    assert route.status == Route.Status.APPROVED


def test_return_target_must_be_earlier(city: City) -> None:
    _, route = submit(city)
    first = pending(route)[0]
    with pytest.raises(InvalidRequest, match="より前"):
        step_return(step=first, actor=city.kakaricho, comment="x", to_step=first)


def test_reject_is_terminal(city: City) -> None:
    document, route = submit(city)
    step_reject(step=pending(route)[0], actor=city.kakaricho, comment="不要な購入です")
    document.refresh_from_db()
    assert document.status == Document.Status.REJECTED
    assert pending(route) == []
    with pytest.raises(AlreadyDecided):
        document_submit(document=document, actor=city.drafter)
    with pytest.raises(NotAllowed):
        document_update(document=document, actor=city.drafter, title="再提出")


def test_drafter_withdraws_and_resubmits(city: City) -> None:
    document, route = submit(city)
    with pytest.raises(NotAllowed):
        route_withdraw(route=route, actor=city.kakaricho)
    route_withdraw(route=route, actor=city.drafter, comment="内容を見直します")
    document.refresh_from_db()
    assert document.status == Document.Status.WITHDRAWN
    assert inbox_count(staff=city.kakaricho) == 0
    document_update(document=document, actor=city.drafter, amount=150_000)
    again = document_submit(document=document, actor=city.drafter)
    assert again.round == 2 and again.status == Route.Status.ACTIVE


def test_withdraw_own_approval_only_while_next_untouched(city: City) -> None:
    _, route = submit(city)
    first = pending(route)[0]
    step_approve(step=first, actor=city.kakaricho)
    assert inbox_count(staff=city.hosa) == 1
    step_withdraw_approval(step=first, actor=city.kakaricho)
    assert inbox_count(staff=city.hosa) == 0
    assert [s.assignee for s in pending(route)] == [city.kakaricho]
    step_approve(step=first, actor=city.kakaricho)
    step_approve(step=pending(route)[0], actor=city.hosa)
    with pytest.raises(NotAllowed, match="次の処理者"):
        step_withdraw_approval(step=first, actor=city.kakaricho)
    hosa_step = Step.objects.get(route=route, assignee=city.hosa)
    with pytest.raises(NotAllowed):
        step_withdraw_approval(step=hosa_step, actor=city.kakaricho)  # not one's own


# --- absence: 代決 and 引上げ ------------------------------------------------------------


def test_deputy_decides_while_holder_absent_and_holder_post_reviews(city: City) -> None:
    document, route = submit(city)
    step_approve(step=pending(route)[0], actor=city.kakaricho)
    # 課長補佐 is both on the route and 課長's deputy; use a clean deputy scenario:
    step_approve(step=pending(route)[0], actor=city.hosa)
    decision = pending(route)[0]
    with pytest.raises(NotAllowed):
        step_approve(step=decision, actor=city.hosa)  # holder is present
    city.absent(city.kacho)
    assert decision in inbox_for(staff=city.hosa)
    step_approve(step=decision, actor=city.hosa, comment="課長出張のため代決")
    decision.refresh_from_db()
    document.refresh_from_db()
    assert decision.mode == Step.Mode.DEPUTY
    assert document.status == Document.Status.DECIDED  # 後閲 does not block
    review = PostReview.objects.get(step=decision)
    assert review.reviewer == city.kacho and review.reason == "deputy"
    action = Action.objects.get(route=route, kind="decide")
    assert action.actor == city.hosa and action.on_behalf_of == city.kacho
    with pytest.raises(NotAllowed):
        post_review_complete(review=review, actor=city.hosa)
    post_review_complete(review=review, actor=city.kacho, comment="確認しました")
    review.refresh_from_db()
    assert review.done_at is not None


def test_deputy_may_not_decide_important_matters(city: City) -> None:
    city.absent(city.bucho)
    from org.models import Deputy

    Deputy.objects.create(
        principal=city.bucho, deputy=city.kacho, order=1, start=dt.date(2020, 4, 1)
    )
    _, route = submit(city, amount=100_000, important=True)
    approve_all(route, until_kind="decision")
    decision = pending(route)[0]
    assert decision.assignee == city.bucho
    assert decision not in inbox_for(staff=city.kacho)
    with pytest.raises(NotAllowed, match="重要案件は代決できません"):
        step_approve(step=decision, actor=city.kacho)


def test_superior_pulls_up_past_an_absent_subordinate(city: City) -> None:
    _, route = submit(city)
    first = pending(route)[0]
    with pytest.raises(NotAllowed, match="不在"):
        step_pull_up(step=first, actor=city.kacho)  # 係長 is present
    with pytest.raises(NotAllowed, match="上司"):
        step_pull_up(step=first, actor=city.outsider)
    city.absent(city.kakaricho)
    step_pull_up(step=first, actor=city.kacho)
    first.refresh_from_db()
    assert first.status == Step.Status.SKIPPED and first.mode == Step.Mode.PULLED_UP
    assert PostReview.objects.get(step=first).reviewer == city.kakaricho
    assert [s.assignee for s in pending(route)] == [city.hosa]


# --- parallel 合議, 供覧, added stages -------------------------------------------------


def test_n_of_m_consultation(city: City) -> None:
    _, route = submit(city)
    kacho = city.posts["kacho"]
    spec = StageSpec(
        Stage.Kind.CONSULTATION,
        [
            StepSpec(post=kacho, department=city.zaisei_ka),
            StepSpec(post=kacho, department=city.kikaku_ka),
            StepSpec(person=city.kikaku_bucho),
        ],
        required_approvals=2,
    )
    stage = route_add_stage(route=route, actor=city.kakaricho, spec=spec)
    assert stage.position == 2 and not stage.required
    step_approve(step=pending(route)[0], actor=city.kakaricho)
    parallel = pending(route)
    assert {s.assignee for s in parallel} == {
        city.zaisei_kacho,
        city.kikaku_kacho,
        city.kikaku_bucho,
    }
    step_approve(step=parallel[0], actor=parallel[0].assignee)
    assert len(pending(route)) == 2  # still waiting for a second
    step_approve(step=parallel[1], actor=parallel[1].assignee)
    third = Step.objects.get(pk=parallel[2].pk)
    assert third.status == Step.Status.SKIPPED and third.mode == Step.Mode.NOT_NEEDED
    assert inbox_count(staff=third.assignee) == 0
    assert [s.assignee for s in pending(route)] == [city.hosa]


def test_all_of_consultation_waits_for_everyone(city: City) -> None:
    _, route = submit(city, amount=5_000_000)
    approve_all(route, until_kind="consultation")
    consult = pending(route)
    assert [s.assignee for s in consult] == [city.zaisei_kacho]
    step_approve(step=consult[0], actor=city.zaisei_kacho)
    assert [s.assignee for s in pending(route)] == [city.fukushicho]


def test_information_stage_does_not_block(city: City) -> None:
    _, route = submit(city)
    spec = StageSpec(Stage.Kind.INFORMATION, [StepSpec(person=city.records_officer)])
    route_add_stage(route=route, actor=city.kakaricho, spec=spec)
    step_approve(step=pending(route)[0], actor=city.kakaricho)
    now_pending = pending(route)
    assert {s.assignee for s in now_pending} == {city.records_officer, city.hosa}
    info = next(s for s in now_pending if s.assignee == city.records_officer)
    approve_all_but(route, skip=info)
    route.refresh_from_db()
    assert route.status == Route.Status.APPROVED
    step_approve(step=info, actor=city.records_officer)  # seen after the decision
    info.refresh_from_db()
    assert info.status == Step.Status.SEEN


def approve_all_but(route: Route, skip: Step) -> None:
    while steps := [s for s in pending(route) if s.pk != skip.pk]:
        step_approve(step=steps[0], actor=steps[0].assignee)


def test_added_stages_removable_by_their_author_only_required_never(city: City) -> None:
    _, route = submit(city)
    spec = StageSpec(Stage.Kind.CIRCULATION, [StepSpec(person=city.bucho)])
    added = route_add_stage(route=route, actor=city.kakaricho, spec=spec)
    with pytest.raises(NotAllowed):
        route_add_stage(route=route, actor=city.outsider, spec=spec)
    with pytest.raises(InvalidRequest):
        route_add_stage(
            route=route,
            actor=city.kakaricho,
            spec=StageSpec(Stage.Kind.DECISION, [StepSpec(person=city.bucho)]),
        )
    required = Stage.objects.get(route=route, kind="decision")
    with pytest.raises(NotAllowed, match="必須"):
        route_remove_stage(stage=required, actor=city.kakaricho)
    with pytest.raises(NotAllowed):
        route_remove_stage(stage=added, actor=city.hosa)
    route_remove_stage(stage=added, actor=city.kakaricho)
    assert list(route.stages.values_list("position", flat=True)) == [1, 2, 3]


def test_comment_by_participants_only(city: City) -> None:
    _, route = submit(city)
    step_comment(route=route, actor=city.kakaricho, comment="単価を確認しました")
    with pytest.raises(NotAllowed):
        step_comment(route=route, actor=city.outsider, comment="口出し")
    assert Action.objects.filter(route=route, kind="comment").count() == 1


# --- people move while a route is in flight -------------------------------------------


def test_transfer_takes_effect_for_a_route_in_flight(city: City) -> None:
    newcomer = Staff.objects.create_user(username="newkacho", last_name="新任", first_name="課長")
    # The April 1 transfer, loaded in November: 課長 leaves 総務課, 新任 arrives.
    Assignment.objects.filter(staff=city.kacho).update(end=dt.date(2027, 3, 31))
    Assignment.objects.create(
        staff=newcomer,
        department=city.soumu_ka,
        post=city.posts["kacho"],
        start=dt.date(2027, 4, 1),
    )
    _, route = submit(city)
    decision = Step.objects.get(route=route, stage__kind="decision")
    assert decision.assignee is None  # not active yet, so not resolved
    with time_machine.travel(dt.datetime(2027, 4, 1, 9, 0, tzinfo=TOKYO), tick=True):
        approve_all(route, until_kind="decision")
        decision.refresh_from_db()
        assert decision.assignee == newcomer
        with pytest.raises(NotAllowed):
            step_approve(step=decision, actor=city.kacho)
        step_approve(step=decision, actor=newcomer)
        document = Document.objects.get(pk=route.subject_id)
        assert document.number == "9総第1号"  # 令和9年度: the serial restarts on April 1


# --- numbers, reminders, audit ---------------------------------------------------------


def test_numbers_are_consecutive_per_symbol_and_reset_each_fiscal_year(city: City) -> None:
    numbers = []
    for _ in range(3):
        document, route = submit(city)
        approve_all(route)
        document.refresh_from_db()
        numbers.append(document.number)
    assert numbers == ["8総第1号", "8総第2号", "8総第3号"]


def test_branch_number(city: City) -> None:
    parent, route = submit(city)
    approve_all(route)
    parent.refresh_from_db()
    child = document_create(
        actor=city.drafter, title="続き", category=city.buppin, amount=1000, branch_of=parent
    )
    route = document_submit(document=child, actor=city.drafter)
    approve_all(route)
    child.refresh_from_db()
    assert child.number == f"{parent.number}の2"


def test_overdue_steps_are_reminded_once_a_day(city: City) -> None:
    _, route = submit(city)
    step = pending(route)[0]
    assert step.due_at is not None
    later = step.due_at + dt.timedelta(hours=1)
    assert reminders_send(now=later) == 1
    assert reminders_send(now=later + dt.timedelta(hours=2)) == 0
    assert reminders_send(now=later + dt.timedelta(days=1, hours=1)) == 1
    notices = Notification.objects.filter(recipient=city.kakaricho, kind="reminder")
    assert notices.count() == 2
    assert "処理期限" in notices.first().message


def test_every_action_is_audited(city: City) -> None:
    before = AuditEvent.objects.count()
    _, route = submit(city)
    step_approve(step=pending(route)[0], actor=city.kakaricho)
    actions = list(AuditEvent.objects.filter(seq__gt=before).values_list("action", flat=True))
    assert "workflow.submit" in actions and "workflow.approve" in actions
    assert "approvals.document.in_review" in actions
    assert list(audit_verify()) == []


def test_request_id_reused_for_another_action_is_refused(city: City) -> None:
    _, route = submit(city)
    step_comment(route=route, actor=city.kakaricho, comment="確認中", client_request_id="r-9")
    with pytest.raises(InvalidRequest, match="別の操作"):
        step_approve(step=pending(route)[0], actor=city.kakaricho, client_request_id="r-9")
    assert pending(route)[0].assignee == city.kakaricho


def test_everyone_on_the_route_sees_it_from_submission(city: City) -> None:
    from approvals.selectors import document_visible_to

    document, _ = submit(city)
    for person in (city.drafter, city.kakaricho, city.hosa, city.kacho):
        assert document_visible_to(document=document, staff=person), person
    for person in (city.outsider, city.bucho, city.zaisei_kacho, city.shicho):
        assert not document_visible_to(document=document, staff=person), person


def test_deputy_registered_later_sees_the_pending_item(city: City) -> None:
    from approvals.selectors import document_visible_to
    from org.models import Deputy

    document, route = submit(city)
    assert not document_visible_to(document=document, staff=city.kikaku_kacho)
    Deputy.objects.create(
        principal=city.kakaricho, deputy=city.kikaku_kacho, order=2, start=dt.date(2020, 4, 1)
    )
    assert not document_visible_to(document=document, staff=city.kikaku_kacho)  # holder present
    city.absent(city.kakaricho)
    assert document_visible_to(document=document, staff=city.kikaku_kacho)
    assert pending(route)[0] in inbox_for(staff=city.kikaku_kacho)


def test_strangers_are_refused_even_on_finished_steps(city: City) -> None:
    _, route = submit(city)
    first = pending(route)[0]
    step_approve(step=first, actor=city.kakaricho)
    with pytest.raises(NotAllowed):
        step_approve(step=first, actor=city.outsider)
    with pytest.raises(AlreadyDecided):
        step_approve(step=first, actor=city.kakaricho)


def test_retried_submission_answers_with_the_first_route(city: City) -> None:
    document = document_create(actor=city.drafter, title="再送", category=city.buppin, amount=10)
    first = document_submit(document=document, actor=city.drafter, client_request_id="sub-1")
    again = document_submit(document=document, actor=city.drafter, client_request_id="sub-1")
    assert first.pk == again.pk
    assert Route.objects.filter(subject_id=document.pk).count() == 1


def test_branch_of_a_branch_continues_the_count(city: City) -> None:
    parent, route = submit(city)
    approve_all(route)
    parent.refresh_from_db()
    numbers = []
    base = parent
    for _ in range(2):
        child = document_create(
            actor=city.drafter, title="続き", category=city.buppin, amount=1000, branch_of=base
        )
        approve_all(document_submit(document=child, actor=city.drafter))
        child.refresh_from_db()
        numbers.append(child.number)
        base = child  # the next one hangs from the branch
    assert numbers == [f"{parent.number}の2", f"{parent.number}の3"]


def test_pull_up_of_a_circulation_for_information_is_refused(city: City) -> None:
    _, route = submit(city)
    spec = StageSpec(Stage.Kind.INFORMATION, [StepSpec(person=city.records_officer)])
    route_add_stage(route=route, actor=city.kakaricho, spec=spec)
    step_approve(step=pending(route)[0], actor=city.kakaricho)
    info = Step.objects.get(route=route, stage__kind="information")
    assert info.due_at is None  # 供覧 has no deadline and no 督促
    city.absent(city.records_officer)
    with pytest.raises(InvalidRequest, match="供覧"):
        step_pull_up(step=info, actor=city.kacho)
    route.refresh_from_db()
    assert route.status == Route.Status.ACTIVE


def test_request_id_of_one_submission_cannot_submit_another(city: City) -> None:
    first = document_create(actor=city.drafter, title="一", category=city.buppin, amount=1)
    second = document_create(actor=city.drafter, title="二", category=city.buppin, amount=1)
    document_submit(document=first, actor=city.drafter, client_request_id="same")
    with pytest.raises(InvalidRequest, match="別の案件"):
        document_submit(document=second, actor=city.drafter, client_request_id="same")
    second.refresh_from_db()
    assert second.status == Document.Status.DRAFT


def test_withdrawn_deputy_approval_leaves_no_post_review(city: City) -> None:
    from org.models import Deputy

    Deputy.objects.create(
        principal=city.kakaricho, deputy=city.hosa, order=1, start=dt.date(2020, 4, 1)
    )
    city.absent(city.kakaricho)
    _, route = submit(city)
    first = pending(route)[0]
    step_approve(step=first, actor=city.hosa)
    assert PostReview.objects.filter(step=first).count() == 1
    step_withdraw_approval(step=first, actor=city.hosa)
    assert PostReview.objects.filter(step=first).count() == 0


def test_adding_a_stage_twice_with_one_request_id_adds_it_once(city: City) -> None:
    _, route = submit(city)
    spec = StageSpec(Stage.Kind.CIRCULATION, [StepSpec(person=city.bucho)])
    one = route_add_stage(route=route, actor=city.kakaricho, spec=spec, client_request_id="a1")
    two = route_add_stage(route=route, actor=city.kakaricho, spec=spec, client_request_id="a1")
    assert one.pk == two.pk and route.stages.count() == 4
    route_remove_stage(stage=one, actor=city.kakaricho)
    kinds = list(Action.objects.filter(route=route).values_list("kind", flat=True))
    assert kinds[-2:] == ["add_step", "remove_step"]


def test_steps_go_to_whoever_holds_the_post_now(city: City) -> None:
    from workflow.services import steps_reassign

    _, route = submit(city)
    # 課長補佐 leaves before the route reaches the post; a successor comes later.
    Assignment.objects.filter(staff=city.hosa).update(end=dt.date(2026, 11, 25))
    step_approve(step=pending(route)[0], actor=city.kakaricho)
    second = pending(route)[0]
    assert second.post == city.posts["hosa"] and second.assignee is None
    assert steps_reassign() == 0
    successor = Staff.objects.create_user(username="successor", last_name="後任")
    Assignment.objects.create(
        staff=successor,
        department=city.soumu_ka,
        post=city.posts["hosa"],
        start=dt.date(2026, 11, 26),
    )
    assert steps_reassign() == 1
    second.refresh_from_db()
    assert second.assignee == successor
    assert second in inbox_for(staff=successor)
    assert Notification.objects.filter(recipient=successor, kind="assigned").exists()
    step_approve(step=second, actor=successor)
    assert steps_reassign() == 0
