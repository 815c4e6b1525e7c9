"""Celery workers in real processes collect on PostgreSQL through a real broker.

The broker is kombu's SQLAlchemy transport on the test's own database, so
nothing but PostgreSQL is needed. Every worker process builds its system
from ``ENROLLPAY_SYSTEM_FACTORY`` (``tests.integration.queue_workers``), whose
gateway writes every charge to one ledger in the database: the test counts
money moved across all the workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
import pytest
import sqlalchemy as sa
from celery import Celery

from enrollpay.integrations.tasks import SYSTEM_FACTORY_VAR

from . import pg_workers
from .celery_app import make_app
from .queue_workers import DB_VAR, DELAY_VAR, LEASE_VAR

pytestmark = [
    pytest.mark.postgres,
    # kombu's SQLAlchemy transport maps its tables with a loader strategy that
    # SQLAlchemy 2.1 deprecates; that is kombu's to change, not ours.
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
]

ROOT = Path(__file__).resolve().parents[2]


def _libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Workers:
    """Celery worker processes (prefork, one child each) on the test database's broker."""

    def __init__(self, url: str, log_dir: Path, *, delay: float, lease: float) -> None:
        self.url = url
        self.app: Celery = make_app(url)
        self._log_dir = log_dir
        self._env = {
            **os.environ,
            SYSTEM_FACTORY_VAR: "tests.integration.queue_workers:build_system",
            DB_VAR: url,
            DELAY_VAR: str(delay),
            LEASE_VAR: str(lease),
            "PYTHONPATH": str(ROOT),
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self._files: list[BinaryIO] = []
        # The broker's tables exist before any worker starts (each would create them).
        with self.app.connection_for_write() as conn:
            channel: Any = conn.default_channel  # kombu's virtual channel, untyped here
            channel.queue_declare("celery")

    def start(self, count: int) -> None:
        for n in range(len(self.procs), len(self.procs) + count):
            log = (self._log_dir / f"worker{n}.log").open("wb")
            self._files.append(log)
            command = [
                sys.executable, "-m", "celery", "-A", "tests.integration.celery_app", "worker",
                "--pool=prefork", "--concurrency=1", f"--hostname=w{n}@test", "--loglevel=INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ]  # fmt: skip
            self.procs.append(
                subprocess.Popen(command, cwd=ROOT, env=self._env, stdout=log, stderr=log)
            )

    def send(self, name: str, **kwargs: int) -> None:
        self.app.send_task(name, kwargs=kwargs)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self._log_dir.glob("*.log")))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # a warm shutdown: running tasks finish
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for log in self._files:
            log.close()
        self.app.close()


@pytest.fixture
def workers_of(pg_url: str, tmp_path: Path) -> Iterator[type[Workers]]:
    """Make :class:`Workers` on ``pg_url``; every started worker is stopped afterwards."""
    made: list[Workers] = []

    class Made(Workers):
        def __init__(self, url: str, log_dir: Path, *, delay: float, lease: float) -> None:
            super().__init__(url, log_dir, delay=delay, lease=lease)
            made.append(self)

    yield Made
    for workers in made:
        workers.stop()


def _paid(url: str) -> int:
    with psycopg.connect(_libpq(url)) as conn:
        row = conn.execute("SELECT count(*) FROM enrollpay_schedule_items WHERE status = 'paid'").fetchone()
    assert row is not None
    return int(row[0])


def _charging_pids(url: str) -> list[int]:
    with psycopg.connect(_libpq(url)) as conn:
        rows = conn.execute("SELECT pid FROM test_charge_calls ORDER BY id").fetchall()
    return [int(pid) for (pid,) in rows]


def _wait_until_paid(workers: Workers, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _paid(workers.url) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{_paid(workers.url)}/{count} paid after {timeout} s:\n{workers.logs()}")
        time.sleep(0.2)


def test_three_workers_collect_each_due_item_exactly_once(
    pg_url: str, tmp_path: Path, workers_of: type[Workers]
) -> None:
    """collect_due fans out over 3 workers; the beat message comes twice: one charge each."""
    item_ids = pg_workers.seed_due_items(pg_url, 300)
    workers = workers_of(pg_url, tmp_path, delay=0.005, lease=600)
    # The fan-out twice, as a duplicated beat message or a redelivery would send it.
    workers.send("enrollpay.collect_due", width=6, shard_size=20)
    workers.send("enrollpay.collect_due", width=6, shard_size=20)
    workers.start(3)
    _wait_until_paid(workers, len(item_ids), timeout=240)
    workers.stop()
    calls = pg_workers.assert_each_item_charged_once(pg_url, item_ids)
    assert len(calls) == len(item_ids)  # nothing was even sent to the gateway twice
    assert len({pid for _, pid, _ in calls}) == 3  # each worker process charged a share


def test_a_worker_child_killed_mid_shard_is_redelivered_and_charges_nothing_twice(
    pg_url: str, tmp_path: Path, workers_of: type[Workers]
) -> None:
    """SIGKILL the process running a shard: the message is requeued and run again; no double charge.

    The killed shard's leased items wait for their 3 s leases; the next
    collection (the beat's next run) takes them, sending a charge the gateway
    may already have made again with the same key, which the gateway replays.
    """
    item_ids = pg_workers.seed_due_items(pg_url, 60)
    workers = workers_of(pg_url, tmp_path, delay=0.05, lease=3)
    workers.start(1)
    workers.send("enrollpay.collect_shard", shard_size=60)
    deadline = time.monotonic() + 120
    while len(pids := _charging_pids(pg_url)) < 5:
        assert time.monotonic() < deadline, workers.logs()
        time.sleep(0.05)
    victim = pids[0]
    os.kill(victim, signal.SIGKILL)
    # The requeued message runs again in a new child, which charges the unleased rest.
    while not any(pid != victim for pid in _charging_pids(pg_url)):
        assert time.monotonic() < deadline, workers.logs()
        time.sleep(0.1)
    time.sleep(3.5)  # the killed shard's leases expire
    workers.send("enrollpay.collect_due", width=2, shard_size=60)
    _wait_until_paid(workers, len(item_ids), timeout=120)
    workers.stop()
    calls = pg_workers.assert_each_item_charged_once(pg_url, item_ids)
    assert {pid for _, pid, _ in calls} - {victim}  # the redelivered shard did the rest
    assert "WorkerLostError" in workers.logs()  # Celery saw the child die and rejected the message
