"""The date rules of retention (保存期間), and the disposal list built on them.

Every rule is a pure function of dates, so it is tested as a table; the services store
their results on RecordFile (start_date, period_end) and Hold (keeps_until), which lets
`files_due_for_disposal` be one indexed query however many files the city keeps.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet

from common.dates import fiscal_year

from .models import Hold, RecordFile, Retention

ONE_DAY = dt.timedelta(days=1)


def _add_years(day: dt.date, years: int) -> dt.date | None:
    """The corresponding day `years` later, or None when that month has no such day."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 2月29日 in a common year
        return None


def start_date(completed_on: dt.date) -> dt.date:
    """起算日: April 1 of the fiscal year after the one in which the file was completed.

    Source: 公文書管理法施行令第8条第1項（文書作成取得日・ファイル作成日の属する年度の翌年度の
    4月1日）; records.md "Start and end". A file completed on 2027-03-31 (FY2026) starts
    2027-04-01, and so does one completed on 2026-04-01.
    """
    return dt.date(fiscal_year(completed_on) + 1, 4, 1)


def retention_years(retention: str) -> int | None:
    """N of 「N年」; 0 for 1年未満; None for 永年."""
    if retention == Retention.PERMANENT:
        return None
    if retention == Retention.LESS_THAN_1:
        return 0
    return int(retention)


def end_date(start: dt.date, retention: str, extension_years: int = 0) -> dt.date | None:
    """満了日 = 起算日 + N years − 1 day (a March 31), N the period plus every extension.

    Source: records.md "Start and end"; 施行令第9条第2項 (an extension adds to the period,
    and the register shows the cumulative total). 永年 has no end: None.
    1年未満 (our rule): N = 0, so the period ends on the March 31 before the 起算日, i.e. the
    end of the fiscal year of completion — the routine copies and messages it covers may
    go in the first disposal round after that year closes.
    """
    years = retention_years(retention)
    if years is None:
        return None
    # 起算日 is always April 1, so the corresponding day always exists.
    return dt.date(start.year + years + extension_years, start.month, start.day) - ONE_DAY


def one_year_after(decided_on: dt.date) -> dt.date:
    """The last day of a one-year period that follows `decided_on`.

    民法第140条 (初日不算入): counting starts the day after. 第143条第2項: the period ends
    on the day before the corresponding day a year later; if that month has no
    corresponding day, on the last day of that month. So decided 2031-12-10 → through
    2032-12-10; decided 2027-02-28 (count from 3/1) → through 2028-02-29; decided
    2028-02-28 (count from 2/29, no 2029-02-29) → through 2029-02-28; decided 2028-02-29
    (count from 3/1) → through 2029-02-28.
    """
    first = decided_on + ONE_DAY
    corresponding = _add_years(first, 1)
    if corresponding is None:
        year = first.year + 1
        return dt.date(year, first.month, calendar.monthrange(year, first.month)[1])
    return corresponding - ONE_DAY


def hold_end(hold: Hold) -> dt.date | None:
    """The last day a hold keeps its files; None while it cannot be known (open).

    施行令第9条第1項 (records.md "Extensions are holds"):
    - 監査・検査 / 訴訟: until the audit or the case ends (`ended_on`);
    - 審査請求 / 情報公開請求 / 個人情報開示請求: one year counted from the day after the
      ruling or disclosure decision (`decided_on`, see `one_year_after`);
    - 業務上の必要: the fixed date `until`.
    A hold with `ended_on` set is over on that day whatever its kind, except that the
    one-year rules still run from their decision.
    """
    kind = hold.kind
    if kind in (Hold.Kind.AUDIT, Hold.Kind.LITIGATION):
        return hold.ended_on
    if kind in (Hold.Kind.APPEAL, Hold.Kind.DISCLOSURE, Hold.Kind.PERSONAL):
        if hold.decided_on is None:
            return hold.ended_on  # withdrawn before a decision: over when ended
        return one_year_after(hold.decided_on)
    if kind == Hold.Kind.BUSINESS:
        # Ended early when the need went away; otherwise kept to the fixed date.
        return hold.ended_on or hold.until
    raise ValueError(f"unknown hold kind {kind!r}")


def period_end(file: RecordFile) -> dt.date | None:
    """満了日 of a file: None while it is open (not completed) or 永年."""
    if file.completed_on is None:
        return None
    return end_date(start_date(file.completed_on), file.retention, file.extension_years)


def effective_end(file: RecordFile, holds: Iterable[Hold]) -> dt.date | None:
    """The latest of the period end and every hold's end (施行令第9条: the latest end
    wins). None = not determinable yet (open file, open hold) or never (永年)."""
    end = period_end(file)
    if end is None:
        return None
    for hold in holds:
        kept = hold_end(hold)
        if kept is None:
            return None
        end = max(end, kept)
    return end


def first_disposal_day(file: RecordFile, holds: Iterable[Hold] | None = None) -> dt.date | None:
    """The first day the file may appear in a disposal list: effective end + 1 day."""
    end = effective_end(file, file.holds.all() if holds is None else holds)
    return None if end is None else end + ONE_DAY


# --- selector -----------------------------------------------------------------------


def files_due_for_disposal(*, day: dt.date) -> QuerySet[RecordFile]:
    """Closed files (not 永年) whose effective end is before `day` and that no hold keeps.

    One query: period_end is stored on the file and keeps_until on the hold (both by the
    services from the rules above); a hold keeps the file while its keeps_until is empty
    (open) or not yet past. Uses the (status, period_end) index.
    """
    keeping = Hold.files.through.objects.filter(recordfile_id=OuterRef("pk")).filter(
        Q(hold__keeps_until__isnull=True) | Q(hold__keeps_until__gte=day)
    )
    return (
        RecordFile.objects.filter(
            status=RecordFile.Status.CLOSED, period_end__isnull=False, period_end__lt=day
        )
        .exclude(retention=Retention.PERMANENT)
        .filter(~Exists(keeping))
        .select_related("department", "classification")
        .order_by("period_end", "department_id", "pk")
    )
