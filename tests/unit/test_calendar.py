from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.calendar import Interval, days_between, due_date, ensure_aware
from enrollpay.errors import InvalidInputError, NaiveDatetimeError
from enrollpay.testing.strategies import dates, intervals

from .helpers import UNITS, relative_steps


def test_constructors_name_their_unit() -> None:
    """days/weeks/months/years build the matching interval."""
    assert Interval.days(14) == Interval("day", 14)
    assert Interval.weeks(2) == Interval("week", 2)
    assert Interval.months(1) == Interval("month", 1)
    assert Interval.years(3) == Interval("year", 3)
    assert Interval("month").count == 1


@pytest.mark.parametrize("count", [0, -1, True, 1.5, "2"])
def test_interval_count_must_be_a_positive_int(count: Any) -> None:
    """Zero, negative and non-int counts are refused with InvalidInputError."""
    with pytest.raises(InvalidInputError, match="count"):
        Interval("day", count)


@pytest.mark.parametrize("unit", ["fortnight", "days", "", None])
def test_interval_unit_must_be_known(unit: Any) -> None:
    """Only day, week, month and year are units."""
    with pytest.raises(InvalidInputError, match="unit"):
        Interval(unit, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 month", Interval.months(1)),
        ("2 weeks", Interval.weeks(2)),
        ("month", Interval.months(1)),
        ("14d", Interval.days(14)),
        ("  3 Years ", Interval.years(3)),
        ("1 mo", Interval.months(1)),
        ("6m", Interval.months(6)),
        ("1w", Interval.weeks(1)),
        ("1y", Interval.years(1)),
        ("1 day", Interval.days(1)),
        ("2 days", Interval.days(2)),
        ("1 week", Interval.weeks(1)),
        ("2 months", Interval.months(2)),
        ("1 year", Interval.years(1)),
    ],
)
def test_parse_reads_counts_and_unit_aliases(text: str, expected: Interval) -> None:
    """Interval.parse accepts counts, plural forms and short aliases."""
    assert Interval.parse(text) == expected


@pytest.mark.parametrize("text", ["", "1", "1 month 2", "-1 day", "1.5 months"])
def test_parse_refuses_malformed_text(text: str) -> None:
    """Text that is not COUNT UNIT is an InvalidInputError."""
    with pytest.raises(InvalidInputError, match="not an interval"):
        Interval.parse(text)


def test_parse_refuses_unknown_units_and_zero_counts() -> None:
    """Unknown words and zero counts are InvalidInputErrors."""
    with pytest.raises(InvalidInputError, match="unit: 'fortnights'"):
        Interval.parse("2 fortnights")
    with pytest.raises(InvalidInputError, match="count"):
        Interval.parse("0 days")


@given(intervals())
def test_str_round_trips_through_parse(interval: Interval) -> None:
    """parse(str(interval)) == interval, singular and plural."""
    assert Interval.parse(str(interval)) == interval


def test_str_is_singular_for_one() -> None:
    """'1 month' but '2 months'."""
    assert str(Interval.months(1)) == "1 month"
    assert str(Interval.months(2)) == "2 months"


@pytest.mark.parametrize(
    ("interval", "delta"),
    [
        (Interval.days(3), relativedelta(days=6)),
        (Interval.weeks(2), relativedelta(weeks=4)),
        (Interval.months(1), relativedelta(months=2)),
        (Interval.years(5), relativedelta(years=10)),
    ],
)
def test_times_repeats_the_interval(interval: Interval, delta: relativedelta) -> None:
    """times(n) is the interval n times over, in its own unit."""
    assert interval.times(2) == delta


def test_month_ends_clamp_without_drift() -> None:
    """A series anchored on Jan 31 runs Jan 31, Feb 28, Mar 31, Apr 30."""
    anchor = date(2027, 1, 31)
    series = [due_date(anchor, Interval.months(1), i) for i in range(4)]
    assert series == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]
    assert due_date(date(2028, 1, 31), Interval.months(1), 1) == date(2028, 2, 29)


def test_leap_day_clamps_to_feb_28_in_common_years() -> None:
    """Feb 29 plus one year is Feb 28; plus four years is Feb 29 again."""
    assert due_date(date(2028, 2, 29), Interval.years(1), 1) == date(2029, 2, 28)
    assert due_date(date(2028, 2, 29), Interval.years(1), 4) == date(2032, 2, 29)


def test_due_date_refuses_negative_indexes() -> None:
    """Index -1 has no meaning in a series."""
    with pytest.raises(InvalidInputError, match="index"):
        due_date(date(2027, 1, 1), Interval.days(1), -1)


@given(dates(), st.sampled_from(UNITS), st.integers(1, 6), st.integers(0, 120))
def test_due_date_is_anchored(anchor: date, unit: str, count: int, index: int) -> None:
    """The i-th date is anchor + i*interval computed directly, never by repeated steps."""
    expected = anchor + relative_steps(unit, count * index)
    assert due_date(anchor, Interval(unit, count), index) == expected  # type: ignore[arg-type]


def _outcome(compute: Callable[[], date]) -> tuple[str, object]:
    """The date ``compute`` returns, or the type and message of what it raises."""
    try:
        return ("date", compute())
    except (ValueError, OverflowError) as exc:
        return (type(exc).__name__, str(exc))


def test_due_date_matches_relativedelta_for_every_month_end_anchor() -> None:
    """Every anchor on day 28-31 of every month of 1999-2101 (2000 leap, 2100 not), 0-49 steps.

    due_date computes calendar steps itself rather than through relativedelta;
    this pins it to relativedelta's results where clamping happens.
    """
    checked = 0
    for year in range(1999, 2102):
        for month in range(1, 13):
            for day in range(28, calendar.monthrange(year, month)[1] + 1):
                anchor = date(year, month, day)
                for index in range(50):
                    for unit in ("month", "year"):
                        got = due_date(anchor, Interval(unit, 1), index)
                        assert got == anchor + relative_steps(unit, index), (anchor, unit, index)
                        assert type(got) is date
                        checked += 1
    assert checked == 2 * 50 * sum(
        calendar.monthrange(y, m)[1] - 27 for y in range(1999, 2102) for m in range(1, 13)
    )


@given(
    st.dates(),
    st.sampled_from(UNITS),
    st.integers(1, 400),
    st.integers(0, 10_000) | st.integers(0, 2**70),
)
def test_due_date_matches_relativedelta_over_the_whole_calendar(
    anchor: date, unit: str, count: int, index: int
) -> None:
    """Any date from year 1 to 9999, any step: the same date, or the same error, as relativedelta.

    Large indexes run past year 9999 (and past C integers), where both raise.
    """
    interval = Interval(unit, count)  # type: ignore[arg-type]
    expected = _outcome(lambda: anchor + relative_steps(unit, count * index))
    assert _outcome(lambda: due_date(anchor, interval, index)) == expected


@given(
    st.dates(min_value=date(1, 1, 28), max_value=date(9000, 12, 31)).filter(lambda d: d.day >= 28),
    st.integers(0, 400),
)
def test_due_date_clamps_late_days_like_relativedelta(anchor: date, months: int) -> None:
    """Days 28-31 over many months and years, leap Februaries included."""
    assert due_date(anchor, Interval.months(1), months) == anchor + relativedelta(months=months)
    assert due_date(anchor, Interval.years(1), months) == anchor + relativedelta(years=months)


@pytest.mark.parametrize("unit", UNITS)
def test_due_date_keeps_relativedelta_rules_for_datetimes(unit: str) -> None:
    """A datetime anchor keeps its time of day and zone: it goes through relativedelta itself."""
    anchor = datetime(2028, 1, 31, 9, 30, tzinfo=UTC)
    got = due_date(anchor, Interval(unit, 1), 1)  # type: ignore[arg-type]
    assert got == anchor + relative_steps(unit, 1)
    assert isinstance(got, datetime)
    assert (got.hour, got.minute, got.tzinfo) == (9, 30, UTC)


@given(dates(), dates())
def test_days_between_counts_whole_days(start: date, end: date) -> None:
    """days_between is end - start in days, negative when end is earlier."""
    assert days_between(start, end) == (end - start).days
    assert start + timedelta(days=days_between(start, end)) == end
    assert days_between(end, start) == -days_between(start, end)


class _NoOffset(tzinfo):
    """A zone that does not know its offset (so the datetime is naive in effect)."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_ensure_aware_returns_aware_datetimes_unchanged() -> None:
    """An aware datetime passes through as is."""
    moment = datetime(2027, 1, 1, 12, tzinfo=timezone(timedelta(hours=-5)))
    assert ensure_aware(moment) is moment
    utc_moment = datetime(2027, 1, 1, tzinfo=UTC)
    assert ensure_aware(utc_moment, "failed_at") is utc_moment


@pytest.mark.parametrize("tz", [None, _NoOffset()])
def test_ensure_aware_refuses_naive_datetimes(tz: tzinfo | None) -> None:
    """A datetime without a usable zone is a NaiveDatetimeError naming the argument."""
    with pytest.raises(NaiveDatetimeError, match="failed_at must be time-zone aware"):
        ensure_aware(datetime(2027, 1, 1, tzinfo=tz), "failed_at")


@pytest.mark.parametrize("value", [date(2027, 1, 1), "2027-01-01T00:00:00+00:00", 0])
def test_ensure_aware_refuses_non_datetimes(value: Any) -> None:
    """Dates and strings are not instants."""
    with pytest.raises(InvalidInputError, match="must be a datetime"):
        ensure_aware(value)
