"""The retention date rules (records.retention) as tables, and the disposal list query
agreeing with them."""

from __future__ import annotations

import datetime as dt
import random

import pytest
import time_machine

from records import retention
from records.files import file_extend, hold_decide, hold_end, hold_register
from records.models import Hold, RecordFile
from records.retention import (
    effective_end,
    end_date,
    files_due_for_disposal,
    first_disposal_day,
    one_year_after,
    start_date,
)
from tests.city import build_city

from .factories_files import closed_file, schedule

D = dt.date


@pytest.mark.parametrize(
    "completed_on",
    [D(2026, 4, 1), D(2026, 7, 15), D(2026, 12, 31), D(2027, 1, 1), D(2027, 3, 31)],
)
def test_start_date_is_april_first_after_the_fiscal_year(completed_on: dt.date) -> None:
    assert start_date(completed_on) == D(2027, 4, 1)


@pytest.mark.parametrize(
    ("retention_code", "extension", "expected"),
    [
        ("5", 0, D(2032, 3, 31)),
        ("5", 1, D(2033, 3, 31)),  # an extension of 1 year moves 満了日 one year
        ("5", 3, D(2035, 3, 31)),
        ("1", 0, D(2028, 3, 31)),
        ("3", 0, D(2030, 3, 31)),
        ("10", 0, D(2037, 3, 31)),
        ("30", 0, D(2057, 3, 31)),
        ("lt1", 0, D(2027, 3, 31)),  # 1年未満: end of the fiscal year of completion
        ("permanent", 0, None),
        ("permanent", 2, None),
    ],
)
def test_end_date(retention_code: str, extension: int, expected: dt.date | None) -> None:
    assert end_date(D(2027, 4, 1), retention_code, extension) == expected


@pytest.mark.parametrize(
    ("decided", "kept_through"),
    [
        (D(2031, 12, 10), D(2032, 12, 10)),
        (D(2027, 2, 28), D(2028, 2, 29)),  # count from 3/1: ends the day before 2028-03-01
        (D(2028, 2, 28), D(2029, 2, 28)),  # count from 2/29: no 2029-02-29 → end of Feb
        (D(2028, 2, 29), D(2029, 2, 28)),  # count from 3/1: the day before 2029-03-01
        (D(2031, 3, 31), D(2032, 3, 31)),
        (D(2031, 12, 31), D(2032, 12, 31)),
    ],
)
def test_one_year_after_decision(decided: dt.date, kept_through: dt.date) -> None:
    assert one_year_after(decided) == kept_through


def _hold(kind: str, **dates) -> Hold:
    return Hold(kind=kind, reason="r", started_on=D(2031, 1, 1), **dates)


@pytest.mark.parametrize(
    ("hold", "end"),
    [
        (_hold("audit"), None),
        (_hold("audit", ended_on=D(2033, 6, 30)), D(2033, 6, 30)),
        (_hold("litigation"), None),
        (_hold("litigation", ended_on=D(2035, 1, 20)), D(2035, 1, 20)),
        (_hold("disclosure"), None),
        (_hold("disclosure", decided_on=D(2031, 12, 10)), D(2032, 12, 10)),
        (_hold("appeal", decided_on=D(2031, 12, 10)), D(2032, 12, 10)),
        (_hold("personal", decided_on=D(2027, 2, 28)), D(2028, 2, 29)),
        (_hold("business", until=D(2034, 3, 31)), D(2034, 3, 31)),
    ],
)
def test_hold_end(hold: Hold, end: dt.date | None) -> None:
    assert retention.hold_end(hold) == end


def _file(completed_on, retention_code="5", extension_years=0) -> RecordFile:
    return RecordFile(
        completed_on=completed_on, retention=retention_code, extension_years=extension_years
    )


def test_effective_end_is_the_latest_end() -> None:
    file = _file(D(2026, 9, 1))
    assert effective_end(file, []) == D(2032, 3, 31)
    disclosure = _hold("disclosure", decided_on=D(2031, 12, 10))
    assert effective_end(file, [disclosure]) == D(2032, 12, 10)
    assert first_disposal_day(file, [disclosure]) == D(2032, 12, 11)
    early = _hold("business", until=D(2030, 1, 1))
    assert effective_end(file, [early]) == D(2032, 3, 31)  # a hold never shortens
    assert effective_end(file, [disclosure, _hold("litigation")]) is None
    assert effective_end(_file(D(2026, 9, 1), "permanent"), []) is None
    assert effective_end(_file(None), []) is None  # not completed


# --- the selector, against the database ---------------------------------------------


@pytest.fixture
def city(db):
    city = build_city()
    schedule(city.records_officer)
    return city


def _due(day: dt.date) -> set[int]:
    return set(files_due_for_disposal(day=day).values_list("pk", flat=True))


@pytest.mark.django_db
def test_disclosure_keeps_the_file_through_one_year_after_the_decision(city) -> None:
    officer = city.records_officer
    with time_machine.travel(dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC)):
        file = closed_file(city.soumu_ka, "5", D(2027, 3, 31), officer)
    assert (file.start_date, file.period_end) == (D(2027, 4, 1), D(2032, 3, 31))
    assert file.pk in _due(D(2032, 4, 1)) and file.pk not in _due(D(2032, 3, 31))
    hold = hold_register(
        kind=Hold.Kind.DISCLOSURE,
        files=[file],
        reason="情報公開請求",
        reference="公開第45号",
        started_on=D(2031, 11, 1),
        actor=officer,
    )
    assert file.pk not in _due(D(2032, 4, 1))  # undecided: open
    hold_decide(hold=hold, decided_on=D(2031, 12, 10), actor=officer)
    assert file.pk not in _due(D(2032, 12, 10))
    assert file.pk in _due(D(2032, 12, 11))
    assert first_disposal_day(file) == D(2032, 12, 11)


@pytest.mark.django_db
def test_litigation_hold_keeps_until_ended_and_permanent_never_due(city) -> None:
    officer = city.records_officer
    file = closed_file(city.soumu_ka, "1", D(2026, 5, 1), officer)
    forever = closed_file(city.soumu_ka, "permanent", D(2000, 5, 1), officer, fy=2000)
    hold = hold_register(
        kind=Hold.Kind.LITIGATION,
        files=[file],
        reason="損害賠償請求事件",
        started_on=D(2027, 6, 1),
        actor=officer,
    )
    for year in (2028, 2035, 2090):
        assert _due(D(year, 4, 1)) == set()
    hold_end(hold=hold, ended_on=D(2030, 9, 30), actor=officer)
    assert file.pk not in _due(D(2030, 9, 30))
    assert _due(D(2030, 10, 1)) == {file.pk}
    assert forever.pk not in _due(D(2200, 1, 1))


@pytest.mark.django_db
def test_extension_moves_the_period_end(city) -> None:
    file = closed_file(city.soumu_ka, "5", D(2026, 6, 1), city.records_officer)
    file = file_extend(file=file, years=1, reason="事業継続中", actor=city.records_officer)
    assert file.period_end == D(2033, 3, 31)
    assert file.pk not in _due(D(2033, 3, 31)) and file.pk in _due(D(2033, 4, 1))


@pytest.mark.django_db
def test_selector_agrees_with_effective_end_on_a_varied_set(city) -> None:
    officer = city.records_officer
    rng = random.Random(8)
    files = []
    for _ in range(40):
        completed = D(2019, 4, 1) + dt.timedelta(days=rng.randrange(0, 365 * 8))
        code = rng.choice(["lt1", "1", "3", "5", "10", "permanent"])
        files.append(closed_file(city.soumu_ka, code, completed, officer))
    for file in rng.sample(files, 12):
        kind = rng.choice(["audit", "litigation", "disclosure", "personal", "business", "appeal"])
        hold = hold_register(
            kind=kind,
            files=[file],
            reason="テスト",
            started_on=D(2024, 1, 1),
            until=D(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 3000)),
            actor=officer,
        )
        if kind in ("disclosure", "personal", "appeal") and rng.random() < 0.7:
            hold_decide(
                hold=hold,
                decided_on=D(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 2000)),
                actor=officer,
            )
        elif kind in ("audit", "litigation") and rng.random() < 0.7:
            hold_end(
                hold=hold,
                ended_on=D(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 2000)),
                actor=officer,
            )
    fresh = list(RecordFile.objects.prefetch_related("holds"))
    for day in (D(2025, 4, 1), D(2028, 4, 1), D(2031, 4, 1), D(2040, 4, 1)):
        expected = {
            f.pk
            for f in fresh
            if (end := effective_end(f, f.holds.all())) is not None and end < day
        }
        assert _due(day) == expected
    assert any(_due(d) for d in (D(2028, 4, 1), D(2031, 4, 1)))


@pytest.mark.django_db
def test_selector_is_one_query(city, django_assert_num_queries) -> None:
    for i in range(5):
        closed_file(city.soumu_ka, "1", D(2020, 4, 1) + dt.timedelta(days=i), city.records_officer)
    with django_assert_num_queries(1):
        rows = list(files_due_for_disposal(day=D(2030, 4, 1)))
    assert len(rows) == 5
