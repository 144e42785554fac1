"""manage.py import_staff: every cell checked first, all or nothing, idempotent."""

from __future__ import annotations

import csv
import datetime as dt
from io import StringIO
from pathlib import Path

import openpyxl
import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from org.importing import COLUMNS, date_parse, roster_read, roster_validate
from org.models import Assignment, Department, Post, Staff, WorkSchedule
from tests.org.factories import StaffFactory

HEADERS = [c.header for c in COLUMNS]


# --- helpers shared with test_transfer.py ----------------------------------------------


def roster_row(n: int, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "職員番号": f"{10000 + n}",
        "姓": "山田",
        "名": f"太郎{n}",
        "姓かな": "やまだ",
        "名かな": "たろう",
        "ユーザー名": f"yamada{n}",
        "メール": f"yamada{n}@city.example",
        "所属コード": "220",
        "職コード": "shuji",
        "任用区分": "正規",
        "勤務形態コード": "standard",
        "採用日": "2015/4/1",
        "発令日": "2024-04-01",
        "権限": "",
        "兼務": "",
    }
    row.update(overrides)
    return row


def write_roster(path: Path, rows: list[dict[str, object]], *, encoding: str = "utf-8-sig") -> Path:
    """Write rows under the standard headers; the suffix of `path` picks the format."""
    headers = list(dict.fromkeys([*HEADERS, *(k for r in rows for k in r)]))
    if path.suffix == ".xlsx":
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(headers)
        for row in rows:
            sheet.append([row.get(h) for h in headers])
        workbook.save(path)
        return path
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["" if row.get(h) is None else row.get(h) for h in headers])
    return path


def run_import(path: Path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_staff", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def org_master(db) -> dict[str, object]:
    """A small organisation: 総務部 (総務課, 人事課) and 企画部 (財政課), posts, a schedule."""
    somu_bu = Department.objects.create(code="100", name="総務部", level="bu")
    kikaku_bu = Department.objects.create(code="200", name="企画部", level="bu")
    depts = {
        "somu": Department.objects.create(code="110", name="総務課", level="ka", parent=somu_bu),
        "jinji": Department.objects.create(code="130", name="人事課", level="ka", parent=somu_bu),
        "zaisei": Department.objects.create(
            code="220", name="財政課", level="ka", parent=kikaku_bu
        ),
        "closed": Department.objects.create(
            code="999", name="旧行革課", level="ka", parent=somu_bu, is_active=False
        ),
    }
    posts = {
        code: Post.objects.create(code=code, name=name, rank=rank, is_manager=rank <= 70)
        for code, name, rank in [
            ("kacho", "課長", 50),
            ("kakaricho", "係長", 70),
            ("shunin", "主任", 80),
            ("shuji", "主事", 90),
        ]
    }
    WorkSchedule.objects.create(
        code="standard",
        name="標準勤務",
        start=dt.time(8, 30),
        end=dt.time(17, 15),
        break_start=dt.time(12),
        break_end=dt.time(13),
    )
    return {**depts, **posts}


# --- all or nothing ---------------------------------------------------------------------

BAD_ROW_INDEX = 136  # 0-based among data rows → sheet row 138 (the header is row 1)
BAD_SHEET_ROW = BAD_ROW_INDEX + 2

BAD_CELLS = {
    "unknown_department": ({"所属コード": "9999"}, "所属コード", "9999"),
    "inactive_department": ({"所属コード": "999"}, "所属コード", "廃止"),
    "bad_date": ({"発令日": "2027/2/30"}, "発令日", "存在しない日付"),
    "unreadable_date": ({"発令日": "来年の春"}, "発令日", "読めません"),
    "duplicate_number": ({"職員番号": "10000"}, "職員番号", "行 2 と重複"),
    "unknown_role": ({"権限": "manager、superhero"}, "権限", "superhero"),
    "admin_role": ({"権限": "admin"}, "権限", "admin"),
    "missing_family_name": ({"姓": ""}, "姓", "必須"),
    "missing_number": ({"職員番号": None}, "職員番号", "必須"),
    "bad_class": ({"任用区分": "嘱託"}, "任用区分", "嘱託"),
    "bad_kana": ({"姓かな": "Yamada"}, "姓かな", "かな"),
    "bad_email": ({"メール": "not-an-address"}, "メール", "メールアドレス"),
    "unknown_post": ({"職コード": "shogun"}, "職コード", "shogun"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
@pytest.mark.parametrize("kind", list(BAD_CELLS))
def test_one_bad_row_in_200_imports_nothing(org_master, tmp_path, suffix, kind) -> None:
    existing = StaffFactory()
    overrides, column, fragment = BAD_CELLS[kind]
    rows = [roster_row(i) for i in range(200)]
    rows[BAD_ROW_INDEX].update(overrides)
    path = write_roster(tmp_path / f"roster{suffix}", rows)
    before = (Staff.objects.count(), Assignment.objects.count(), AuditEvent.objects.count())

    with pytest.raises(CommandError) as excinfo:
        run_import(path)

    assert excinfo.value.returncode != 0
    assert "何も取り込みませんでした" in str(excinfo.value)
    assert (Staff.objects.count(), Assignment.objects.count(), AuditEvent.objects.count()) == before
    assert Staff.objects.get(pk=existing.pk).last_name == existing.last_name
    # The message names the sheet row and the column header HR sees.
    problems = roster_validate(roster_read(path)).problems
    assert [(p.row, p.column) for p in problems] == [(BAD_SHEET_ROW, column)]
    assert fragment in problems[0].message


@pytest.mark.django_db
def test_every_problem_is_printed_with_row_and_header(org_master, tmp_path, capsys) -> None:
    rows = [roster_row(i) for i in range(10)]
    rows[3]["所属コード"] = "777"
    rows[3]["発令日"] = "R1.4.1"  # 令和 began on May 1: that day never existed
    rows[7]["職員番号"] = rows[0]["職員番号"]
    path = write_roster(tmp_path / "roster.csv", rows)
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_staff", str(path), stdout=StringIO(), stderr=err)

    lines = err.getvalue().splitlines()
    assert lines[0].startswith("行 5 列「所属コード」: 所属コード「777」は登録されていません")
    assert "(unknown department)" in lines[0]
    assert lines[1].startswith("行 5 列「発令日」:")
    assert lines[2].startswith("行 9 列「職員番号」:")
    assert not Staff.objects.filter(employee_number__startswith="1000").exists()


@pytest.mark.django_db
def test_missing_header_is_reported_on_row_1(org_master, tmp_path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("職員番号,姓,名\n1,山田,太郎\n", encoding="utf-8")
    problems = roster_validate(roster_read(path)).problems
    assert (1, "ユーザー名") in [(p.row, p.column) for p in problems]
    assert str(problems[0]).startswith("行 1 列「")


# --- a good file ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_200_rows_import_and_reimport_changes_nothing(org_master, tmp_path, suffix) -> None:
    rows = [roster_row(i) for i in range(200)]
    rows[5]["権限"] = "manager、hr"
    rows[5]["職コード"] = "kacho"
    path = write_roster(tmp_path / f"roster{suffix}", rows)

    out, _err = run_import(path)

    assert "新規 200 名" in out
    imported = Staff.objects.filter(employee_number__isnull=False)
    assert imported.count() == 200
    assert Assignment.objects.count() == 200
    staff = Staff.objects.get(employee_number="10005")
    assert set(staff.groups.values_list("name", flat=True)) == {"staff", "manager", "hr"}
    assert staff.assignment_on(dt.date(2024, 4, 1)).post.code == "kacho"
    assert not staff.has_usable_password()  # set through the password reset, never a file
    assert AuditEvent.objects.filter(action="org.staff.created").count() == 200
    assert AuditEvent.objects.filter(action="org.assignment.created").count() == 200

    events = AuditEvent.objects.count()
    out, _err = run_import(path)

    assert "変更なし 200 名" in out
    assert imported.count() == 200
    assert Assignment.objects.count() == 200
    # Only the run itself is recorded; no person or assignment changed.
    assert list(AuditEvent.objects.filter(seq__gt=events).values_list("action", flat=True)) == [
        "org.staff.imported"
    ]


@pytest.mark.django_db
def test_update_by_employee_number_records_old_and_new(org_master, tmp_path) -> None:
    run_import(write_roster(tmp_path / "a.csv", [roster_row(1)]))
    run_import(write_roster(tmp_path / "b.csv", [roster_row(1, 姓="佐藤", ユーザー名="sato1")]))

    staff = Staff.objects.get(employee_number="10001")
    assert (staff.last_name, staff.username) == ("佐藤", "sato1")
    event = AuditEvent.objects.get(action="org.staff.updated")
    assert event.data["old"] == {"last_name": "山田", "username": "yamada1"}
    assert event.data["new"] == {"last_name": "佐藤", "username": "sato1"}


@pytest.mark.django_db
def test_reimport_keeps_admin_role_granted_in_the_admin(org_master, tmp_path) -> None:
    path = write_roster(tmp_path / "a.csv", [roster_row(1, 権限="manager")])
    run_import(path)
    staff = Staff.objects.get(employee_number="10001")
    staff.groups.add(Group.objects.get(name="admin"))

    run_import(write_roster(tmp_path / "b.csv", [roster_row(1)]))

    assert set(staff.groups.values_list("name", flat=True)) == {"staff", "admin"}


@pytest.mark.django_db
def test_cp932_csv_with_wareki_dates_and_concurrent_post(org_master, tmp_path) -> None:
    rows = [
        roster_row(1, 姓="髙橋", 姓かな="ﾀｶﾊｼ", 採用日="平成27年4月1日", 発令日="R6.4.1"),
        roster_row(1, 姓="髙橋", 姓かな="ﾀｶﾊｼ", 採用日="平成27年4月1日", 発令日="R6.4.1",
                   所属コード="110", 職コード="shunin", 兼務="○"),
    ]  # fmt: skip
    path = write_roster(tmp_path / "sjis.csv", rows, encoding="cp932")

    run_import(path)

    staff = Staff.objects.get(employee_number="10001")
    assert staff.last_name == "髙橋"
    assert staff.family_name_kana == "タカハシ"  # half-width kana normalised
    assert staff.hired_on == dt.date(2015, 4, 1)
    primary = staff.assignment_on(dt.date(2024, 4, 1))
    assert (primary.department.code, primary.start) == ("220", dt.date(2024, 4, 1))
    concurrent = Assignment.objects.get(staff=staff, is_primary=False)
    assert (concurrent.department.code, concurrent.post.code) == ("110", "shunin")


@pytest.mark.django_db
def test_dry_run_saves_nothing(org_master, tmp_path) -> None:
    path = write_roster(tmp_path / "roster.csv", [roster_row(i) for i in range(3)])
    out, _err = run_import(path, "--dry-run")
    assert "dry run" in out
    assert "新規 3 名" in out
    assert not Staff.objects.filter(employee_number__startswith="1000").exists()
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_username_of_someone_else_is_refused(org_master, tmp_path) -> None:
    StaffFactory(username="yamada1", employee_number="99999")
    path = write_roster(tmp_path / "roster.csv", [roster_row(1)])
    problems = roster_validate(roster_read(path)).problems
    assert [(p.row, p.column) for p in problems] == [(2, "ユーザー名")]


def test_unsupported_file_type(tmp_path) -> None:
    path = tmp_path / "roster.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(CommandError, match=r"\.xlsx か \.csv"):
        call_command("import_staff", str(path), stdout=StringIO(), stderr=StringIO())


# --- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-04-01", dt.date(2027, 4, 1)),
        ("2027/4/1", dt.date(2027, 4, 1)),
        ("２０２７／４／１", dt.date(2027, 4, 1)),
        ("2027年4月1日", dt.date(2027, 4, 1)),
        ("20270401", dt.date(2027, 4, 1)),
        ("2027/04/01 0:00", dt.date(2027, 4, 1)),
        ("46478", dt.date(2027, 4, 1)),
        (46478, dt.date(2027, 4, 1)),
        (46478.0, dt.date(2027, 4, 1)),
        (dt.datetime(2027, 4, 1), dt.date(2027, 4, 1)),  # noqa: DTZ001 - a naive Excel cell
        ("R9.4.1", dt.date(2027, 4, 1)),
        ("r9/4/1", dt.date(2027, 4, 1)),
        ("令和9年4月1日", dt.date(2027, 4, 1)),
        ("令和元年5月1日", dt.date(2019, 5, 1)),
        ("R1.5.1", dt.date(2019, 5, 1)),
        ("H31.4.30", dt.date(2019, 4, 30)),
        ("平成27年4月1日", dt.date(2015, 4, 1)),
        ("S64.1.7", dt.date(1989, 1, 7)),
    ],
)
def test_date_parse_accepts_what_rosters_write(value: object, expected: dt.date) -> None:
    assert date_parse(value) == expected


@pytest.mark.parametrize("value", ["R1.4.1", "H32.1.1", "2027/2/30", "来年", "", "13/45/2027"])
def test_date_parse_refuses_nonsense(value: str) -> None:
    with pytest.raises(ValueError, match=r"\("):
        date_parse(value)
