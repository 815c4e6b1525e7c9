"""Case 6: scale-out on PostgreSQL, 1 against 4 worker processes, 20 ms per charge.

The same number of due items is collected by one worker process, then (on
a fresh copy) by four at once; each worker loops ``collect_due`` with its
own fake gateway answering after 20 ms. Throughput is items per second
from the start signal until the last worker is done. Afterwards every item
must be paid, with exactly one payment, and the union of the workers'
gateway charges must hold each item's key exactly once: no double charge.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from typing import Any

import sqlalchemy as sa

from benchmarks.core import CaseResult, median
from benchmarks.databases import PgServer
from benchmarks.scale_worker import collect_worker
from benchmarks.seed import seed_due_items
from enrollpay.storage.sql.schema import payments, schedule_items

__all__ = ["run"]

LATENCY = 0.02
SPAWN = multiprocessing.get_context("spawn")


def _cpu_ticks() -> tuple[int, int]:
    """Busy and total jiffies of the whole machine (every process, PostgreSQL's too)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


class _Run:
    """What one collection run measured."""

    def __init__(self, elapsed: float, outputs: list[Any], busy: float) -> None:
        self.elapsed = elapsed
        self.charges: list[tuple[str, str]] = [c for _, made, _ in outputs for c in made]
        self.per_worker = [len(made) for _, made, _ in outputs]
        self.worker_cpu = sum(cpu for _, _, cpu in outputs)
        self.machine_busy = busy


def _collect(url: str, workers: int) -> _Run:
    ready: Any = SPAWN.Queue()
    results: Any = SPAWN.Queue()
    go = SPAWN.Event()
    procs = [
        SPAWN.Process(target=collect_worker, args=(url, LATENCY, ready, go, results))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=120)  # every worker has imported and connected
    busy0, total0 = _cpu_ticks()
    start = time.perf_counter()
    go.set()
    outputs = [results.get(timeout=1800) for _ in procs]
    elapsed = time.perf_counter() - start
    busy1, total1 = _cpu_ticks()
    for proc in procs:
        proc.join(timeout=60)
    if any(proc.exitcode != 0 for proc in procs):
        raise RuntimeError(f"a worker failed: {[p.exitcode for p in procs]}")
    busy = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
    return _Run(elapsed, outputs, busy)


def _check_once(url: str, due: list[str], charges: list[tuple[str, str]]) -> dict[str, int]:
    keys = Counter(key for key, _ in charges)
    items = Counter(key.split(":")[1] for key in keys)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            paid = conn.execute(
                sa.select(sa.func.count()).where(
                    schedule_items.c.id.in_(due), schedule_items.c.status == "paid"
                )
            ).scalar_one()
            per_item = conn.execute(
                sa.select(payments.c.item_id, sa.func.count())
                .where(payments.c.method == "gateway")
                .group_by(payments.c.item_id)
            ).all()
    finally:
        engine.dispose()
    doubles = sum(n - 1 for n in keys.values() if n > 1) + sum(
        n - 1 for n in items.values() if n > 1
    )
    doubles += sum(int(n) - 1 for _, n in per_item if int(n) > 1)
    return {
        "items": len(due),
        "charged_items": len(items),
        "paid_items": int(paid),
        "double_charges": doubles,
    }


def run(*, server: PgServer, quick: bool) -> CaseResult:
    """Median items per second of each setup over fresh copies of the same seeded data."""
    count, repeats = (120, 1) if quick else (1_200, 3)
    seeded = server.new()
    engine = sa.create_engine(seeded, poolclass=sa.NullPool)
    try:
        due = seed_due_items(engine, count)
    finally:
        engine.dispose()
    one: list[float] = []
    four: list[float] = []
    checks: list[dict[str, int]] = []
    shares: list[list[int]] = []
    busy: dict[int, list[float]] = {1: [], 4: []}
    cpu: dict[int, list[float]] = {1: [], 4: []}
    for _ in range(repeats):
        for workers, times in ((1, one), (4, four)):
            url = server.clone(seeded)
            done = _collect(url, workers)
            checks.append(_check_once(url, due, done.charges))
            times.append(done.elapsed / count)
            busy[workers].append(done.machine_busy)
            cpu[workers].append(done.worker_cpu / count)
            if workers == 4:
                shares.append(done.per_worker)
            server.drop(url)
    server.drop(seeded)
    lib, base = median(four), median(one)
    ratio = base / lib
    clean = all(c["double_charges"] == 0 and c["paid_items"] == count for c in checks)
    return CaseResult(
        name="scale_out_postgres",
        title=f"collect_due scale-out, PostgreSQL, {count:,} items, 20 ms gateway, "
        "1 vs 4 processes",
        library=lib,
        baseline=base,
        ratio=ratio,
        target=">= 3.8, zero double charges",
        met=ratio >= 3.8 and clean,
        unit="s/item (library: 4 processes; baseline: 1 process)",
        ratio_meaning="throughput with 4 processes / throughput with 1",
        sizes={"items": count, "repeats": repeats, "latency_s": LATENCY, "batch_size": 10},
        samples={"four_workers": four, "one_worker": one},
        extra={
            "one_worker_items_per_second": 1 / base,
            "four_workers_items_per_second": 1 / lib,
            "double_charges": sum(c["double_charges"] for c in checks),
            "all_items_paid_once": clean,
            "charges_per_worker_4": shares,
            "machine_cpu_busy_1_worker": median(busy[1]),
            "machine_cpu_busy_4_workers": median(busy[4]),
            "worker_cpu_s_per_item_1": median(cpu[1]),
            "worker_cpu_s_per_item_4": median(cpu[4]),
        },
    )
