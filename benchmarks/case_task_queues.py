"""Case 8: collection on task-queue workers, PostgreSQL, 20 ms per charge.

Celery: 3 worker processes against 1; Procrastinate: 2 against 1 (issue
18). Each run takes a fresh copy of the same seeded database, starts the
workers (prefork, one child each; Procrastinate with concurrency 1), waits
until every one is ready, then sends one ``collect_due`` (width 6, shards
of 50 items) and times until every due item is paid. The broker is
kombu's SQLAlchemy transport on the same database (Celery) or
Procrastinate's own tables: nothing but PostgreSQL. Each worker builds its
system from ``ENROLLPAY_SYSTEM_FACTORY`` with a fake gateway that records
every charge in the database; afterwards each item must have exactly one
charge and one payment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from benchmarks.case_scale_out import _cpu_ticks
from benchmarks.core import CaseResult, median
from benchmarks.databases import PgServer
from benchmarks.queue_apps import (
    DB_VAR,
    LATENCY,
    LEDGER_TABLE,
    libpq,
    make_celery,
    make_procrastinate,
)
from benchmarks.seed import seed_due_items

__all__ = ["run"]

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 6
SHARD_SIZE = 50


def _paid(url: str) -> int:
    """Due items paid (the seed's first items, paid before, are seq 1)."""
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM enrollpay_schedule_items WHERE status = 'paid' AND seq = 2"
        ).fetchone()
    return int(row[0]) if row else 0


def _command(engine: str, n: int) -> list[str]:
    if engine == "celery":
        return [
            sys.executable, "-m", "celery", "-A", "benchmarks.queue_apps:celery_app", "worker",
            "--pool=prefork", "--concurrency=1", f"--hostname=b{n}@bench", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "procrastinate", "--verbose",
        "--app=benchmarks.queue_apps.procrastinate_app", "worker", f"--name=b{n}",
        "--concurrency=1",
    ]  # fmt: skip


def _ready(engine: str, log: Path) -> bool:
    text = log.read_text(errors="replace") if log.exists() else ""
    return " ready." in text if engine == "celery" else "Starting worker" in text


def _prepare(engine: str, url: str) -> None:
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(LEDGER_TABLE)
    if engine == "celery":
        app = make_celery(url)
        with app.connection_for_write() as conn:
            channel: Any = conn.default_channel  # creates the broker's tables once
            channel.queue_declare("celery")
        app.close()
    else:
        papp = make_procrastinate(url)
        with papp.open():
            papp.schema_manager.apply_schema()


def _send(engine: str, url: str) -> None:
    if engine == "celery":
        app = make_celery(url)
        app.send_task("enrollpay.collect_due", kwargs={"width": WIDTH, "shard_size": SHARD_SIZE})
        app.close()
    else:
        papp = make_procrastinate(url)
        with papp.open():
            papp.configure_task("enrollpay:collect_due").defer(width=WIDTH, shard_size=SHARD_SIZE)


def _tree_cpu(roots: Sequence[int]) -> float:
    """CPU seconds (user + system) used so far by these processes and their descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process has gone
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    tree, total = set(roots), 0.0
    grew = True
    while grew:
        grew = False
        for pid, (parent, _) in stats.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    for pid in tree:
        total += stats.get(pid, (0, 0.0))[1]
    return total


def _stop(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _collect(engine: str, url: str, workers: int, count: int) -> tuple[float, float, float]:
    """Seconds from the send until ``count`` items are paid, the machine's busy share, worker CPU.

    Worker CPU is the seconds the worker processes (and their children) spent
    on the CPU over the same span.
    """
    _prepare(engine, url)
    env = {
        **os.environ,
        "ENROLLPAY_SYSTEM_FACTORY": "benchmarks.queue_apps:build_system",
        DB_VAR: url,
        "PYTHONPATH": str(ROOT),
    }
    with tempfile.TemporaryDirectory(prefix="enrollpay-queue-bench-") as folder:
        logs = [Path(folder) / f"worker{n}.log" for n in range(workers)]
        files = [log.open("wb") for log in logs]
        procs = [
            # Our own worker command lines, built above from constants.
            subprocess.Popen(_command(engine, n), cwd=ROOT, env=env, stdout=f, stderr=f)  # noqa: S603
            for n, f in enumerate(files)
        ]
        try:
            deadline = time.monotonic() + 120
            while not all(_ready(engine, log) for log in logs):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError("workers did not start:\n" + logs[0].read_text())
                time.sleep(0.1)
            pids = [p.pid for p in procs]
            cpu0 = _tree_cpu(pids)
            busy0, total0 = _cpu_ticks()
            start = time.perf_counter()
            _send(engine, url)
            deadline = time.monotonic() + 1800
            while _paid(url) < count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{engine}: not done after 30 minutes")
                time.sleep(0.05)
            elapsed = time.perf_counter() - start
            busy1, total1 = _cpu_ticks()
            cpu = _tree_cpu(pids) - cpu0
        finally:
            _stop(procs)
            for f in files:
                f.close()
    busy = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
    return elapsed, busy, cpu


def _check_once(url: str, count: int) -> dict[str, int]:
    """Charges and payments per item: each exactly one, or the doubles counted."""
    with psycopg.connect(libpq(url)) as conn:
        keys = conn.execute(
            "SELECT idempotency_key, count(*) FROM bench_charges GROUP BY idempotency_key"
        ).fetchall()
        pids = conn.execute("SELECT count(DISTINCT pid) FROM bench_charges").fetchone()
        per_item = conn.execute(
            "SELECT item_id, count(*) FROM enrollpay_payments WHERE method = 'gateway' "
            "GROUP BY item_id"
        ).fetchall()
    doubles = sum(int(n) - 1 for _, n in keys if int(n) > 1)
    doubles += sum(int(n) - 1 for _, n in per_item if int(n) > 1)
    return {
        "charged_keys": len(keys),
        "paid": _paid(url),
        "double_charges": doubles,
        "charging_processes": int(pids[0]) if pids else 0,
    }


def _measure(
    engine: str, server: PgServer, seeded: str, *, many: int, count: int, repeats: int
) -> CaseResult:
    one: list[float] = []
    several: list[float] = []
    busy: dict[int, list[float]] = {1: [], many: []}
    cpu: dict[int, list[float]] = {1: [], many: []}
    checks: list[dict[str, int]] = []
    for _ in range(repeats):
        for workers, times in ((1, one), (many, several)):
            url = server.clone(seeded)
            elapsed, share, used = _collect(engine, url, workers, count)
            cpu[workers].append(used / count)
            checks.append(_check_once(url, count))
            times.append(elapsed / count)
            busy[workers].append(share)
            server.drop(url)
    lib, base = median(several), median(one)
    ratio = base / lib
    clean = all(
        c["double_charges"] == 0 and c["charged_keys"] == count and c["paid"] == count
        for c in checks
    )
    # The issue asks 2.5 of 3 workers; the same share per worker (5/6) of 2 is 1.67.
    target = round(2.5 * many / 3, 2)
    return CaseResult(
        name=f"task_queue_{engine}",
        title=f"collect_due on {engine} workers, PostgreSQL, {count:,} items, 20 ms gateway, "
        f"1 vs {many} workers",
        library=lib,
        baseline=base,
        ratio=ratio,
        target=f">= {target}, zero double charges",
        met=ratio >= target and clean,
        unit=f"s/item (library: {many} workers; baseline: 1 worker)",
        ratio_meaning=f"throughput with {many} workers / throughput with 1",
        sizes={
            "items": count,
            "repeats": repeats,
            "latency_s": LATENCY,
            "width": WIDTH,
            "shard_size": SHARD_SIZE,
            "batch_size": 10,
        },
        samples={f"{many}_workers": several, "one_worker": one},
        extra={
            "one_worker_items_per_second": 1 / base,
            f"{many}_workers_items_per_second": 1 / lib,
            "double_charges": sum(c["double_charges"] for c in checks),
            "all_items_charged_once": clean,
            "charging_processes": [c["charging_processes"] for c in checks],
            "machine_cpu_busy_1_worker": median(busy[1]),
            f"machine_cpu_busy_{many}_workers": median(busy[many]),
            "worker_cpu_s_per_item_1": median(cpu[1]),
            f"worker_cpu_s_per_item_{many}": median(cpu[many]),
        },
    )


def run(*, server: PgServer, quick: bool) -> list[CaseResult]:
    """Celery 3 vs 1 workers and Procrastinate 2 vs 1, on copies of one seeded database."""
    count, repeats = (60, 1) if quick else (3_000, 1)
    seeded = server.new()
    engine = sa.create_engine(seeded, poolclass=sa.NullPool)
    try:
        seed_due_items(engine, count)
    finally:
        engine.dispose()
    try:
        return [
            _measure("celery", server, seeded, many=3, count=count, repeats=repeats),
            _measure("procrastinate", server, seeded, many=2, count=count, repeats=repeats),
        ]
    finally:
        server.drop(seeded)
