import datetime as dt

import pytest
import time_machine

from common.dates import fiscal_year, today, wareki, wareki_year


@pytest.mark.parametrize(
    ("day", "fy"),
    [
        (dt.date(2026, 3, 31), 2025),
        (dt.date(2026, 4, 1), 2026),
        (dt.date(2026, 12, 31), 2026),
        (dt.date(2027, 1, 1), 2026),
        (dt.date(2027, 3, 31), 2026),
    ],
)
def test_fiscal_year_runs_april_to_march(day: dt.date, fy: int) -> None:
    assert fiscal_year(day) == fy


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (dt.date(2026, 11, 26), "令和8年11月26日"),
        (dt.date(2019, 5, 1), "令和元年5月1日"),
        (dt.date(2019, 4, 30), "平成31年4月30日"),
        (dt.date(1989, 1, 7), "昭和64年1月7日"),
        (dt.date(1989, 1, 8), "平成元年1月8日"),
    ],
)
def test_wareki(day: dt.date, text: str) -> None:
    assert wareki(day) == text


def test_wareki_fiscal_year() -> None:
    assert wareki_year(2026, fiscal=True) == "令和8年度"
    assert wareki_year(2019, fiscal=True) == "令和元年度"
    assert wareki_year(2018, fiscal=True) == "平成30年度"


def test_today_is_the_tokyo_date_not_utc() -> None:
    # 2027-03-31 16:00 UTC is already April 1 in Tokyo: a new fiscal year.
    with time_machine.travel(dt.datetime(2027, 3, 31, 16, 0, tzinfo=dt.UTC), tick=False):
        assert today() == dt.date(2027, 4, 1)
        assert fiscal_year(today()) == 2027
