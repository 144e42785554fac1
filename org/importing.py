"""Reading a staff roster (職員名簿) from .xlsx or .csv and checking every cell.

Nothing here writes: `roster_read` turns a file into rows of cells, `roster_validate`
checks every cell of every row against the organisation and returns either typed rows
(`RosterRow`) or the full list of problems, so HR can fix the whole file in one pass.
The write is `org.services.staff_import`, which is only ever given validated rows.

Row numbers are the spreadsheet's own (the header is row 1), so a problem reported as
「行 57」 is the row HR sees as 57 in Excel.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.models import Group
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .models import Department, Post, Staff, WorkSchedule
from .roles import ADMIN, ROLES, STAFF


@dataclass(frozen=True)
class Column:
    header: str
    gloss: str
    required: bool
    help: str


COLUMNS: tuple[Column, ...] = (
    Column(
        "職員番号", "employee number", True, "職員を特定する番号。再取込ではこの番号で更新します"
    ),
    Column("姓", "family name", True, ""),
    Column("名", "given name", True, ""),
    Column("姓かな", "family name kana", False, "ひらがな・カタカナ"),
    Column("名かな", "given name kana", False, "ひらがな・カタカナ"),
    Column("ユーザー名", "login name", True, "英数字と @ . + - _"),
    Column("メール", "e-mail", False, ""),
    Column("所属コード", "department code", True, "部・課・係の所属コード"),
    Column("職コード", "post code", True, "例: kacho, kakaricho, shuji"),
    Column("任用区分", "employee class", True, "正規 / 会計年度任用 / 短時間"),
    Column("勤務形態コード", "work schedule code", False, "空欄なら未設定"),
    Column("採用日", "hire date", False, ""),
    Column("発令日", "effective date", True, "この配属の発令日。未来の日付なら前日で現配属を終了"),
    Column("権限", "roles", False, "manager, records_officer, hr, dx_office を , か 、 で区切る"),
    Column("兼務", "concurrent post", False, "兼務の行は 1 / ○ / 兼務 など。空欄は本務"),
)
HEADERS: frozenset[str] = frozenset(c.header for c in COLUMNS)
_GLOSS = {c.header: c.gloss for c in COLUMNS}

_EMPLOYEE_CLASSES: dict[str, str] = {
    "正規": Staff.EmployeeClass.REGULAR,
    "正規職員": Staff.EmployeeClass.REGULAR,
    "regular": Staff.EmployeeClass.REGULAR,
    "会計年度任用": Staff.EmployeeClass.FISCAL_YEAR,
    "会計年度任用職員": Staff.EmployeeClass.FISCAL_YEAR,
    "会計年度": Staff.EmployeeClass.FISCAL_YEAR,
    "fiscal_year": Staff.EmployeeClass.FISCAL_YEAR,
    "短時間": Staff.EmployeeClass.SHORT_TIME,
    "短時間勤務": Staff.EmployeeClass.SHORT_TIME,
    "短時間勤務職員": Staff.EmployeeClass.SHORT_TIME,
    "short_time": Staff.EmployeeClass.SHORT_TIME,
}
_YES = {"1", "○", "〇", "◯", "●", "y", "yes", "true", "兼務", "はい", "有"}
_NO = {"", "0", "n", "no", "false", "本務", "いいえ", "無"}

# Eras as a city hall writes them (R9.4.1, 令和9年4月1日). Each era's first and last day,
# so 平成32年 or 令和元年4月1日 (a day that never existed) is refused, not guessed.
_ERAS: dict[str, tuple[dt.date, dt.date | None]] = {
    "令和": (dt.date(2019, 5, 1), None),
    "R": (dt.date(2019, 5, 1), None),
    "平成": (dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    "H": (dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    "昭和": (dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    "S": (dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
}
_WAREKI = re.compile(
    r"^(令和|平成|昭和|R|H|S)\s*(元|\d{1,2})\s*(?:年|[./\-])\s*(\d{1,2})\s*(?:月|[./\-])"
    r"\s*(\d{1,2})\s*日?$",
    re.IGNORECASE,
)
_SEIREKI = re.compile(r"^(\d{4})\s*(?:年|[./\-])\s*(\d{1,2})\s*(?:月|[./\-])\s*(\d{1,2})\s*日?$")
_KANA = re.compile(r"^[\u3041-\u309f\u30a0-\u30ff\u3000 ]+$")
_username_validator = UnicodeUsernameValidator()

_MAX_LENGTHS = {
    "職員番号": Staff._meta.get_field("employee_number").max_length,
    "姓": Staff._meta.get_field("last_name").max_length,
    "名": Staff._meta.get_field("first_name").max_length,
    "姓かな": Staff._meta.get_field("family_name_kana").max_length,
    "名かな": Staff._meta.get_field("given_name_kana").max_length,
    "ユーザー名": Staff._meta.get_field("username").max_length,
    "メール": Staff._meta.get_field("email").max_length,
}


class RosterFileError(Exception):
    """The file itself cannot be read (wrong type, broken, unknown encoding)."""


@dataclass(frozen=True)
class Problem:
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"行 {self.row}" if self.row is not None else "ファイル"
        if self.column:
            where += f" 列「{self.column}」"
        return f"{where}: {self.message}"


@dataclass
class RawRow:
    number: int
    cells: dict[str, object]


@dataclass
class RawRoster:
    headers: list[str]
    rows: list[RawRow]
    encoding: str = ""


@dataclass(frozen=True)
class RosterRow:
    """One validated row: everything resolved, ready for `staff_import`."""

    number: int
    employee_number: str
    last_name: str
    first_name: str
    family_name_kana: str
    given_name_kana: str
    username: str
    email: str
    department: Department
    post: Post
    employee_class: str
    work_schedule: WorkSchedule | None
    hired_on: dt.date | None
    start: dt.date
    roles: frozenset[str]
    is_primary: bool

    def person_fields(self) -> tuple[object, ...]:
        return (
            self.last_name,
            self.first_name,
            self.family_name_kana,
            self.given_name_kana,
            self.username,
            self.email,
            self.employee_class,
            self.work_schedule,
            self.hired_on,
            self.roles,
        )


@dataclass
class Validated:
    rows: list[RosterRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored_headers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- reading ---------------------------------------------------------------------------


def _normalize_header(value: object) -> str:
    # Headers typed with full-width or half-width kana or stray spaces still match.
    text = unicodedata.normalize("NFKC", str(value or ""))
    return re.sub(r"\s+", "", text)


def _decode_csv(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) first; city halls' Excel exports are cp932 (Shift_JIS)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # cp932 rather than shift_jis: it has the NEC/IBM extensions (髙, ①) seen in names.
        return data.decode("cp932"), "cp932"
    except UnicodeDecodeError as exc:
        raise RosterFileError(
            "文字コードを判別できません。UTF-8 か Shift_JIS で保存してください "
            "(unknown encoding: save as UTF-8 or Shift_JIS)"
        ) from exc


def _rows_to_roster(rows: Iterable[Iterable[object]], encoding: str = "") -> RawRoster:
    iterator = iter(rows)
    try:
        header_cells = list(next(iterator))
    except StopIteration:
        return RawRoster(headers=[], rows=[], encoding=encoding)
    headers = [_normalize_header(h) for h in header_cells]
    out: list[RawRow] = []
    for number, values in enumerate(iterator, start=2):
        values = list(values)
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue  # blank lines between blocks are common in hand-kept sheets
        cells = {h: (values[i] if i < len(values) else None) for i, h in enumerate(headers) if h}
        out.append(RawRow(number=number, cells=cells))
    return RawRoster(headers=[h for h in headers if h], rows=out, encoding=encoding)


def roster_read(path: Path | str) -> RawRoster:
    """Read the first sheet of an .xlsx or a .csv; cells stay as the file gave them."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            text, encoding = _decode_csv(path.read_bytes())
        except OSError as exc:
            raise RosterFileError(f"ファイルを読めません (cannot read file): {exc}") from exc
        return _rows_to_roster(csv.reader(io.StringIO(text, newline="")), encoding)
    if suffix in {".xlsx", ".xlsm"}:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            with warnings.catch_warnings():
                # Exports from other tools lack a default style; openpyxl warns, harmlessly.
                warnings.simplefilter("ignore", UserWarning)
                workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (OSError, InvalidFileException, KeyError, ValueError) as exc:
            raise RosterFileError(
                f"Excel ファイルを開けません (cannot open workbook): {exc}"
            ) from exc
        try:
            sheet = workbook.worksheets[0]
            return _rows_to_roster(sheet.iter_rows(values_only=True), "xlsx")
        finally:
            # Read-only workbooks keep the zip open until closed.
            workbook.close()
    raise RosterFileError(
        f"対応していない形式です: {suffix or '(拡張子なし)'}。.xlsx か .csv を指定してください "
        "(unsupported file type: use .xlsx or .csv)"
    )


# --- cell parsing ------------------------------------------------------------------------


def _text(value: object, *, normalize: bool = True) -> str:
    """A cell as text. Excel gives numbers for digit-only cells: 1234.0 → "1234"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    # NFKC turns full-width digits/letters and half-width kana into the usual forms; names
    # are left alone because NFKC would also rewrite some kanji (compatibility ideographs).
    if normalize:
        text = unicodedata.normalize("NFKC", text)
    return text.strip()


def date_parse(value: object) -> dt.date:
    """A date as rosters write it: 2027-04-01, 2027/4/1, 20270401, an Excel date or serial,
    R9.4.1, 令和9年4月1日, 令和元年5月1日. Raises ValueError with a message for people."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _excel_serial(value)
    text = _text(value)
    if not text:
        raise ValueError("日付が空です (empty date)")
    # CSV saved from Excel often carries midnight: "2027/04/01 0:00".
    text = re.sub(r"\s+\d{1,2}:\d{2}(:\d{2})?$", "", text)
    if text.isdigit():
        if len(text) == 8:
            return _checked_date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if len(text) <= 5:
            return _excel_serial(int(text))
    if match := _SEIREKI.match(text):
        return _checked_date(*(int(g) for g in match.groups()))
    if match := _WAREKI.match(text):
        era, year_text, month, day = match.groups()
        first, last = _ERAS[era.upper() if era.isascii() else era]
        year = 1 if year_text == "元" else int(year_text)
        result = _checked_date(first.year + year - 1, int(month), int(day))
        if result < first or (last is not None and result > last):
            raise ValueError(f"「{text}」はその元号の期間外です (date outside that era)")
        return result
    raise ValueError(
        f"日付「{text}」を読めません。2027-04-01、2027/4/1、R9.4.1、令和9年4月1日 の形で"
        " (cannot read date)"
    )


def _checked_date(year: int, month: int, day: int) -> dt.date:
    try:
        result = dt.date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"存在しない日付です: {year}-{month}-{day} (no such date)") from exc
    if not 1900 <= result.year <= 2200:
        raise ValueError(f"年が範囲外です: {result.year} (year out of range)")
    return result


def _excel_serial(value: float) -> dt.date:
    from openpyxl.utils.datetime import from_excel

    if not 1 <= value <= 109_574:  # 1900-01-01 .. 2199-12-31
        raise ValueError(f"Excel の日付値 {value} が範囲外です (Excel date out of range)")
    result = from_excel(value)
    return result.date() if isinstance(result, dt.datetime) else result


# --- validation --------------------------------------------------------------------------


class _RowChecker:
    """Collects the problems of one row, so every bad cell is reported, not just the first."""

    def __init__(self, raw: RawRow, problems: list[Problem]) -> None:
        self.raw = raw
        self.problems = problems
        self.ok = True

    def fail(self, column: str, message: str) -> None:
        self.ok = False
        self.problems.append(Problem(self.raw.number, column, message))

    def text(self, column: str, *, normalize: bool = True) -> str:
        value = _text(self.raw.cells.get(column), normalize=normalize)
        limit = _MAX_LENGTHS.get(column)
        if limit and len(value) > limit:
            self.fail(column, f"{limit} 文字を超えています (longer than {limit} characters)")
        return value

    def required(self, column: str, *, normalize: bool = True) -> str:
        value = self.text(column, normalize=normalize)
        if not value:
            self.fail(column, f"必須項目が空です (required: {_GLOSS[column]})")
        return value


def _role_lookup() -> dict[str, str]:
    """Role group names and their Japanese labels, both accepted in the 権限 column."""
    lookup: dict[str, str] = {}
    for name, label in ROLES.items():
        lookup[name.casefold()] = name
        lookup[unicodedata.normalize("NFKC", str(label)).casefold()] = name
    return lookup


def roster_validate(raw: RawRoster) -> Validated:
    """Check headers, then every cell of every row, then the rows against each other.

    Master data is read once (a handful of queries whatever the file size).
    """
    result = Validated()
    problems = result.problems
    missing = [c.header for c in COLUMNS if c.required and c.header not in raw.headers]
    for header in missing:
        problems.append(Problem(1, header, "見出しがありません (header missing)"))
    seen: set[str] = set()
    for header in raw.headers:
        if header in seen:
            problems.append(Problem(1, header, "見出しが重複しています (duplicate header)"))
        seen.add(header)
    result.ignored_headers = [h for h in raw.headers if h not in HEADERS]
    if missing:
        return result  # every row would repeat the same complaint
    if not raw.rows:
        problems.append(Problem(None, None, "データ行がありません (no data rows)"))
        return result

    departments = {d.code: d for d in Department.objects.all()}
    posts = {p.code: p for p in Post.objects.all()}
    schedules = {s.code: s for s in WorkSchedule.objects.all()}
    role_names = _role_lookup()
    known_groups = set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True))

    rows: list[RosterRow] = []
    for raw_row in raw.rows:
        row = _validate_row(raw_row, problems, departments, posts, schedules, role_names)
        if row is not None:
            missing_groups = row.roles - known_groups
            if missing_groups:
                problems.append(
                    Problem(
                        row.number,
                        "権限",
                        f"権限グループ {', '.join(sorted(missing_groups))} がデータベースに"
                        "ありません。migrate を実行してください (role group missing: run migrate)",
                    )
                )
            else:
                rows.append(row)
    _validate_across_rows(rows, problems)
    result.rows = rows if not problems else []
    return result


def _validate_row(
    raw: RawRow,
    problems: list[Problem],
    departments: dict[str, Department],
    posts: dict[str, Post],
    schedules: dict[str, WorkSchedule],
    role_names: dict[str, str],
) -> RosterRow | None:
    check = _RowChecker(raw, problems)

    employee_number = check.required("職員番号")
    last_name = check.required("姓", normalize=False)
    first_name = check.required("名", normalize=False)
    kana = {}
    for column in ("姓かな", "名かな"):
        kana[column] = check.text(column)
        if kana[column] and not _KANA.match(kana[column]):
            check.fail(column, "かな以外の文字があります (kana only)")

    username = check.required("ユーザー名")
    if username:
        try:
            _username_validator(username)
        except ValidationError:
            check.fail("ユーザー名", "英数字と @ . + - _ のみ使えます (invalid login name)")
    email = check.text("メール")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            check.fail("メール", f"メールアドレスの形式ではありません: {email} (invalid e-mail)")

    department = None
    if code := check.required("所属コード"):
        department = departments.get(code)
        if department is None:
            check.fail(
                "所属コード", f"所属コード「{code}」は登録されていません (unknown department)"
            )
        elif not department.is_active:
            check.fail(
                "所属コード", f"所属「{department.name}」は廃止されています (inactive department)"
            )
    post = None
    if code := check.required("職コード"):
        post = posts.get(code)
        if post is None:
            check.fail("職コード", f"職コード「{code}」は登録されていません (unknown post)")

    employee_class = ""
    if value := check.required("任用区分"):
        employee_class = _EMPLOYEE_CLASSES.get(value, _EMPLOYEE_CLASSES.get(value.casefold(), ""))
        if not employee_class:
            check.fail(
                "任用区分",
                f"「{value}」は任用区分ではありません。正規 / 会計年度任用 / 短時間 "
                "(unknown employee class)",
            )
    work_schedule = None
    if code := check.text("勤務形態コード"):
        work_schedule = schedules.get(code)
        if work_schedule is None:
            check.fail(
                "勤務形態コード", f"勤務形態コード「{code}」は登録されていません (unknown schedule)"
            )

    hired_on = None
    if _text(raw.cells.get("採用日")):
        try:
            hired_on = date_parse(raw.cells.get("採用日"))
        except ValueError as exc:
            check.fail("採用日", str(exc))
    start = None
    if check.required("発令日"):
        try:
            start = date_parse(raw.cells.get("発令日"))
        except ValueError as exc:
            check.fail("発令日", str(exc))
    if start and hired_on and start < hired_on:
        check.fail("発令日", f"発令日 {start} が採用日 {hired_on} より前です (before hire date)")

    roles = {STAFF}  # everyone on the roster is staff; the column adds to that
    for token in re.split(r"[,、\s]+", check.text("権限")):
        if not token:
            continue
        name = role_names.get(token.casefold())
        if name is None:
            known = ", ".join(n for n in ROLES if n != ADMIN)
            check.fail("権限", f"権限「{token}」はありません。使えるのは {known} (unknown role)")
        elif name == ADMIN:
            # A roster must not be able to make someone a system administrator.
            check.fail(
                "権限",
                "システム管理者 (admin) は名簿では付与できません。管理画面で設定してください "
                "(admin cannot be granted by import)",
            )
        else:
            roles.add(name)

    flag = check.text("兼務").casefold()
    is_primary = True
    if flag in _YES:
        is_primary = False
    elif flag not in _NO:
        check.fail(
            "兼務", f"「{flag}」は読めません。兼務なら 1 か ○、本務なら空欄 (use 1 or blank)"
        )

    if not check.ok:
        return None
    assert department is not None and post is not None and start is not None
    return RosterRow(
        number=raw.number,
        employee_number=employee_number,
        last_name=last_name,
        first_name=first_name,
        family_name_kana=kana["姓かな"],
        given_name_kana=kana["名かな"],
        username=username,
        email=email,
        department=department,
        post=post,
        employee_class=employee_class,
        work_schedule=work_schedule,
        hired_on=hired_on,
        start=start,
        roles=frozenset(roles),
        is_primary=is_primary,
    )


def _validate_across_rows(rows: list[RosterRow], problems: list[Problem]) -> None:
    """Duplicates inside the file and clashes with people already in the database."""
    by_number: dict[str, list[RosterRow]] = defaultdict(list)
    for row in rows:
        by_number[row.employee_number].append(row)

    username_owner: dict[str, RosterRow] = {}
    for number, person_rows in by_number.items():
        primaries = [r for r in person_rows if r.is_primary]
        for dup in primaries[1:]:
            problems.append(
                Problem(
                    dup.number,
                    "職員番号",
                    f"職員番号「{number}」が行 {primaries[0].number} と重複しています。"
                    "兼務の行なら「兼務」列に 1 を (duplicate employee number)",
                )
            )
        first = primaries[0] if primaries else person_rows[0]
        seen_posts: dict[tuple[int, int], int] = {}
        for row in person_rows:
            # Extra primary rows are already reported as duplicates above.
            if (
                row is not first
                and not row.is_primary
                and row.person_fields() != first.person_fields()
            ):
                problems.append(
                    Problem(
                        row.number,
                        "職員番号",
                        f"同じ職員番号の行 {first.number} と氏名・ユーザー名などが異なります "
                        "(same employee number, different person data)",
                    )
                )
            if not row.is_primary:
                key = (row.department.pk, row.post.pk)
                if key in seen_posts:
                    problems.append(
                        Problem(
                            row.number,
                            "兼務",
                            f"行 {seen_posts[key]} と同じ兼務です (duplicate concurrent post)",
                        )
                    )
                seen_posts[key] = row.number
        other = username_owner.get(first.username)
        if other is not None:
            problems.append(
                Problem(
                    first.number,
                    "ユーザー名",
                    f"ユーザー名「{first.username}」は行 {other.number}（職員番号 "
                    f"{other.employee_number}）でも使われています (duplicate login name)",
                )
            )
        else:
            username_owner[first.username] = first

    if not rows:
        return
    existing_numbers = set(
        Staff.objects.filter(employee_number__in=by_number).values_list(
            "employee_number", flat=True
        )
    )
    for number, person_rows in by_number.items():
        if number not in existing_numbers and not any(r.is_primary for r in person_rows):
            problems.append(
                Problem(
                    person_rows[0].number,
                    "兼務",
                    f"職員番号「{number}」は本務の行がなく、登録済みの職員でもありません "
                    "(concurrent post for an unknown person: add the primary row)",
                )
            )
    taken = Staff.objects.filter(username__in=username_owner).values_list(
        "username", "employee_number"
    )
    for username, number in taken:
        row = username_owner[username]
        if number != row.employee_number:
            problems.append(
                Problem(
                    row.number,
                    "ユーザー名",
                    f"ユーザー名「{username}」は別の職員（職員番号 {number or 'なし'}）が"
                    "使っています (login name belongs to someone else)",
                )
            )
