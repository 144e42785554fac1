"""manage.py open_leave_year --year N --basis calendar|fiscal: open a leave year.

Run on January 1 for calendar-year classes and on April 1 for fiscal-year classes (the
rules of each class say which); re-running finishes a run that was cut short.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from attendance.leave import leave_year_open
from org.models import Staff


class Command(BaseCommand):
    help = "年次休暇の繰越と付与を行う（休暇年の初日に実行。再実行しても二重に付与しない）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True, help="休暇年（暦年または年度）")
        parser.add_argument(
            "--basis",
            choices=["calendar", "fiscal"],
            required=True,
            help="calendar: 暦年の区分（1月1日）、fiscal: 年度の区分（4月1日）",
        )
        parser.add_argument("--actor", default="", help="監査ログに記録する職員のユーザー名")

    def handle(self, *args: Any, year: int, basis: str, actor: str, **options: Any) -> None:
        if not 2000 <= year <= 2100:
            raise CommandError(f"year out of range: {year}")
        staff = None
        if actor:
            staff = Staff.objects.filter(username=actor).first()
            if staff is None:
                raise CommandError(f"no such staff: {actor}")
        result = leave_year_open(leave_year=year, year_basis=basis, actor=staff)
        self.stdout.write(
            f"{year}: granted {result['granted']}, carried over {result['carried']}, "
            f"skipped {result['skipped']}"
        )
