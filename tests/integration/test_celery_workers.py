"""Celery workers in real processes collect on PostgreSQL through a real broker.

The broker is kombu's SQLAlchemy transport on the test's own database, so
nothing but PostgreSQL is needed. Every worker process builds its system
from ``ENROLLPAY_SYSTEM_FACTORY`` (``tests.integration.queue_workers``), whose
gateway writes every charge to one ledger in the database: the test counts
money moved across all the workers.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import pg_workers
from .celery_app import make_app
from .queue_workers import WorkerProcesses, charging_pids

pytestmark = [
    pytest.mark.postgres,
    # kombu's SQLAlchemy transport maps its tables with a loader strategy that
    # SQLAlchemy 2.1 deprecates; that is kombu's to change, not ours.
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
]


class CeleryWorkers(WorkerProcesses):
    """Celery worker processes (prefork, one child each) on the test database's broker."""

    def __init__(self, url: str, log_dir: Path, *, delay: float, lease: float) -> None:
        super().__init__(url, log_dir, delay=delay, lease=lease)
        self.app = make_app(url)
        # The broker's tables exist before any worker starts (each would create them).
        with self.app.connection_for_write() as conn:
            channel: Any = conn.default_channel  # kombu's virtual channel, untyped here
            channel.queue_declare("celery")

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            n = len(self.procs)
            command = [
                sys.executable, "-m", "celery", "-A", "tests.integration.celery_app",
                "worker", "--pool=prefork", "--concurrency=1", f"--hostname=w{n}@test",
                "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
            ]  # fmt: skip
            self.start(command)

    def send(self, name: str, **kwargs: int) -> None:
        self.app.send_task(name, kwargs=kwargs)

    def stop(self) -> None:
        super().stop()
        self.app.close()


@pytest.fixture
def celery_workers(pg_url: str, tmp_path: Path) -> Iterator[list[CeleryWorkers]]:
    """A list to put :class:`CeleryWorkers` in; every one is stopped afterwards."""
    made: list[CeleryWorkers] = []
    yield made
    for workers in made:
        workers.stop()
    made.clear()
    # Collect the in-process app's leftovers now. Without this, the garbage
    # collection that later found them ran while pytest compiled a module,
    # and Python 3.11.7 failed with "AST constructor recursion depth mismatch".
    gc.collect()


def test_three_workers_collect_each_due_item_exactly_once(
    pg_url: str, tmp_path: Path, celery_workers: list[CeleryWorkers]
) -> None:
    """collect_due fans out over 3 workers; the beat message comes twice: one charge each."""
    item_ids = pg_workers.seed_due_items(pg_url, 300)
    workers = CeleryWorkers(pg_url, tmp_path, delay=0.005, lease=600)
    celery_workers.append(workers)
    # The fan-out twice, as a duplicated beat message or a redelivery would send it.
    workers.send("enrollpay.collect_due", width=6, shard_size=20)
    workers.send("enrollpay.collect_due", width=6, shard_size=20)
    workers.start_workers(3)
    workers.wait_until_paid(len(item_ids), timeout=240)
    workers.stop()
    calls = pg_workers.assert_each_item_charged_once(pg_url, item_ids)
    assert len(calls) == len(item_ids)  # nothing was even sent to the gateway twice
    assert len({pid for _, pid, _ in calls}) == 3  # each worker process charged a share


def test_a_worker_child_killed_mid_shard_is_redelivered_and_charges_nothing_twice(
    pg_url: str, tmp_path: Path, celery_workers: list[CeleryWorkers]
) -> None:
    """SIGKILL the process running a shard: the message is requeued and run again; no double charge.

    The killed shard's leased items wait for their 3 s leases; the next
    collection (the beat's next run) takes them, sending a charge the gateway
    may already have made again with the same key, which the gateway replays.
    """
    item_ids = pg_workers.seed_due_items(pg_url, 60)
    workers = CeleryWorkers(pg_url, tmp_path, delay=0.05, lease=3)
    celery_workers.append(workers)
    workers.start_workers(1)
    workers.send("enrollpay.collect_shard", shard_size=60)
    deadline = time.monotonic() + 120
    while len(pids := charging_pids(pg_url)) < 5:
        assert time.monotonic() < deadline, workers.logs()
        time.sleep(0.05)
    victim = pids[0]
    os.kill(victim, signal.SIGKILL)
    # The requeued message runs again in a new child, which charges the unleased rest.
    while not any(pid != victim for pid in charging_pids(pg_url)):
        assert time.monotonic() < deadline, workers.logs()
        time.sleep(0.1)
    time.sleep(3.5)  # the killed shard's leases expire
    workers.send("enrollpay.collect_due", width=2, shard_size=60)
    workers.wait_until_paid(len(item_ids), timeout=120)
    workers.stop()
    calls = pg_workers.assert_each_item_charged_once(pg_url, item_ids)
    assert {pid for _, pid, _ in calls} - {victim}  # the redelivered shard did the rest
    assert "WorkerLostError" in workers.logs()  # Celery saw the child die and rejected the message
