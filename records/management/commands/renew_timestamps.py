"""manage.py renew_timestamps: extend the archival timestamp chain before it lapses.

A B-LTA record stays verifiable for 30 years only if a new document timestamp is added
before the certificate of the newest timestamp's TSA expires (docs/signing.md). This
command renews every signed B-LTA record whose `timestamp_expires_at` falls within
`--horizon` days (default SIGNING["RENEWAL_HORIZON_DAYS"]): a new file version, stored
content-addressed, a RecordVersion(reason="renewed"), and an audit event, in one
transaction with the record row locked. Run it daily (cron, systemd timer).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from records.models import Record
from records.services import record_renew
from records.signing import RecordSigningError


class Command(BaseCommand):
    help = "Add a document timestamp to B-LTA records whose newest timestamp expires soon."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--horizon",
            type=int,
            default=None,
            help="days before expiry (default SIGNING_RENEWAL_HORIZON_DAYS)",
        )

    def handle(self, *args: Any, horizon: int | None = None, **options: Any) -> None:
        days = horizon if horizon is not None else settings.SIGNING["RENEWAL_HORIZON_DAYS"]
        cutoff = timezone.now() + dt.timedelta(days=days)
        due = (
            Record.objects.filter(
                status=Record.Status.SIGNED,
                level=Record.Level.B_LTA,
                timestamp_expires_at__lte=cutoff,
            )
            .exclude(pdf="")
            .order_by("timestamp_expires_at", "pk")
        )
        renewed = failed = 0
        for record in due.iterator():
            label = f"record {record.pk} {record.number or '-'}"
            try:
                result = record_renew(record=record)
            except (RecordSigningError, OSError) as exc:
                failed += 1
                self.stdout.write(f"{label}: FAILED {type(exc).__name__}: {exc}")
                continue
            if result is None:
                self.stdout.write(f"{label}: skipped (changed meanwhile)")
                continue
            renewed += 1
            self.stdout.write(
                f"{label}: renewed, newest timestamp now valid until "
                f"{result.timestamp_expires_at:%Y-%m-%d}"
            )
        self.stdout.write(f"{renewed} renewed, {failed} failed (horizon {days} days)")
        if failed:
            raise CommandError(f"{failed} record(s) could not be renewed")
