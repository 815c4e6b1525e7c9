"""Case 3: ``collect_due`` over many due items, against the raw claim-and-update.

The items are seeded in bulk (see :mod:`benchmarks.seed`), then one copy of
the database is collected by the library in a process of its own (one
``collect_due()`` call over every item, with the instant gateway) and
another copy by :class:`benchmarks.raw_collect.RawCollector`. Both report
the time of each segment of consecutive items; the medians are per item.
A third copy is collected by the raw collector with ``every_write``: it
also numbers and stores each payment's receipt and writes the outbox rows,
the writes the library has made since receipts (issue 17) and the outbox
(issue 15); its ratio (``ratio_to_every_write_baseline``) is reported
beside the target's.
Peak memory: the same library run in a fresh process at two sizes; the
larger may peak at no more than 1.1 times the smaller. The ``collect_due``
case compares 100,000 items with 10,000 (reusing its timed run); the
``collect_memory`` case runs issue 20's sizes, 1,000,000 against 10,000
(``--memory-items`` sets the larger), measuring memory only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.core import CaseResult, median
from benchmarks.databases import PgServer, SqliteFiles
from benchmarks.gateways import InstantGateway
from benchmarks.raw_collect import RawCollector
from benchmarks.seed import BENCH_NOW, seed_due_items

__all__ = ["run_memory", "run_memory_at", "run_postgres", "run_sqlite"]

ROOT = Path(__file__).resolve().parents[1]


def _sizes(quick: bool) -> tuple[int, int]:
    """Items to collect, and items per timed segment."""
    return (1_000, 100) if quick else (100_000, 10_000)


def _probe(url: str, count: int, segment: int, *, keep: bool = False) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.collect_probe", url, str(count), str(segment)]
    done = subprocess.run(  # noqa: S603 - our own module, our own arguments
        [*command, "keep"] if keep else command,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["succeeded"] != count:
        raise AssertionError(f"the library collected {result['succeeded']} of {count} items")
    return result


def _seeded_sqlite(files: SqliteFiles, count: int, name: str) -> Path:
    path = files.new(name)
    engine = sa.create_engine(SqliteFiles.url(path))
    try:
        seed_due_items(engine, count)
    finally:
        engine.dispose()
    return path


def _raw(url: str, segment: int, count: int, *, every_write: bool = False) -> list[float]:
    raw = RawCollector(url, InstantGateway(), every_write=every_write)
    try:
        times = raw.collect_all(BENCH_NOW, segment)
    finally:
        raw.close()
    if raw.gateway.charged != count:
        raise AssertionError(f"the baseline charged {raw.gateway.charged} of {count} items")
    return times


def _result(  # noqa: PLR0917 - two call sites (SQLite, PostgreSQL), positional by design
    name: str,
    title: str,
    count: int,
    segment: int,
    probe: dict[str, Any],
    raw: list[float],
    *,
    limit: float,
    every: list[float],
) -> CaseResult:
    """The case's result against its target ratio ``limit``.

    ``every`` is the baseline that also writes the receipt and the outbox
    rows (every row the library writes); its ratio is reported beside.
    """
    lib_items = [s / segment for s in probe["segment_seconds"]]
    raw_items = [s / segment for s in raw]
    every_items = [s / segment for s in every]
    lib, base, every_base = median(lib_items), median(raw_items), median(every_items)
    return CaseResult(
        name=name,
        title=title,
        library=lib,
        baseline=base,
        ratio=lib / base,
        target=f"<= {limit}",
        met=lib / base <= limit,
        sizes={"items": count, "items_per_segment": segment, "batch_size": 100},
        samples={"library": lib_items, "baseline": raw_items, "every_write": every_items},
        extra={
            "library_total_seconds": probe["seconds"],
            "baseline_total_seconds": sum(raw),
            "every_write_baseline_s": every_base,
            "ratio_to_every_write_baseline": lib / every_base,
            "library_items_per_second": 1 / lib,
            "baseline_items_per_second": 1 / base,
        },
    )


def run_sqlite(
    *, files: SqliteFiles, quick: bool, keep: bool = False
) -> tuple[CaseResult, dict[str, Any]]:
    """The SQLite case, and the library run's probe (its peak memory is reused).

    ``keep`` runs ``collect_due`` with its default report, which keeps every
    item's outcome (what the memory measurement compares against).
    """
    count, segment = _sizes(quick)
    seeded = _seeded_sqlite(files, count, "collect-seed.db")
    lib_db, raw_db = files.copy(seeded, "collect-lib.db"), files.copy(seeded, "collect-raw.db")
    every_db = files.copy(seeded, "collect-every-write.db")
    probe = _probe(SqliteFiles.url(lib_db), count, segment, keep=keep)
    raw = _raw(SqliteFiles.url(raw_db), segment, count)
    every = _raw(SqliteFiles.url(every_db), segment, count, every_write=True)
    title = f"collect_due over {count:,} due items, SQLite file, per item"
    result = _result(
        "collect_due_sqlite", title, count, segment, probe, raw, limit=2.5, every=every
    )
    return result, probe


def run_postgres(*, server: PgServer, quick: bool) -> CaseResult:
    """The PostgreSQL case."""
    count, segment = _sizes(quick)
    seeded = server.new()
    engine = sa.create_engine(seeded, poolclass=sa.NullPool)
    try:
        seed_due_items(engine, count)
    finally:
        engine.dispose()
    lib_db, raw_db, every_db = server.clone(seeded), server.clone(seeded), server.clone(seeded)
    server.drop(seeded)
    probe = _probe(lib_db, count, segment)
    raw = _raw(raw_db, segment, count)
    every = _raw(every_db, segment, count, every_write=True)
    for url in (lib_db, raw_db, every_db):
        server.drop(url)
    title = f"collect_due over {count:,} due items, PostgreSQL, per item"
    return _result(
        "collect_due_postgres", title, count, segment, probe, raw, limit=1.6, every=every
    )


def run_memory(
    *, files: SqliteFiles, quick: bool, large: dict[str, Any], keep: bool = False
) -> CaseResult:
    """Peak memory of one collect_due run at 1/10 of the size against the full size."""
    count, _ = _sizes(quick)
    return _memory_result("collect_due_memory", files, count, count // 10, large, keep=keep)


def run_memory_at(*, files: SqliteFiles, quick: bool, items: int | None = None) -> CaseResult:
    """Peak memory of collect_due over ``items`` (default 1,000,000) against 10,000.

    Issue 20's sizes. The larger run is a probe of its own (counts only,
    as an application collecting a month would run it); its duration is
    kept beside the result, but the ``collect_due`` case is the one that
    times this code against a baseline.
    """
    small_count = 200 if quick else 10_000
    count = items if items is not None else (2_000 if quick else 1_000_000)
    if count <= small_count:
        raise ValueError(f"--memory-items must be above the {small_count:,} it is compared with")
    large_db = _seeded_sqlite(files, count, "collect-memory-large.db")
    large = _probe(SqliteFiles.url(large_db), count, max(count // 10, 1))
    large_db.unlink()
    return _memory_result(
        "collect_due_memory_at_scale", files, count, small_count, large, keep=False
    )


def _memory_result(
    name: str,
    files: SqliteFiles,
    count: int,
    small_count: int,
    large: dict[str, Any],
    *,
    keep: bool,
) -> CaseResult:
    """Run the smaller probe and compare its peak with ``large``'s."""
    small_db = _seeded_sqlite(files, small_count, "collect-small.db")
    small = _probe(SqliteFiles.url(small_db), small_count, max(small_count // 10, 1), keep=keep)
    small_kb, large_kb = small["peak_rss_kb"], large["peak_rss_kb"]
    ratio = large_kb / small_kb
    return CaseResult(
        name=name,
        title=f"collect_due peak memory, {count:,} vs {small_count:,} items (SQLite)",
        library=large_kb * 1024,
        baseline=small_kb * 1024,
        ratio=ratio,
        target="<= 1.1",
        met=ratio <= 1.1,
        unit="bytes (peak RSS of the process during the run)",
        ratio_meaning="peak at the larger size / peak at the smaller size",
        sizes={
            "large_items": count,
            "small_items": small_count,
            "report": "every outcome kept" if keep else "counts only (keep_outcomes=False)",
        },
        extra={
            "large_growth_bytes": (large_kb - large["rss_kb_before"]) * 1024,
            "small_growth_bytes": (small_kb - small["rss_kb_before"]) * 1024,
            "large_rss_before_run_bytes": large["rss_kb_before"] * 1024,
            "small_rss_before_run_bytes": small["rss_kb_before"] * 1024,
            "peak_is_vmhwm": bool(large["peak_is_exact"] and small["peak_is_exact"]),
            "large_run_seconds": large["seconds"],
        },
    )
