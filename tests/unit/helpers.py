"""Test-only helpers for the calendar properties (the strategies live in enrollpay.testing)."""

from __future__ import annotations

from typing import get_args

from dateutil.relativedelta import relativedelta

from enrollpay.domain.calendar import IntervalUnit

UNITS: tuple[IntervalUnit, ...] = get_args(IntervalUnit)


def relative_steps(unit: str, steps: int) -> relativedelta:
    """``steps`` units as a relativedelta, built without :meth:`Interval.times`."""
    deltas = {
        "day": relativedelta(days=steps),
        "week": relativedelta(weeks=steps),
        "month": relativedelta(months=steps),
        "year": relativedelta(years=steps),
    }
    return deltas[unit]
