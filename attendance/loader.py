"""Load the national default leave rules and leave types from fixtures/attendance/*.json.

Each row is looked up by its natural key (employee class, leave-type code) and written
only when it differs, so loading again changes nothing and writes no audit event. A
city that changed a value in the admin and reloads gets the national value back:
load once at installation, then edit in the admin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models, transaction

from audit.services import audit_record
from org.models import Staff

from .models import FirstYearGrant, LeaveRules, LeaveType, ServiceGrant

FIXTURES_DIR = Path(settings.BASE_DIR) / "fixtures" / "attendance"


def _upsert(model: type[models.Model], key: dict[str, Any], values: dict[str, Any]) -> bool:
    """Create or correct one row; True when something was written."""
    obj = model._default_manager.filter(**key).first()
    if obj is None:
        model._default_manager.create(**key, **values)
        return True
    diff = [f for f, v in values.items() if getattr(obj, f) != v]
    for f in diff:
        setattr(obj, f, values[f])
    if diff:
        obj.save(update_fields=diff)
    return bool(diff)


def rules_load(*, directory: Path = FIXTURES_DIR, actor: Staff | None = None) -> int:
    """Load leave_rules.json and leave_types.json; returns how many rows were written."""
    rules_data = json.loads((directory / "leave_rules.json").read_text(encoding="utf-8"))
    types_data = json.loads((directory / "leave_types.json").read_text(encoding="utf-8"))
    written = 0
    with transaction.atomic():
        for item in rules_data["leave_rules"]:
            values = {
                k: v
                for k, v in item.items()
                if k not in ("employee_class", "first_year_grants", "service_grants")
            }
            written += _upsert(LeaveRules, {"employee_class": item["employee_class"]}, values)
            rules = LeaveRules.objects.get(employee_class=item["employee_class"])
            for month, days in item["first_year_grants"].items():
                written += _upsert(
                    FirstYearGrant, {"rules": rules, "hire_month": int(month)}, {"days": days}
                )
            for per_week, by_years in item.get("service_grants", {}).items():
                for years, days in by_years.items():
                    written += _upsert(
                        ServiceGrant,
                        {
                            "rules": rules,
                            "days_per_week": int(per_week),
                            "service_years": int(years),
                        },
                        {"days": days},
                    )
        for order, item in enumerate(types_data["leave_types"], start=1):
            values = {k: v for k, v in item.items() if k != "code"}
            values["sort_order"] = order * 10
            written += _upsert(LeaveType, {"code": item["code"]}, values)
        if written:
            audit_record(
                actor=actor,
                action="attendance.rules.loaded",
                data={"rows_written": written, "source": str(directory.name)},
            )
    return written
