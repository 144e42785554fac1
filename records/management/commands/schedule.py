"""manage.py schedule: export the 文書分類表 in force as JSON, or load a new version.

The JSON is the format of fixtures/demo/schedule.json ({"version", "effective_from",
"note", "entries": [{"code", "name", "children" | "retention", "disposition",
"department"}]}), so a city edits the export and loads it back as the next version.
Like the authority table, a version applies from a future date and never changes once
in force; loading is audited (records.schedule.created).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.dates import today
from org.models import Staff
from records.files import schedule_in_force, schedule_new_version
from records.models import Classification, ClassificationSchedule


def _tree(schedule: ClassificationSchedule) -> list[dict[str, Any]]:
    nodes = list(
        schedule.classifications.select_related("department").order_by("sort_order", "code")
    )
    children: dict[int | None, list[Classification]] = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node)

    def entry(node: Classification) -> dict[str, Any]:
        item: dict[str, Any] = {"code": node.code, "name": node.name}
        if node.level == Classification.Level.MINOR:
            item["retention"] = node.retention
            item["disposition"] = node.disposition
            if node.department_id:
                item["department"] = node.department.code
        else:
            item["children"] = [entry(c) for c in children.get(node.pk, [])]
        return item

    return [entry(n) for n in children.get(None, [])]


class Command(BaseCommand):
    help = "文書分類表を JSON で出力し、または新しい版を読み込みます (export / load the schedule)."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--export", metavar="FILE", help="write the version in force")
        group.add_argument("--load", metavar="FILE", help="load FILE as a new version")
        parser.add_argument("--actor", default="admin", help="username recorded in the audit")

    def handle(self, *args: Any, export: str | None, load: str | None, actor: str, **o) -> None:
        if export:
            current = schedule_in_force()
            if current is None:
                raise CommandError("施行中の文書分類表がありません (no schedule in force)")
            data = {
                "version": current.version + 1,
                "effective_from": (today() + dt.timedelta(days=1)).isoformat(),
                "note": f"第{current.version}版の改正案",
                "entries": _tree(current),
            }
            Path(export).write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
            self.stdout.write(f"第{current.version}版を {export} に出力しました (exported)")
            return
        data = json.loads(Path(load).read_text(encoding="utf-8"))
        start = dt.date.fromisoformat(data["effective_from"])
        if ClassificationSchedule.objects.exists() and start <= today():
            raise CommandError(
                "新しい版の施行日は明日以降にしてください (a new version must start in the future)"
            )
        user = Staff.objects.filter(username=actor).first()
        if user is None:
            raise CommandError(f"no such user: {actor}")
        schedule = schedule_new_version(
            actor=user,
            version=data["version"],
            effective_from=start,
            entries=data["entries"],
            note=data.get("note", ""),
        )
        leaves = schedule.classifications.filter(level=Classification.Level.MINOR).count()
        self.stdout.write(f"第{schedule.version}版を読み込みました: 小分類 {leaves} 件 (loaded)")
