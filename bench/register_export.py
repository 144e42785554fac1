"""The 行政文書ファイル管理簿 of 100,000 files exported to xlsx, against bare openpyxl.

What is measured: our code path, `records.registers.export_register("files", …, "xlsx")`
(one query read in chunks of 2,000, 和暦 formatting, openpyxl write-only workbook with a
bold frozen header and column widths) writing into a SpooledTemporaryFile, as the
download view and the background task do.
The floor: the same rows, already materialised as lists before the clock starts, written
with a bare openpyxl write-only workbook (no styles) into the same kind of file.

Each measurement runs in a process of its own: for time, one run per process with the
sides alternating (median of --runs each, no tracing); for memory, one process per side
(tracemalloc's peak of what the export allocates, and the growth of the process's max
RSS from `resource.getrusage`, kilobytes on Linux). For the
floor the rows exist before measuring starts, so neither figure counts them.

Database: a SQLite file under var/bench/ (`register-export-full.sqlite3`, `-quick`),
seeded with bulk_create and reused when it holds the right number of files.
Full: 100,000 files; `--quick`: 5,000. Goals: time ratio ≤ 1.3, peak < 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_VAR = ROOT / "var" / "bench"
SCALES = {"full": 100_000, "quick": 5_000}
GOAL_RATIO = 1.3
GOAL_PEAK_MB = 200.0
CODE_PREFIX = "RXB"  # the benchmark's departments


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 files, a smoke test")
    parser.add_argument(
        "--runs", type=int, default=0, help="timed runs per side (default 3; quick: 1)"
    )
    parser.add_argument("--reseed", action="store_true", help="drop the dataset and seed again")
    parser.add_argument("--side", choices=["ours", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=["time", "memory"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    # A quick run is a smoke test (bench/README.md): one timed process per side.
    args.runs = max(1, args.runs or (1 if args.quick else 3))
    return args


def setup_django(db: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["VAR_DIR"] = str(BENCH_VAR)  # never the developer's var/ of `make run`
    os.environ["DEBUG"] = "0"  # DEBUG would record every query
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- the dataset ------------------------------------------------------------------------


def ensure_dataset(db: Path, files: int, reseed: bool) -> None:
    from django.core.management import call_command

    if reseed:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    call_command("migrate", verbosity=0)
    from records.models import RecordFile

    if RecordFile.objects.count() == files:
        print(f"reusing the dataset of {files:,} files", file=sys.stderr)
        return
    if RecordFile.objects.exists():
        sys.exit(f"{db} holds another dataset: run with --reseed")
    started = time.perf_counter()
    seed(files)
    print(f"seeded {files:,} files in {time.perf_counter() - started:.1f}s", file=sys.stderr)


def seed(files: int) -> None:
    import datetime as dt
    import random

    from django.db import transaction
    from django.utils import timezone

    from org.models import Department, Staff
    from records.models import Classification, ClassificationSchedule, RecordFile

    rng = random.Random(1)
    now = timezone.now()
    with transaction.atomic():
        officer = Staff.objects.create_user(username="bench-registers", employee_number="RXB0")
        bu = Department.objects.create(code=f"{CODE_PREFIX}-bu", name="総務部", level="bu")
        departments = Department.objects.bulk_create(
            Department(code=f"{CODE_PREFIX}{i:03d}", name=f"第{i}課", level="ka", parent=bu)
            for i in range(40)
        )
        schedule = ClassificationSchedule.objects.create(
            version=900, effective_from=dt.date(2020, 4, 1), created_by=officer, created_at=now
        )
        leaves = []
        periods = [("1", "destroy"), ("3", "destroy"), ("5", "destroy"), ("10", "transfer")]
        periods += [("30", "transfer"), ("permanent", "transfer")]
        for a in range(10):
            major = Classification.objects.create(
                schedule=schedule, code=f"{a:02d}", name=f"大分類{a}", level=1
            )
            for b in range(5):
                middle = Classification.objects.create(
                    schedule=schedule,
                    code=f"{a:02d}-{b:02d}",
                    name=f"中分類{a}-{b}",
                    level=2,
                    parent=major,
                )
                for c in range(4):
                    retention, disposition = rng.choice(periods)
                    leaves.append(
                        Classification(
                            schedule=schedule,
                            code=f"{a:02d}-{b:02d}-{c:02d}",
                            name=f"小分類{a}-{b}-{c}",
                            level=3,
                            parent=middle,
                            retention=retention,
                            disposition=disposition,
                        )
                    )
        leaves = Classification.objects.bulk_create(leaves)
        batch: list[RecordFile] = []
        opened: set[tuple[int, int, int]] = set()
        for i in range(files):
            department = departments[i % len(departments)]
            leaf = leaves[rng.randrange(len(leaves))]
            fy = 2015 + rng.randrange(12)
            # At most one open file per department, classification and year (a constraint).
            closed = rng.random() < 0.9 or (department.pk, leaf.pk, fy) in opened
            if not closed:
                opened.add((department.pk, leaf.pk, fy))
            batch.append(
                RecordFile(
                    department=department,
                    classification=leaf,
                    fiscal_year=fy,
                    name=f"{leaf.name} {department.name} 第{i}冊",
                    creator_post=f"{department.name}長",
                    manager_post=f"{department.name}長",
                    medium=rng.choice(["electronic", "electronic", "paper", "mixed"]),
                    location=rng.choice(["文書管理システム", "書庫A", "書庫B"]),
                    remarks="" if rng.random() < 0.8 else "延長あり",
                    retention=leaf.retention,
                    disposition=leaf.disposition,
                    extension_years=1 if rng.random() < 0.05 else 0,
                    completed_on=dt.date(fy + 1, 3, rng.randrange(1, 29)) if closed else None,
                    status="closed" if closed else "open",
                    created_at=now,
                )
            )
            if len(batch) == 5000:
                RecordFile.objects.bulk_create(batch)
                batch = []
        RecordFile.objects.bulk_create(batch)


# --- one side, in its own process ---------------------------------------------------------


def run_side(side: str, measure: str, runs: int) -> dict:
    import resource
    import tempfile
    import tracemalloc

    from openpyxl import Workbook

    from records.export_tasks import SPOOL_BYTES
    from records.registers import REGISTERS, RegisterFilters, export_register, register_rows

    headers = REGISTERS["files"].headers
    rows = list(register_rows("files", RegisterFilters())) if side == "floor" else None

    def ours() -> int:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as out:
            return export_register("files", RegisterFilters(), "xlsx", out)

    def floor() -> int:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as out:
            wb = Workbook(write_only=True)
            ws = wb.create_sheet()
            ws.append(headers)
            for row in rows:
                ws.append(row)
            wb.save(out)
            return len(rows)

    work = ours if side == "ours" else floor
    if measure == "time":
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            n = work()
            seconds.append(time.perf_counter() - started)
        return {"rows": n, "seconds": statistics.median(seconds), "all": seconds}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    n = work()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": n, "peak_mb": peak / 2**20, "rss_delta_mb": (rss_after - rss_before) / 1024}


def side_in_subprocess(args: argparse.Namespace, side: str, measure: str, runs: int) -> dict:
    cmd = [sys.executable, __file__, "--side", side, "--measure", measure]
    cmd += ["--runs", str(runs)] + (["--quick"] if args.quick else [])
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{side}/{measure} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    args = parse_args()
    scale = "quick" if args.quick else "full"
    files = SCALES[scale]
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    db = BENCH_VAR / f"register-export-{scale}.sqlite3"
    setup_django(db)
    if args.side:
        print(json.dumps(run_side(args.side, args.measure, args.runs)))
        return 0
    ensure_dataset(db, files, args.reseed)

    # Time: one run per process, the two sides alternating, so a change in the machine's
    # load during the benchmark falls on both; the median of each side's runs.
    timed: dict[str, list[dict]] = {"ours": [], "floor": []}
    for _ in range(args.runs):
        for side in ("ours", "floor"):
            timed[side].append(side_in_subprocess(args, side, "time", runs=1))
    results = {
        (side, "time"): {
            "rows": timed[side][0]["rows"],
            "seconds": statistics.median(r["seconds"] for r in timed[side]),
        }
        for side in timed
    }
    for side in ("ours", "floor"):
        results[side, "memory"] = side_in_subprocess(args, side, "memory", runs=1)
    rows = {r["rows"] for r in results.values()}
    if rows != {files}:
        sys.exit(f"the sides wrote different row counts: {rows}, wanted {files}")
    label = f"{files // 1000}k"
    t_ours, t_floor = results["ours", "time"]["seconds"], results["floor", "time"]["seconds"]
    m_ours, m_floor = results["ours", "memory"], results["floor", "memory"]
    lines = [
        {
            "bench": "register_export",
            "metric": f"xlsx_{label}_s",
            "value": round(t_ours, 3),
            "floor": round(t_floor, 3),
            "ratio": round(t_ours / t_floor, 3),
            "unit": "s",
            "rows": files,
            "goal_ratio": GOAL_RATIO,
            "runs": args.runs,
        },
        {
            "bench": "register_export",
            "metric": "xlsx_peak_mb",
            "value": round(m_ours["peak_mb"], 1),
            "floor": round(m_floor["peak_mb"], 1),
            "ratio": round(m_ours["peak_mb"] / m_floor["peak_mb"], 3),
            "unit": "MB",
            "rows": files,
            "goal_mb": GOAL_PEAK_MB,
            "what": "tracemalloc peak during the export",
        },
        {
            "bench": "register_export",
            "metric": "xlsx_rss_delta_mb",
            "value": round(m_ours["rss_delta_mb"], 1),
            "floor": round(m_floor["rss_delta_mb"], 1),
            "ratio": (
                round(m_ours["rss_delta_mb"] / m_floor["rss_delta_mb"], 3)
                if m_floor["rss_delta_mb"] > 0
                else None
            ),
            "unit": "MB",
            "rows": files,
            "goal_mb": GOAL_PEAK_MB,
            "what": "growth of the process's max RSS during the export",
        },
    ]
    print(f"{'metric':<20} {'ours':>10} {'floor':>10} {'ratio':>7} unit", file=sys.stderr)
    for line in lines:
        ratio = "—" if line["ratio"] is None else f"{line['ratio']:.2f}"
        print(
            f"{line['metric']:<20} {line['value']:>10} {line['floor']:>10} {ratio:>7} "
            f"{line['unit']}",
            file=sys.stderr,
        )
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    ok_time = lines[0]["ratio"] <= GOAL_RATIO
    ok_mem = max(m_ours["peak_mb"], m_ours["rss_delta_mb"]) < GOAL_PEAK_MB
    print(
        f"goals: time ratio ≤ {GOAL_RATIO}: {'met' if ok_time else 'NOT met'}; "
        f"peak < {GOAL_PEAK_MB:.0f} MB: {'met' if ok_mem else 'NOT met'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
