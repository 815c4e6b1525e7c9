"""What the task-queue case's worker processes import by name (Celery and Procrastinate).

``ENROLLPAY_BENCH_QUEUE_DB`` is the benchmark database: the store, the
gateway's ledger table and the broker's tables. Each worker process
builds its system once (``ENROLLPAY_SYSTEM_FACTORY=benchmarks.queue_apps:build_system``)
with the fake gateway answering after 20 ms, as in the scale-out case, and
records every charge it made in ``bench_charges``, so that the case counts
money moved across all the processes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

import psycopg
import sqlalchemy as sa
from celery import Celery
from kombu.transport import sqlalchemy as kombu_sqla
from procrastinate import App, PsycopgConnector

from benchmarks.databases import libpq
from benchmarks.seed import BENCH_NOW
from enrollpay import Money, PaymentSystem, SystemConfig
from enrollpay.integrations.procrastinate import make_blueprint
from enrollpay.ports import ChargeResult
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock

__all__ = [
    "DB_VAR",
    "LATENCY",
    "LEDGER_TABLE",
    "LedgerFakeGateway",
    "build_system",
    "celery_app",
    "libpq",
    "make_celery",
    "make_procrastinate",
    "procrastinate_app",
]

DB_VAR = "ENROLLPAY_BENCH_QUEUE_DB"
LATENCY = 0.02
LEDGER_TABLE = "CREATE TABLE IF NOT EXISTS bench_charges (idempotency_key text NOT NULL, pid int)"

# An idle Celery worker polls the SQLAlchemy broker's table every second by
# default; its transport options go to create_engine, which refuses
# ``polling_interval``, so the class default is the place to shorten it.
kombu_sqla.Transport.polling_interval = 0.1


class LedgerFakeGateway(FakeGateway):
    """The fake gateway, writing each charge's key to ``bench_charges`` after making it."""

    def __init__(self, url: str) -> None:
        super().__init__(
            clock=FrozenClock(BENCH_NOW),
            latency=LATENCY,
            strict=False,
            id_namespace=f"w{os.getpid()}",
        )
        self._ledger = psycopg.connect(libpq(url), autocommit=True)

    def charge_off_session(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount: Money,
        idempotency_key: str,
        metadata: Mapping[str, str],
        description: str = "",
    ) -> ChargeResult:
        """Charge as the fake gateway does, then record the charge."""
        result = super().charge_off_session(
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            amount=amount,
            idempotency_key=idempotency_key,
            metadata=metadata,
            description=description,
        )
        self._ledger.execute(
            "INSERT INTO bench_charges VALUES (%s, %s)", (idempotency_key, os.getpid())
        )
        return result


def build_system() -> PaymentSystem:
    """One worker process's system: the benchmark database and the recording fake gateway."""
    url = os.environ[DB_VAR]
    config = SystemConfig(batch_size=10, lease=timedelta(minutes=10))
    store = SqlStore.from_url(url, pool_size=2)
    return PaymentSystem(
        store=store, gateway=LedgerFakeGateway(url), clock=FrozenClock(BENCH_NOW), config=config
    )


def make_celery(url: str) -> Celery:
    """The Celery app: kombu's SQLAlchemy transport on the benchmark database, no results."""
    broker = "sqla+" + sa.make_url(url).set(drivername="postgresql+psycopg").render_as_string(
        hide_password=False
    )
    app = Celery("enrollpay-bench", broker=broker, include=["enrollpay.integrations.celery"])
    app.conf.update(
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
    )
    return app


def make_procrastinate(url: str) -> App:
    """The Procrastinate app on the benchmark database, the enrollpay tasks none periodic."""
    app = App(connector=PsycopgConnector(conninfo=libpq(url)))
    app.add_tasks_from(
        make_blueprint(collect=None, sweep=None, reconcile=None, dispatch_events=None),
        namespace="enrollpay",
    )
    return app


_url = os.environ.get(DB_VAR)
celery_app = make_celery(_url) if _url else Celery("enrollpay-bench")
procrastinate_app = make_procrastinate(_url) if _url else App(connector=PsycopgConnector())
