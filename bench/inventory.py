"""The DX priority ranking of every procedure, against reading the same rows bare.

What is measured: `inventory.selectors.ranking` (one query of plain value rows with the
reference year's counts joined, the scoring of inventory/scoring.py with its explained
terms, the sort, the decided ranks), as the ranking page and the what-if run it.
The floor: the same columns read with `values_list` and the bare arithmetic of the
formula on tuples, sorted: the irreducible read-and-compute.

Database: a throw-away SQLite file in a temporary VAR_DIR, seeded with bulk_create.
Full: 20,000 procedures (4× the largest city inventories); `--quick`: 2,000.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    n = 2_000 if args.quick else 20_000
    runs = 2 if args.quick else max(args.runs, 1)
    tmp = tempfile.mkdtemp(prefix="bench-inventory-")
    os.environ["VAR_DIR"] = tmp
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "0"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from inventory.models import Procedure, ProcedureVolume
    from inventory.scoring import Weights
    from inventory.selectors import ranking

    call_command("migrate", verbosity=0)
    now = timezone.now()
    procedures = Procedure.objects.bulk_create(
        (
            Procedure(
                procedure_id=f"X{i:06d}",
                name=f"手続 {i}",
                online_status="1" if i % 4 == 0 else "2",
                concern=("", "1", "3", "4")[i % 4],
                identity_check=("1", "2", "4", "6")[i % 4],
                fee="2" if i % 5 == 0 else "1",
                in_person_required=i % 7 == 0,
                staff_minutes=5 + i % 40,
                resident_minutes=10 + i % 60,
                on_priority_list=i % 11 == 0,
                created_at=now,
                updated_at=now,
            )
            for i in range(n)
        ),
        batch_size=2000,
    )
    ProcedureVolume.objects.bulk_create(
        (
            ProcedureVolume(procedure=p, fiscal_year=2024, total=100 + i, online=i // 4)
            for i, p in enumerate(procedures)
        ),
        batch_size=2000,
    )
    weights = Weights()

    def ours() -> None:
        rows = ranking(weights=weights, fiscal_year_=2024)
        assert len(rows) == n

    def floor() -> None:
        totals = dict(
            ProcedureVolume.objects.filter(fiscal_year=2024).values_list("procedure_id", "total")
        )
        out = []
        for pk, status, staff, resident, law, person in Procedure.objects.values_list(
            "pk",
            "online_status",
            "staff_minutes",
            "resident_minutes",
            "concern",
            "in_person_required",
        ):
            effect = 0 if status == "1" else totals.get(pk, 0) * 0.5 * (staff + resident) / 60
            difficulty = 1 + 3 * (law in ("1", "2")) + 3 * person
            out.append((-(effect / difficulty), pk))
        out.sort()
        assert len(out) == n

    def timed(fn) -> float:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    ours()  # warm up both sides once
    floor()
    value, base = timed(ours), timed(floor)
    print(
        json.dumps(
            {
                "bench": "inventory",
                "metric": f"ranking {n:,} procedures",
                "value": round(value, 1),
                "floor": round(base, 1),
                "ratio": round(value / base, 2) if base else None,
                "unit": "ms",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
