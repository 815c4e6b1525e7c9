"""One ``collect_due`` run in a process of its own: its timing and its peak memory.

``python -m benchmarks.collect_probe URL COUNT SEGMENT [keep]`` opens the
store at ``URL`` (already seeded with ``COUNT`` due items), runs
``collect_due(keep_outcomes=False)`` (``keep``: the default report that
keeps every outcome) once over all of them with the instant gateway, and
prints JSON: the
seconds each ``SEGMENT`` consecutive outcomes took, the resident set size
right before the run and its peak during the run (kB), and the counts.

The peak is Linux's ``VmHWM`` after resetting it just before the run
(``5 > /proc/self/clear_refs``): ``getrusage``'s ``ru_maxrss`` would also
count the memory of the parent at the moment it started this process.
Elsewhere ``ru_maxrss`` is the fallback. A process per run keeps each
measurement's peak its own.
"""

from __future__ import annotations

import itertools
import json
import sys
import time

from benchmarks.gateways import InstantGateway
from benchmarks.machine import peak_kb, reset_peak, status_kb
from benchmarks.seed import BENCH_NOW
from enrollpay import PaymentSystem
from enrollpay.service.results import ItemOutcome
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FrozenClock

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """Run the probe; the JSON goes to stdout."""
    url, count, segment = argv[0], int(argv[1]), int(argv[2])
    keep = argv[3:] == ["keep"]
    store = SqlStore.from_url(url, migrate=False)
    gateway = InstantGateway()
    system = PaymentSystem(store=store, gateway=gateway, clock=FrozenClock(BENCH_NOW))
    marks: list[float] = []
    seen = 0

    def tick(_outcome: ItemOutcome) -> None:
        nonlocal seen
        seen += 1
        if seen % segment == 0:
            marks.append(time.perf_counter())

    exact = reset_peak()
    before = status_kb("VmRSS") if exact else None
    start = time.perf_counter()
    report = system.collect_due(progress=tick, keep_outcomes=keep)
    elapsed = time.perf_counter() - start
    after = peak_kb(exact)
    edges = [start, *marks]
    print(
        json.dumps(
            {
                "count": count,
                "kept_outcomes": len(report.outcomes),
                "succeeded": report.succeeded,
                "charged": gateway.charged,
                "seconds": elapsed,
                "segment_seconds": [b - a for a, b in itertools.pairwise(edges)],
                "rss_kb_before": before if before is not None else peak_kb(exact=False),
                "peak_rss_kb": after,
                "peak_is_exact": exact,
            }
        )
    )
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
