"""Strategies for dates, aware datetimes and intervals."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Final, get_args

from hypothesis import strategies as st

from enrollpay.domain.calendar import Interval, IntervalUnit

INTERVAL_UNITS: Final[tuple[IntervalUnit, ...]] = get_args(IntervalUnit)


def dates(
    *, min_value: date = date(1990, 1, 1), max_value: date = date(2200, 12, 31)
) -> st.SearchStrategy[date]:
    """Calendar dates between the bounds (inclusive), leap days and month ends included."""
    return st.dates(min_value=min_value, max_value=max_value)


def time_zones() -> st.SearchStrategy[tzinfo]:
    """UTC, or a fixed offset of whole minutes within +/-14 hours."""
    offsets = st.integers(min_value=-14 * 60, max_value=14 * 60)
    return st.just(UTC) | offsets.map(lambda minutes: timezone(timedelta(minutes=minutes)))


def aware_datetimes(
    *,
    min_value: datetime = datetime(2000, 1, 1),  # noqa: DTZ001 - Hypothesis takes naive bounds
    max_value: datetime = datetime(2100, 1, 1),  # noqa: DTZ001 - Hypothesis takes naive bounds
    timezones: st.SearchStrategy[tzinfo] | None = None,
) -> st.SearchStrategy[datetime]:
    """Time-zone aware datetimes whose wall-clock time lies between the naive bounds.

    The zone comes from ``timezones`` (default :func:`time_zones`).
    """
    return st.datetimes(
        min_value=min_value,
        max_value=max_value,
        timezones=time_zones() if timezones is None else timezones,
    )


def intervals(
    *, units: Collection[IntervalUnit] = INTERVAL_UNITS, min_count: int = 1, max_count: int = 12
) -> st.SearchStrategy[Interval]:
    """Intervals of ``min_count`` to ``max_count`` days, weeks, months or years."""
    chosen = [unit for unit in INTERVAL_UNITS if unit in units]
    if not chosen:
        raise ValueError(f"units must name some of {INTERVAL_UNITS}, got {units!r}")
    return st.builds(Interval, st.sampled_from(chosen), st.integers(min_count, max_count))
