"""Dates as a city hall counts them: the fiscal year (April–March) and 和暦."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

# (first day, era name, short letter). Newest first.
_ERAS: tuple[tuple[dt.date, str, str], ...] = (
    (dt.date(2019, 5, 1), "令和", "R"),
    (dt.date(1989, 1, 8), "平成", "H"),
    (dt.date(1926, 12, 25), "昭和", "S"),
)


def today() -> dt.date:
    """Today in the configured time zone (Asia/Tokyo), never the server's local date."""
    return timezone.localdate()


def fiscal_year(day: dt.date) -> int:
    """The fiscal year (年度) a day belongs to: April 1 to March 31, named by its April."""
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_start(fy: int) -> dt.date:
    return dt.date(fy, 4, 1)


def fiscal_year_end(fy: int) -> dt.date:
    return dt.date(fy + 1, 3, 31)


def era_of(day: dt.date) -> tuple[str, int]:
    """The era and the year in it for a day: 2026-11-26 → ("令和", 8)."""
    for start, name, _letter in _ERAS:
        if day >= start:
            return name, day.year - start.year + 1
    raise ValueError(f"{day} is before 昭和, which this system does not format")


def wareki_year(year: int, *, fiscal: bool = False) -> str:
    """A (fiscal) year in 和暦, named by the era in force at the end of the calendar year.

    That is the official usage: FY2019 (April 2019 – March 2020) is 令和元年度 although
    it began under 平成, and FY1988 is 昭和63年度.
    """
    name, n = era_of(dt.date(year, 12, 31))
    return f"{name}{'元' if n == 1 else n}年{'度' if fiscal else ''}"


def wareki(day: dt.date) -> str:
    """A date in 和暦 as forms write it: 令和8年11月26日 (元年 for the first year)."""
    name, n = era_of(day)
    return f"{name}{'元' if n == 1 else n}年{day.month}月{day.day}日"
