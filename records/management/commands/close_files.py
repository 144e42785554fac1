"""manage.py close_files --fiscal-year N [--dry-run]: the year-end 完結 of a fiscal year.

A file (簿冊) is kept per department, classification and fiscal year, so its matter is
finished (完結, records.md) when the fiscal year is over and every record in it is
complete. After fiscal year N has ended, this command closes every open file of FY N
whose records are all signed (a record exists only for a decided or received document;
"signed" is the record being complete), through records.files.file_complete, which
stores 起算日 and 満了日 and writes the audit event (actor empty: the system).

完結日 = the later of March 31 of FY N (year end: fiscal_year_end(N), e.g. 2027-03-31
for FY2026) and the date the newest record was registered — a record filed late, after
the year end, moves the 完結日 (and so the 起算日) with it, as the 行政文書の管理に関する
ガイドライン count from the latest record of the file.

Files left open, with the reason printed: no records (close them on the file page if
the matter is really finished), or a record not yet signed (run again once it is).
Idempotent: a closed file is no longer open, so a second run closes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Max, Q
from django.utils import timezone

from common.dates import fiscal_year_end, today, wareki
from records.files import RecordsError, file_complete
from records.models import Record, RecordFile


class Command(BaseCommand):
    help = (
        "Year-end 完結 of the open files of fiscal year N whose records are all signed. "
        "完結日 = the later of March 31 of FY N (e.g. 2027-03-31 for FY2026) and the "
        "registration date of the file's newest record; files with no records or with "
        "an unsigned record stay open. Only after FY N has ended. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fiscal-year", type=int, required=True, help="the fiscal year N (西暦, e.g. 2026)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print what would be closed; change nothing"
        )

    def handle(self, *args: Any, fiscal_year: int, dry_run: bool = False, **options: Any) -> None:
        year_end = fiscal_year_end(fiscal_year)
        if today() <= year_end:
            raise CommandError(
                f"{fiscal_year}年度はまだ終わっていません（{year_end.isoformat()} まで）。"
                f" (Fiscal year {fiscal_year} has not ended yet.)"
            )
        files = (
            RecordFile.objects.filter(fiscal_year=fiscal_year, status=RecordFile.Status.OPEN)
            .select_related("department", "classification")
            .annotate(
                record_count=Count("records"),
                unsigned=Count("records", filter=~Q(records__status=Record.Status.SIGNED)),
                newest=Max("records__created_at"),
            )
            .order_by("department__code", "classification__code", "pk")
        )
        closed = skipped = 0
        verb = "would close" if dry_run else "closed"
        for file in files:
            label = f"file {file.pk} {file.department.code} {file.classification.code} {file.name}"
            if not file.record_count:
                skipped += 1
                self.stdout.write(f"{label}: skipped (no records)")
                continue
            if file.unsigned:
                skipped += 1
                self.stdout.write(f"{label}: skipped ({file.unsigned} record(s) not yet signed)")
                continue
            completed_on = max(year_end, timezone.localdate(file.newest))
            if not dry_run:
                try:
                    file = file_complete(file=file, completed_on=completed_on, actor=None)
                except RecordsError as exc:  # closed meanwhile, on the page
                    skipped += 1
                    self.stdout.write(f"{label}: skipped ({exc.message})")
                    continue
            closed += 1
            self.stdout.write(
                f"{label}: {verb} on {completed_on.isoformat()} ({wareki(completed_on)})"
            )
        self.stdout.write(
            f"FY{fiscal_year}: {closed} file(s) {verb}, {skipped} left open"
            + (" (dry run: nothing changed)" if dry_run else "")
        )
