"""The token-bucket rate limiter of ``collect_due``, on a fake monotonic clock."""

from __future__ import annotations

import threading

import pytest

from enrollpay.errors import InvalidInputError
from enrollpay.gateways.ratelimit import TokenBucket


class FakeMonotonic:
    """A monotonic clock that moves only when told to, and records requested sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_callers_in_a_row_are_spaced_one_over_rate_apart() -> None:
    """With burst 1 the n-th immediate caller waits n / rate seconds."""
    clock = FakeMonotonic()
    bucket = TokenBucket(100, monotonic=clock, sleep=clock.sleep)
    waits = [bucket.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04])


def test_the_bucket_refills_at_rate_but_never_beyond_burst() -> None:
    """After a long idle spell only ``burst`` callers pass at once."""
    clock = FakeMonotonic()
    bucket = TokenBucket(10, burst=3, monotonic=clock, sleep=clock.sleep)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 60.0
    assert [bucket.reserve() for _ in range(4)] == pytest.approx([0.0, 0.0, 0.0, 0.1])


def test_a_partly_refilled_bucket_shortens_the_wait() -> None:
    """Half a token's worth of time already passed: the next caller waits the other half."""
    clock = FakeMonotonic()
    bucket = TokenBucket(4, monotonic=clock, sleep=clock.sleep)
    assert bucket.reserve() == 0.0
    clock.now += 0.125
    assert bucket.reserve() == pytest.approx(0.125)


def test_acquire_sleeps_for_the_reserved_wait_through_the_injected_sleep() -> None:
    """acquire() sleeps exactly the reservation, so 20 calls take 19 / rate seconds."""
    clock = FakeMonotonic()
    bucket = TokenBucket(50, monotonic=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(20):
        bucket.acquire()
    assert clock.now - start == pytest.approx(19 / 50)
    assert len(clock.slept) == 19
    assert all(s == pytest.approx(0.02) for s in clock.slept)


def test_over_any_window_at_most_burst_plus_rate_times_window_pass() -> None:
    """Tokens granted by time t never exceed burst + rate * elapsed."""
    clock = FakeMonotonic()
    bucket = TokenBucket(100, burst=2, monotonic=clock, sleep=clock.sleep)
    start = clock.now
    granted_at = [clock.now + bucket.reserve() for _ in range(500)]
    for index, at in enumerate(granted_at, start=1):
        assert index <= 2 + 100 * (at - start) + 1e-9


def test_threads_sharing_one_bucket_each_get_a_distinct_slot() -> None:
    """Eight threads reserving at the same instant get eight different waits."""
    clock = FakeMonotonic()
    bucket = TokenBucket(8, monotonic=clock, sleep=clock.sleep)
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        wait = bucket.reserve()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == pytest.approx([n / 8 for n in range(8)])


@pytest.mark.parametrize("rate", [0, -1, float("inf"), float("nan"), True, "10"])
def test_a_rate_that_is_not_a_positive_finite_number_is_refused(rate: object) -> None:
    """Zero, negative, infinite, NaN, bool and str rates raise InvalidInputError."""
    with pytest.raises(InvalidInputError):
        TokenBucket(rate)  # type: ignore[arg-type]


def test_a_burst_below_one_is_refused() -> None:
    """A bucket that can never hold a whole token would block forever."""
    with pytest.raises(InvalidInputError):
        TokenBucket(10, burst=0.5)


def test_uses_bunched_by_late_wakers_never_exceed_the_window_cap() -> None:
    """Reservations used late and all at once still pass at most per_second in any second.

    300 callers reserve at the same instant (slots 0 to 2.99 s at 100/s). The
    first 100 wake late, all at 0.99 s, the rest on time: without the
    window, 1.00 to 1.99 s would hold 199 uses. Each waits what ``admit``
    says before it goes.
    """
    clock = FakeMonotonic()
    start = clock.now
    bucket = TokenBucket(100, monotonic=clock, sleep=clock.sleep)
    assert bucket.per_second == 100
    slots = [start + bucket.reserve() for _ in range(300)]
    wakes = sorted([start + 0.99] * 100 + slots[100:])
    used: list[float] = []
    pending = list(wakes)
    while pending:  # the earliest caller that may go goes, as threads would
        pending.sort()
        clock.now = max(clock.now, pending[0])
        wait = bucket.admit()
        if wait > 0:
            pending[0] = clock.now + wait
            continue
        used.append(clock.now)
        pending.pop(0)
    assert len(used) == 300
    for index, first in enumerate(used):
        in_window = sum(1 for at in used[index:] if at - first < 1.0)
        assert in_window <= 100
    assert used[-1] - start < 3.0 + 1e-9  # the cap costs no throughput: the last is on time


def test_the_window_cap_follows_rate_and_burst() -> None:
    """``floor(burst - 1 + rate)`` uses a second, and at least one for slow rates."""
    assert TokenBucket(98).per_second == 98
    assert TokenBucket(10, burst=3).per_second == 12
    assert TokenBucket(0.5).per_second == 1
    assert TokenBucket(99.5).per_second == 99


def test_acquire_waits_for_the_window_when_the_last_second_is_full() -> None:
    """A caller whose token is free still waits while the last second holds per_second uses.

    Ten uses were admitted at this instant (callers that reserved earlier
    and woke late): the next caller's token is free, yet it goes one second
    later, when the first of those leaves the window.
    """
    clock = FakeMonotonic()
    bucket = TokenBucket(10, monotonic=clock, sleep=clock.sleep)
    start = clock.now
    assert [bucket.admit() for _ in range(10)] == [0.0] * 10
    assert bucket.admit() == pytest.approx(1.0)  # full: nothing recorded
    assert bucket.acquire() == pytest.approx(1.0)
    assert clock.now == pytest.approx(start + 1.0)
    assert clock.slept == [pytest.approx(1.0)]
