"""Case 5: collection against a rate-limited gateway, with threads and the token bucket.

The fake gateway answers after 200 ms and refuses (HTTP 429) any request
beyond 100 in the last second. ``collect_due(concurrency=N, rate_limit=R)``
must keep at least 97% of that limit busy over 3,000 charges without ever
exceeding it (issue 20's target). Every request's arrival (the moment the
fake counts it against its limit, as a server does when the request
arrives) is recorded; the busiest one-second window of arrivals must hold
at most 100, and no request may be refused.

``R`` is set 2% under the gateway's limit. The limiter spaces requests
exactly ``1/R`` apart when they are released, and caps the requests of any
one-second window at ``R`` however late the threads wake (see
:class:`enrollpay.gateways.bucket.TokenBucket`); the 2% is for the hop from
the limiter to the gateway. Until 2026-12-07 the fake counted a request
after its 200 ms latency, when the calling thread woke from its sleep, so
the scheduler's wake-up jitter of 32 threads on two cores was counted as if
it were the network's: 106 arrivals in one second and six 429s at a
setting of 98. A server counts a request a fixed network delay after it
was sent, whatever its client's threads do meanwhile.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.core import CaseResult
from benchmarks.databases import SqliteFiles
from benchmarks.seed import BENCH_NOW, seed_due_items
from enrollpay import PaymentSystem, SystemConfig
from enrollpay.ports import ChargeResult
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock

__all__ = ["run"]

LATENCY = 0.2
LIMIT = 100
HEADROOM = 0.98
CONCURRENCY = 32


class _TimedFake(FakeGateway):
    """The fake gateway, recording when each charge arrived (was counted against its limit)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.arrivals: list[float] = []
        self._arrivals_lock = threading.Lock()

    def charge_off_session(self, **charge: Any) -> ChargeResult:
        """Stamp the arrival, then charge as the fake does (its keyword arguments, unchanged)."""
        with self._arrivals_lock:  # the fake counts the call right after this, then waits
            self.arrivals.append(time.monotonic())
        return super().charge_off_session(**charge)


def _busiest_window(stamps: list[float], width: float = 1.0) -> int:
    """The most stamps within any half-open window ``(t - width, t]``."""
    ordered = sorted(stamps)
    best = start = 0
    for end, stamp in enumerate(ordered):
        while stamp - ordered[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


def run(*, files: SqliteFiles, quick: bool) -> CaseResult:
    """Achieved charges per second against the limit; seconds per charge as the medians."""
    count = 300 if quick else 3_000
    path: Path = files.new("rate-limit.db")
    engine = sa.create_engine(SqliteFiles.url(path))
    try:
        seed_due_items(engine, count)
    finally:
        engine.dispose()
    clock = FrozenClock(BENCH_NOW)
    fake = _TimedFake(clock=clock, latency=LATENCY, rate_limit=LIMIT, strict=False)
    store = SqlStore.from_url(SqliteFiles.url(path), migrate=False, pool_size=CONCURRENCY)
    config = SystemConfig(collect_concurrency=CONCURRENCY, gateway_rate_limit=LIMIT * HEADROOM)
    system = PaymentSystem(store=store, gateway=fake, clock=clock, config=config)
    start = time.monotonic()
    report = system.collect_due()
    elapsed = time.monotonic() - start
    store.close()
    arrivals = sorted(fake.arrivals)
    refused = len(fake.calls) - len(fake.charges)
    # Steady rate: charges per second between the first and the last arrival.
    steady = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    busiest = _busiest_window(arrivals)
    met = steady >= 0.97 * LIMIT and busiest <= LIMIT and refused == 0
    met = met and report.succeeded == count
    return CaseResult(
        name="rate_limited_collection",
        title=f"collect_due, {count:,} charges, gateway 200 ms / {LIMIT} req/s, "
        f"{CONCURRENCY} threads",
        library=1 / steady,
        baseline=1 / LIMIT,
        ratio=steady / LIMIT,
        target=">= 0.97 of the limit, never above it, no 429",
        met=met,
        unit="s/charge (library: achieved; baseline: at the gateway's limit)",
        ratio_meaning="achieved charges per second / the gateway's limit",
        sizes={
            "charges": count,
            "latency_s": LATENCY,
            "gateway_limit_per_s": LIMIT,
            "rate_limit_setting_per_s": LIMIT * HEADROOM,
            "concurrency": CONCURRENCY,
        },
        extra={
            "achieved_per_second": steady,
            "overall_per_second_incl_start_and_tail": count / elapsed,
            "busiest_one_second_window": busiest,
            "refused_429": refused,
            "succeeded": report.succeeded,
            "seconds": elapsed,
        },
    )
