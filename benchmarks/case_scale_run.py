"""Case 10: a monthly run at scale on PostgreSQL, 8 workers (issue 20, item 1).

1,000,000 due items (400 at the quick size, 2 workers), each charged through
a gateway that answers after 20 ms and keeps nothing, by 8 worker processes
of ``collect_due`` started together. Reported: the wall time, items per
second, each worker's peak resident memory, the 50th and 99th percentile of
an item's time in a worker (from the previous item's outcome to this one's:
the claim's share, the charge with its 20 ms, the recording), what the
server's sessions were doing (:mod:`benchmarks.pg_waits`: the share of
half-second samples waiting for a lock, running, or idle), and the
throughput over time, drawn with matplotlib next to the JSON output
(``<out>.scale_run.png``; the docs keep the full run's picture). The
baseline is the gateway-bound limit: 8 workers each waiting 20 ms per item
and doing nothing else, 400 items/s; the ratio is the run's throughput
against it. The check: every item paid, by exactly one gateway payment.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from array import array
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.core import CaseResult
from benchmarks.databases import PgServer
from benchmarks.pg_waits import sampling
from benchmarks.scale_run_worker import run_worker
from benchmarks.seed import seed_due_items
from enrollpay.storage.sql.schema import payments, schedule_items

__all__ = ["plot_throughput", "run"]

SPAWN = multiprocessing.get_context("spawn")
LATENCY = 0.02


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def plot_throughput(stamps: list[float], started: float, path: Path, title: str) -> None:
    """Items per second over the run (one-second bins), as a PNG at ``path``."""
    import matplotlib  # noqa: PLC0415 - only the benchmarks draw

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    seconds = int(max(stamps) - started) + 1 if stamps else 1
    bins = [0] * seconds
    for stamp in stamps:
        bins[min(seconds - 1, int(stamp - started))] += 1
    figure, axes = pyplot.subplots(figsize=(8, 3.5), dpi=100)
    axes.plot(range(seconds), bins, linewidth=0.8)
    axes.set_xlabel("seconds since the workers started")
    axes.set_ylabel("items paid per second")
    axes.set_title(title, fontsize=10)
    axes.grid(visible=True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def _check(url: str, count: int) -> dict[str, int]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            paid = conn.execute(
                sa.select(sa.func.count()).where(
                    schedule_items.c.seq == 2, schedule_items.c.status == "paid"
                )
            ).scalar_one()
            doubles = conn.execute(
                sa.select(sa.func.count()).select_from(
                    sa.select(payments.c.item_id)
                    .where(payments.c.method == "gateway")
                    .group_by(payments.c.item_id)
                    .having(sa.func.count() > 1)
                    .subquery()
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return {"items": count, "paid": int(paid), "items_paid_twice": int(doubles)}


def _work(url: str, workers: int) -> tuple[list[Any], float, float]:
    ready, results, go = SPAWN.Queue(), SPAWN.Queue(), SPAWN.Event()
    procs = [
        SPAWN.Process(target=run_worker, args=(url, LATENCY, ready, go, results))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=300)
    started = time.time()
    go.set()
    outputs = [results.get(timeout=6 * 3600) for _ in procs]
    elapsed = time.time() - started
    for proc in procs:
        proc.join(timeout=60)
    if any(proc.exitcode != 0 for proc in procs):
        raise RuntimeError(f"a worker failed: {[p.exitcode for p in procs]}")
    return outputs, started, elapsed


def run(
    *, server: PgServer, quick: bool, out: Path | None = None, items: int | None = None
) -> CaseResult:
    """One monthly run; the plot goes beside ``out`` (the JSON's path) when given.

    ``items``: another number of items, with the same workers (``--scale-items``;
    a comparison of two versions of the code takes minutes instead of hours).
    """
    count, workers = (400, 2) if quick else (1_000_000, 8)
    if items is not None:
        count = items
    url = server.new()
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        seed_due_items(engine, count)
    finally:
        engine.dispose()
    with sampling(url) as sessions:
        outputs, started, elapsed = _work(url, workers)
    check = _check(url, count)
    server.drop(url)
    stamps: list[float] = []
    per_item: list[float] = []
    for _, raw, _, _, _ in outputs:
        own = array("d")
        own.frombytes(raw)
        stamps.extend(own)
        per_item.extend(b - a for a, b in itertools.pairwise(own))
    title = f"collect_due, {count:,} items, {workers} workers, PostgreSQL, 20 ms gateway"
    plot = None
    if out is not None:
        plot = out.with_suffix(".scale_run.png")
        plot_throughput(stamps, started, plot, title)
    throughput = count / elapsed
    limit = workers / LATENCY
    held = sessions.chain_held_share()
    return CaseResult(
        name="scale_run_postgres",
        title=title,
        library=1 / throughput,
        baseline=1 / limit,
        ratio=throughput / limit,
        target="every item paid once (the ratio: share of the 20 ms gateway-bound limit)",
        met=check["paid"] == count and check["items_paid_twice"] == 0,
        unit="s/item (library: the run; baseline: each worker only waiting 20 ms an item)",
        ratio_meaning="throughput / gateway-bound limit",
        sizes={
            "items": count,
            "workers": workers,
            "latency_s": LATENCY,
            "cores": os.cpu_count() or 0,
        },
        samples={"run": [1 / throughput]},
        extra={
            "wall_s": elapsed,
            "items_per_second": throughput,
            "peak_rss_mib_per_worker": [round(o[2] / 1024, 1) for o in outputs],
            "item_time_p50_ms": 1e3 * _percentile(per_item, 0.50) if per_item else None,
            "item_time_p99_ms": 1e3 * _percentile(per_item, 0.99) if per_item else None,
            "worker_cpu_s_per_item": sum(o[4] for o in outputs) / count,
            "charged_per_worker": [o[3] for o in outputs],
            "plot": str(plot) if plot else None,
            "server_session_shares": sessions.shares(),
            "server_session_samples": sum(sessions.counts.values()),
            "audit_chain_held_share": held,
            "audit_chain_ms_per_item": None if held is None else 1e3 * held * elapsed / count,
            **check,
        },
    )
