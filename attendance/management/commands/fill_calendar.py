"""manage.py fill_calendar --year N: fill (or refresh) the city calendar for a year.

Run it each autumn for the next year; HR's own days (source = override) are kept.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from attendance.calendar import calendar_fill
from common.dates import today
from org.models import Staff


class Command(BaseCommand):
    help = "勤務カレンダーを祝日・年末年始・週休日から作成する（人事課の設定は保持）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, help="対象の暦年（既定: 翌年）")
        parser.add_argument("--actor", default="", help="監査ログに記録する職員のユーザー名")

    def handle(self, *args: Any, year: int | None, actor: str, **options: Any) -> None:
        year = year or today().year + 1
        if not 1948 <= year <= 2100:
            raise CommandError(f"year out of range: {year}")
        staff = None
        if actor:
            staff = Staff.objects.filter(username=actor).first()
            if staff is None:
                raise CommandError(f"no such staff: {actor}")
        result = calendar_fill(year, actor=staff)
        self.stdout.write(
            f"{year}: created {result['created']}, updated {result['updated']}, "
            f"kept {result['kept']} HR overrides"
        )
