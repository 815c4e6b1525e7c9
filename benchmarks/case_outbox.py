"""Case 11: outbox dispatch on PostgreSQL (issue 20's target: <= 2 against a raw loop).

100,000 undelivered events (2,000 quick) are seeded straight into the
outbox table, shaped as the library writes them. The library hands every
one to a handler that does nothing, through ``PaymentSystem.dispatch_events``:
the dispatch lease taken, batches of 100 read in order, and each event
marked delivered in its own transaction right after the handler returns
(at-least-once delivery: a crash re-delivers at most the event in hand).
The baseline is the least a claim-and-mark loop can do with the same
guarantee, by hand with psycopg: read 100 undelivered events in order,
then per event one ``UPDATE ... SET delivered_at`` and a commit.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import psycopg
import sqlalchemy as sa

from benchmarks.core import CaseResult, median
from benchmarks.databases import PgServer, libpq
from benchmarks.seed import BENCH_NOW
from enrollpay import PaymentSystem
from enrollpay.domain.events import DomainEvent
from enrollpay.storage.sql import SqlStore
from enrollpay.storage.sql.schema import outbox
from enrollpay.testing import FrozenClock

__all__ = ["run"]

_CHUNK = 10_000


def _seed(url: str, count: int) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            for start in range(0, count, _CHUNK):
                conn.execute(
                    sa.insert(outbox),
                    [
                        {
                            "id": f"{n:012x}{'0' * 20}",
                            "kind": "installment.paid",
                            "enrollment_id": f"enr_{n:07d}",
                            "at": BENCH_NOW - timedelta(seconds=count - n),
                            "data": {
                                "item_id": f"itm_{n:07d}_2",
                                "paid": {"minor": 10_000, "currency": "USD"},
                            },
                        }
                        for n in range(start, min(count, start + _CHUNK))
                    ],
                )
    finally:
        engine.dispose()


def _library(url: str) -> tuple[float, int]:
    store = SqlStore.from_url(url, pool_size=2)
    system = PaymentSystem(store=store, clock=FrozenClock(BENCH_NOW))
    seen = 0

    def handler(_event: DomainEvent) -> None:
        nonlocal seen
        seen += 1

    started = time.perf_counter()
    delivered = system.dispatch_events(handler)
    elapsed = time.perf_counter() - started
    store.close()
    if delivered != seen:
        raise RuntimeError(f"dispatched {delivered}, handled {seen}")
    return elapsed, delivered


def _baseline(url: str) -> tuple[float, int]:
    done = 0
    started = time.perf_counter()
    with psycopg.connect(libpq(url)) as conn:
        while True:
            batch: list[Any] = conn.execute(
                "SELECT id, kind, enrollment_id, at, data FROM enrollpay_outbox "
                "WHERE delivered_at IS NULL ORDER BY seq LIMIT 100"
            ).fetchall()
            conn.commit()
            if not batch:
                break
            for row in batch:
                conn.execute(
                    "UPDATE enrollpay_outbox SET delivered_at = %s "
                    "WHERE id = %s AND delivered_at IS NULL",
                    (BENCH_NOW, row[0]),
                )
                conn.commit()
                done += 1
    return time.perf_counter() - started, done


def run(*, server: PgServer, quick: bool) -> CaseResult:
    """Median per-event time of each, over fresh copies of the same seeded outbox."""
    count, repeats = (2_000, 1) if quick else (100_000, 3)
    seeded = server.new()
    _seed(seeded, count)
    lib: list[float] = []
    base: list[float] = []
    for _ in range(repeats):
        for side, times in ((_library, lib), (_baseline, base)):
            url = server.clone(seeded)
            elapsed, done = side(url)
            server.drop(url)
            if done != count:
                raise RuntimeError(f"{side.__name__} delivered {done} of {count}")
            times.append(elapsed / count)
    server.drop(seeded)
    library, baseline = median(lib), median(base)
    ratio = library / baseline
    return CaseResult(
        name="outbox_dispatch_postgres",
        title=f"dispatch_events, PostgreSQL, {count:,} events, a handler that does nothing",
        library=library,
        baseline=baseline,
        ratio=ratio,
        target="<= 2",
        met=ratio <= 2,
        sizes={"events": count, "repeats": repeats, "batch": 100},
        samples={"library": lib, "baseline": base},
        extra={
            "library_events_per_second": 1 / library,
            "baseline_events_per_second": 1 / baseline,
        },
    )
