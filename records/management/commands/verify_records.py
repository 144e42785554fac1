"""manage.py verify_records: check signed records against their stored digest and signatures.

For each record with a PDF: the stored SHA-256 matches the file, then
`records.verification.verify_pdf` (embedded data only, no network). One line per record;
the report is kept on the record (`last_verification`, `last_verified_at`). Exits
non-zero when any record fails, so cron/monitoring notices.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from audit.services import audit_record
from records.models import Record
from records.services import record_verify


class Command(BaseCommand):
    help = "Verify the signed PDFs of records (digest, signatures, timestamps, LTV)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--id", type=int, action="append", dest="ids", help="record id")
        parser.add_argument("--all", action="store_true", help="every record with a PDF")

    def handle(self, *args: Any, ids: list[int] | None = None, **options: Any) -> None:
        if not ids and not options["all"]:
            raise CommandError("give --id N (repeatable) or --all")
        records = Record.objects.exclude(pdf="").order_by("pk")
        if ids:
            records = records.filter(pk__in=ids)
            missing = set(ids) - set(records.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"no record with a PDF: {sorted(missing)}")
        failed = total = 0
        failures: list[int] = []
        for record in records.iterator():
            total += 1
            report = record_verify(record=record, actor=None, audit=False)
            if not report.ok:
                failed += 1
                failures.append(record.pk)
            self.stdout.write(f"record {record.pk} {record.number or '-'}: {report.summary_line()}")
        self.stdout.write(f"{total} verified, {failed} failed")
        with transaction.atomic():
            audit_record(
                actor=None,
                action="records.verification.run",
                data={"verified": total, "failed": failures[:1000]},
            )
        if failed:
            raise CommandError(f"{failed} of {total} record(s) failed verification")
