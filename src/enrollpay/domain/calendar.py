"""Intervals and anchored due dates.

The i-th due date of a series is always computed from its anchor as
``anchor + i * interval``; it is never obtained by adding one interval to the
previous date. That way month ends clamp without drifting: a series anchored
on Jan 31 runs Jan 31, Feb 28 (29 in leap years), Mar 31, Apr 30, ...
"""

from __future__ import annotations

import re
from calendar import isleap
from datetime import date, datetime, timedelta
from typing import Literal

import attrs
from dateutil.relativedelta import relativedelta

from enrollpay.errors import InvalidInputError, NaiveDatetimeError

__all__ = ["Interval", "IntervalUnit", "days_between", "due_date", "ensure_aware"]

IntervalUnit = Literal["day", "week", "month", "year"]
_UNITS: tuple[IntervalUnit, ...] = ("day", "week", "month", "year")


def _positive_int(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{attribute.name} must be a positive int, got {value!r}")


def _known_unit(_instance: object, _attribute: object, value: object) -> None:
    if value not in _UNITS:
        raise InvalidInputError(f"interval unit must be one of {_UNITS}, got {value!r}")


@attrs.frozen
class Interval:
    """A calendar step: ``count`` days, weeks, months or years."""

    unit: IntervalUnit = attrs.field(validator=_known_unit)
    count: int = attrs.field(default=1, validator=_positive_int)

    @classmethod
    def days(cls, n: int) -> Interval:
        """``n`` days."""
        return cls("day", n)

    @classmethod
    def weeks(cls, n: int) -> Interval:
        """``n`` weeks."""
        return cls("week", n)

    @classmethod
    def months(cls, n: int) -> Interval:
        """``n`` calendar months (month ends clamp)."""
        return cls("month", n)

    @classmethod
    def years(cls, n: int) -> Interval:
        """``n`` calendar years (Feb 29 clamps to Feb 28)."""
        return cls("year", n)

    @classmethod
    def parse(cls, text: str) -> Interval:
        """Parse ``"1 month"``, ``"2 weeks"``, ``"month"``, ``"14d"``.

        >>> Interval.parse("2 weeks")
        Interval(unit='week', count=2)
        """
        match = re.fullmatch(r"\s*(\d+)?\s*([a-zA-Z]+)\s*", text)
        if not match:
            raise InvalidInputError(f"not an interval: {text!r}")
        count = int(match.group(1)) if match.group(1) else 1
        word = match.group(2).lower()
        aliases: dict[str, IntervalUnit] = {
            "d": "day",
            "day": "day",
            "days": "day",
            "w": "week",
            "week": "week",
            "weeks": "week",
            "m": "month",
            "mo": "month",
            "month": "month",
            "months": "month",
            "y": "year",
            "year": "year",
            "years": "year",
        }
        if word not in aliases:
            raise InvalidInputError(f"not an interval unit: {match.group(2)!r}")
        return cls(aliases[word], count)

    def times(self, n: int) -> relativedelta:
        """This interval repeated ``n`` times, as a relativedelta."""
        steps = self.count * n
        if self.unit == "day":
            return relativedelta(days=steps)
        if self.unit == "week":
            return relativedelta(weeks=steps)
        if self.unit == "month":
            return relativedelta(months=steps)
        return relativedelta(years=steps)

    def __str__(self) -> str:
        return f"{self.count} {self.unit}{'' if self.count == 1 else 's'}"


def due_date(anchor: date, interval: Interval, index: int) -> date:
    """The ``index``-th date of the series anchored at ``anchor`` (index 0 is the anchor)."""
    if index < 0:
        raise InvalidInputError(f"index must not be negative, got {index}")
    if type(anchor) is date and type(index) is int:
        steps = interval.count * index
        if interval.unit == "month":
            return _plus_months(anchor, steps)
        if interval.unit == "year":
            return _plus_months(anchor, 12 * steps)
        return anchor + timedelta(days=steps if interval.unit == "day" else 7 * steps)
    # Anything else (a datetime, a subclass, a non-int index) keeps relativedelta's own rules.
    result: date = anchor + interval.times(index)
    return result


# Days in each month of a common year; February gains a day in leap years.
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _plus_months(anchor: date, months: int) -> date:
    """``anchor + relativedelta(months=months)`` for ``months >= 0``, without building one.

    The day is kept and clamped to the length of the target month, exactly as
    relativedelta does (tests/unit/test_calendar.py compares the two over
    month ends, leap years and out-of-range years, errors included).
    """
    year, month0 = divmod(anchor.month - 1 + months, 12)
    year += anchor.year
    day = anchor.day
    if day > 28:  # every month has 28 days: only later days can need clamping
        last = _MONTH_DAYS[month0] + (month0 == 1 and isleap(year))
        day = min(day, last)
    return date(year, month0 + 1, day)


def days_between(start: date, end: date) -> int:
    """Whole days from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    return (end - start).days


def ensure_aware(value: datetime, name: str = "datetime") -> datetime:
    """Refuse naive datetimes: an instant without a zone is ambiguous."""
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetimeError(f"{name} must be time-zone aware, got naive {value.isoformat()}")
    return value
