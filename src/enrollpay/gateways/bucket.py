"""The token bucket that paces requests to a gateway, with a one-second window as a hard cap.

Used by :class:`~enrollpay.gateways.ratelimit.ThrottledGateway` (and
re-exported from :mod:`enrollpay.gateways.ratelimit`, where it lived
first).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from enrollpay.errors import InvalidInputError

__all__ = ["TokenBucket"]

#: The window of the hard cap, in seconds (gateways count their limits per second).
WINDOW_S = 1.0


class TokenBucket:
    """At most ``burst`` acquisitions at once, then ``rate`` per second on average.

    The bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per
    second. :meth:`reserve` takes a token *now*, going into debt when the
    bucket is empty, and says how long the caller must wait before using
    it: the n-th caller in a row waits ``n / rate`` seconds, so the callers
    are spaced exactly ``1 / rate`` apart whatever the number of threads.
    Over any interval of ``t`` seconds at most ``burst + rate * t`` tokens
    are handed out. Thread-safe; waiting happens outside the lock.

    Reservations are exact, but a thread may wake late from its wait (the
    scheduler, the GIL, a busy machine) while the next one wakes on time,
    so the moments tokens are *used* can bunch up. :meth:`acquire`
    therefore also keeps the times of its last uses: it returns only when
    the last second holds fewer than :attr:`per_second` of them
    (``floor(burst - 1 + rate)``, at least 1), so no window of one second
    ever holds more uses than the bucket promises, however late its
    callers wake. This is what lets a rate set close to a gateway's limit
    stay under it.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
            raise InvalidInputError(f"rate must be a positive number, got {rate!r}")
        if not math.isfinite(rate):
            raise InvalidInputError(f"rate must be finite, got {rate!r}")
        if isinstance(burst, bool) or not isinstance(burst, (int, float)) or not burst >= 1:
            raise InvalidInputError(f"burst must be at least 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = float(burst)
        #: The most uses :meth:`acquire` lets through in any one-second window.
        self.per_second = max(1, math.floor(self.burst - 1 + self.rate))
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = monotonic()
        self._used: deque[float] = deque()

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}, burst={self.burst:g})"

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before using it (0 if none)."""
        with self._lock:
            now = self._monotonic()
            elapsed = max(0.0, now - self._last)
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._last = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> float:
        """Take one token, sleeping until it may be used; return the time waited.

        After the token's own wait, the use also waits while the last second
        already holds :attr:`per_second` uses (see the class doc).
        """
        waited = self.reserve()
        if waited > 0:
            self._sleep(waited)
        while True:
            wait = self.admit()
            if wait <= 0:
                return waited
            self._sleep(wait)
            waited += wait

    def admit(self) -> float:
        """Record a use now and return 0, or return how long until the window has room.

        The second half of :meth:`acquire`, for callers that wait on their
        own (an event loop): ``reserve()``, wait that long, then call
        ``admit()`` and wait what it returns until it returns 0.
        """
        with self._lock:
            now = self._monotonic()
            used = self._used
            while used and now - used[0] >= WINDOW_S:
                used.popleft()
            if len(used) < self.per_second:
                used.append(now)
                return 0.0
            return used[0] + WINDOW_S - now
