"""A small city for engine and approval tests: two 部, four 課, a full line of posts,
an authority table, and people in every post that a route can reach."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from approvals.models import Document, MatterCategory
from approvals.services import authority_table_new_version
from common.dates import today
from org.models import Absence, Assignment, Department, Deputy, Post, Staff
from workflow.models import Route, RouteUserObjectPermission, Stage, Step

PASSWORD = "correct-horse-battery"


@dataclass
class City:
    soumu_bu: Department
    kikaku_bu: Department
    soumu_ka: Department
    zaisei_ka: Department
    hisho_ka: Department
    kikaku_ka: Department
    posts: dict[str, Post]
    drafter: Staff  # 総務課 主事
    kakaricho: Staff  # 総務課 係長
    kacho: Staff  # 総務課長
    hosa: Staff  # 総務課 課長補佐 (first deputy of 総務課長)
    bucho: Staff  # 総務部長
    zaisei_kacho: Staff
    kikaku_kacho: Staff
    kikaku_bucho: Staff
    fukushicho: Staff
    shicho: Staff
    outsider: Staff  # 企画課 主事, not on any route
    records_officer: Staff
    buppin: MatterCategory
    jinkenhi: MatterCategory
    jourei: MatterCategory

    def absent(self, staff: Staff, days: int = 1) -> Absence:
        now = timezone.now()
        return Absence.objects.create(
            staff=staff,
            start=now - dt.timedelta(hours=1),
            end=now + dt.timedelta(days=days),
            reason=Absence.Reason.TRIP,
        )


def _person(username: str, last: str, first: str, dept: Department, post: Post, *roles) -> Staff:
    staff = Staff.objects.create_user(
        username=username,
        password=PASSWORD,
        last_name=last,
        first_name=first,
        employee_number=f"T{Staff.objects.count() + 1:05d}",
    )
    Assignment.objects.create(staff=staff, department=dept, post=post, start=dt.date(2020, 4, 1))
    staff.groups.add(*[Group.objects.get_or_create(name=r)[0] for r in ("staff", *roles)])
    return staff


def build_city() -> City:
    def dept(code, name, level, parent=None, symbol=""):
        return Department.objects.create(
            code=code, name=name, level=level, parent=parent, doc_symbol=symbol
        )

    soumu_bu = dept("100", "総務部", "bu", symbol="総")
    kikaku_bu = dept("200", "企画部", "bu", symbol="企")
    shicho_bu = dept("900", "市長公室", "bu", symbol="公")
    soumu_ka = dept("110", "総務課", "ka", soumu_bu, "総")
    zaisei_ka = dept("120", "財政課", "ka", soumu_bu, "財")
    kikaku_ka = dept("210", "企画課", "ka", kikaku_bu, "企")
    hisho_ka = dept("910", "秘書課", "ka", shicho_bu, "秘")
    p = {
        code: Post.objects.create(code=code, name=name, rank=rank, is_manager=mgr)
        for code, name, rank, mgr in [
            ("shicho", "市長", 10, True),
            ("fukushicho", "副市長", 20, True),
            ("bucho", "部長", 30, True),
            ("kacho", "課長", 50, True),
            ("hosa", "課長補佐", 60, True),
            ("kakaricho", "係長", 70, True),
            ("shuji", "主事", 90, False),
        ]
    }
    city = City(
        soumu_bu=soumu_bu,
        kikaku_bu=kikaku_bu,
        soumu_ka=soumu_ka,
        zaisei_ka=zaisei_ka,
        hisho_ka=hisho_ka,
        kikaku_ka=kikaku_ka,
        posts=p,
        drafter=_person("drafter", "起案", "太郎", soumu_ka, p["shuji"]),
        kakaricho=_person("kakaricho", "係長", "一郎", soumu_ka, p["kakaricho"], "manager"),
        kacho=_person("kacho", "課長", "二郎", soumu_ka, p["kacho"], "manager"),
        hosa=_person("hosa", "補佐", "三郎", soumu_ka, p["hosa"], "manager"),
        bucho=_person("bucho", "部長", "四郎", soumu_bu, p["bucho"], "manager"),
        zaisei_kacho=_person("zaisei", "財政", "五郎", zaisei_ka, p["kacho"], "manager"),
        kikaku_kacho=_person("kikaku", "企画", "六郎", kikaku_ka, p["kacho"], "manager"),
        kikaku_bucho=_person("kikakubu", "企画部", "七郎", kikaku_bu, p["bucho"], "manager"),
        fukushicho=_person("fukushicho", "副市", "八郎", hisho_ka, p["fukushicho"], "manager"),
        shicho=_person("shicho", "市長", "九郎", hisho_ka, p["shicho"], "manager"),
        outsider=_person("outsider", "部外", "者", kikaku_ka, p["shuji"]),
        records_officer=_person("bunsho", "文書", "係", soumu_ka, p["shuji"], "records_officer"),
        buppin=MatterCategory.objects.create(code="buppin", name="物品購入", sort_order=1),
        jinkenhi=MatterCategory.objects.create(code="jinkenhi", name="人件費", sort_order=2),
        jourei=MatterCategory.objects.create(code="jourei", name="条例・規則", sort_order=3),
    )
    Deputy.objects.create(
        principal=city.kacho, deputy=city.hosa, order=1, start=dt.date(2020, 4, 1)
    )
    admin = Staff.objects.create_superuser(username="city-admin", password=PASSWORD)
    levels = [p["kacho"], p["bucho"], p["fukushicho"], p["shicho"]]
    rules = [
        {"category": city.buppin, "amount_max": 200_000, "decider": p["kacho"]},
        {
            "category": city.buppin,
            "amount_min": 200_001,
            "amount_max": 1_000_000,
            "decider": p["bucho"],
        },
        {
            "category": city.buppin,
            "amount_min": 1_000_001,
            "amount_max": 10_000_000,
            "decider": p["fukushicho"],
            "consult": [zaisei_ka],
        },
        {
            "category": city.buppin,
            "amount_min": 10_000_001,
            "decider": p["shicho"],
            "consult": [zaisei_ka],
        },
        {"category": city.jinkenhi, "decider": p["kacho"]},
        {"category": city.jourei, "decider": p["shicho"], "always_important": True},
    ]
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    table = authority_table_new_version(
        actor=admin, effective_from=tomorrow, note="テスト用", levels=levels, rules=rules
    )
    # Tests act "today": bring the version into force by moving its date (test set-up only).
    type(table).objects.filter(pk=table.pk).update(effective_from=dt.date(2020, 4, 1))
    return city


def bulk_pending(city: City, n: int, *, assignee: Staff) -> list[Route]:
    """`n` documents each on a one-stage route whose decision step waits for `assignee`,
    with the view grant the engine gives: rows as the engine leaves them, made in bulk."""
    now = timezone.now()
    documents = Document.objects.bulk_create(
        Document(
            title=f"一括案件 {i}",
            category=city.buppin,
            amount=1000 + i,
            drafter=city.drafter,
            department=city.soumu_ka,
            drafted_on=today(),
            status=Document.Status.IN_REVIEW,
        )
        for i in range(n)
    )
    document_type = ContentType.objects.get_for_model(Document)
    routes = Route.objects.bulk_create(
        Route(
            subject_type=document_type,
            subject_id=d.pk,
            title=d.title,
            department=city.soumu_ka,
            submitted_by=city.drafter,
            submitted_at=now,
            current_stage=1,
        )
        for d in documents
    )
    stages = Stage.objects.bulk_create(
        Stage(route=r, position=1, kind=Stage.Kind.DECISION, status=Stage.Status.ACTIVE)
        for r in routes
    )
    Step.objects.bulk_create(
        Step(
            route=r,
            stage=s,
            post=city.posts["kacho"],
            department=city.soumu_ka,
            assignee=assignee,
            status=Step.Status.PENDING,
            activated_at=now - dt.timedelta(minutes=i),
            # No due date, overdue and due later, so every branch of the list shows.
            due_at=None
            if i % 7 == 0
            else now - dt.timedelta(days=1)
            if i % 3 == 0
            else now + dt.timedelta(days=i % 5),
        )
        for i, (r, s) in enumerate(zip(routes, stages, strict=True))
    )
    view = Permission.objects.get(content_type__app_label="workflow", codename="view_route")
    RouteUserObjectPermission.objects.bulk_create(
        RouteUserObjectPermission(user=grantee, permission=view, content_object=r)
        for r in routes
        for grantee in (city.drafter, assignee)
    )
    return routes
