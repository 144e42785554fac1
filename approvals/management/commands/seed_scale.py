"""manage.py seed_scale: a load generator that fills the database with synthetic scale data.

It is for benchmarks (bench/inbox.py) and for trying pages at city-hall size, never for
real data: it writes with `bulk_create`, one transaction per batch of ~5,000 documents,
and skips everything a real write does per row (audit events, 処理履歴 (`Action`) rows,
django-guardian grants, notifications, WebSocket pushes). Every person it makes is a
demo account (`is_demo`) with an unusable password. It refuses to run while
`settings.DEBUG` is off unless given `--force`.

What it makes (the default sizes):
- ~10 部 with ~60 課 (fewer for small `--staff`), the standard ladder of posts (existing
  `Post` rows are reused by code), 2,000 staff, each with one primary `Assignment`;
- one `MatterCategory` and 200,000 起案文書 in realistic states (mostly 決裁済, some
  回議中, 差戻し, 取下げ), each with its round-1 `workflow.Route`, one stage per step
  (回議 … 決裁), all consistent: a decided route has every step acted, an in-review
  route has exactly one pending step (assignee set, `activated_at`, `due_at` spread over
  the past and the future, some without a due date), later steps waiting;
- `busy-manager`, a 課長 holding `--busy-manager-items` pending steps; the other
  managers hold a few each; `absent-manager`, another 課長, away (a registered
  `Absence`) with ~20 pending steps and `busy-manager` among his deputies, so the
  deputy branch of the inbox filter has work (a few of those are 重要案件, which a deputy
  never sees); more deputies and past/current absences for the rest.

Decided documents get document numbers unique per (fiscal year, 記号, serial); the
`DocumentNumberCounter` rows are moved past the serials used, so later real decisions in
the same database do not collide.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.base import ModelState
from django.utils import timezone

from approvals.models import Document, DocumentNumberCounter, MatterCategory
from approvals.services import format_number
from common.dates import fiscal_year
from org.models import Absence, Assignment, Department, Deputy, Post, Staff
from org.roles import MANAGER, STAFF
from workflow.models import Route, Stage, Step

BATCH = 5_000
BUSY_USERNAME = "busy-manager"
ABSENT_USERNAME = "absent-manager"
ABSENT_ITEMS = 20  # pending steps of the absent 課長 that busy-manager covers as deputy
USERNAME_PREFIX = "scale-"
CODE_PREFIX = "SC"  # department codes and employee numbers of scale data
CATEGORY_CODE = "scale-general"
ASSIGNMENT_START = dt.date(2020, 4, 1)

# code, name, rank, is_manager: the standard ladder (used when the code is not there yet).
POSTS: list[tuple[str, str, int, bool]] = [
    ("shicho", "市長", 10, True),
    ("fukushicho", "副市長", 20, True),
    ("bucho", "部長", 30, True),
    ("jicho", "次長", 40, True),
    ("kacho", "課長", 50, True),
    ("hosa", "課長補佐", 60, True),
    ("kakaricho", "係長", 70, True),
    ("shunin", "主任", 80, False),
    ("shuji", "主事", 90, False),
]

# 10 部 × 6 課 (名称, 文書記号).
ORG: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("総務部", "総", [("総務課", "総"), ("人事課", "人"), ("法務課", "法"),
                     ("情報政策課", "情"), ("契約課", "契"), ("危機管理課", "危")]),
    ("企画部", "企", [("企画課", "企"), ("秘書課", "秘"), ("広報課", "広"),
                     ("政策推進課", "政"), ("地域振興課", "地"), ("国際交流課", "国")]),
    ("財務部", "財", [("財政課", "財"), ("税務課", "税"), ("資産税課", "資"),
                     ("収納課", "収"), ("管財課", "管"), ("会計課", "会")]),
    ("市民部", "市", [("市民課", "市"), ("保険年金課", "保"), ("市民協働課", "協"),
                     ("人権推進課", "権"), ("生活安全課", "安"), ("戸籍住民課", "戸")]),
    ("福祉部", "福", [("福祉総務課", "福"), ("障がい福祉課", "障"), ("高齢介護課", "高"),
                     ("子育て支援課", "子"), ("保育課", "育"), ("生活援護課", "援")]),
    ("健康部", "健", [("健康推進課", "健"), ("地域医療課", "医"), ("保健予防課", "予"),
                     ("食品衛生課", "食"), ("斎場管理課", "斎"), ("健診課", "診")]),
    ("環境部", "環", [("環境政策課", "環"), ("廃棄物対策課", "廃"), ("清掃課", "清"),
                     ("下水道課", "下"), ("水道課", "水"), ("公園緑地課", "緑")]),
    ("経済部", "経", [("商工課", "商"), ("農林水産課", "農"), ("産業振興課", "産"),
                     ("観光課", "観"), ("雇用労働課", "雇"), ("港湾課", "港")]),
    ("建設部", "建", [("都市計画課", "都"), ("建築指導課", "築"), ("道路課", "道"),
                     ("河川課", "河"), ("住宅課", "住"), ("用地課", "用")]),
    ("教育部", "教", [("教育総務課", "教"), ("学校教育課", "学"), ("生涯学習課", "生"),
                     ("文化振興課", "文"), ("スポーツ課", "ス"), ("図書館", "図")]),
]  # fmt: skip

TITLE_SUBJECTS = [
    "事務用品", "複合機保守", "庁舎清掃", "公用車", "防災備蓄品", "パソコン", "図書",
    "広報紙印刷", "会議室予約システム", "道路補修", "街路灯", "公園遊具", "学校給食",
    "健康診断", "窓口案内", "封筒印刷", "研修講師", "イベント会場", "ごみ収集車", "消耗品",
]  # fmt: skip
TITLE_PATTERNS = [
    "{}の購入について",
    "{}に係る委託契約の締結について",
    "{}の修繕について",
    "{}に係る支出について",
    "{}の借上げについて",
    "{}に関する照会への回答について",
]
# Deciding post of a route (課長専決 most, 部長 some, 副市長・市長 few) and its weight.
DECIDERS = [("kacho", 70), ("bucho", 22), ("fukushicho", 6), ("shicho", 2)]
LEVEL_ORDER = ["kakaricho", "hosa", "kacho", "jicho", "bucho", "fukushicho", "shicho"]
RETENTIONS = [r for r, _label in Document.Retention.choices]
SUMMARY = (
    "departments", "staff", "assignments", "deputies", "absences",
    "documents", "routes", "stages", "steps", "pending steps",
)  # fmt: skip
DEFAULT_NAMES = (["佐藤", "鈴木", "高橋", "田中", "伊藤"], ["翔太", "大輔", "美咲", "陽子", "健太"])


@dataclass
class Ka:
    """A 課 and the people a route in it reaches."""

    id: int
    bu: Bu
    symbol: str
    kacho: int = 0
    hosa: int = 0
    kakaricho: list[int] = field(default_factory=list)
    drafters: list[int] = field(default_factory=list)


@dataclass
class Bu:
    id: int
    bucho: int = 0
    jicho: int | None = None
    kas: list[Ka] = field(default_factory=list)


@dataclass
class Holder:
    """Someone who holds pending steps: which post, where."""

    staff: int
    post: str
    ka: Ka | None = None
    bu: Bu | None = None


@dataclass
class City:
    bus: list[Bu]
    kas: list[Ka]
    posts: dict[str, Post]
    shicho: int
    fukushicho: list[int]
    holders: list[Holder]  # every manager, with where they sit
    busy: Holder
    absent: Holder
    staff_count: int = 0


@dataclass
class Totals:
    counts: Counter[str] = field(default_factory=Counter)
    serials: dict[tuple[int, str], int] = field(default_factory=dict)


def _fast_constructor(model: type[Model]) -> Callable[..., Any]:
    """Instances for bulk_create without `Model.__init__` (a fifth of the seeding time):
    every concrete field's default, then the given attnames (`route_id`, not `route`)."""
    defaults = {f.attname: f.get_default() for f in model._meta.concrete_fields}

    def make(**values: Any) -> Any:
        obj = model.__new__(model)
        obj.__dict__.update(defaults)
        obj.__dict__.update(values)
        obj._state = ModelState()
        return obj

    return make


new_document = _fast_constructor(Document)
new_route = _fast_constructor(Route)
new_stage = _fast_constructor(Stage)
new_step = _fast_constructor(Step)


@contextmanager
def _big_page_cache() -> Iterator[None]:
    """SQLite: eight indexes on a step (one per foreign key) take random inserts, and with
    the default 2 MB page cache the later batches run at half speed. This connection only,
    put back afterwards (a benchmark measures in the same process)."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        old = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA cache_size = -262144")  # 256 MB
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {old}")


def _positive(value: str) -> int:
    n = int(value)
    if n < 0:
        raise ValueError(value)
    return n


class Command(BaseCommand):
    help = (
        "LOAD GENERATOR (synthetic scale data, not real data): fills the configured database "
        "with ~10 部/~60 課, 2,000 staff, 200,000 起案文書 with their routes, stages and steps, "
        "one 'busy-manager' 課長 with many pending steps, deputies and absences. Writes with "
        "bulk_create in batches of 5,000 (one transaction each) and records no audit events, "
        "no 処理履歴 and no object permissions. Refuses to run when DEBUG is off unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--staff", type=_positive, default=2000)
        parser.add_argument("--documents", type=_positive, default=200_000)
        parser.add_argument(
            "--busy-manager-items",
            type=_positive,
            default=300,
            help="pending steps held by busy-manager (default 300)",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--force",
            action="store_true",
            help="run although DEBUG is off (e.g. a dedicated benchmark database)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if not settings.DEBUG and not opts["force"]:
            raise CommandError(
                "seed_scale writes synthetic load data and is refused while DEBUG is off; "
                "use a throw-away database and pass --force if you mean it."
            )
        if Staff.objects.filter(username=BUSY_USERNAME).exists():
            raise CommandError(
                f"this database already holds scale data ({BUSY_USERNAME} exists); "
                "seed an empty database."
            )
        n_docs = opts["documents"]
        busy_items = opts["busy_manager_items"]
        absent_items = min(ABSENT_ITEMS, max(0, n_docs - busy_items) // 10)
        if busy_items + absent_items > n_docs:
            raise CommandError("--documents must be at least --busy-manager-items")
        with _big_page_cache():
            self._seed(opts, n_docs, busy_items, absent_items)

    def _seed(self, opts: dict[str, Any], n_docs: int, busy_items: int, absent_items: int) -> None:
        rng = random.Random(opts["seed"])
        now = timezone.now()
        started = time.monotonic()
        totals = Totals()

        with transaction.atomic():
            city = self._organisation(opts["staff"], rng, now, totals)
        self._city = city
        org_done = time.monotonic()
        self.stdout.write(
            f"organisation: {len(city.bus)} 部, {len(city.kas)} 課, {city.staff_count} staff "
            f"({org_done - started:.1f}s)"
        )

        plan = self._plan_statuses(city, n_docs, busy_items, absent_items, rng)
        category, _ = MatterCategory.objects.get_or_create(
            code=CATEGORY_CODE, defaults={"name": "負荷試験用（一般）", "sort_order": 9999}
        )
        subject_type = ContentType.objects.get_for_model(Document)
        totals.serials = self._last_serials()
        times = self._timeline(n_docs, now, rng)
        done = 0
        for start in range(0, n_docs, BATCH):
            chunk = plan[start : start + BATCH]
            with transaction.atomic():
                self._documents(
                    city,
                    chunk,
                    times[start : start + BATCH],
                    category,
                    subject_type,
                    now,
                    rng,
                    totals,
                )
            done += len(chunk)
            if done % 50_000 == 0 or done == n_docs:
                self.stdout.write(f"  {done:,} documents ({time.monotonic() - org_done:.1f}s)")
        with transaction.atomic():
            self._counters(totals)

        expected = (
            Step.objects.filter(status=Step.Status.PENDING, assignee_id=city.busy.staff).count()
            + Step.objects.filter(
                status=Step.Status.PENDING, assignee_id=city.absent.staff, route__important=False
            ).count()
        )
        c = totals.counts
        self.stdout.write("created: " + ", ".join(f"{name} {c[name]:,}" for name in SUMMARY))
        self.stdout.write(
            "documents by status: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(c.items()) if k.startswith("doc:"))
        )
        self.stdout.write(
            f"{BUSY_USERNAME}: {busy_items} own pending steps, deputy for {ABSENT_USERNAME} "
            f"({absent_items} pending, some 重要案件); inbox count {expected}"
        )
        self.stdout.write(
            self.style.SUCCESS(f"seed_scale done in {time.monotonic() - started:.1f}s (scale data)")
        )

    # --- the organisation -------------------------------------------------------------

    def _posts(self) -> dict[str, Post]:
        existing = {p.code: p for p in Post.objects.filter(code__in=[c for c, *_ in POSTS])}
        for code, name, rank, manager in POSTS:
            if code not in existing:
                existing[code] = Post.objects.create(
                    code=code, name=name, rank=rank, is_manager=manager
                )
        return existing

    def _organisation(self, n_staff: int, rng: random.Random, now: dt.datetime, totals: Totals):
        posts = self._posts()
        n_ka = max(2, min(60, n_staff // 33))
        n_bu = max(1, min(len(ORG), math.ceil(n_ka / 6)))
        per_bu = math.ceil(n_ka / n_bu)
        big = n_staff >= 200
        seats = 1 + (2 if big else 1) + n_bu * (2 if big else 1) + n_bu * per_bu * (4 if big else 3)
        if n_staff < seats + n_bu * per_bu:
            raise CommandError(f"--staff must be at least {seats + n_bu * per_bu} for this shape")
        if Department.objects.filter(code__startswith=CODE_PREFIX).exists():
            raise CommandError(f"departments with codes {CODE_PREFIX}… exist already")

        bu_rows = [
            Department(
                code=f"{CODE_PREFIX}{b + 1:02d}",
                name=ORG[b][0],
                level=Department.Level.BU,
                doc_symbol=ORG[b][1],
                sort_order=9000 + b * 10,
            )
            for b in range(n_bu)
        ]
        Department.objects.bulk_create(bu_rows)
        bus = [Bu(id=d.pk) for d in bu_rows]
        ka_rows = []
        for b in range(n_bu):
            for k in range(per_bu):
                name, symbol = ORG[b][2][k]
                ka_rows.append(
                    Department(
                        code=f"{CODE_PREFIX}{b + 1:02d}{k + 1:02d}",
                        name=name,
                        level=Department.Level.KA,
                        parent_id=bu_rows[b].pk,
                        doc_symbol=symbol,
                        sort_order=9000 + b * 10 + k + 1,
                    )
                )
        Department.objects.bulk_create(ka_rows)
        kas = []
        for i, d in enumerate(ka_rows):
            ka = Ka(id=d.pk, bu=bus[i // per_bu], symbol=d.doc_symbol)
            ka.bu.kas.append(ka)
            kas.append(ka)
        totals.counts["departments"] = len(bu_rows) + len(ka_rows)

        # Seats: (post code, department id, Ka or None, Bu or None).
        seats_list: list[tuple[str, int, Ka | None, Bu | None]] = [
            ("shicho", kas[0].id, None, None)
        ]
        seats_list += [("fukushicho", kas[0].id, None, None)] * (2 if big else 1)
        for bu in bus:
            seats_list.append(("bucho", bu.id, None, bu))
            if big:
                seats_list.append(("jicho", bu.id, None, bu))
        for ka in kas:
            seats_list += [("kacho", ka.id, ka, ka.bu), ("hosa", ka.id, ka, ka.bu)]
            seats_list += [("kakaricho", ka.id, ka, ka.bu)] * (2 if big else 1)
        for i in range(n_staff - len(seats_list)):
            ka = kas[i % len(kas)]
            seats_list.append(("shunin" if rng.random() < 0.4 else "shuji", ka.id, ka, ka.bu))

        family, given = self._names()
        password = make_password(None)  # unusable: scale accounts cannot log in as they are
        busy_seat = next(i for i, s in enumerate(seats_list) if s[0] == "kacho")
        absent_seat = next(
            i for i, s in enumerate(seats_list) if s[0] == "kacho" and i != busy_seat
        )
        people = []
        for i in range(len(seats_list)):
            username = {busy_seat: BUSY_USERNAME, absent_seat: ABSENT_USERNAME}.get(
                i, f"{USERNAME_PREFIX}{i + 1:05d}"
            )
            last, last_kana = rng.choice(family)
            first, first_kana = rng.choice(given)
            people.append(
                Staff(
                    username=username,
                    password=password,
                    last_name=last,
                    first_name=first,
                    family_name_kana=last_kana,
                    given_name_kana=first_kana,
                    employee_number=f"{CODE_PREFIX}{i + 1:06d}",
                    hired_on=dt.date(rng.randint(1988, 2020), 4, 1),
                    is_demo=True,
                    date_joined=now,
                )
            )
        for start in range(0, len(people), BATCH):
            Staff.objects.bulk_create(people[start : start + BATCH])
        Assignment.objects.bulk_create(
            (
                Assignment(
                    staff_id=person.pk,
                    department_id=dept_id,
                    post=posts[code],
                    start=ASSIGNMENT_START,
                    note="seed_scale",
                )
                for person, (code, dept_id, _ka, _bu) in zip(people, seats_list, strict=True)
            ),
            batch_size=BATCH,
        )
        staff_group, _ = Group.objects.get_or_create(name=STAFF)
        manager_group, _ = Group.objects.get_or_create(name=MANAGER)
        through = Staff.groups.through
        memberships = [through(staff_id=p.pk, group_id=staff_group.pk) for p in people]
        memberships += [
            through(staff_id=p.pk, group_id=manager_group.pk)
            for p, seat in zip(people, seats_list, strict=True)
            if posts[seat[0]].is_manager
        ]
        through.objects.bulk_create(memberships, batch_size=BATCH)
        totals.counts["staff"] = totals.counts["assignments"] = len(people)

        holders: list[Holder] = []
        shicho = 0
        fukushicho: list[int] = []
        for person, (code, _dept, ka, bu) in zip(people, seats_list, strict=True):
            if ka is not None:
                if code == "kacho":
                    ka.kacho = person.pk
                elif code == "hosa":
                    ka.hosa = person.pk
                elif code == "kakaricho":
                    ka.kakaricho.append(person.pk)
                else:
                    ka.drafters.append(person.pk)
            elif code == "bucho":
                bu.bucho = person.pk
            elif code == "jicho":
                bu.jicho = person.pk
            elif code == "shicho":
                shicho = person.pk
            elif code == "fukushicho":
                fukushicho.append(person.pk)
            if code not in ("shunin", "shuji"):
                holders.append(Holder(staff=person.pk, post=code, ka=ka, bu=bu))
        busy = next(h for h in holders if h.staff == people[busy_seat].pk)
        absent = next(h for h in holders if h.staff == people[absent_seat].pk)
        city = City(
            bus=bus,
            kas=kas,
            posts=posts,
            shicho=shicho,
            fukushicho=fukushicho,
            holders=holders,
            busy=busy,
            absent=absent,
            staff_count=len(people),
        )
        self._deputies_and_absences(city, people, rng, now, totals)
        return city

    def _names(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        path = Path(settings.BASE_DIR) / "fixtures" / "demo" / "names.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return (
                [(n["name"], n.get("kana", "")) for n in data["family_names"]],
                [(n["name"], n.get("kana", "")) for n in data["given_names"]],
            )
        except (OSError, KeyError, ValueError):
            return [(n, "") for n in DEFAULT_NAMES[0]], [(n, "") for n in DEFAULT_NAMES[1]]

    def _deputies_and_absences(
        self, city: City, people: list[Staff], rng: random.Random, now: dt.datetime, totals: Totals
    ) -> None:
        """代理者: each 課長's 補佐, each 部長's 次長 (or a 補佐); busy-manager second for the
        absent 課長. Absences: the absent 課長 for a long while (a reused benchmark database
        stays valid), a few others now, and many in the past."""
        deputies = []
        for ka in city.kas:
            deputies.append(
                Deputy(principal_id=ka.kacho, deputy_id=ka.hosa, start=ASSIGNMENT_START)
            )
        for bu in city.bus:
            deputy = bu.jicho or bu.kas[0].hosa  # never busy-manager: one principal only
            deputies.append(Deputy(principal_id=bu.bucho, deputy_id=deputy, start=ASSIGNMENT_START))
        deputies.append(
            Deputy(
                principal_id=city.absent.staff,
                deputy_id=city.busy.staff,
                order=2,
                start=ASSIGNMENT_START,
            )
        )
        Deputy.objects.bulk_create(deputies)
        absences = [
            Absence(
                staff_id=city.absent.staff,
                start=now - dt.timedelta(days=2),
                end=now + dt.timedelta(days=365),
                reason=Absence.Reason.LEAVE,
                note="seed_scale: 長期不在（busy-manager が代理）",
            )
        ]
        others = [p.pk for p in people if p.pk not in (city.busy.staff, city.absent.staff)]
        for pk in rng.sample(others, max(1, len(others) // 100)):
            absences.append(
                Absence(
                    staff_id=pk,
                    start=now - dt.timedelta(hours=rng.randint(1, 48)),
                    end=now + dt.timedelta(hours=rng.randint(2, 96)),
                    reason=Absence.Reason.TRIP,
                    note="seed_scale",
                )
            )
        for pk in rng.sample(others, max(1, len(others) // 5)):
            start = now - dt.timedelta(days=rng.randint(7, 900), hours=rng.randint(0, 8))
            absences.append(
                Absence(
                    staff_id=pk,
                    start=start,
                    end=start + dt.timedelta(hours=rng.choice([4, 8, 24, 72])),
                    reason=rng.choice([Absence.Reason.LEAVE, Absence.Reason.TRAINING]),
                    note="seed_scale",
                )
            )
        Absence.objects.bulk_create(absences, batch_size=BATCH)
        totals.counts["deputies"] = len(deputies)
        totals.counts["absences"] = len(absences)

    # --- documents --------------------------------------------------------------------

    def _plan_statuses(
        self, city: City, n_docs: int, busy_items: int, absent_items: int, rng: random.Random
    ) -> list[tuple[str, Holder | None]]:
        """Status of each document, and for the ones in review who holds the pending step."""
        pending: list[Holder] = [city.busy] * busy_items + [city.absent] * absent_items
        room = max(0, int(n_docs * 0.2) - len(pending))
        for h in city.holders:
            if h is city.busy or h is city.absent:
                continue
            k = rng.choices([0, 1, 2, 3, 4, 5], weights=[25, 25, 20, 15, 10, 5])[0]
            k = min(k, room)
            pending += [h] * k
            room -= k
        plan: list[tuple[str, Holder | None]] = [(Document.Status.IN_REVIEW, h) for h in pending]
        rest = n_docs - len(plan)
        n_returned = rest * 3 // 100
        n_withdrawn = rest * 2 // 100
        plan += [(Document.Status.RETURNED, None)] * n_returned
        plan += [(Document.Status.WITHDRAWN, None)] * n_withdrawn
        plan += [(Document.Status.DECIDED, None)] * (rest - n_returned - n_withdrawn)
        rng.shuffle(plan)
        return plan

    def _timeline(self, n: int, now: dt.datetime, rng: random.Random) -> list[dt.datetime]:
        """Submission times over the last three years, oldest first (ids follow time)."""
        span = 3 * 365 * 86400
        offsets = sorted((rng.uniform(14 * 86400, span) for _ in range(n)), reverse=True)
        return [now - dt.timedelta(seconds=s) for s in offsets]

    def _ladder(self, ka: Ka, decider: str, holder: Holder | None, rng: random.Random):
        """The route's steps in order: (post code, department id or None, person id)."""
        kakaricho = (
            holder.staff
            if holder is not None and holder.post == "kakaricho"
            else rng.choice(ka.kakaricho)
        )
        steps = [
            ("kakaricho", ka.id, kakaricho),
            ("hosa", ka.id, ka.hosa),
            ("kacho", ka.id, ka.kacho),
        ]
        top = LEVEL_ORDER.index(decider)
        if top >= LEVEL_ORDER.index("bucho"):
            if ka.bu.jicho:
                steps.append(("jicho", ka.bu.id, ka.bu.jicho))
            steps.append(("bucho", ka.bu.id, ka.bu.bucho))
        if top >= LEVEL_ORDER.index("fukushicho"):
            fuku = (
                holder.staff
                if holder is not None and holder.post == "fukushicho"
                else rng.choice(self._city.fukushicho)
            )
            steps.append(("fukushicho", None, fuku))
        if decider == "shicho":
            steps.append(("shicho", None, self._city.shicho))
        return steps

    def _route_for(self, holder: Holder | None, rng: random.Random):
        """Department, drafter, ladder and the index of the pending step (holder's)."""
        city = self._city
        if holder is None:
            ka = rng.choice(city.kas)
            decider = rng.choices([d for d, _ in DECIDERS], weights=[w for _, w in DECIDERS])[0]
            return ka, self._ladder(ka, decider, None, rng), None
        if holder.ka is not None:
            ka = holder.ka
        elif holder.bu is not None:
            ka = rng.choice(holder.bu.kas)
        else:
            ka = rng.choice(city.kas)
        level = LEVEL_ORDER.index(holder.post)
        choices = [(d, w) for d, w in DECIDERS if LEVEL_ORDER.index(d) >= level]
        decider = rng.choices([d for d, _ in choices], weights=[w for _, w in choices])[0]
        ladder = self._ladder(ka, decider, holder, rng)
        index = next(i for i, (code, _d, person) in enumerate(ladder) if person == holder.staff)
        return ka, ladder, index

    def _documents(
        self,
        city: City,
        chunk: list[tuple[str, Holder | None]],
        times: list[dt.datetime],
        category: MatterCategory,
        subject_type: ContentType,
        now: dt.datetime,
        rng: random.Random,
        totals: Totals,
    ) -> None:
        posts = city.posts
        docs: list[Document] = []
        shapes = []
        for (status, holder), submitted in zip(chunk, times, strict=True):
            ka, ladder, pending_index = self._route_for(holder, rng)
            n = len(ladder)
            important = rng.random() < (0.15 if holder is city.absent else 0.02)
            # When each step was activated and (if it was) acted on.
            if status == Document.Status.IN_REVIEW:
                activated = now - dt.timedelta(seconds=rng.uniform(600, 14 * 86400))
                stamps: list[tuple[dt.datetime, dt.datetime | None]] = [(activated, None)]
                t = activated
                for _ in range(pending_index):
                    before = t - dt.timedelta(seconds=rng.uniform(1800, 86400))
                    stamps.insert(0, (before, t))
                    t = before
                submitted = stamps[0][0]
                acted_upto = pending_index  # steps before this one are acted
            else:
                stamps = []
                t = submitted
                for _ in range(n):
                    acted = t + dt.timedelta(seconds=rng.uniform(1800, 2 * 86400))
                    stamps.append((t, acted))
                    t = acted
                # decided: every step acted; returned/withdrawn: stopped at a random step
                acted_upto = n if status == Document.Status.DECIDED else rng.randrange(n)
            drafter = rng.choice(ka.drafters)
            amount = rng.choice([None, rng.randint(1, 2_000) * 1_000])
            doc = new_document(
                title=rng.choice(TITLE_PATTERNS).format(rng.choice(TITLE_SUBJECTS)),
                category_id=category.pk,
                amount=amount,
                important=important,
                confidentiality=(
                    Document.Confidentiality.CONFIDENTIAL
                    if rng.random() < 0.03
                    else Document.Confidentiality.NORMAL
                ),
                retention=rng.choice(RETENTIONS),
                status=status,
                drafter_id=drafter,
                department_id=ka.id,
                drafted_on=timezone.localdate(submitted),
            )
            if status == Document.Status.DECIDED:
                decided_at = stamps[-1][1]
                fy = fiscal_year(timezone.localdate(decided_at))
                key = (fy, ka.symbol)
                serial = totals.serials.get(key, 0) + 1
                totals.serials[key] = serial
                doc.number = format_number(fy, ka.symbol, serial)
                doc.number_fiscal_year = fy
                doc.number_symbol = ka.symbol
                doc.number_serial = serial
                doc.decided_at = decided_at
                doc.decided_by_id = ladder[-1][2]
            docs.append(doc)
            shapes.append((status, ka, ladder, stamps, acted_upto, submitted, drafter))
            totals.counts[f"doc:{status}"] += 1
        Document.objects.bulk_create(docs, batch_size=BATCH)

        routes = []
        for doc, (status, ka, ladder, stamps, acted_upto, submitted, drafter) in zip(
            docs, shapes, strict=True
        ):
            finished = None
            if status == Document.Status.DECIDED:
                route_status, finished = Route.Status.APPROVED, stamps[-1][1]
            elif status == Document.Status.IN_REVIEW:
                route_status = Route.Status.ACTIVE
            elif status == Document.Status.RETURNED:
                route_status, finished = Route.Status.RETURNED, stamps[acted_upto][1]
            else:
                route_status = Route.Status.WITHDRAWN
                finished = stamps[acted_upto][0] + dt.timedelta(hours=rng.uniform(1, 48))
            routes.append(
                new_route(
                    subject_type_id=subject_type.pk,
                    subject_id=doc.pk,
                    round=1,
                    status=route_status,
                    title=doc.title,
                    department_id=ka.id,
                    submitted_by_id=drafter,
                    submitted_at=submitted,
                    finished_at=finished,
                    important=doc.important,
                    confidential=doc.confidentiality != Document.Confidentiality.NORMAL,
                    current_stage=min(acted_upto + 1, len(ladder)),
                )
            )
        Route.objects.bulk_create(routes, batch_size=BATCH)

        stages = []
        for route, (status, _ka, ladder, _stamps, acted_upto, _s, _d) in zip(
            routes, shapes, strict=True
        ):
            for i in range(len(ladder)):
                if i < acted_upto:
                    stage_status = Stage.Status.DONE
                elif i == acted_upto and status != Document.Status.DECIDED:
                    stage_status = Stage.Status.ACTIVE
                else:
                    stage_status = Stage.Status.WAITING
                stages.append(
                    new_stage(
                        route_id=route.pk,
                        position=i + 1,
                        kind=(
                            Stage.Kind.DECISION if i == len(ladder) - 1 else Stage.Kind.CIRCULATION
                        ),
                        status=stage_status,
                    )
                )
        Stage.objects.bulk_create(stages, batch_size=BATCH)

        steps = []
        stage_iter: Iterator[Stage] = iter(stages)
        for route, (status, _ka, ladder, stamps, acted_upto, _s, _d) in zip(
            routes, shapes, strict=True
        ):
            last = len(ladder) - 1
            for i, (code, dept_id, person) in enumerate(ladder):
                stage = next(stage_iter)
                step = new_step(
                    route_id=route.pk,
                    stage_id=stage.pk,
                    position=0,
                    department_id=dept_id,
                    post_id=posts[code].pk,
                    status=Step.Status.WAITING,
                )
                if i <= acted_upto and i < len(stamps):
                    activated, acted = stamps[i]
                    step.assignee_id = person
                    step.activated_at = activated
                    step.due_at = activated + dt.timedelta(days=3)
                    if i < acted_upto:
                        step.status = Step.Status.DECIDED if i == last else Step.Status.APPROVED
                        step.mode = Step.Mode.NORMAL
                        step.acted_by_id = person
                        step.acted_at = acted
                    elif status == Document.Status.IN_REVIEW:
                        step.status = Step.Status.PENDING
                        roll = rng.random()
                        if roll < 0.1:
                            step.due_at = None
                        elif roll < 0.2:
                            step.due_at = activated + dt.timedelta(days=rng.randint(7, 30))
                        totals.counts["pending steps"] += 1
                    elif status == Document.Status.RETURNED:
                        step.status = Step.Status.RETURNED
                        step.mode = Step.Mode.NORMAL
                        step.acted_by_id = person
                        step.acted_at = acted
                        step.comment = "記載内容を確認してください。"
                    # withdrawn: the pending step was parked (waiting, assignee kept)
                steps.append(step)
        Step.objects.bulk_create(steps, batch_size=BATCH)
        c = totals.counts
        c["documents"] += len(docs)
        c["routes"] += len(routes)
        c["stages"] += len(stages)
        c["steps"] += len(steps)

    # --- document numbers -------------------------------------------------------------

    def _last_serials(self) -> dict[tuple[int, str], int]:
        return {
            (c.fiscal_year, c.symbol): c.last_serial
            for c in DocumentNumberCounter.objects.filter(doc_type="")
        }

    def _counters(self, totals: Totals) -> None:
        existing = {
            (c.fiscal_year, c.symbol): c for c in DocumentNumberCounter.objects.filter(doc_type="")
        }
        new = []
        for (fy, symbol), serial in totals.serials.items():
            counter = existing.get((fy, symbol))
            if counter is None:
                new.append(
                    DocumentNumberCounter(
                        fiscal_year=fy, symbol=symbol, doc_type="", last_serial=serial
                    )
                )
            elif counter.last_serial < serial:
                counter.last_serial = serial
                counter.save(update_fields=["last_serial"])
        DocumentNumberCounter.objects.bulk_create(new)
