"""Case 9: a webhook storm on PostgreSQL, two receiving processes (issue 20, item 3).

About 200,000 events (174,000 seeded charges in flight: declines, successes,
bank-debit-like processing, dashboard refunds, disputes won and lost; see
:mod:`benchmarks.storm`), delivered as a storm: 10% twice, 5% late, shared
between two processes that run at once and redeliver what was not
acknowledged. The baseline is the in-order, deduplicated replay of the same
events by one process, on a copy of the same seeded database. The target
is correctness: the storm's end state must be the replay's
(:func:`benchmarks.storm.differences` finds nothing). The ratio says what
the storm costs per event against the replay: two processes sharing the
work, minus the duplicates, redeliveries and lock waits.
"""

from __future__ import annotations

import multiprocessing
import time

import sqlalchemy as sa

from benchmarks import storm
from benchmarks.core import CaseResult
from benchmarks.databases import PgServer
from benchmarks.seed import seed_due_items

__all__ = ["run"]

SPAWN = multiprocessing.get_context("spawn")
PROCESSES = 2


def _storm(url: str, items: int) -> tuple[list[storm.IngestReport], float]:
    out = SPAWN.Queue()
    workers = [
        SPAWN.Process(target=storm.ingest_share, args=(url, items, share, PROCESSES, out))
        for share in range(PROCESSES)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    reports = [out.get(timeout=7200) for _ in workers]
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join(timeout=60)
    if any(worker.exitcode != 0 for worker in workers):
        raise RuntimeError(f"a receiver failed: {[w.exitcode for w in workers]}")
    return reports, elapsed


def run(*, server: PgServer, quick: bool) -> CaseResult:
    """One storm and one in-order replay of the same events, on copies of one seeded database."""
    items = 300 if quick else 174_000
    seeded = server.new()
    engine = sa.create_engine(seeded, poolclass=sa.NullPool)
    try:
        seed_due_items(engine, items, in_flight=True)
    finally:
        engine.dispose()
    hooks = storm.storm_events(items)
    deliveries = storm.storm_order(hooks)
    reference_url, storm_url = server.clone(seeded), server.clone(seeded)
    reference = storm.ingest(reference_url, hooks)
    reports, elapsed = _storm(storm_url, items)
    problems = storm.differences(storm.final_state(reference_url), storm.final_state(storm_url))
    for url in (reference_url, storm_url, seeded):
        server.drop(url)
    events = len(hooks)
    # From each receiver's first delivery to its last (process start-up aside).
    library, baseline = max(r.seconds for r in reports) / events, reference.seconds / events
    results: dict[str, int] = {}
    for report in reports:
        for key, count in report.results.items():
            results[key] = results.get(key, 0) + count
    return CaseResult(
        name="webhook_storm_postgres",
        title=f"webhook storm, PostgreSQL, {events:,} events (+10% duplicates, 5% late), "
        "2 receiving processes vs in-order replay by 1",
        library=library,
        baseline=baseline,
        ratio=library / baseline,
        target="end state identical to the in-order replay",
        met=not problems and all(r.undelivered == 0 for r in reports),
        unit="s/event (library: storm, 2 processes; baseline: in-order replay, 1 process)",
        sizes={"events": events, "deliveries": len(deliveries), "processes": PROCESSES},
        samples={"storm": [library], "in_order": [baseline]},
        extra={
            "differences": problems,
            "storm_wall_s_with_start_up": elapsed,
            "storm_events_per_second": 1 / library,
            "in_order_events_per_second": 1 / baseline,
            "late_ahead_of_earlier": storm.inversions(deliveries, hooks),
            "results": results,
            "redelivered": sum(r.redelivered for r in reports),
            "errors": [r.errors for r in reports],
            "undelivered": sum(r.undelivered for r in reports),
        },
    )
