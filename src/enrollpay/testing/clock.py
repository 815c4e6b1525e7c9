"""A clock tests move by hand."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from enrollpay.domain.calendar import ensure_aware

__all__ = ["FrozenClock"]


class FrozenClock:
    """A :class:`~enrollpay.ports.Clock` that stands still until told to move.

    >>> from datetime import UTC, datetime
    >>> clock = FrozenClock(datetime(2027, 1, 1, 9, tzinfo=UTC))
    >>> clock.advance(days=1).isoformat()
    '2027-01-02T09:00:00+00:00'
    """

    def __init__(self, start: datetime) -> None:
        self._now = ensure_aware(start, "start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The frozen instant."""
        with self._lock:
            return self._now

    def advance(
        self,
        delta: timedelta | None = None,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
    ) -> datetime:
        """Move forward (never back) and return the new instant."""
        step = (delta or timedelta()) + timedelta(
            days=days, hours=hours, minutes=minutes, seconds=seconds
        )
        if step < timedelta(0):
            raise ValueError("a FrozenClock only moves forward; use set() to jump")
        with self._lock:
            self._now += step
            return self._now

    def set(self, instant: datetime) -> datetime:
        """Jump to ``instant`` (forward or back)."""
        with self._lock:
            self._now = ensure_aware(instant, "instant")
            return self._now

    def __repr__(self) -> str:
        return f"FrozenClock({self._now.isoformat()})"
