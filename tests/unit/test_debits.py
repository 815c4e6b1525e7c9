"""Business days and settlement windows of payments that settle later (bank debits)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.debits import (
    DEFAULT_SETTLEMENT_DAYS,
    SettlementWindows,
    add_business_days,
    business_days_after,
    is_business_day,
)
from enrollpay.errors import InvalidInputError

FRIDAY = date(2026, 12, 4)
SATURDAY = date(2026, 12, 5)
MONDAY = date(2026, 12, 7)

days_ = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
counts = st.integers(min_value=0, max_value=40)
holiday_sets = st.frozensets(st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
                             max_size=20)  # fmt: skip


def test_the_documented_windows() -> None:
    """SEPA 14 business days, ACH 4, Bacs 7 (a new mandate), cards the same day."""
    assert DEFAULT_SETTLEMENT_DAYS == {
        "card": 0,
        "sepa_debit": 14,
        "us_bank_account": 4,
        "bacs_debit": 7,
    }


def test_weekends_are_skipped() -> None:
    """Friday + 1 is Monday; Saturday + 1 is Monday; + 0 is the day itself."""
    assert add_business_days(FRIDAY, 1) == MONDAY
    assert add_business_days(SATURDAY, 1) == MONDAY
    assert add_business_days(SATURDAY, 0) == SATURDAY
    assert add_business_days(FRIDAY, 5) == FRIDAY + timedelta(days=7)
    assert add_business_days(FRIDAY, 1, frozenset({MONDAY})) == MONDAY + timedelta(days=1)


@given(start=days_, n=counts)
def test_adding_n_business_days_lands_on_a_business_day_n_business_days_later(
    start: date, n: int
) -> None:
    """The result is a business day (for n > 0) with exactly n business days after start."""
    end = add_business_days(start, n)
    assert business_days_after(start, end) == n
    if n:
        assert is_business_day(end)
        assert business_days_after(start, end - timedelta(days=1)) == n - 1
    else:
        assert end == start


@given(start=days_, n=counts)
def test_each_five_business_days_take_a_calendar_week_give_or_take_a_weekend(
    start: date, n: int
) -> None:
    """Adding n = 5w + r business days spans 7w + r calendar days, give or take a weekend."""
    span = (add_business_days(start, n) - start).days
    weeks, rest = divmod(n, 5)
    assert 7 * weeks + rest - 2 <= span <= 7 * weeks + rest + 2


@given(start=days_, a=counts, b=counts)
def test_business_days_add_up(start: date, a: int, b: int) -> None:
    """Adding a business days, then b more, is adding a + b business days."""
    assert add_business_days(add_business_days(start, a), b) == add_business_days(start, a + b)


@given(start=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 6, 30)), n=counts,
       holidays=holiday_sets)  # fmt: skip
def test_holidays_only_push_the_deadline_later(
    start: date, n: int, holidays: frozenset[date]
) -> None:
    """A holiday never counts, so the deadline with holidays is never earlier."""
    with_holidays = add_business_days(start, n, holidays)
    assert with_holidays >= add_business_days(start, n)
    assert business_days_after(start, with_holidays, holidays) == n
    assert with_holidays == start or with_holidays not in holidays


@given(start=days_, today=days_, kind=st.sampled_from([*DEFAULT_SETTLEMENT_DAYS, "ideal", None]))
def test_overdue_exactly_after_the_deadline(start: date, today: date, kind: str | None) -> None:
    """Overdue iff more business days than the window passed since the start."""
    windows = SettlementWindows()
    overdue = windows.overdue(start, today, kind)
    assert overdue == (today > windows.deadline(start, kind))
    if today >= start:
        counted = business_days_after(start, today)
        window = windows.for_method(kind)
        assert overdue == (counted > window or (window == 0 and today > start))


def test_a_sepa_debit_is_young_for_fourteen_business_days() -> None:
    """Started Friday 4 Dec: settles until Thursday 24 Dec; the 25th is past the window."""
    windows = SettlementWindows()
    assert windows.deadline(FRIDAY, "sepa_debit") == date(2026, 12, 24)
    assert not windows.overdue(FRIDAY, date(2026, 12, 24), "sepa_debit")
    assert windows.overdue(FRIDAY, date(2026, 12, 25), "sepa_debit")
    assert windows.deadline(FRIDAY, "us_bank_account") == date(2026, 12, 10)
    assert windows.deadline(FRIDAY, "card") == FRIDAY


def test_overrides_unknown_types_and_holidays() -> None:
    """A school's days win; an unknown or missing type gets unknown_days; holidays push on."""
    windows = SettlementWindows(days={"sepa_debit": 3, "acss_debit": 5}, unknown_days=2,
                                holidays=[MONDAY])  # fmt: skip
    assert windows.for_method("sepa_debit") == 3
    assert windows.for_method("acss_debit") == 5
    assert windows.for_method("us_bank_account") == 4
    assert windows.for_method("ideal") == windows.for_method(None) == 2
    assert windows.deadline(FRIDAY, "sepa_debit") == date(2026, 12, 10)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"days": {"sepa_debit": -1}},
        {"days": {"sepa_debit": 1.5}},
        {"days": {"sepa_debit": True}},
        {"days": {"": 3}},
        {"days": [("sepa_debit", 3)]},
        {"unknown_days": -1},
        {"holidays": ["2026-12-25"]},
    ],
)
def test_bad_windows_are_refused(kwargs: dict[str, object]) -> None:
    """Negative, fractional or boolean days, empty names and non-dates are typed errors."""
    with pytest.raises(InvalidInputError):
        SettlementWindows(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("days", [-1, True, 2.0])
def test_bad_day_counts_are_refused(days: object) -> None:
    """add_business_days takes a whole number of days >= 0."""
    with pytest.raises(InvalidInputError):
        add_business_days(FRIDAY, days)  # type: ignore[arg-type]
