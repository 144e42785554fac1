"""The national layout round-trips, a bad cell among 1,000 rows stops the whole import
and is named by row and column, and the publication table and catalogue are written."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.utils import timezone

from approvals.models import Document
from audit.models import AuditEvent
from inventory import exchange
from inventory.models import Procedure, ProcedureVolume
from tests.inventory.conftest import bulk_procedures

pytestmark = pytest.mark.django_db


def cells_of(data: bytes) -> list[tuple]:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        return [tuple(row) for row in wb.worksheets[0].iter_rows(values_only=True)]
    finally:
        wb.close()


def export_xlsx(fy: int | None = 2024) -> bytes:
    out = io.BytesIO()
    exchange.export_national_xlsx(out, fy)
    return out.getvalue()


def import_file(tmp_path: Path, data: bytes, actor, suffix: str = ".xlsx"):
    path = tmp_path / f"in{suffix}"
    path.write_bytes(data)
    validated = exchange.national_validate(exchange.national_read(path))
    if validated.ok:
        exchange.national_import(actor=actor, validated=validated)
    return validated


def varied_procedures(dx_city) -> None:
    city = dx_city.city
    now = timezone.now()
    rich = Procedure.objects.create(
        procedure_id="SH-001",
        ministry="こども家庭庁",
        name="児童手当の認定請求",
        law_name="児童手当法",
        law_article="第7条第1項",
        related_articles="第8条",
        procedure_type="1",
        actor_party="5",
        recipient_party="3",
        via_party="",
        affairs_type="1",
        online_status="1",
        concern="",
        online_note="マイナポータルで受付",
        identity_check="4",
        fee="2",
        payment_methods=["1-1", "2-3"],
        processing_online="7日",
        processing_offline="14日",
        system_application="ぴったりサービス",
        system_processing="児童手当システム",
        attachments=["住民票", "その他の添付書類"],
        attachment_status=["1", "4"],
        life_events=["出生・こども", "引越し"],
        extra={"申請に関連する士業": "士業が介在しない", "手数料等に関する補足": "300円"},
        department=city.soumu_ka,
        channel_counter=True,
        channel_mail=True,
        channel_e_application=True,
        channel_mynaportal=True,
        seal="required",
        seal_basis="guideline",
        in_person_required=False,
        staff_minutes=20,
        resident_minutes=45,
        on_childcare_care_list=True,
        on_priority_list=True,
        source_type=ContentType.objects.get_for_model(Document),
        source_category=city.buppin,
        target_persons="中学生までの子を養育する方",
        detail_url="https://www.city.setohama.example/kosodate/jidouteate.html",
        contact="子育て支援課 0897-00-0000",
        created_at=now,
        updated_at=now,
    )
    ProcedureVolume.objects.create(
        procedure=rich, fiscal_year=2024, total=815, online=426, offline=389
    )
    ProcedureVolume.objects.create(
        procedure=rich, fiscal_year=2023, total=800, online=300, offline=500
    )
    Procedure.objects.create(
        procedure_id="SH-002",
        name="犬の登録申請",
        procedure_type="1",
        online_status="2",
        concern="0",
        planned_year="4",
        created_at=now,
        updated_at=now,
        channel_counter=False,
    )
    bare = Procedure.objects.create(
        procedure_id="0003",
        name="縦覧の手続",
        procedure_type="3",
        online_status="3",
        created_at=now,
        updated_at=now,
    )
    ProcedureVolume.objects.create(
        procedure=bare, fiscal_year=2024, total=None, online=None, offline=12
    )


def test_round_trip_into_an_empty_database_gives_identical_cells(dx_city, tmp_path) -> None:
    varied_procedures(dx_city)
    first = export_xlsx(2024)
    rows = cells_of(first)
    assert list(rows[0][:46]) == [c.header for c in exchange.NATIONAL_COLUMNS]
    header = rows[0]
    row = dict(zip(header, rows[2], strict=True))  # SH-001 (after 0003)
    assert row["手続類型"] == "1 申請等"
    assert row["手数料等の納付方法"] == "1-1 行政機関の窓口; 2-3 クレジットカード払い"
    assert row["申請時に添付させる書類"] == "住民票; その他の添付書類"
    assert row["オンライン化の実施状況"] == "1 実施済"
    assert (row["総手続件数"], row["オンライン手続件数"], row["非オンライン手続件数"]) == (
        815,
        426,
        389,
    )
    assert row["件数の年度"] == 2024 and row["内部の処理"] == "approvals.document"
    Procedure.objects.all().delete()
    assert not ProcedureVolume.objects.exists()

    validated = import_file(tmp_path, first, dx_city.dx)
    assert validated.ok, [str(p) for p in validated.problems]
    assert Procedure.objects.count() == 3
    again = export_xlsx(2024)
    assert cells_of(again) == rows
    # The other year's counts were not in the file, so they are not back.
    assert not ProcedureVolume.objects.filter(fiscal_year=2023).exists()
    # And CSV the same way (UTF-8 with BOM), imported over the existing rows.
    text = "".join(exchange.export_national_csv(2024))
    assert text.startswith("\ufeff手続ID,")
    validated = import_file(tmp_path, text.encode("utf-8"), dx_city.dx, suffix=".csv")
    assert validated.ok, [str(p) for p in validated.problems]
    assert cells_of(export_xlsx(2024)) == rows
    events = AuditEvent.objects.filter(action="inventory.import.done").order_by("seq")
    assert [len(e.data["created"]) for e in events] == [3, 0]
    assert [len(e.data["updated"]) for e in events] == [0, 3]


def test_one_bad_cell_among_1000_rows_imports_nothing_and_is_named(dx_city, tmp_path) -> None:
    bulk_procedures(1000, department=dx_city.city.soumu_ka)
    data = export_xlsx(2024)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    column = headers.index("オンライン化の実施状況") + 1
    ws.cell(row=538, column=column, value="9 一部実施済")
    out = io.BytesIO()
    wb.save(out)
    Procedure.objects.all().delete()

    validated = import_file(tmp_path, out.getvalue(), dx_city.dx)
    assert not validated.ok
    assert [(p.row, p.column) for p in validated.problems] == [(538, "オンライン化の実施状況")]
    assert "行 538 列「オンライン化の実施状況」" in str(validated.problems[0])
    assert "9 一部実施済" in str(validated.problems[0])
    assert Procedure.objects.count() == 0 and ProcedureVolume.objects.count() == 0
    assert not AuditEvent.objects.filter(action="inventory.import.done").exists()
    # The file as exported goes in whole.
    validated = import_file(tmp_path, data, dx_city.dx)
    assert validated.ok and Procedure.objects.count() == 1000
    assert ProcedureVolume.objects.filter(fiscal_year=2024).count() == 1000


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("手続名", "", "必須項目が空です"),
        ("手続類型", "9", "コードではありません"),
        ("手数料等の納付方法", "1-1; 3-9", "「3-9」"),
        ("総手続件数", "たくさん", "整数ではありません"),
        ("オンライン手続件数", "999999", "総手続件数を超えています"),
        ("所管課コード", "999", "登録されていません"),
        ("窓口", "たぶん", "読めません"),
        ("押印を求める根拠", "", "根拠が必須です"),
        ("詳細URL", "javascript:alert(1)", "URL ではありません"),
        ("内部の処理", "auth.user", "内部の処理ではありません"),
        ("件数の年度", "", "年度が必須です"),
    ],
)
def test_each_kind_of_bad_cell_is_reported(dx_city, tmp_path, column, value, message) -> None:
    varied_procedures(dx_city)
    wb = openpyxl.load_workbook(io.BytesIO(export_xlsx(2024)))
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    ws.cell(row=3, column=headers.index(column) + 1, value=value)  # SH-001
    out = io.BytesIO()
    wb.save(out)
    before = list(Procedure.objects.values_list("procedure_id", "name", "online_status"))
    validated = import_file(tmp_path, out.getvalue(), dx_city.dx)
    assert not validated.ok
    assert any(p.row == 3 and message in p.message for p in validated.problems), [
        str(p) for p in validated.problems
    ]
    assert list(Procedure.objects.values_list("procedure_id", "name", "online_status")) == before


def test_duplicate_ids_and_missing_headers(dx_city, tmp_path) -> None:
    text = "\ufeff手続ID,手続名\r\nA-1,転入届\r\nA-1,転出届\r\n"
    validated = import_file(tmp_path, text.encode(), dx_city.dx, suffix=".csv")
    assert [(p.row, p.column) for p in validated.problems] == [(3, "手続ID")]
    validated = import_file(tmp_path, "名前\r\n転入届\r\n".encode("cp932"), dx_city.dx, ".csv")
    assert {p.column for p in validated.problems} == {"手続ID", "手続名"}
    assert Procedure.objects.count() == 0


def test_publication_table_and_catalogue(dx_city) -> None:
    varied_procedures(dx_city)
    rows = cells_of(_publication_xlsx(2024))
    assert rows[0] == ("手続名", "総件数", "うちオンライン", "割合")
    assert rows[1] == ("児童手当の認定請求", 815, 426, 0.5227)  # 426/815 = 52.3 %
    text = "".join(exchange.export_publication_csv(2024))
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:])))[1] == [
        "児童手当の認定請求",
        "815",
        "426",
        "52.3%",
    ]

    data = json.loads(exchange.export_catalogue_json())
    entry = next(e for e in data["制度"] if e["タイトル"] == "児童手当の認定請求")
    assert list(entry) == exchange.CATALOGUE_FIELDS
    assert entry["制度所管組織"] == "瀬戸浜市 総務課"
    assert entry["根拠法令"] == "児童手当法 第7条第1項"
    assert entry["申請届出方法"] == "窓口、郵送、電子申請、マイナポータル"
    assert entry["手続書類"] == "住民票、その他の添付書類"
    assert entry["電子申請の有無"] == "有"
    assert len(data["制度"]) == 2  # 縦覧 is not an application
    text = "".join(exchange.export_catalogue_csv())
    assert text.startswith("\ufeff制度所管組織,タイトル,根拠法令")


def _publication_xlsx(fy: int) -> bytes:
    out = io.BytesIO()
    exchange.export_publication_xlsx(out, fy)
    return out.getvalue()


def test_management_commands_round_trip(dx_city, tmp_path) -> None:
    varied_procedures(dx_city)
    target = tmp_path / "out.xlsx"
    call_command("inventory_export", "national", str(target), "--fiscal-year", "2024")
    rows = cells_of(target.read_bytes())
    Procedure.objects.all().delete()
    call_command("inventory_import", str(target), "--actor", dx_city.dx.username)
    call_command(
        "inventory_export", "national", str(tmp_path / "again.xlsx"), "--fiscal-year", "2024"
    )
    assert cells_of((tmp_path / "again.xlsx").read_bytes()) == rows
    call_command("inventory_export", "catalogue", str(tmp_path / "c.json"))
    assert json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))["制度"]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("inventory_import", str(target), "--actor", dx_city.city.outsider.username)
