"""The 時間外勤務集計表 of 3,000 staff × 12 months, against one SQL aggregate query.

What is measured, in one process, interleaved, median of --runs each:
- `aggregate`: `attendance.aggregates.overtime_year(fiscal_year=2025)` for the whole city
  (no department): every person's minutes per band (calendar, schedule, the 60-hour mark in
  time order), rounding per band, fiscal-year totals, the worst 2–6 month averages, months
  over 45 h, the doctor-interview flag — a fixed number of queries and Python;
- `xlsx`: `attendance.reports.overtime_summary(None, 2025).to_xlsx()`, the download itself
  (the aggregation above plus 13 rows a person written with openpyxl);
- the floor: ONE hand-written SQL query, ``GROUP BY staff, month(work_date)`` over the
  counted orders (ordered, reported, confirmed) summing the counted minutes (the confirmed
  actual, else the plan), fetched to a list.

"The same totals": the floor returns per person and month the minutes that count toward the
caps, unrounded, 休日給 excluded, each order in the month of its work date — exactly
`StaffMonth.minutes`. Before timing, the benchmark checks that these are equal for every
person and month, and that the bands recomputed from the intervals add up to the same
minutes (so the orders were seeded as the services store them). No month is closed, so the
report reads the same values as the query.

Data: departments (3 部, 30 課), 3,000 people (`--quick`: 200) on the standard schedule, each
with 0–5 orders a month in FY2025 (April 2025 – March 2026) and one person in twenty with
10–16 (past 60 hours); weekday evenings (some past 22:00), 週休日 and 休日 days; 85 %
confirmed with an actual that differs from the plan (a break on long ones), the rest
ordered or reported (they count with the plan), plus refused and withdrawn orders that do
not count. Minutes are computed with the same rules the services use when they store them.

Database: `--database-url postgres://…` (or env BENCH_DATABASE_URL; the name must contain
"bench") or, by default, a SQLite file under var/bench/ (`attendance-full.sqlite3`,
`attendance-quick.sqlite3`), seeded with bulk_create and reused when it holds the right
numbers. Goal: ratio ≤ 3 for the aggregation. Prints a table, then one JSON line per figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_VAR = ROOT / "var" / "bench"
SCALES = {"full": 3000, "quick": 200}
FISCAL_YEAR = 2025
PREFIX = "ATB"  # the benchmark's employee numbers and department codes
GOAL_RATIO = 3.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 staff, a smoke test")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", ""),
        help="postgres://… of a dedicated benchmark database (default: SQLite under var/bench)",
    )
    parser.add_argument("--runs", type=int, default=0, help="timed runs (default 5, quick 3)")
    parser.add_argument("--reseed", action="store_true", help="drop the dataset and seed again")
    args = parser.parse_args()
    args.runs = max(1, args.runs or (3 if args.quick else 5))
    return args


# --- the database -----------------------------------------------------------------------


def prepare_url(args: argparse.Namespace, scale: str) -> str:
    if not args.database_url:
        BENCH_VAR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{BENCH_VAR / f'attendance-{scale}.sqlite3'}"
    url = args.database_url
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"--database-url must be postgres://…, not {url}")
    parts = urlsplit(url)
    name = parts.path.lstrip("/") + ("_quick" if scale == "quick" else "")
    if "bench" not in name:
        sys.exit(f"refusing database {name!r}: a benchmark database's name must contain 'bench'")
    import psycopg

    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["VAR_DIR"] = str(BENCH_VAR)  # never the developer's var/ of `make run`
    os.environ["DEBUG"] = "0"  # DEBUG would record every query
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def wipe(url: str) -> None:
    from django.core.management import call_command
    from django.db import connection, connections

    if url.startswith("sqlite:"):
        connections.close_all()
        path = Path(urlsplit(url).path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    call_command("migrate", verbosity=0)


def dataset_ok(staff: int) -> bool:
    from attendance.models import OvertimeOrder
    from org.models import Staff

    have = Staff.objects.filter(employee_number__startswith=PREFIX).count()
    return have == staff and OvertimeOrder.objects.exists()


def ensure_dataset(url: str, staff: int, reseed: bool) -> float | None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    if not reseed and dataset_ok(staff):
        print("reusing the seeded dataset", file=sys.stderr)
        return None
    print(f"seeding {staff:,} staff …", file=sys.stderr, flush=True)
    wipe(url)
    started = time.perf_counter()
    seed(staff)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return time.perf_counter() - started


def seed(n_staff: int) -> None:
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from attendance import overtime as ot
    from attendance.aggregates import DayKinds
    from attendance.calendar import calendar_fill
    from attendance.models import AttendancePolicy, OvertimeOrder
    from org.models import Assignment, Department, Post, Staff, WorkSchedule

    rng = random.Random(6)
    tokyo = ot.TOKYO
    now = timezone.now()
    with transaction.atomic():
        for year in (FISCAL_YEAR, FISCAL_YEAR + 1):
            calendar_fill(year)
        AttendancePolicy.objects.create(valid_from=dt.date(2020, 4, 1))
        standard = WorkSchedule.objects.create(
            code=f"{PREFIX}-std",
            name="標準",
            start=dt.time(8, 30),
            end=dt.time(17, 15),
            break_start=dt.time(12),
            break_end=dt.time(13),
        )
        post = Post.objects.create(code=f"{PREFIX}-shuji", name="主事", rank=90)
        sections: list[Department] = []
        for b in range(3):
            bu = Department.objects.create(code=f"{PREFIX}{b}", name=f"第{b + 1}部", level="bu")
            for k in range(10):
                sections.append(
                    Department.objects.create(
                        code=f"{PREFIX}{b}{k:02d}",
                        name=f"第{b + 1}部第{k + 1}課",
                        level="ka",
                        parent=bu,
                        overtime_class="taritsu" if k == 0 else "normal",
                    )
                )
        unusable = make_password(None)  # benchmark accounts cannot log in
        people = Staff.objects.bulk_create(
            Staff(
                username=f"atb{i:05d}",
                password=unusable,
                last_name="職員",
                first_name=f"{i}",
                employee_number=f"{PREFIX}{i:05d}",
                work_schedule=standard,
            )
            for i in range(n_staff)
        )
        Assignment.objects.bulk_create(
            Assignment(
                staff=p,
                department=sections[i % len(sections)],
                post=post,
                start=dt.date(2020, 4, 1),
            )
            for i, p in enumerate(people)
        )
        first = dt.date(FISCAL_YEAR, 4, 1)
        last = dt.date(FISCAL_YEAR + 1, 3, 31)
        kinds = DayKinds(first - dt.timedelta(days=1), last + dt.timedelta(days=3))
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        by_month: dict[tuple[int, int], list[dt.date]] = {}
        for d in days:
            by_month.setdefault((d.year, d.month), []).append(d)
        cache: dict[tuple, int] = {}

        def minutes(start: dt.datetime, end: dt.datetime) -> int:
            """What the services store: overtime in the cap sense of one interval."""
            key = (kinds(start.date()), kinds((end - dt.timedelta(minutes=1)).date()))
            key += (start.time(), int((end - start).total_seconds()))
            if key not in cache:
                bands = ot.interval_bands(start, end, day_kind=kinds)
                cache[key] = sum(m for b, m in bands.items() if b in ot.COUNTS_TOWARD_60H)
            return cache[key]

        batch: list[OvertimeOrder] = []
        statuses = ["confirmed"] * 85 + ["ordered"] * 8 + ["reported"] * 4 + ["rejected"] * 2
        statuses += ["withdrawn"]
        for i, p in enumerate(people):
            heavy = i % 20 == 7
            department = sections[i % len(sections)]
            for month_days in by_month.values():
                count = rng.randint(10, 16) if heavy else rng.randint(0, 5)
                for day in sorted(rng.sample(month_days, min(count, len(month_days)))):
                    kind = kinds(day)
                    if kind == "workday":
                        start = dt.datetime.combine(day, dt.time(17, 15), tzinfo=tokyo)
                        length = 15 * rng.randint(2, 24 if not heavy else 28)
                    else:  # 週休日 or 休日 (休日給 for regular hours on a 休日)
                        start = dt.datetime.combine(
                            day, dt.time(rng.choice([8, 9, 10]), 30), tzinfo=tokyo
                        )
                        length = 15 * rng.randint(8, 40)
                    end = start + dt.timedelta(minutes=length)
                    planned = minutes(start, end)
                    status = rng.choice(statuses)
                    order = OvertimeOrder(
                        staff=p,
                        requested_by=p,
                        department=department,
                        work_date=day,
                        task="ベンチマーク",
                        planned_start=start,
                        planned_end=end,
                        planned_minutes=planned,
                        status=status,
                        created_at=now,
                    )
                    if status in ("reported", "confirmed"):
                        a_end = max(
                            end + dt.timedelta(minutes=15 * rng.randint(-2, 4)),
                            start + dt.timedelta(minutes=15),
                        )
                        brk = 30 if length >= 6 * 60 and rng.random() < 0.5 else 0
                        order.actual_start, order.actual_end = start, a_end
                        order.break_minutes = brk
                        b_start = start + dt.timedelta(minutes=brk)
                        order.actual_minutes = minutes(b_start, a_end) if b_start < a_end else 0
                    batch.append(order)
                    if len(batch) >= 5000:
                        OvertimeOrder.objects.bulk_create(batch)
                        batch = []
        OvertimeOrder.objects.bulk_create(batch)


# --- the two sides ------------------------------------------------------------------------


def floor_sql() -> tuple[str, list[Any]]:
    from django.db import connection

    from attendance.models import OvertimeOrder

    table = connection.ops.quote_name(OvertimeOrder._meta.db_table)
    month = (
        "substr(work_date, 1, 7)"
        if connection.vendor == "sqlite"
        else "to_char(work_date, 'YYYY-MM')"
    )
    sql = f"""
        SELECT staff_id, {month} AS month,
               SUM(CASE WHEN status = %s AND actual_minutes IS NOT NULL
                        THEN actual_minutes ELSE planned_minutes END)
        FROM {table}
        WHERE status IN (%s, %s, %s) AND work_date >= %s AND work_date <= %s
        GROUP BY staff_id, {month}
    """
    params = [
        "confirmed",
        "ordered",
        "reported",
        "confirmed",
        dt.date(FISCAL_YEAR, 4, 1),
        dt.date(FISCAL_YEAR + 1, 3, 31),
    ]
    return sql, params


def floor(sql: str, params: list[Any]) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def aggregate():
    from attendance.aggregates import overtime_year

    return overtime_year(fiscal_year=FISCAL_YEAR)


def xlsx() -> bytes:
    from attendance.reports import overtime_summary

    return overtime_summary(None, FISCAL_YEAR).to_xlsx()


def check(year, rows: list[tuple]) -> tuple[int, int]:
    """The same totals on both sides, and bands that add up to them; (people, months)."""
    sql = {(staff_id, month): total for staff_id, month, total in rows if total}
    ours: dict[tuple[int, str], int] = {}
    for sy in year.staff:
        for sm in sy.months:
            if sm.band_minutes != sm.minutes:
                sys.exit(f"MISMATCH: bands {sm.band_minutes} ≠ minutes {sm.minutes}")
            if sm.minutes:
                ours[sy.person.pk, f"{sm.month:%Y-%m}"] = sm.minutes
    if ours != sql:
        diff = set(ours.items()) ^ set(sql.items())
        sys.exit(f"MISMATCH: {len(diff)} person-months differ, e.g. {sorted(diff)[:4]}")
    return len({k[0] for k in ours}), len(ours)


def timed(fn) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> int:
    args = parse_args()
    scale = "quick" if args.quick else "full"
    n_staff = SCALES[scale]
    url = prepare_url(args, scale)
    setup_django(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from attendance.models import OvertimeOrder

    seeded = ensure_dataset(url, n_staff, args.reseed)
    sql, params = floor_sql()

    def run_floor() -> list[tuple]:
        return floor(sql, params)

    # Warm-up, and the check that both sides agree.
    rows = run_floor()
    with CaptureQueriesContext(connection) as ctx:
        year = aggregate()
    queries = len(ctx.captured_queries)
    people, person_months = check(year, rows)
    orders = OvertimeOrder.objects.filter(
        status__in=OvertimeOrder.COUNTED,
        work_date__range=(dt.date(FISCAL_YEAR, 4, 1), dt.date(FISCAL_YEAR + 1, 3, 31)),
    ).count()
    # Interleaved: floor, aggregation, floor, xlsx … so load changes fall on both. Wall
    # time is the figure; CPU time of this process is printed beside it, since on SQLite
    # both sides run in this process and it moves less with other load on the machine.
    samples: dict[str, list[tuple[float, float]]] = {"floor": [], "aggregate": [], "xlsx": []}
    size = 0
    for _ in range(args.runs):
        for name, fn in (("floor", run_floor), ("aggregate", aggregate), ("floor", run_floor)):
            samples[name].append(timed(fn)[:2])
        wall, cpu, body = timed(xlsx)
        samples["xlsx"].append((wall, cpu))
        size = len(body)
    med = {k: statistics.median(w for w, _c in v) for k, v in samples.items()}
    cpu = {k: min(c for _w, c in v) for k, v in samples.items()}
    f, a = med["floor"], med["aggregate"]
    db = connection.vendor
    print(
        f"\n時間外勤務集計表 on {db} ({scale}: {n_staff:,} staff, {orders:,} counted orders, "
        f"{person_months:,} person-months with overtime), median of {args.runs} runs"
        + (f"; seeded in {seeded:.1f}s" if seeded is not None else ""),
        file=sys.stderr,
    )
    print(f"  {'':46} {'wall s':>8} {'ratio':>6} {'CPU s':>7} {'ratio':>6}", file=sys.stderr)
    for label, key in (
        ("floor: one GROUP BY query, fetched", "floor"),
        ("overtime_year: the aggregation", "aggregate"),
        ("overtime_summary(…).to_xlsx(): the download", "xlsx"),
    ):
        print(
            f"  {label:46} {med[key]:8.3f} {med[key] / f:6.2f} {cpu[key]:7.3f} "
            f"{cpu[key] / cpu['floor']:6.2f}",
            file=sys.stderr,
        )
    if scale == "full":
        goal = (
            f"goal ratio ≤ {GOAL_RATIO} for the aggregation: "
            f"{'met' if a / f <= GOAL_RATIO else 'NOT met'} (wall), "
            f"{'met' if cpu['aggregate'] / cpu['floor'] <= GOAL_RATIO else 'NOT met'} (CPU)"
        )
    else:  # a few hundred shapes classified once weigh more than the orders here
        goal = f"the goal (ratio ≤ {GOAL_RATIO}) is for the full scale"
    print(f"  aggregation queries: {queries}; xlsx {size / 2**20:.1f} MB; {goal}", file=sys.stderr)
    extra = {
        "db": db,
        "scale": scale,
        "staff": n_staff,
        "orders": orders,
        "people_with_overtime": people,
        "queries": queries,
        "runs": args.runs,
        "goal_ratio": GOAL_RATIO,
    }
    for metric, key in (("summary_aggregate_s", "aggregate"), ("summary_xlsx_s", "xlsx")):
        line = {
            "bench": "attendance",
            "metric": metric,
            "value": round(med[key], 4),
            "floor": round(f, 4),
            "ratio": round(med[key] / f, 2),
            "unit": "s",
            "cpu_s": round(cpu[key], 4),
            "cpu_floor_s": round(cpu["floor"], 4),
            "cpu_ratio": round(cpu[key] / cpu["floor"], 2),
            **extra,
        }
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
