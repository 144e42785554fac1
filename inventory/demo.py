"""Demo data for the operations inventory of Setohama City (瀬戸浜市, fictional): the
national priority procedures (the 26 子育て・介護, 罹災証明書, 転出・転入予約, the wider
list) and the city's other procedures, three fiscal years of counts, the first version of
the weights, a few business processes linked to the suite's own workflows, and paper
decision counts. Everything goes through the services, so it is audited like real use.
Idempotent: once the demo procedures exist, nothing is added.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from org.models import Department, Staff

from .models import BusinessProcess, Procedure
from .services import (
    paper_count_set,
    procedure_create,
    process_save,
    volume_set,
    weights_new_version,
)

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "inventory" / "procedures.json"
DX_DEPARTMENT = "230"
LISTS = {
    "childcare": "on_childcare_care_list",
    "disaster": "on_disaster_list",
    "moving": "on_moving_list",
    "priority": "on_priority_list",
}
# 第1号法定受託事務 among the demo's laws (地方自治法 別表第一).
ENTRUSTED = {"戸籍法", "生活保護法", "児童扶養手当法"}


@dataclass
class DemoResult:
    procedures: int = 0
    volumes: int = 0
    processes: int = 0


def _actor() -> Staff | None:
    return (
        Staff.objects.filter(username="dx").first()
        or Staff.objects.filter(is_superuser=True).order_by("pk").first()
    )


def load(path: Path = FIXTURE) -> DemoResult:
    result = DemoResult()
    actor = _actor()
    if actor is None or Procedure.objects.filter(procedure_id__startswith="SH-").exists():
        return result
    data = json.loads(path.read_text(encoding="utf-8"))
    departments = {d.code: d for d in Department.objects.all()}
    base_fy = data["base_fiscal_year"]
    with transaction.atomic():
        weights_new_version(
            actor=actor,
            valid_from=dt.date(base_fy, 4, 1),
            note="初版（総務省の手順書に基づく既定値）",
            dx_department=departments.get(DX_DEPARTMENT),
        )
        created: dict[str, Procedure] = {}
        for row in data["procedures"]:
            values = {
                "procedure_id": row["procedure_id"],
                "name": row["name"],
                "law_name": row["law_name"],
                "law_article": row["law_article"],
                "procedure_type": "1",
                "actor_party": "5",
                "recipient_party": "3",
                "affairs_type": "2" if row["law_name"] in ENTRUSTED else "1",
                "online_status": row["online_status"],
                "concern": row["concern"],
                "planned_year": row.get("planned_year", ""),
                "identity_check": row["identity_check"],
                "fee": row["fee"],
                "payment_methods": row["payment_methods"],
                "attachments": row["attachments"],
                "attachment_status": row["attachment_status"],
                "life_events": row["life_events"],
                "department": departments.get(row["department"]),
                "channel_counter": True,
                "channel_mail": not row["in_person_required"],
                "channel_e_application": row["channel_e_application"],
                "channel_mynaportal": row["channel_mynaportal"],
                "seal": row["seal"],
                "seal_basis": row["seal_basis"],
                "in_person_required": row["in_person_required"],
                "staff_minutes": row["staff_minutes"],
                "resident_minutes": row["resident_minutes"],
                "system_application": "電子申請サービス" if row["channel_e_application"] else "",
                "target_persons": "市民",
                "contact": "瀬戸浜市役所 "
                + (departments[row["department"]].name if row["department"] in departments else ""),
            }
            if row["list"]:
                values[LISTS[row["list"]]] = True
            created[row["procedure_id"]] = procedure_create(actor=actor, **values)
            result.procedures += 1
            for back in (2, 1, 0):
                fy = base_fy - back
                total = round(row["cases"] * (1 - 0.05 * back))
                share = max(row["online_share"] - 0.08 * back, 0) if row["online_share"] else 0
                online = round(total * share)
                volume_set(
                    procedure=created[row["procedure_id"]],
                    actor=actor,
                    fiscal_year=fy,
                    total=total,
                    online=online,
                    offline=total - online,
                )
                result.volumes += 1
        result.processes = _processes(actor, departments, created)
        for code, count in (("110", 420), ("220", 180), ("310", 260), ("520", 140)):
            if code in departments:
                paper_count_set(
                    actor=actor, department=departments[code], fiscal_year=base_fy, count=count
                )
    return result


def _processes(
    actor: Staff, departments: dict[str, Department], procedures: dict[str, Procedure]
) -> int:
    from approvals.models import MatterCategory

    def source(key: str) -> ContentType:
        app_label, model = key.split(".")
        return ContentType.objects.get_by_natural_key(app_label, model)

    category = MatterCategory.objects.order_by("sort_order").first()
    rows = [
        {
            "number": "SH-B001",
            "name": "児童手当事務",
            "purpose": "児童手当の認定・支給・現況確認を行う。",
            "basis_law": "児童手当法",
            "department": departments.get("420"),
            "routine": BusinessProcess.Routine.ROUTINE,
            "core": BusinessProcess.Core.NON_CORE,
            "volumes": (380, 220, 160, 240),
            "fte": Decimal("2.5"),
            "system_cost": 4_800_000,
            "procedures": ["SH-K01", "SH-K02", "SH-K03", "SH-K04", "SH-K10"],
        },
        {
            "number": "SH-B002",
            "name": "要介護認定事務",
            "purpose": "要介護・要支援認定の申請受付、認定調査、審査会の運営。",
            "basis_law": "介護保険法",
            "department": departments.get("430"),
            "routine": BusinessProcess.Routine.ROUTINE,
            "core": BusinessProcess.Core.CORE,
            "volumes": (1700, 1750, 1650, 1800),
            "fte": Decimal("6.0"),
            "system_cost": 9_600_000,
            "procedures": ["SH-C01", "SH-C02", "SH-C03", "SH-C11"],
        },
        {
            "number": "SH-B003",
            "name": "住民異動届の受付",
            "purpose": "転入・転出・転居の届出の受付と住民票の記載。",
            "basis_law": "住民基本台帳法",
            "department": departments.get("311"),
            "routine": BusinessProcess.Routine.ROUTINE,
            "core": BusinessProcess.Core.NON_CORE,
            "volumes": (3900, 1900, 1600, 2200),
            "fte": Decimal("4.0"),
            "system_cost": 12_000_000,
            "procedures": ["SH-M01", "SH-M02", "SH-L01", "SH-L02"],
        },
        {
            "number": "SH-B101",
            "name": "起案・決裁事務",
            "purpose": "起案文書の作成と事務決裁規程に基づく決裁（電子決裁）。",
            "basis_local": "瀬戸浜市事務決裁規程",
            "department": departments.get("110"),
            "routine": BusinessProcess.Routine.ROUTINE,
            "core": BusinessProcess.Core.NON_CORE,
            "volumes": (300, 280, 290, 350),
            "fte": Decimal("1.5"),
            "source": "approvals.document",
            "category": category,
        },
        {
            "number": "SH-B102",
            "name": "休暇の申請・承認",
            "purpose": "年次休暇・特別休暇の申請と所属長の承認。",
            "basis_local": "瀬戸浜市職員の勤務時間、休暇等に関する条例",
            "department": departments.get("130"),
            "routine": BusinessProcess.Routine.ROUTINE,
            "core": BusinessProcess.Core.NON_CORE,
            "volumes": (900, 1100, 800, 1000),
            "fte": Decimal("0.5"),
            "source": "attendance.leaverequest",
        },
        {
            "number": "SH-B103",
            "name": "時間外勤務命令",
            "purpose": "時間外勤務の事前命令と実績の確認。",
            "basis_local": "瀬戸浜市職員の勤務時間、休暇等に関する条例",
            "department": departments.get("130"),
            "routine": BusinessProcess.Routine.ROUTINE,
            "core": BusinessProcess.Core.NON_CORE,
            "volumes": (1400, 1200, 1300, 1900),
            "fte": Decimal("0.5"),
            "source": "attendance.overtimeorder",
        },
        {
            "number": "SH-B104",
            "name": "公文書の廃棄・移管",
            "purpose": "保存期間が満了した簿冊の廃棄・移管の手続。",
            "basis_local": "瀬戸浜市公文書管理規則",
            "department": departments.get("111"),
            "routine": BusinessProcess.Routine.NON_ROUTINE,
            "core": BusinessProcess.Core.NON_CORE,
            "volumes": (0, 0, 0, 2),
            "fte": Decimal("0.2"),
            "source": "records.disposalbatch",
        },
    ]
    for row in rows:
        q1, q2, q3, q4 = row.pop("volumes")
        linked = [procedures[k] for k in row.pop("procedures", []) if k in procedures]
        key = row.pop("source", None)
        category_ = row.pop("category", None)
        process_save(
            actor=actor,
            procedures=linked,
            volume_q1=q1,
            volume_q2=q2,
            volume_q3=q3,
            volume_q4=q4,
            source_type=source(key) if key else None,
            source_category=category_,
            **row,
        )
    return len(rows)
