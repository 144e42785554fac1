"""manage.py demo: load the fictional city 瀬戸浜市 (Setohama City) for trying the suite.

The organisation is data (fixtures/demo/org.json); the people are generated from
fixtures/demo/names.json with a fixed seed, so every run produces the same city. Running
the command again changes nothing: each row is looked up by its natural key and only
written when it differs, and the audit event is written only when something changed.

The loader lives here rather than in org/services.py because it is demo-only code with
one summary audit event; real data comes in through `import_staff` and the admin.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction

from audit.services import audit_record
from org.models import Assignment, Department, Deputy, Post, Staff, WorkSchedule
from org.roles import ROLES, STAFF

DEMO_DIR = Path(settings.BASE_DIR) / "fixtures" / "demo"
DEMO_PASSWORD = "setohama-demo"  # noqa: S105 - published on purpose; only works with demo logins on

# Years of service on the assignment start date, by post, for plausible 採用日.
_SERVICE_YEARS: dict[str, tuple[int, int]] = {
    "shicho": (1, 3),
    "fukushicho": (1, 3),
    "bucho": (30, 36),
    "jicho": (28, 33),
    "kacho": (22, 30),
    "hosa": (18, 25),
    "kakaricho": (12, 20),
    "shunin": (6, 12),
    "shuji": (0, 5),
}


@dataclass
class Slot:
    """A seat to fill: one person with one primary assignment."""

    department: Department
    post: Post
    section: Department | None  # the 課 it belongs to (for deputies); None for 部 heads
    roles: set[str]
    employee_class: str = Staff.EmployeeClass.REGULAR
    schedule: str = "standard"
    login: str = ""
    staff: Staff | None = None


@dataclass
class Loaded:
    counts: Counter[str] = field(default_factory=Counter)
    logins: list[tuple[Staff, Slot | None]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    staff_total: int = 0

    @property
    def changed(self) -> bool:
        return any(n for key, n in self.counts.items() if key.endswith((".created", ".updated")))


def _upsert(
    model: type[models.Model], lookup: dict[str, Any], values: dict[str, Any], counts: Counter[str]
) -> Any:
    """Create, or update only the fields that differ; count which happened."""
    label = model._meta.model_name
    obj = model._default_manager.filter(**lookup).first()
    if obj is None:
        obj = model._default_manager.create(**lookup, **values)
        counts[f"{label}.created"] += 1
        return obj
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        obj.save(update_fields=changed)
        counts[f"{label}.updated"] += 1
    return obj


def _time(text: str | None) -> dt.time | None:
    return dt.time.fromisoformat(text) if text else None


class DemoLoader:
    def __init__(self, org: dict[str, Any], names: dict[str, Any]) -> None:
        self.org = org
        self.names = names
        self.start = dt.date.fromisoformat(org["assignment_start"])
        self.domain = org["city"]["mail_domain"]
        self.result = Loaded()
        self.login_names = [login["username"] for login in org["logins"]]
        self._password_hash = ""
        self.groups = {g.name: g for g in Group.objects.filter(name__in=ROLES)}
        missing = set(ROLES) - set(self.groups)
        if missing:
            raise CommandError(
                f"権限グループがありません: {', '.join(sorted(missing))}。先に migrate を "
                "(role groups missing: run migrate first)"
            )

    @property
    def password_hash(self) -> str:
        # One hash shared by every new demo account: hashing ~160 passwords with Argon2
        # would make `make run` slow, and this password is public anyway.
        if not self._password_hash:
            self._password_hash = make_password(DEMO_PASSWORD)
        return self._password_hash

    # --- master data ---------------------------------------------------------------------

    def load_posts(self) -> dict[str, Post]:
        posts = {}
        for p in self.org["posts"]:
            posts[p["code"]] = _upsert(
                Post,
                {"code": p["code"]},
                {"name": p["name"], "rank": p["rank"], "is_manager": p["is_manager"]},
                self.result.counts,
            )
        return posts

    def load_schedules(self) -> dict[str, WorkSchedule]:
        schedules = {}
        for s in self.org["schedules"]:
            schedules[s["code"]] = _upsert(
                WorkSchedule,
                {"code": s["code"]},
                {
                    "name": s["name"],
                    "start": _time(s["start"]),
                    "end": _time(s["end"]),
                    "break_start": _time(s.get("break_start")),
                    "break_end": _time(s.get("break_end")),
                    "days_per_week": s.get("days_per_week", 5),
                },
                self.result.counts,
            )
        return schedules

    def load_departments(self) -> dict[str, Department]:
        departments: dict[str, Department] = {}
        levels = [Department.Level.BU, Department.Level.KA, Department.Level.KAKARI]
        order = 0

        def walk(nodes: list[dict[str, Any]], parent: Department | None, depth: int) -> None:
            nonlocal order
            for node in nodes:
                order += 10
                departments[node["code"]] = _upsert(
                    Department,
                    {"code": node["code"]},
                    {
                        "name": node["name"],
                        "name_kana": node.get("kana", ""),
                        "level": levels[depth],
                        "parent": parent,
                        "doc_symbol": node.get("doc_symbol", ""),
                        "overtime_class": node.get(
                            "overtime_class", Department.OvertimeClass.NORMAL
                        ),
                        "sort_order": order,
                        "is_active": True,
                    },
                    self.result.counts,
                )
                walk(node.get("children", []), departments[node["code"]], depth + 1)

        walk(self.org["departments"], None, 0)
        return departments

    # --- people ----------------------------------------------------------------------------

    def plan(self, departments: dict[str, Department], posts: dict[str, Post]) -> list[Slot]:
        """Every seat in the city, in a fixed order (the order fixes names and numbers)."""
        post_spec = {p["code"]: p for p in self.org["posts"]}
        slots: list[Slot] = []

        def seat(code: str, post: str, section: Department | None, roles: set[str]) -> Slot:
            spec = post_spec[post]
            slot = Slot(
                department=departments[code],
                post=posts[post],
                section=section,
                roles={STAFF, *spec.get("roles", []), *roles},
                employee_class=spec.get("employee_class", Staff.EmployeeClass.REGULAR),
                schedule=spec.get("schedule", "standard"),
            )
            slots.append(slot)
            return slot

        for bu in self.org["departments"]:
            seat(bu["code"], "bucho", None, set())
            if bu.get("deputy_head"):
                seat(bu["code"], "jicho", None, set())
            for ka in bu.get("children", []):
                section = departments[ka["code"]]
                ka_roles = set(ka.get("roles", []))
                if ka.get("executives"):
                    seat(ka["code"], "shicho", None, set())
                    seat(ka["code"], "fukushicho", None, set())
                seat(ka["code"], "kacho", section, ka_roles)
                seat(ka["code"], "hosa", section, ka_roles)
                units = ka.get("children") or [ka]
                for i, unit in enumerate(units):
                    roles = ka_roles | set(unit.get("roles", [])) if unit is not ka else ka_roles
                    seat(unit["code"], "kakaricho", section, roles)
                    if i == 0:
                        for _ in range(ka.get("shunin", 0)):
                            seat(unit["code"], "shunin", section, roles)
                    for _ in range(ka.get("members", 1)):
                        seat(unit["code"], "shuji", section, roles)
                first = units[0]
                first_roles = (
                    ka_roles | set(first.get("roles", [])) if first is not ka else ka_roles
                )
                for _ in range(ka.get("short_time", 0)):
                    slot = seat(first["code"], "shuji", section, first_roles)
                    slot.employee_class = Staff.EmployeeClass.SHORT_TIME
                    slot.schedule = "short"
                for _ in range(ka.get("kaikei", 0)):
                    seat(first["code"], "kaikei", section, first_roles)

        taken: set[int] = set()
        for login in self.org["logins"]:
            if "department" not in login:
                continue
            index = next(
                (
                    i
                    for i, s in enumerate(slots)
                    if i not in taken
                    and s.department.code == login["department"]
                    and s.post.code == login["post"]
                ),
                None,
            )
            if index is None:
                raise CommandError(
                    f"demo login {login['username']}: no seat {login['post']} in "
                    f"{login['department']} (fixtures/demo/org.json)"
                )
            taken.add(index)
            slots[index].login = login["username"]
        return slots

    def _demo_staff(
        self, username: str, values: dict[str, Any], *, reset_password: bool
    ) -> Staff | None:
        counts = self.result.counts
        staff = Staff.objects.filter(username=username).first()
        if staff is not None and not staff.is_demo:
            # A real account with this name (e.g. an `admin` made by createsuperuser):
            # never turn it into a demo account or give it the public password.
            self.result.skipped.append(username)
            return None
        if staff is None:
            staff = Staff(username=username, password=self.password_hash, **values)
            staff.save()
            counts["staff.created"] += 1
            return staff
        changed = [name for name, value in values.items() if getattr(staff, name) != value]
        for name in changed:
            setattr(staff, name, values[name])
        if reset_password and not staff.check_password(DEMO_PASSWORD):
            staff.password = self.password_hash
            changed.append("password")
        if changed:
            staff.save(update_fields=changed)
            counts["staff.updated"] += 1
        return staff

    def _set_roles(self, staff: Staff, roles: set[str]) -> None:
        current = set(staff.groups.values_list("name", flat=True))
        if current != roles:
            staff.groups.set([self.groups[name] for name in roles])
            self.result.counts["staff_roles.updated"] += 1

    def load_people(self, slots: list[Slot], schedules: dict[str, WorkSchedule]) -> None:
        rng = random.Random(self.org["seed"])
        family_names = self.names["family_names"]
        given_names = self.names["given_names"]
        counts = self.result.counts
        for i, slot in enumerate(slots, start=1):
            # Draw every seat's name and years even when the person exists, so the
            # sequence (and so every name) does not depend on what is in the database.
            family = rng.choice(family_names)
            given = rng.choice(given_names)
            low, high = _SERVICE_YEARS.get(slot.post.code, (0, 0))
            years = rng.randint(low, high)
            username = slot.login or f"demo{i:03d}"
            # Numbers follow the username, so editing org.json cannot make two accounts
            # claim the same number on the next run.
            number = f"D9{self.login_names.index(slot.login):04d}" if slot.login else f"D{i:05d}"
            staff = self._demo_staff(
                username,
                {
                    "employee_number": number,
                    "last_name": family["name"],
                    "first_name": given["name"],
                    "family_name_kana": family["kana"],
                    "given_name_kana": given["kana"],
                    "email": f"{username}@{self.domain}",
                    "employee_class": slot.employee_class,
                    "work_schedule": schedules[slot.schedule],
                    "hired_on": dt.date(self.start.year - years, 4, 1),
                    "is_demo": True,
                    "is_active": True,
                    "is_staff": False,
                    "is_superuser": False,
                },
                reset_password=bool(slot.login),
            )
            if staff is None:
                continue
            slot.staff = staff
            self._set_roles(staff, slot.roles)
            assignment = Assignment.objects.filter(
                staff=staff, is_primary=True, start=self.start
            ).first()
            if assignment is None:
                Assignment.objects.create(
                    staff=staff, department=slot.department, post=slot.post, start=self.start
                )
                counts["assignment.created"] += 1
            elif (assignment.department_id, assignment.post_id) != (
                slot.department.pk,
                slot.post.pk,
            ):
                assignment.department = slot.department
                assignment.post = slot.post
                assignment.save(update_fields=["department", "post"])
                counts["assignment.updated"] += 1
            if slot.login:
                self.result.logins.append((staff, slot))
        self.result.staff_total = sum(1 for s in slots if s.staff is not None)
        # Seats removed from org.json: their demo people stop holding posts.
        planned = {s.staff.pk for s in slots if s.staff is not None}
        stale = Staff.objects.filter(is_demo=True, is_active=True, username__startswith="demo")
        for staff in stale.exclude(pk__in=planned):
            staff.is_active = False
            staff.save(update_fields=["is_active"])
            counts["staff.updated"] += 1

    def load_deputies(self, slots: list[Slot]) -> None:
        """課長: 課長補佐 first, the first 係長 second. 部長: 次長. 市長: 副市長."""
        by_section: dict[int, dict[str, list[Staff]]] = {}
        by_bu: dict[int, dict[str, list[Staff]]] = {}
        for slot in slots:
            if slot.staff is None:
                continue
            key = slot.section.pk if slot.section else slot.department.pk
            group = by_section if slot.section else by_bu
            group.setdefault(key, {}).setdefault(slot.post.code, []).append(slot.staff)
        chains: list[tuple[Staff, list[Staff]]] = []
        for seats in by_section.values():
            for principal in seats.get("kacho", []):
                chains.append(
                    (principal, [*seats.get("hosa", [])[:1], *seats.get("kakaricho", [])[:1]])
                )
        for seats in by_bu.values():
            for principal in seats.get("bucho", []):
                chains.append((principal, seats.get("jicho", [])[:1]))
            for principal in seats.get("shicho", []):
                chains.append((principal, seats.get("fukushicho", [])[:1]))
        for principal, deputies in chains:
            for order, deputy in enumerate(deputies, start=1):
                _upsert(
                    Deputy,
                    {"principal": principal, "order": order, "start": self.start},
                    {"deputy": deputy, "end": None},
                    self.result.counts,
                )

    def load_admin(self) -> None:
        for login in self.org["logins"]:
            if "department" in login:
                continue
            staff = self._demo_staff(
                login["username"],
                {
                    "last_name": login.get("last_name", ""),
                    "first_name": login.get("first_name", ""),
                    "email": f"{login['username']}@{self.domain}",
                    "is_demo": True,
                    "is_active": True,
                    "is_staff": bool(login.get("superuser")),
                    "is_superuser": bool(login.get("superuser")),
                },
                reset_password=True,
            )
            if staff is not None:
                self._set_roles(staff, set(login.get("roles", [])))
                self.result.logins.insert(0, (staff, None))

    def load(self) -> Loaded:
        with transaction.atomic():
            posts = self.load_posts()
            schedules = self.load_schedules()
            departments = self.load_departments()
            slots = self.plan(departments, posts)
            self.load_admin()
            self.load_people(slots, schedules)
            self.load_deputies(slots)
            if self.result.changed:
                audit_record(
                    actor=None,
                    action="org.demo.loaded",
                    data={
                        "city": self.org["city"]["name"],
                        "counts": dict(sorted(self.result.counts.items())),
                        "staff": self.result.staff_total,
                    },
                )
        return self.result


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


class Command(BaseCommand):
    help = (
        "架空の市「瀬戸浜市」の組織・職員・デモ用ログインを登録します。何度実行しても同じ結果です "
        "(load the fictional Setohama City demo organisation; idempotent)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        org = json.loads((DEMO_DIR / "org.json").read_text(encoding="utf-8"))
        names = json.loads((DEMO_DIR / "names.json").read_text(encoding="utf-8"))
        result = DemoLoader(org, names).load()

        changes = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
        if result.changed:
            self.stdout.write(f"{org['city']['name']} を登録しました (demo loaded): {changes}")
        else:
            self.stdout.write(
                f"{org['city']['name']} は登録済みです (demo already loaded, no changes)"
            )
        self.stdout.write(
            f"所属 {Department.objects.filter(code__in=_codes(org['departments'])).count()} / "
            f"デモ職員 {result.staff_total} 名 (departments / demo staff)"
        )
        for username in result.skipped:
            self.stderr.write(
                self.style.WARNING(
                    f"注意: 既存のデモ以外のアカウント「{username}」はそのままにしました "
                    "(a real account with this username exists and was left untouched)"
                )
            )

        login_order = [login["username"] for login in org["logins"]]
        result.logins.sort(key=lambda pair: login_order.index(pair[0].username))
        rows = [["ユーザー名", "氏名", "職", "所属", "権限"]]
        role_order = list(ROLES)
        for staff, slot in result.logins:
            roles = sorted(staff.groups.values_list("name", flat=True), key=role_order.index)
            rows.append(
                [
                    staff.username,
                    staff.display_name,
                    slot.post.name if slot else "システム管理者",
                    slot.department.full_name if slot else "—",
                    "+".join(roles),
                ]
            )
        self.stdout.write("")
        self.stdout.write("デモ用ログイン (demo logins):")
        for line in _table(rows):
            self.stdout.write("  " + line)
        self.stdout.write(f"  パスワード (password): {DEMO_PASSWORD}")
        state = "有効 (on)" if settings.DEMO_LOGINS_ENABLED else "無効 (off)"
        self.stdout.write(
            self.style.WARNING(
                "これらのログインは DEBUG / DEMO_LOGINS_ENABLED が有効な間だけ使えます。"
                f"現在: {state} (these logins only work while DEBUG / DEMO_LOGINS_ENABLED is on)"
            )
        )


def _codes(nodes: list[dict[str, Any]]) -> list[str]:
    codes: list[str] = []
    for node in nodes:
        codes.append(node["code"])
        codes.extend(_codes(node.get("children", [])))
    return codes
