"""What the task-queue tests' worker processes import by name (Celery and Procrastinate).

The workers are real processes started by the tests; they find everything
here through environment variables the test sets:

``ENROLLPAY_SYSTEM_FACTORY=tests.integration.queue_workers:build_system``
    the factory the integrations call once per worker process;
``ENROLLPAY_TEST_QUEUE_DB``
    the test's PostgreSQL database (the store, the durable gateway's
    ledger, and the broker's tables);
``ENROLLPAY_TEST_GATEWAY_DELAY`` and ``ENROLLPAY_TEST_LEASE``
    seconds per charge (default 0) and of each item's lease (default 600).

Every charge of every worker is written to the one ledger of
:class:`~benchmarks.durable_gateway.DurableGateway` in the database, so
the test counts what moved money across all the processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import psycopg
import sqlalchemy as sa

from enrollpay import PaymentSystem, SystemConfig
from enrollpay.storage.sql import SqlStore

from .pg_workers import DurableGateway

__all__ = [
    "DB_VAR",
    "DELAY_VAR",
    "LEASE_VAR",
    "WorkerProcesses",
    "broker_url",
    "build_system",
    "charging_pids",
    "libpq",
    "paid_count",
]

ROOT = Path(__file__).resolve().parents[2]

DB_VAR = "ENROLLPAY_TEST_QUEUE_DB"
DELAY_VAR = "ENROLLPAY_TEST_GATEWAY_DELAY"
LEASE_VAR = "ENROLLPAY_TEST_LEASE"


def build_system() -> PaymentSystem:
    """The system of one worker process: the test database and the shared durable gateway."""
    url = os.environ[DB_VAR]
    delay = float(os.environ.get(DELAY_VAR, "0"))
    lease = float(os.environ.get(LEASE_VAR, "600"))
    config = SystemConfig(lease=timedelta(seconds=lease), batch_size=10)
    store = SqlStore.from_url(url, pool_size=2)
    return PaymentSystem(store=store, gateway=DurableGateway(url, delay=delay), config=config)


def broker_url(url: str) -> str:
    """Kombu's SQLAlchemy transport on the same PostgreSQL database (psycopg 3)."""
    plain = sa.make_url(url).set(drivername="postgresql+psycopg")
    return "sqla+" + plain.render_as_string(hide_password=False)


def libpq(url: str) -> str:
    """A SQLAlchemy URL as libpq (psycopg, Procrastinate) takes it."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def paid_count(url: str) -> int:
    """How many schedule items are paid."""
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM enrollpay_schedule_items WHERE status = 'paid'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def charging_pids(url: str) -> list[int]:
    """The process of each call the durable gateway received, in order."""
    with psycopg.connect(libpq(url)) as conn:
        rows = conn.execute("SELECT pid FROM test_charge_calls ORDER BY id").fetchall()
    return [int(pid) for (pid,) in rows]


class WorkerProcesses:
    """Worker processes of a task-queue engine, started with the factory's environment."""

    def __init__(self, url: str, log_dir: Path, *, delay: float, lease: float) -> None:
        self.url = url
        self._log_dir = log_dir
        self.env = {
            **os.environ,
            "ENROLLPAY_SYSTEM_FACTORY": "tests.integration.queue_workers:build_system",
            DB_VAR: url,
            DELAY_VAR: str(delay),
            LEASE_VAR: str(lease),
            "PYTHONPATH": str(ROOT),
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self._files: list[BinaryIO] = []

    def start(self, command: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start one worker running ``command`` in the repository's root."""
        log = (self._log_dir / f"worker{len(self.procs)}.log").open("wb")
        self._files.append(log)
        proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        """Everything the workers wrote so far."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self._log_dir.glob("*.log")))

    def wait_until_paid(self, count: int, timeout: float) -> None:
        """Return once ``count`` items are paid; fail with the workers' logs after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (paid := paid_count(self.url)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{paid}/{count} paid after {timeout} s:\n{self.logs()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Ask every worker to finish its job and stop; kill one that does not within 30 s."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for log in self._files:
            log.close()
