"""The inbox of a busy manager at city-hall scale, against one hand-written SQL query.

What is measured: what the inbox page does for `busy-manager` (a 課長 with 300 pending
steps of his own, deputy for an absent 課長 with ~20 more): `inbox_for(staff=busy)`,
its first page of 50 evaluated to a list with the fields the page shows (route title,
department name, drafter name, stage kind, due, activated), plus its `.count()`.
The floor: ONE hand-written SQL query (`cursor.execute`) returning the same 50 rows,
same columns and order (due ascending with no due date last, then the most recently
activated, then id), deputy rule included. Both run interleaved, ≥ 50 times after a
warm-up, in the same process; the two must return the same step ids in the same order.

The database is the benchmark's own, seeded by `manage.py seed_scale --force`:
- default: a SQLite file under var/bench/ (`inbox-full.sqlite3`, `inbox-quick.sqlite3`),
  reused when it already holds a dataset of the right size;
- `--database-url postgres://…/<name>` (or env BENCH_DATABASE_URL): a PostgreSQL
  database, created when missing (`<name>_quick` for --quick); its name must contain
  "bench", because a database of the wrong size is dropped and made again.

Full scale: 2,000 staff × 200,000 documents (seeding takes minutes, once); `--quick`:
200 staff × 5,000 documents. Prints a table, the plans of the queries, then one JSON line
per figure (bench/README.md).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_VAR = ROOT / "var" / "bench"
PAGE = 50
SCALES: dict[str, dict[str, int]] = {
    "full": {"staff": 2000, "documents": 200_000, "busy_manager_items": 300},
    "quick": {"staff": 200, "documents": 5_000, "busy_manager_items": 300},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small scale, a smoke test")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", ""),
        help="postgres://… of a dedicated benchmark database (default: SQLite under var/bench)",
    )
    parser.add_argument("--runs", type=int, default=0, help="timed runs (default 200, quick 60)")
    parser.add_argument("--reseed", action="store_true", help="drop the dataset and seed again")
    parser.add_argument("--plans", action="store_true", help="print the query plans too")
    args = parser.parse_args()
    args.runs = max(50, args.runs or (60 if args.quick else 200))
    return args


# --- the database ---------------------------------------------------------------------


def _pg_admin(url: str):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)


def _pg_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def prepare_url(args: argparse.Namespace, scale: str) -> str:
    """DATABASE_URL for this run; for PostgreSQL the database exists afterwards."""
    if not args.database_url:
        BENCH_VAR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{BENCH_VAR / f'inbox-{scale}.sqlite3'}"
    url = args.database_url
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"--database-url must be postgres://…, not {url}")
    parts = urlsplit(url)
    name = _pg_name(url) + ("_quick" if scale == "quick" else "")
    if "bench" not in name:
        sys.exit(f"refusing database {name!r}: a benchmark database's name must contain 'bench'")
    url = urlunsplit(parts._replace(path=f"/{name}"))
    with _pg_admin(url) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
            print(f"created PostgreSQL database {name}")
    return url


def wipe(url: str) -> None:
    """Start from an empty database (the benchmark's own, see prepare_url)."""
    from django.db import connections

    connections.close_all()
    if url.startswith("sqlite:"):
        path = Path(urlsplit(url).path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = _pg_name(url)
    with _pg_admin(url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def dataset_problem(scale: dict[str, int]) -> str | None:
    """Why the database cannot be reused for this scale, or None when it can."""
    from approvals.management.commands.seed_scale import BUSY_USERNAME, CODE_PREFIX
    from approvals.models import Document
    from org.models import Staff
    from workflow.models import Step
    from workflow.selectors import absent_principals_of

    busy = Staff.objects.filter(username=BUSY_USERNAME).first()
    if busy is None:
        return "no scale data"
    found = (
        Staff.objects.filter(employee_number__startswith=CODE_PREFIX).count(),
        Document.objects.count(),
        Step.objects.pending().filter(assignee=busy).count(),
    )
    wanted = (scale["staff"], scale["documents"], scale["busy_manager_items"])
    if found != wanted:
        return f"holds staff/documents/busy items {found}, wants {wanted}"
    if not absent_principals_of(deputy=busy):
        return "the absent 課長's absence has run out"
    return None


def ensure_dataset(url: str, scale: dict[str, int], reseed: bool) -> float | None:
    """Migrate, and seed unless a dataset of the right size is there; seconds spent seeding."""
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    problem = "--reseed" if reseed else dataset_problem(scale)
    if problem is None:
        print("reusing the seeded dataset")
        return None
    print(f"seeding ({problem}) …", flush=True)
    wipe(url)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command("seed_scale", seed=1, force=True, **scale)
    seconds = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # what autovacuum does after a bulk load
            cursor.execute("ANALYZE")
    return seconds


# --- the two sides --------------------------------------------------------------------


def orm_page(busy) -> list[tuple[Any, ...]]:
    """The inbox page's list, as the page reads it: `inbox_page`, the first 50 rows.

    Each run gets a fresh copy of the person, as each request gets a fresh `request.user`:
    whatever the selectors cache on the object lasts one request, not the whole benchmark.
    """
    from workflow.selectors import inbox_page

    return [
        (
            i.step_id,
            i.title,
            i.department_name,
            i.drafter_name,
            i.stage_kind,
            i.due_at,
            i.activated_at,
        )
        for i in inbox_page(staff=copy.copy(busy), limit=PAGE)
    ]


def orm_count(busy) -> int:
    """The number on the inbox badge (and the live socket): `inbox_count`."""
    from workflow.selectors import inbox_count

    return inbox_count(staff=copy.copy(busy))


def floor_sql() -> str:
    from django.db import connection

    from org.models import Absence, Department, Deputy, Staff
    from workflow.models import Route, Stage, Step

    q = connection.ops.quote_name
    return f"""
        SELECT s.id, r.title, d.name, u.last_name, u.first_name, u.username, g.kind,
               s.due_at, s.activated_at
        FROM {q(Step._meta.db_table)} s
        JOIN {q(Route._meta.db_table)} r ON r.id = s.route_id
        JOIN {q(Department._meta.db_table)} d ON d.id = r.department_id
        JOIN {q(Staff._meta.db_table)} u ON u.id = r.submitted_by_id
        JOIN {q(Stage._meta.db_table)} g ON g.id = s.stage_id
        WHERE s.status = %s
          AND (s.assignee_id = %s
               OR (r.important = %s AND s.assignee_id IN (
                   SELECT a.staff_id
                   FROM {q(Absence._meta.db_table)} a
                   JOIN {q(Deputy._meta.db_table)} p ON p.principal_id = a.staff_id
                   WHERE p.deputy_id = %s AND p.{q("start")} <= %s
                     AND (p.{q("end")} IS NULL OR p.{q("end")} >= %s)
                     AND a.{q("start")} <= %s AND a.{q("end")} > %s)))
        ORDER BY s.due_at ASC NULLS LAST, s.activated_at DESC, s.id ASC
        LIMIT {PAGE}
    """


def floor_count_sql() -> str:
    """The count's floor: the same WHERE as the page's floor, counted."""
    body = floor_sql()
    where = body[body.index("FROM") : body.index("ORDER BY")]
    return f"SELECT COUNT(*) {where}"


def sql_count(sql: str, busy_id: int) -> int:
    return sql_page(sql, busy_id)[0][0]


def sql_page(sql: str, busy_id: int) -> list[tuple[Any, ...]]:
    from django.db import connection
    from django.utils import timezone

    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    day = ops.adapt_datefield_value(timezone.localdate())
    with connection.cursor() as cursor:
        cursor.execute(sql, ["pending", busy_id, False, busy_id, day, day, now, now])
        return cursor.fetchall()


# --- measuring ------------------------------------------------------------------------


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def measure(
    fns: dict[str, Callable[[], Any]], runs: int, warmup: int = 10
) -> dict[str, list[float]]:
    """Interleaved timings in ms (the order alternates so neither side gets warmer caches)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for i in range(runs):
        for name in names if i % 2 == 0 else reversed(names):
            started = time.perf_counter_ns()
            fns[name]()
            times[name].append((time.perf_counter_ns() - started) / 1e6)
    return times


def explain(sql: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return [f"{row[-1]}" for row in cursor.fetchall()]
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")
        return [row[0] for row in cursor.fetchall()]


def diagnose(busy, sql: str, orm_p50: float, plans: bool) -> int:
    """Where the ORM's time goes: its queries run raw (same SQL, no model building), the
    rest is Python; with `plans`, each query's plan. Returns the ORM's query count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        orm_page(busy)
    queries = [q["sql"] for q in ctx.captured_queries]
    with CaptureQueriesContext(connection) as ctx:
        sql_page(sql, busy.pk)
    floor_literal = ctx.captured_queries[-1]["sql"]

    def raw(text: str) -> Callable[[], Any]:
        def run() -> Any:
            with connection.cursor() as cursor:
                cursor.execute(text)
                return cursor.fetchall()

        return run

    timings = measure({f"q{i + 1}": raw(t) for i, t in enumerate(queries)}, runs=50, warmup=3)
    in_sql = sum(statistics.median(t) for t in timings.values())
    python = orm_p50 - in_sql
    print(
        f"\nwhere the ORM's p50 of {orm_p50:.2f} ms goes: its {len(queries)} queries run raw "
        f"{in_sql:.2f} ms, Python (query building, model instances, conversions) "
        f"{python:.2f} ms ({python / orm_p50:.0%})"
    )
    for i, text in enumerate(queries):
        name = f"q{i + 1}"
        print(f"  {name} raw p50 {statistics.median(timings[name]):6.3f} ms  {text[:110]}…")
        if plans:
            for line in explain(text):
                print(f"      {line}")
    if plans:
        print("  floor:")
        for line in explain(floor_literal):
            print(f"      {line}")
    return len(queries)


def main() -> int:
    args = parse_args()
    scale_name = "quick" if args.quick else "full"
    scale = SCALES[scale_name]
    url = prepare_url(args, scale_name)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["VAR_DIR"] = str(BENCH_VAR)  # never the developer's var/ of `make run`
    os.environ["DEBUG"] = "0"  # DEBUG would record every query and slow the ORM side
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from approvals.management.commands.seed_scale import BUSY_USERNAME
    from org.models import Staff

    seeded = ensure_dataset(url, scale, args.reseed)
    db = connection.vendor
    busy = Staff.objects.get(username=BUSY_USERNAME)
    sql = floor_sql()

    count_sql = floor_count_sql()
    orm_rows, total = orm_page(busy), orm_count(busy)
    sql_rows = sql_page(sql, busy.pk)
    if total != sql_count(count_sql, busy.pk):
        print(f"MISMATCH: count {total} vs SQL {sql_count(count_sql, busy.pk)}", file=sys.stderr)
        return 1
    orm_ids = [r[0] for r in orm_rows]
    sql_ids = [r[0] for r in sql_rows]
    if orm_ids != sql_ids:
        print(f"MISMATCH: ORM ids {orm_ids[:10]}… SQL ids {sql_ids[:10]}…", file=sys.stderr)
        return 1
    if len(orm_ids) != min(PAGE, total):
        print(f"MISMATCH: {len(orm_ids)} rows for a total of {total}", file=sys.stderr)
        return 1

    times = measure(
        {
            "orm": lambda: orm_page(busy),
            "sql": lambda: sql_page(sql, busy.pk),
            "orm_count": lambda: orm_count(busy),
            "sql_count": lambda: sql_count(count_sql, busy.pk),
        },
        runs=args.runs,
    )
    figures = {side: (statistics.median(samples), p95(samples)) for side, samples in times.items()}
    (o50, o95), (s50, s95) = figures["orm"], figures["sql"]
    (c50, c95), (f50, f95) = figures["orm_count"], figures["sql_count"]
    print(
        f"\ninbox of {BUSY_USERNAME} on {db} ({scale_name}: {scale['staff']} staff, "
        f"{scale['documents']:,} documents; {total} in the inbox, first {PAGE} shown), "
        f"{args.runs} runs after 10 warm-up"
        + (f"; seeded in {seeded:.1f}s" if seeded is not None else "")
    )
    print(f"  {'':34} {'p50 ms':>8} {'p95 ms':>8}")
    print(f"  {'inbox_page: the list, 50 rows':34} {o50:8.3f} {o95:8.3f}")
    print(f"  {'floor: one hand-written SQL query':34} {s50:8.3f} {s95:8.3f}")
    print(f"  {'ratio':34} {o50 / s50:8.2f} {o95 / s95:8.2f}")
    print(f"  {'inbox_count: the badge':34} {c50:8.3f} {c95:8.3f}")
    print(f"  {'floor: hand-written COUNT(*)':34} {f50:8.3f} {f95:8.3f}")
    print(f"  {'ratio':34} {c50 / f50:8.2f} {c95 / f95:8.2f}")
    n_queries = diagnose(busy, sql, o50, args.plans)

    extra = {
        "db": db,
        "scale": scale_name,
        "documents": scale["documents"],
        "inbox": total,
        "queries": n_queries,
        "runs": args.runs,
        "seed_s": round(seeded, 1) if seeded is not None else None,
    }
    for metric, value, floor in (
        ("inbox_p50_ms", o50, s50),
        ("inbox_p95_ms", o95, s95),
        ("inbox_count_p50_ms", c50, f50),
        ("inbox_count_p95_ms", c95, f95),
    ):
        row = {
            "bench": "inbox",
            "metric": metric,
            "value": round(value, 3),
            "floor": round(floor, 3),
            "ratio": round(value / floor, 2),
            "unit": "ms",
            **extra,
        }
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
