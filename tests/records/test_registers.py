"""The registers (管理簿, 廃棄簿, 移管リスト, holds): xlsx and CSV files that open, with the
register's columns in order and the rows the filters select; background exports run by
the worker; records officers only; query counts that do not grow with the register."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, include, path, reverse
from django.utils import timezone
from openpyxl import load_workbook

from records.export_tasks import register_export_task
from records.models import (
    Classification,
    ClassificationSchedule,
    DisposalBatch,
    DisposalItem,
    DisposalRegisterEntry,
    Hold,
    RecordFile,
    RegisterExport,
)
from records.registers import (
    REGISTERS,
    RegisterFilters,
    date_label,
    fiscal_year_label,
    register_rows,
)
from tests.city import City, build_city
from tests.conftest import need_binary

FILE_COLUMNS = [
    "作成・取得年度等",
    "大分類",
    "中分類",
    "名称",
    "作成・取得者",
    "起算日",
    "保存期間",
    "保存期間満了日",
    "媒体",
    "保存場所",
    "管理者",
    "備考",
    "保存期間満了時の措置",
]


# Until records/urls.py includes the register patterns, the tests mount them the same way
# (under records/registers/, in the "records" namespace) on a URLconf of their own.
def _urlpatterns() -> list:
    from config import urls as config_urls
    from records import urls as records_urls

    records = [*records_urls.urlpatterns, path("registers/", include("records.register_urls"))]
    return [
        *(p for p in config_urls.urlpatterns if str(p.pattern) != "records/"),
        path("records/", include((records, "records"))),
    ]


urlpatterns = _urlpatterns()


@pytest.fixture(autouse=True)
def register_urls(settings) -> None:
    try:
        reverse("records:register_index")
    except NoReverseMatch:
        settings.ROOT_URLCONF = __name__


@dataclass
class Plan:
    """A small 文書分類表: two 大分類, each with one 中分類 and one 小分類."""

    soumu: Classification  # 大分類 総務
    bunsho: Classification  # 中分類 文書
    bunsho_kanri: Classification  # 小分類 文書管理 (5年, 廃棄)
    zaisei: Classification  # 大分類 財政
    yosan: Classification  # 小分類 予算編成 (30年, 移管)


@pytest.fixture
def city(db) -> City:
    return build_city()


@pytest.fixture
def plan(city: City) -> Plan:
    schedule = ClassificationSchedule.objects.create(
        version=1,
        effective_from=dt.date(2020, 4, 1),
        created_by=city.records_officer,
        created_at=timezone.now(),
    )

    def cls(code, name, level, parent=None, retention="", disposition=""):
        return Classification.objects.create(
            schedule=schedule,
            code=code,
            name=name,
            level=level,
            parent=parent,
            retention=retention,
            disposition=disposition,
        )

    soumu = cls("01", "総務", 1)
    bunsho = cls("01-01", "文書", 2, soumu)
    zaisei = cls("02", "財政", 1)
    yosan_m = cls("02-01", "予算", 2, zaisei)
    return Plan(
        soumu=soumu,
        bunsho=bunsho,
        bunsho_kanri=cls("01-01-01", "文書管理", 3, bunsho, "5", "destroy"),
        zaisei=zaisei,
        yosan=cls("02-01-01", "予算編成", 3, yosan_m, "30", "transfer"),
    )


def make_files(n: int, *, department, classification, fiscal_year: int = 2026, **extra):
    now = timezone.now()
    values = {
        "creator_post": f"{department.name}長",
        "manager_post": f"{department.name}長",
        "retention": classification.retention,
        "disposition": classification.disposition,
        "completed_on": dt.date(fiscal_year + 1, 3, 15),
        "status": RecordFile.Status.CLOSED,
        **extra,
    }
    return RecordFile.objects.bulk_create(
        RecordFile(
            department=department,
            classification=classification,
            fiscal_year=fiscal_year,
            name=f"{classification.name} {fiscal_year} #{i}",
            created_at=now,
            **values,
        )
        for i in range(n)
    )


def officer_client(city: City) -> Client:
    client = Client()
    client.force_login(city.records_officer)
    return client


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def download(client: Client, kind: str, fmt: str, **filters) -> bytes:
    response = client.get(
        reverse("records:register_download"), {"kind": kind, "format": fmt, **filters}
    )
    assert response.status_code == 200, response
    return body(response)


def xlsx_rows(data: bytes) -> list[tuple]:
    wb = load_workbook(io.BytesIO(data), read_only=True)
    return [
        tuple("" if v is None else v for v in row) for row in wb.active.iter_rows(values_only=True)
    ]


# --- the 管理簿 -------------------------------------------------------------------------


def test_file_register_xlsx_has_the_columns_in_order_and_the_filtered_rows(
    city: City, plan: Plan
) -> None:
    make_files(7, department=city.soumu_ka, classification=plan.bunsho_kanri)
    make_files(3, department=city.soumu_ka, classification=plan.yosan)
    make_files(4, department=city.zaisei_ka, classification=plan.yosan)
    make_files(2, department=city.soumu_ka, classification=plan.bunsho_kanri, fiscal_year=2025)
    client = officer_client(city)

    rows = xlsx_rows(download(client, "files", "xlsx"))
    assert list(rows[0]) == FILE_COLUMNS
    assert len(rows) - 1 == RecordFile.objects.count() == 16

    cases = [
        ({"department": city.soumu_ka.pk}, 12),
        ({"department": city.soumu_ka.pk, "fiscal_year": 2026}, 10),
        ({"classification": plan.soumu.pk}, 9),  # a 大分類 takes the files under it
        ({"classification": plan.yosan.pk, "department": city.zaisei_ka.pk}, 4),
    ]
    for filters, expected in cases:
        rows = xlsx_rows(download(client, "files", "xlsx", **filters))
        assert len(rows) - 1 == expected, filters

    wb = load_workbook(io.BytesIO(download(client, "files", "xlsx")))
    ws = wb.active
    assert ws.freeze_panes == "A2"
    assert all(cell.font.b for cell in ws[1])
    assert ws.column_dimensions["D"].width == 40


def test_file_register_row_in_wareki_and_seireki(city: City, plan: Plan) -> None:
    (file,) = make_files(
        1,
        department=city.soumu_ka,
        classification=plan.bunsho_kanri,
        completed_on=dt.date(2027, 3, 15),  # FY2026 → 起算日 2027-04-01
        extension_years=1,
        location="書庫A",
        remarks="延長1年",
    )
    (row,) = xlsx_rows(download(officer_client(city), "files", "xlsx"))[1:]
    assert row == (
        "令和8年度 (2026)",
        "総務",
        "文書",
        file.name,
        "総務課長",
        "令和9年4月1日 (2027-04-01)",
        "6年",  # 5年 + 1年 extension, the cumulative total
        "令和15年3月31日 (2033-03-31)",
        "電子",
        "書庫A",
        "総務課長",
        "延長1年",
        "廃棄",
    )


def test_wareki_labels() -> None:
    assert date_label(dt.date(2027, 4, 1)) == "令和9年4月1日 (2027-04-01)"
    assert date_label(dt.date(2019, 5, 1)) == "令和元年5月1日 (2019-05-01)"
    assert date_label(dt.date(2019, 4, 30)) == "平成31年4月30日 (2019-04-30)"
    assert fiscal_year_label(2019) == "令和元年度 (2019)"
    assert fiscal_year_label(2026) == "令和8年度 (2026)"


def test_open_and_permanent_files(city: City, plan: Plan) -> None:
    make_files(
        1,
        department=city.soumu_ka,
        classification=plan.bunsho_kanri,
        completed_on=None,
        status=RecordFile.Status.OPEN,
    )
    make_files(1, department=city.zaisei_ka, classification=plan.yosan, retention="permanent")
    rows = list(register_rows("files", RegisterFilters()))
    by_department = {r[4]: r for r in rows}
    assert by_department["総務課長"][5:8] == ["", "5年", ""]  # open: no 起算日 yet
    assert by_department["財政課長"][5:8] == ["令和9年4月1日 (2027-04-01)", "永年", ""]
    assert by_department["財政課長"][12] == "移管"


def test_file_register_csv_has_a_bom_and_parses(city: City, plan: Plan) -> None:
    make_files(5, department=city.soumu_ka, classification=plan.bunsho_kanri, remarks='a,"b"\nc')
    make_files(2, department=city.zaisei_ka, classification=plan.yosan)
    client = officer_client(city)
    response = client.get(reverse("records:register_download"), {"kind": "files", "format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    data = body(response)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == FILE_COLUMNS
    assert len(rows) - 1 == 7
    assert rows[1][11] == 'a,"b"\nc'
    filtered = download(client, "files", "csv", department=city.zaisei_ka.pk)
    assert len(list(csv.reader(io.StringIO(filtered.decode("utf-8-sig"))))) - 1 == 2


def test_file_register_opens_in_libreoffice(city: City, plan: Plan, tmp_path) -> None:
    soffice = need_binary("soffice")  # Debian libreoffice-calc-nogui, installed by .ci/run
    make_files(25, department=city.soumu_ka, classification=plan.bunsho_kanri)
    source = tmp_path / "register.xlsx"
    source.write_bytes(download(officer_client(city), "files", "xlsx"))
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",
            "--outdir",
            str(tmp_path / "out"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    text = (tmp_path / "out" / "register.csv").read_text("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == FILE_COLUMNS
    assert len(rows) - 1 == 25


# --- the other registers ----------------------------------------------------------------


def test_disposal_transfer_and_hold_registers(city: City, plan: Plan) -> None:
    destroyed = make_files(2, department=city.soumu_ka, classification=plan.bunsho_kanri)
    transferred = make_files(3, department=city.zaisei_ka, classification=plan.yosan)
    now = timezone.now()
    batch = DisposalBatch.objects.create(
        title="令和14年度 廃棄・移管",
        fiscal_year=2032,
        status=DisposalBatch.Status.EXECUTED,
        created_by=city.records_officer,
        created_at=now,
    )
    for f in destroyed:
        DisposalItem.objects.create(batch=batch, file=f, action="destroy", done_at=now)
        DisposalRegisterEntry.objects.create(
            batch=batch,
            file=f,
            title=f.name,
            classification="01-01-01 文書管理",
            fiscal_year=f.fiscal_year,
            start_date=dt.date(2027, 4, 1),
            end_date=dt.date(2032, 3, 31),
            sha256="0" * 64,
            approved_by="総務課長",
            destroyed_at=now,
        )
    DisposalItem.objects.create(batch=batch, file=transferred[0], action="transfer", done_at=now)
    DisposalItem.objects.create(batch=batch, file=transferred[1], action="transfer")  # not yet
    hold = Hold.objects.create(
        kind=Hold.Kind.DISCLOSURE,
        reference="情第12号",
        reason="情報公開請求",
        started_on=dt.date(2031, 6, 1),
        created_by=city.records_officer,
        created_at=now,
    )
    hold.files.add(*transferred)
    client = officer_client(city)

    disposal = xlsx_rows(download(client, "disposal", "xlsx"))
    assert list(disposal[0]) == REGISTERS["disposal"].headers
    assert len(disposal) - 1 == 2
    assert disposal[1][6] == "令和14年3月31日 (2032-03-31)"

    transfer = xlsx_rows(download(client, "transfer", "xlsx"))
    assert len(transfer) - 1 == 1 and transfer[1][4] == transferred[0].name

    holds = xlsx_rows(download(client, "holds", "xlsx"))
    assert len(holds) - 1 == 3
    assert {r[0] for r in holds[1:]} == {"情報公開請求"}
    assert len(xlsx_rows(download(client, "holds", "xlsx", department=city.soumu_ka.pk))) == 1


# --- permissions, limits, background exports --------------------------------------------


def test_registers_are_for_records_officers_only(city: City, plan: Plan) -> None:
    client = Client()
    client.force_login(city.kacho)
    assert client.get(reverse("records:register_index")).status_code == 404
    url = reverse("records:register_download")
    assert client.get(url, {"kind": "files", "format": "csv"}).status_code == 404
    post = client.post(reverse("records:register_export"), {"kind": "files", "format": "csv"})
    assert post.status_code == 404
    anonymous = Client().get(reverse("records:register_index"))  # the login middleware
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert officer_client(city).get(reverse("records:register_index")).status_code == 200


def test_large_selection_is_not_downloaded_directly(city: City, plan: Plan, settings) -> None:
    from records import register_views

    make_files(3, department=city.soumu_ka, classification=plan.bunsho_kanri)
    client = officer_client(city)
    register_views.DIRECT_LIMIT, old = 3, register_views.DIRECT_LIMIT
    try:
        response = client.get(
            reverse("records:register_download"), {"kind": "files", "format": "csv"}
        )
        page = client.get(reverse("records:register_index")).content.decode()
    finally:
        register_views.DIRECT_LIMIT = old
    assert response.status_code == 302
    assert "バックグラウンドで出力" in page


@pytest.mark.django_db(transaction=True)
def test_background_export_runs_in_the_worker_and_is_downloaded(
    city: City, plan: Plan, media
) -> None:
    make_files(9, department=city.soumu_ka, classification=plan.bunsho_kanri)
    make_files(4, department=city.zaisei_ka, classification=plan.yosan)
    client = officer_client(city)
    response = client.post(
        reverse("records:register_export"),
        {"kind": "files", "format": "xlsx", "department": city.soumu_ka.pk},
    )
    assert response.status_code == 302
    export = RegisterExport.objects.get()
    assert export.status == RegisterExport.Status.QUEUED
    assert export.filters == {"department_id": city.soumu_ka.pk}
    status_url = reverse("records:register_export_status", args=[export.pk])
    fragment = client.get(status_url).content.decode()
    assert 'hx-trigger="every 2s"' in fragment and f'hx-get="{status_url}"' in fragment

    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    export.refresh_from_db()
    assert export.status == RegisterExport.Status.DONE, export.error
    assert export.rows_done == export.rows_total == 9
    assert export.output.name.startswith("exports/")
    fragment = client.get(status_url).content.decode()
    link = reverse("records:register_export_download", args=[export.pk])
    assert link in fragment and "hx-trigger" not in fragment
    rows = xlsx_rows(body(client.get(link)))
    assert list(rows[0]) == FILE_COLUMNS and len(rows) - 1 == 9

    outsider = Client()
    outsider.force_login(city.outsider)
    assert outsider.get(link).status_code == 404
    assert outsider.get(status_url).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_background_csv_export_and_a_failure_keeps_its_error(city: City, plan: Plan, media) -> None:
    make_files(5, department=city.soumu_ka, classification=plan.bunsho_kanri)
    ok = RegisterExport.objects.create(
        kind="files", format="csv", created_by=city.records_officer, created_at=timezone.now()
    )
    register_export_task.call(ok.pk)
    ok.refresh_from_db()
    with ok.output.open("rb") as f:
        data = f.read()
    assert data.startswith(b"\xef\xbb\xbf") and len(data.decode("utf-8-sig").splitlines()) == 6

    broken = RegisterExport.objects.create(
        kind="nonsense", format="csv", created_by=city.records_officer, created_at=timezone.now()
    )
    with pytest.raises(ValueError):
        register_export_task.call(broken.pk)
    broken.refresh_from_db()
    assert broken.status == RegisterExport.Status.FAILED
    assert "unknown register" in broken.error


# --- query counts -----------------------------------------------------------------------


@pytest.mark.parametrize("files", [10, 100])
def test_register_page_queries_do_not_grow(
    city: City, plan: Plan, files: int, django_assert_max_num_queries
) -> None:
    make_files(files, department=city.soumu_ka, classification=plan.bunsho_kanri)
    make_files(files, department=city.zaisei_ka, classification=plan.yosan, fiscal_year=2025)
    client = officer_client(city)
    for export_no in range(3):
        RegisterExport.objects.create(
            kind="files",
            format="xlsx",
            created_by=city.records_officer,
            created_at=timezone.now(),
            status=["queued", "done", "failed"][export_no],
        )
    with django_assert_max_num_queries(14):
        response = client.get(
            reverse("records:register_index"),
            {"department": city.soumu_ka.pk, "fiscal_year": 2026},
        )
    assert response.status_code == 200
    assert response.content.decode().count('hx-trigger="every 2s"') == 1


@pytest.mark.parametrize("files", [20, 200])
def test_direct_csv_export_queries_do_not_grow(
    city: City, plan: Plan, files: int, django_assert_max_num_queries
) -> None:
    make_files(files, department=city.soumu_ka, classification=plan.bunsho_kanri)
    client = officer_client(city)
    with django_assert_max_num_queries(6):
        response = client.get(
            reverse("records:register_download"), {"kind": "files", "format": "csv"}
        )
        data = body(response)
    assert len(data.decode("utf-8-sig").splitlines()) == files + 1


@pytest.mark.django_db(transaction=True)
def test_csv_streams_under_asgi_without_buffering(city: City, plan: Plan) -> None:
    """Under ASGI a sync iterator would be read whole first (and Django warns, which the
    test settings make an error): the view hands over an async iterator instead."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    make_files(30, department=city.soumu_ka, classification=plan.bunsho_kanri)
    client = AsyncClient()

    async def fetch() -> bytes:
        await client.aforce_login(city.records_officer)
        response = await client.get(
            reverse("records:register_download"), {"kind": "files", "format": "csv"}
        )
        assert response.status_code == 200
        return b"".join([chunk async for chunk in response.streaming_content])

    data = async_to_sync(fetch)()
    assert data.startswith(b"\xef\xbb\xbf") and len(data.decode("utf-8-sig").splitlines()) == 31
